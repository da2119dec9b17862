#!/usr/bin/env bash
# Installs raspc from BUILD into a temporary prefix, builds this plugin
# against it with find_package(raspc) like any outside project, and runs the
# plugin's lit tests with the installed raspc and rasp-opt.
set -euo pipefail
BUILD="$1"
SRC="$(cd "$(dirname "$0")" && pwd)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
source "$SRC/../../build-against-install.sh"
LD_LIBRARY_PATH="$WORK/prefix/lib" "${LIT:-/usr/lib/llvm-22/bin/lit}" -sv "$SRC/test" \
  --param plugin="$WORK/build/SinkhornPlugin.so" --param bin="$WORK/prefix/bin" \
  --param python="$(command -v python3)" --param out="$WORK/lit"
