#!/usr/bin/env bash
#===- fuzz.sh - fuzz the front end with libFuzzer -------------------------===#
#
#   scripts/fuzz.sh [RUNS] [extra libFuzzer flags...]
#
# Builds raspc-frontend-fuzzer with clang, ASan and UBSan in build-fuzz/ and
# runs it RUNS times (default 1000000) from a corpus seeded with the shipped
# examples. Crashing inputs are written to build-fuzz/crashes/.
#===----------------------------------------------------------------------===#
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${FUZZ_BUILD_DIR:-$ROOT/build-fuzz}"
RUNS="${1:-1000000}"
shift || true

for pkg in clang libclang-rt-dev; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    apt-get install -y -q --no-install-recommends "$pkg"
  fi
done
# Debian's ANTLR 4.9 runtime headers do not compile with clang: dfa::Vocabulary
# has const members and a defaulted constructor that clang rejects where g++
# does not. The fuzz build uses a copy with those members made non-const.
HEADERS="$BUILD/antlr4-runtime-clang"
if [[ ! -d "$HEADERS" ]]; then
  mkdir -p "$BUILD"
  cp -r /usr/include/antlr4-runtime "$HEADERS"
  sed -i 's/std::vector<std::string> const /std::vector<std::string> /' "$HEADERS/Vocabulary.h"
fi
if [[ ! -f "$BUILD/build.ninja" ]]; then
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DANTLR4_INCLUDE_DIR="$HEADERS" \
    -DRASPC_BUILD_FUZZERS=ON -DRASPC_ENABLE_TESTS=OFF
fi
cmake --build "$BUILD" --target raspc-frontend-fuzzer -j "${JOBS:-2}"

CORPUS="$BUILD/corpus"
mkdir -p "$CORPUS" "$BUILD/crashes"
cp -n "$ROOT"/examples/rasp/*.rasp "$ROOT"/examples/models/*.rasp "$CORPUS"/ 2>/dev/null || true
cd "$BUILD"
# A small ASan quarantine keeps the resident size flat over millions of runs
# (the default 256 MB quarantine looks like a slow leak).
export ASAN_OPTIONS="${ASAN_OPTIONS:-quarantine_size_mb=8}"
./bin/raspc-frontend-fuzzer "$CORPUS" -runs="$RUNS" -max_len=4096 \
  -artifact_prefix="$BUILD/crashes/" -print_final_stats=1 "$@"
