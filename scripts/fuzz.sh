#!/usr/bin/env bash
#===- fuzz.sh - fuzz raspc --------------------------------------------------===#
#
#   scripts/fuzz.sh [RUNS] [extra libFuzzer flags...]
#   scripts/fuzz.sh --differential [SECONDS] [FIRST_SEED]
#
# Without --differential: builds raspc-frontend-fuzzer with clang, ASan and
# UBSan in build-fuzz/ and runs it RUNS times (default 1000000) from a corpus
# seeded with the shipped examples. Inputs grow up to 1 MiB (libFuzzer
# lengthens them gradually), so long programs and deep nesting are reached.
# Crashing inputs are written to build-fuzz/crashes/.
#
# --differential: runs test/Fuzz's raspc-diff-fuzzer from the normal build
# (BUILD_DIR, default build/) for SECONDS (default 3600), one process per
# core with seeds FIRST_SEED (default: from the clock), +1, ... Each
# generates programs, compiles and runs them through the JIT and compares
# every result with its own evaluation of the language; the first mismatch,
# rejection, crash or hang stops that process with a command that
# reproduces it. Logs and the last program of each are in
# BUILD_DIR/fuzz-differential/.
#===----------------------------------------------------------------------===#
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if [[ "${1:-}" == "--differential" ]]; then
  BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
  SECONDS_TOTAL="${2:-3600}"
  SEED="${3:-$(date +%s)}"
  JOBS="${JOBS:-$(nproc)}"
  cmake --build "$BUILD_DIR" --target raspc-diff-fuzzer -j "$JOBS"
  OUT="$BUILD_DIR/fuzz-differential"
  mkdir -p "$OUT"
  pids=()
  for ((j = 0; j < JOBS; ++j)); do
    mkdir -p "$OUT/$j"
    "$BUILD_DIR/bin/raspc-diff-fuzzer" --seed $((SEED + j)) --seconds "$SECONDS_TOTAL" \
      --out "$OUT/$j" > "$OUT/$j/log" 2>&1 &
    pids+=($!)
  done
  status=0
  for ((j = 0; j < JOBS; ++j)); do
    if ! wait "${pids[$j]}"; then
      status=1
      echo "seed $((SEED + j)): FAILED (program in $OUT/$j/last.rasp)"
    fi
    tail -n 30 "$OUT/$j/log"
  done
  exit $status
fi
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
./bin/raspc-frontend-fuzzer "$CORPUS" -runs="$RUNS" -max_len=1048576 \
  -artifact_prefix="$BUILD/crashes/" -print_final_stats=1 "$@"
