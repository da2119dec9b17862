#!/usr/bin/env bash
# Installs raspc from BUILD into a temporary prefix, builds the consumer
# project against it with find_package(raspc), and runs it.
set -euo pipefail
BUILD="$1"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cmake --install "$BUILD" --prefix "$WORK/prefix" > /dev/null
# A sanitizer build of raspc needs a sanitized consumer (the ASan runtime
# must load first).
FLAGS=()
if grep -q "^RASPC_ENABLE_SANITIZERS:BOOL=ON" "$BUILD/CMakeCache.txt"; then
  FLAGS=(-DCMAKE_CXX_FLAGS=-fsanitize=address,undefined
         -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=address,undefined)
fi
cmake -S "$(dirname "$0")" -B "$WORK/build" -G Ninja -DCMAKE_PREFIX_PATH="$WORK/prefix" \
  "${FLAGS[@]}" > /dev/null
cmake --build "$WORK/build" > /dev/null
LD_LIBRARY_PATH="$WORK/prefix/lib" "$WORK/build/consumer"
