#!/usr/bin/env bash
# Installs raspc from BUILD into a temporary prefix, builds the consumer
# project against it with find_package(raspc), and runs it.
set -euo pipefail
BUILD="$1"
SRC="$(cd "$(dirname "$0")" && pwd)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
source "$SRC/../../build-against-install.sh"
LD_LIBRARY_PATH="$WORK/prefix/lib" "$WORK/build/consumer"
