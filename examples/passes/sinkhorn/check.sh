#!/usr/bin/env bash
# Installs raspc from BUILD into a temporary prefix, builds this plugin
# against it with find_package(raspc) like any outside project, and runs the
# plugin's lit tests with the installed raspc and rasp-opt.
set -euo pipefail
BUILD="$1"
HERE="$(cd "$(dirname "$0")" && pwd)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cmake --install "$BUILD" --prefix "$WORK/prefix" > /dev/null
FLAGS=()
if grep -q "^RASPC_ENABLE_SANITIZERS:BOOL=ON" "$BUILD/CMakeCache.txt"; then
  FLAGS=(-DCMAKE_CXX_FLAGS=-fsanitize=address,undefined
         -DCMAKE_MODULE_LINKER_FLAGS=-fsanitize=address,undefined)
fi
cmake -S "$HERE" -B "$WORK/build" -G Ninja -DCMAKE_PREFIX_PATH="$WORK/prefix" \
  "${FLAGS[@]}" > /dev/null
cmake --build "$WORK/build" > /dev/null
LD_LIBRARY_PATH="$WORK/prefix/lib" "${LIT:-/usr/lib/llvm-22/bin/lit}" -sv "$HERE/test" \
  --param plugin="$WORK/build/SinkhornPlugin.so" --param bin="$WORK/prefix/bin" \
  --param python="$(command -v python3)" --param out="$WORK/lit"
