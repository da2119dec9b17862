#!/usr/bin/env bash
# Sourced by the examples' check.sh scripts: installs raspc from $BUILD into
# $WORK/prefix and builds the outside project in $SRC against it with
# find_package(raspc), into $WORK/build. A sanitizer build of raspc gets a
# sanitized project (the ASan runtime must load first).
cmake --install "$BUILD" --prefix "$WORK/prefix" > /dev/null
FLAGS=()
if grep -q "^RASPC_ENABLE_SANITIZERS:BOOL=ON" "$BUILD/CMakeCache.txt"; then
  FLAGS=(-DCMAKE_CXX_FLAGS=-fsanitize=address,undefined
         -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=address,undefined
         -DCMAKE_MODULE_LINKER_FLAGS=-fsanitize=address,undefined)
fi
cmake -S "$SRC" -B "$WORK/build" -G Ninja -DCMAKE_PREFIX_PATH="$WORK/prefix" \
  "${FLAGS[@]}" > /dev/null
cmake --build "$WORK/build" > /dev/null
