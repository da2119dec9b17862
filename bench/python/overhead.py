#!/usr/bin/env python3
"""What calling raspc from Python costs: one small attention layer (L = 16,
D = 64, 4 heads, causal) called from Python on NumPy arrays and on PyTorch
tensors, beside the same call through the C API (raspc-bench-call) and
PyTorch eager's version of the layer, in one run on the same threads.

    PYTHONPATH=build/python bench/.venv/bin/python bench/python/overhead.py [--threads 2]

Prints a table of microseconds per call (median of 20 rounds) and the
overhead of each Python path above the C API. The targets (#25): at most
5 us above the C API, no copies of inputs or results on the fast path.
"""
import argparse
import json
import os
import pathlib
import platform
import statistics
import subprocess
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
LENGTH, WIDTH, HEADS = 16, 64, 4
PROGRAM = f"""
model attend(x: f32[T, {WIDTH}]) -> f32[T, {WIDTH}] {{
  param wq, wk, wv: f32[{WIDTH}, {WIDTH}];
  let q = heads(x @ wq, {HEADS});
  let k = heads(x @ wk, {HEADS});
  let v = heads(x @ wv, {HEADS});
  let causal = select(k, q, key_pos <= query_pos) scored dot(q, k) / sqrt({WIDTH // HEADS});
  return merge_heads(aggregate(causal, v, softmax));
}}
"""


def per_call(function, calls):
    """Median and minimum microseconds per call over 20 rounds."""
    for _ in range(100):
        function()
    rounds = []
    per_round = max(calls // 20, 1)
    for _ in range(20):
        start = time.perf_counter()
        for _ in range(per_round):
            function()
        rounds.append((time.perf_counter() - start) / per_round * 1e6)
    return statistics.median(rounds), min(rounds)


def peak_rss_growth(call):
    """How much one call raises the process's peak RSS (MiB), and its result."""
    import resource  # noqa: PLC0415

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = call()
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before, result


def cpu_name():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--build", default=str(ROOT / "build"))
    args = parser.parse_args()
    os.environ["RASPRT_NUM_THREADS"] = str(args.threads)
    import raspc  # after RASPRT_NUM_THREADS

    raspc.set_num_threads(args.threads)
    flags = sorted({f for f in open("/proc/cpuinfo").read().split() if f.startswith("avx512")})
    print(f"CPU: {cpu_name()} ({os.cpu_count()} cores; {' '.join(flags) or 'no AVX-512'}), "
          f"{args.threads} threads")

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "attend.rasp"
        path.write_text(PROGRAM)
        out = subprocess.run([str(pathlib.Path(args.build) / "bin" / "raspc-bench-call"), str(path),
                              str(LENGTH), str(args.calls)], capture_output=True, text=True,
                             check=True, env=dict(os.environ))
        c_api = json.loads(out.stdout)
        rows.append(("raspc, C API (raspc_run)", c_api["median_us"], c_api["min_us"]))

    rng = np.random.default_rng(0)
    x = rng.standard_normal((LENGTH, WIDTH), np.float32)
    weights = {n: rng.standard_normal((WIDTH, WIDTH), np.float32) / 8 for n in ("wq", "wk", "wv")}
    program = raspc.compile(PROGRAM).bind(weights)
    rows.append(("raspc, Python, NumPy", *per_call(lambda: program(x), args.calls)))
    native = program._native
    arguments = [x, *(program._bound[n] for n in ("wq", "wk", "wv"))]
    rows.append(("raspc, native run, every argument each call",
                 *per_call(lambda: native.run(arguments), args.calls)))
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        torch.set_num_threads(args.threads)
        tx = torch.from_numpy(x)
        tw = {n: torch.from_numpy(w) for n, w in weights.items()}
        rows.append(("raspc, Python, PyTorch tensors", *per_call(lambda: program(tx), args.calls)))

        def eager():
            q, k, v = ((tx @ tw[n]).view(LENGTH, HEADS, -1).transpose(0, 1)
                       for n in ("wq", "wk", "wv"))
            y = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
            return y.transpose(0, 1).reshape(LENGTH, WIDTH)

        with torch.inference_mode():
            rows.append(("PyTorch eager (3 matmuls + SDPA)", *per_call(eager, args.calls)))
            check = eager().numpy()
        print(f"max |raspc - PyTorch| = {np.abs(program(x) - check).max():.2e}")

    # No copies on the fast path: a call on a 64 MiB input grows the peak
    # RSS by its 64 MiB result only (a copy of the input would add 64 more).
    scale = raspc.compile("model scale(x: f32[T, 64]) -> f32[T, 64] {\n  return x * 2;\n}\n")
    big = np.ones((262144, 64), np.float32)
    scale(big[:16])
    growth, result = peak_rss_growth(lambda: scale(big))
    print(f"peak RSS growth of one call on a {big.nbytes >> 20} MiB NumPy input: {growth:.0f} MiB "
          f"(its result is {result.nbytes >> 20} MiB; a copy of the input would add "
          f"{big.nbytes >> 20} more)")
    if torch is not None:
        tbig = torch.ones(262144, 64)
        del result
        growth, _ = peak_rss_growth(lambda: scale(tbig))
        print(f"the same on a PyTorch tensor, the first result freed: {growth:.0f} MiB (the "
              f"result reuses the freed block; a copy of the input would add "
              f"{big.nbytes >> 20})")

    base = rows[0][1]
    print(f"\nL = {LENGTH}, D = {WIDTH}, {HEADS} heads, causal; us per call (median of 20 rounds)")
    print(f"{'':44} {'median':>8} {'min':>8} {'above C API':>12}")
    for name, median, minimum in rows:
        print(f"{name:44} {median:8.2f} {minimum:8.2f} {median - base:+12.2f}")


if __name__ == "__main__":
    main()
