#!/usr/bin/env bash
#===- test.sh - run the whole raspc test suite ------------------------------===#
#
# The README's second command. Builds first (through setup.sh, which also
# installs what is missing), then runs the lit suite and every ctest, and
# ends with one summary line.
#
#   scripts/test.sh               # the suite, in build/
#   scripts/test.sh --sanitizers  # the same suite built with ASan and UBSan,
#                                 # in build-asan/ (.ci/sanitizers)
#
# With --sanitizers every finding fails its test: UBSan halts on the first
# report (UBSAN_OPTIONS=halt_on_error=1) and LeakSanitizer reports leaks at
# exit. Code the JIT compiles is not instrumented; the compiler, runtime and
# tests that call it are. The Python package is left out of that build.
#
# Environment: BUILD_DIR (default: build, or build-asan), JOBS (default: 2).
#===----------------------------------------------------------------------===#
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ "${1:-}" == "--sanitizers" ]]; then
  BUILD_DIR="${BUILD_DIR:-$ROOT/build-asan}"
  CMAKE_ARGS="${CMAKE_ARGS:-} -DRASPC_ENABLE_SANITIZERS=ON"
  export CMAKE_ARGS
  export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
elif [[ $# -gt 0 ]]; then
  echo "usage: scripts/test.sh [--sanitizers]" >&2
  exit 2
fi
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
JOBS="${JOBS:-2}"
export BUILD_DIR JOBS

"$ROOT/scripts/setup.sh" --no-run || { echo "test.sh: build failed"; exit 1; }

LOG="$(mktemp)"
trap 'rm -f "$LOG"' EXIT

# ctest runs the lit suite as one test ('lit') and each gtest case as its own;
# lit's own summary is printed so every lit test is counted.
printf '\n==> Running ctest (lit suite + unit tests)\n'
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS" | tee "$LOG"
ctest_rc=${PIPESTATUS[0]}

# Summarize per test: each lit test counts, not the one 'lit' ctest that
# holds them. ctest keeps each test's output in LastTest.log.
ctest_total=$(sed -n 's/.*tests failed out of \([0-9]*\).*/\1/p' "$LOG" | tail -1)
ctest_failed=$(sed -n 's/.* \([0-9]*\) tests failed out of.*/\1/p' "$LOG" | tail -1)
# Only the 'lit' ctest's part of the log: other ctests (the plugin example)
# run lit too and print the same summary lines.
lit_log="$(awk '/^[0-9]+\/[0-9]+ Test: lit$/ {on = 1} on {print} on && /^"lit" end time/ {exit}' \
  "$BUILD_DIR/Testing/Temporary/LastTest.log")"
lit_passed=$(sed -n 's/^ *Passed *: *\([0-9]*\).*/\1/p' <<<"$lit_log" | tail -1)
lit_failed=$(sed -n 's/^ *Failed *: *\([0-9]*\).*/\1/p' <<<"$lit_log" | tail -1)
lit_ok=1
grep -q "^Failed Tests" <<<"$lit_log" && lit_ok=0
unit_total=$(( ${ctest_total:-0} - 1 ))
unit_failed=$(( ${ctest_failed:-0} - (lit_ok ? 0 : 1) ))
passed=$(( ${lit_passed:-0} + unit_total - unit_failed ))
failed=$(( ${lit_failed:-0} + unit_failed ))

echo
echo "lit: ${lit_passed:-0} passed, ${lit_failed:-0} failed; unit and other ctests: $((unit_total - unit_failed)) passed, $unit_failed failed"
if ! grep -q "^python\." <(ctest --test-dir "$BUILD_DIR" -N | sed -n 's/^ *Test *#[0-9]*: //p'); then
  echo "python package: not built (see 'raspc: Python package' in the configure output); its tests did not run"
fi
if [[ $ctest_rc -eq 0 ]]; then
  echo "raspc tests: PASS"
else
  echo "raspc tests: FAIL (see the output above)"
fi
echo "summary: $passed passed, $failed failed"
exit $ctest_rc
