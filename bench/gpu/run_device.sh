#!/usr/bin/env bash
# The GPU check, run on a device machine from the repository root with
# bench/gpu/build carried (made here by bench/gpu/prepare.sh). Needs only
# the NVIDIA driver, and Python with torch for the peers.
#
#   1. every example, compiled for CUDA, against the same example compiled
#      for the CPU, on the same random inputs at several lengths;
#   2. forward attention against torch SDPA and FlexAttention (bf16, B = 4,
#      H = 16), TFLOP/s and ratios.
#
# Writes its report to $OUT (or /tmp): device-checks.txt, gpu-bench.md.
#   LENGTHS=1024,4096,16384  OURS_LENGTHS=1024,4096,16384  CHECK_LENGTHS="1 7 64 300"
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
b="$here/build"
out="${OUT:-/tmp}"
export LD_LIBRARY_PATH="$b/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
[ -x "$b/bin/raspc-aot-runner" ] || { echo "run bench/gpu/prepare.sh first (and carry bench/gpu/build)"; exit 2; }

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true

status=0
: >"$out/device-checks.txt"
while read -r name entry result args; do
  for length in ${CHECK_LENGTHS:-1 7 64 300}; do
    # shellcheck disable=SC2086  # args is a list of specs
    if ! timeout 120 "$b/bin/raspc-aot-runner" check "$b/programs/$name.cpu.so" \
        "$b/programs/$name.cuda.so" "$entry" "$result" $args --length "$length" \
        >>"$out/device-checks.txt" 2>&1; then
      echo "$name L=$length: FAILED" >>"$out/device-checks.txt"
      status=1
    fi
  done
done <"$b/programs.txt"
echo "== example checks: $(grep -c ': ok' "$out/device-checks.txt") ok, $(grep -c ': FAILED$' "$out/device-checks.txt") failed"
grep -v ': ok' "$out/device-checks.txt" | grep -v ': FAILED$' | head -40

PYTHONUNBUFFERED=1 python3 "$here/peers.py" --build "$b" \
  --lengths "${LENGTHS:-1024,4096,16384}" --ours-lengths "${OURS_LENGTHS:-1024,4096,16384}" \
  | tee "$out/gpu-bench.md" || status=1
exit $status
