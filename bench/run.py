#!/usr/bin/env python3
"""Attention on this CPU: raspc next to its peers, measured in one run.

Runs the FMA peak microbenchmark, raspc's JIT-compiled attention layer
(bench/attention_bench.cpp) and each available peer on the same shapes
(batch x heads = 8, fp32, [1, H, L, D]) and prints a Markdown table: time,
GFLOP/s of the pairs the mask keeps, % of the measured peak, and each peer's
time divided by raspc's (> 1: raspc is faster). Peers come from
bench/setup.sh (PyPI, in bench/.venv); run this script with that venv's
python. A peer that is missing or cannot express a variant shows "-".

    bench/.venv/bin/python bench/run.py --build build [--lengths 512,1024] ...
"""

import argparse
import math
import os
import subprocess
import sys
import time

HEADS = 8


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build", default="build", help="raspc build directory")
    p.add_argument("--variants", default="full,causal,window,alibi")
    p.add_argument("--lengths", default="512,1024,2048,4096")
    p.add_argument("--dims", default="64,128")
    p.add_argument("--window", type=int, default=256)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--peers", default="sdpa,flex,jax,iree,ort")
    p.add_argument("--rss-length", type=int, default=65536,
                   help="length of the peak-memory run (sliding window); 0 skips it")
    p.add_argument("--linear-lengths", default="4096,16384,65536",
                   help="lengths for linear attention (raspc only); empty skips it")
    p.add_argument("--rasp-lengths", default="1024,4096,16384,32768",
                   help="lengths for sort/histogram; empty skips them")
    p.add_argument("--python-max", type=int, default=4096,
                   help="longest length the plain Python evaluation runs at")
    return p.parse_args()


def pairs(variant, L, window):
    if variant == "causal":
        return L * (L + 1) / 2
    if variant == "window":
        w = min(L, window)
        return w * (w + 1) / 2 + max(0, L - window) * window
    return L * L


def alibi_slopes(heads):
    return [2.0 ** (-8.0 * (h + 1) / heads) for h in range(heads)]


def best_time(fn, repeat):
    fn()  # warm up (and compile)
    best = math.inf
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


# --- peers -----------------------------------------------------------------

def torch_peers(names, window):
    try:
        import torch
        import torch.nn.functional as F
    except Exception as e:  # noqa: BLE001
        print(f"torch unavailable: {e}", file=sys.stderr)
        return {}
    torch.set_num_threads(os.cpu_count())
    peers = {}

    def bias(variant, L, D):
        i = torch.arange(L)[:, None]
        j = torch.arange(L)[None, :]
        if variant == "window":
            keep = (j <= i) & (i - j < window)
            return torch.where(keep, 0.0, -math.inf)
        if variant == "alibi":
            slopes = torch.tensor(alibi_slopes(HEADS))[:, None, None]
            return -(slopes * (i - j)).float()[None]
        return None

    if "sdpa" in names:
        def sdpa(variant, L, D, repeat):
            q, k, v = (torch.rand(1, HEADS, L, D) * 2 - 1 for _ in range(3))
            mask = bias(variant, L, D)
            fn = lambda: F.scaled_dot_product_attention(  # noqa: E731
                q, k, v, attn_mask=mask, is_causal=variant == "causal")
            with torch.no_grad():
                return best_time(fn, repeat)
        peers["sdpa"] = sdpa

    if "flex" in names:
        try:
            from torch.nn.attention.flex_attention import create_block_mask, flex_attention
            compiled = torch.compile(flex_attention, dynamic=False)
        except Exception as e:  # noqa: BLE001
            print(f"FlexAttention unavailable: {e}", file=sys.stderr)
        else:
            slopes = torch.tensor(alibi_slopes(HEADS))

            def flex(variant, L, D, repeat):
                q, k, v = (torch.rand(1, HEADS, L, D) * 2 - 1 for _ in range(3))
                score_mod, block_mask = None, None
                if variant == "causal":
                    block_mask = create_block_mask(lambda b, h, i, j: j <= i, None, None, L, L,
                                                   device="cpu")
                elif variant == "window":
                    block_mask = create_block_mask(
                        lambda b, h, i, j: (j <= i) & (i - j < window), None, None, L, L,
                        device="cpu")
                elif variant == "alibi":
                    def score_mod(s, b, h, i, j):
                        return s - slopes[h] * (i - j)
                fn = lambda: compiled(q, k, v, score_mod=score_mod,  # noqa: E731
                                      block_mask=block_mask)
                with torch.no_grad():
                    return best_time(fn, repeat)
            peers["flex"] = flex
    return peers


def jax_peer():
    try:
        import jax
        import jax.numpy as jnp
    except Exception as e:  # noqa: BLE001
        print(f"jax unavailable: {e}", file=sys.stderr)
        return None

    def run(variant, L, D, repeat, window):
        key = jax.random.PRNGKey(0)
        # jax.nn.dot_product_attention takes [B, L, H, D].
        q, k, v = (jax.random.uniform(jax.random.fold_in(key, n), (1, L, HEADS, D), minval=-1,
                                      maxval=1) for n in range(3))
        bias = None
        if variant == "alibi":
            i = jnp.arange(L)[:, None]
            j = jnp.arange(L)[None, :]
            bias = -(jnp.array(alibi_slopes(HEADS))[:, None, None] * (i - j))[None]
        kwargs = dict(bias=bias, is_causal=variant in ("causal", "window"))
        if variant == "window":
            kwargs["local_window_size"] = (window - 1, 0)
        fn = jax.jit(lambda q, k, v: jax.nn.dot_product_attention(q, k, v, **kwargs))
        return best_time(lambda: fn(q, k, v).block_until_ready(), repeat)
    return run


def iree_peer():
    """IREE (iree-base-compiler/runtime) on the standard attention graph in
    linalg: batch matmul, scale plus bias (the mask as -inf, or ALiBi),
    linalg.softmax, batch matmul; llvm-cpu for the host CPU, local-task
    (multi-threaded) runtime."""
    try:
        import iree.compiler as ireec
        import iree.runtime as ireert
    except Exception as e:  # noqa: BLE001
        print(f"IREE unavailable: {e}", file=sys.stderr)
        return None

    def run(variant, L, D, repeat, window):
        H = HEADS
        T3, S3 = f"tensor<{H}x{L}x{D}xf32>", f"tensor<{H}x{L}x{L}xf32>"
        with_bias = variant != "full"
        bias_arg = f", %bias: {S3}" if with_bias else ""
        bias_in = f"%s, %bias : {S3}, {S3}" if with_bias else f"%s : {S3}"
        bias_maps = "affine_map<(b, m, n) -> (b, m, n)>, " if with_bias else ""
        add_bias = "%z = arith.addf %y, %c : f32" if with_bias else "%z = arith.addf %y, %y0 : f32"
        mlir = f"""
func.func @attn(%q: {T3}, %k: {T3}, %v: {T3}{bias_arg}) -> {T3} {{
  %zero = arith.constant 0.0 : f32
  %y0 = arith.constant 0.0 : f32
  %scale = arith.constant {1.0 / math.sqrt(D)} : f32
  %se = tensor.empty() : {S3}
  %sz = linalg.fill ins(%zero : f32) outs(%se : {S3}) -> {S3}
  %s = linalg.batch_matmul indexing_maps = [
      affine_map<(b, m, n, k) -> (b, m, k)>, affine_map<(b, m, n, k) -> (b, n, k)>,
      affine_map<(b, m, n, k) -> (b, m, n)>]
      ins(%q, %k : {T3}, {T3}) outs(%sz : {S3}) -> {S3}
  %ss = linalg.generic {{indexing_maps = [affine_map<(b, m, n) -> (b, m, n)>, {bias_maps}affine_map<(b, m, n) -> (b, m, n)>],
                         iterator_types = ["parallel", "parallel", "parallel"]}}
      ins({bias_in}) outs(%se : {S3}) {{
    ^bb0(%x: f32, {"%c: f32, " if with_bias else ""}%o: f32):
      %y = arith.mulf %x, %scale : f32
      {add_bias}
      linalg.yield %z : f32
  }} -> {S3}
  %p = linalg.softmax dimension(2) ins(%ss : {S3}) outs(%se : {S3}) -> {S3}
  %oe = tensor.empty() : {T3}
  %oz = linalg.fill ins(%zero : f32) outs(%oe : {T3}) -> {T3}
  %o = linalg.batch_matmul ins(%p, %v : {S3}, {T3}) outs(%oz : {T3}) -> {T3}
  return %o : {T3}
}}
"""
        vmfb = ireec.compile_str(mlir, target_backends=["llvm-cpu"],
                                 extra_args=["--iree-llvmcpu-target-cpu=host"])
        ctx = ireert.SystemContext(config=ireert.Config("local-task"))
        ctx.add_vm_module(ireert.VmModule.copy_buffer(ctx.instance, vmfb))
        fn = ctx.modules.module["attn"]
        args = dense_inputs(H, L, D)
        if with_bias:
            args.append(dense_bias(variant, H, L, window))
        return best_time(lambda: fn(*args).to_host(), repeat)
    return run


def dense_inputs(H, L, D):
    """Q, K and V of the dense graphs: [H, L, D], uniform in [-1, 1)."""
    import numpy as np
    return [(np.random.rand(H, L, D).astype(np.float32) * 2 - 1) for _ in range(3)]


def dense_bias(variant, H, L, window):
    """The [H, L, L] additive bias of the dense graphs: the mask as -inf, or
    ALiBi's distances."""
    import numpy as np
    i = np.arange(L)[:, None]
    j = np.arange(L)[None, :]
    if variant == "alibi":
        slopes = np.array(alibi_slopes(H), dtype=np.float32)[:, None, None]
        return np.ascontiguousarray(-(slopes * (i - j)).astype(np.float32))
    keep = j <= i if variant == "causal" else (j <= i) & (i - j < window)
    return np.ascontiguousarray(
        np.broadcast_to(np.where(keep, 0.0, -np.inf).astype(np.float32), (H, L, L)))


def ort_peer():
    """onnxruntime (CPU execution provider, all cores) on the standard
    attention graph in ONNX: MatMul(Q, K^T), scale, + bias, Softmax, MatMul."""
    try:
        import onnxruntime as ort
        from onnx import TensorProto, helper
    except Exception as e:  # noqa: BLE001
        print(f"onnxruntime unavailable: {e}", file=sys.stderr)
        return None

    def run(variant, L, D, repeat, window):
        H = HEADS
        with_bias = variant != "full"
        t3 = lambda name, *shape: helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)
        inputs = [t3("q", H, L, D), t3("k", H, L, D), t3("v", H, L, D)]
        nodes = [helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 2, 1]),
                 helper.make_node("MatMul", ["q", "kt"], ["s"]),
                 helper.make_node("Mul", ["s", "scale"], ["ss"])]
        scores = "ss"
        if with_bias:
            inputs.append(t3("bias", H, L, L))
            nodes.append(helper.make_node("Add", ["ss", "bias"], ["sb"]))
            scores = "sb"
        nodes += [helper.make_node("Softmax", [scores], ["p"], axis=-1),
                  helper.make_node("MatMul", ["p", "v"], ["o"])]
        scale = helper.make_tensor("scale", TensorProto.FLOAT, [], [1.0 / math.sqrt(D)])
        graph = helper.make_graph(nodes, "attn", inputs, [t3("o", H, L, D)], [scale])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        session = ort.InferenceSession(model.SerializeToString(),
                                       providers=["CPUExecutionProvider"])
        feed = dict(zip("qkv", dense_inputs(H, L, D)))
        if with_bias:
            feed["bias"] = dense_bias(variant, H, L, window)
        return best_time(lambda: session.run(None, feed), repeat)
    return run


# --- raspc -------------------------------------------------------------------

def run_raspc(build, variant, L, D, repeat, window):
    out = subprocess.run(
        [os.path.join(build, "bin", "raspc-bench-attention"), f"--variants={variant}",
         f"--lengths={L}", f"--dims={D}", f"--repeat={repeat}", f"--window={window}"],
        check=True, capture_output=True, text=True).stdout.strip().splitlines()
    fields = out[-1].split(",")
    return float(fields[4]) / 1e3, float(fields[6])


# --- RASP programs at scale ----------------------------------------------------

def python_sort(tokens):
    """examples/rasp/sort.rasp evaluated the way RASP defines it."""
    L = len(tokens)
    keys = [t * L + i for i, t in enumerate(tokens)]
    target = [sum(1 for k in range(L) if keys[k] < keys[q]) for q in range(L)]
    out = []
    for q in range(L):
        picked = [tokens[k] for k in range(L) if target[k] == q]
        out.append(sum(picked) / len(picked) if picked else 0)
    return out


def python_histogram(tokens):
    L = len(tokens)
    return [sum(1 for k in range(L) if tokens[k] == tokens[q]) for q in range(L)]


def rasp_rows(build, lengths, python_max):
    rows = []
    import random
    for name, fn in (("sort", python_sort), ("histogram", python_histogram)):
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", "rasp",
                            name + ".rasp")
        out = subprocess.run([os.path.join(build, "bin", "raspc-bench-rasp"), path, lengths, "3"],
                             check=True, capture_output=True, text=True).stdout.splitlines()[1:]
        for line in out:
            _, L, ms, _ = line.split(",")
            L = int(L)
            py = None
            if L <= python_max:
                tokens = [random.randrange(100) for _ in range(L)]
                t = time.perf_counter()
                fn(tokens)
                py = time.perf_counter() - t
            rows.append((name, L, float(ms), py))
    return rows


def fma_peak(build):
    out = subprocess.run([os.path.join(build, "bin", "raspc-fma-peak")], check=True,
                         capture_output=True, text=True).stdout.strip().split(",")
    return out[1], int(out[2]), float(out[3])


def peak_rss(build, L, window):
    """Runs the sliding-window layer at length L in a child and returns its
    time and peak RSS. Called before the peers are imported: a forked child
    counts the parent's pages until it execs."""
    child = subprocess.Popen(
        [os.path.join(build, "bin", "raspc-bench-attention"), "--variants=window",
         f"--lengths={L}", "--dims=64", "--repeat=1", f"--window={window}"],
        stdout=subprocess.PIPE, text=True)
    out = child.stdout.read().strip().splitlines()
    _, status, usage = os.wait4(child.pid, 0)
    ms = float(out[-1].split(",")[4]) if status == 0 else float("nan")
    return ms, usage.ru_maxrss / 1024


def main():
    args = parse_args()
    # OpenBLAS-backed peers run their AVX2 kernel at half speed under this
    # environment's OPENBLAS_CORETYPE=Haswell (see PERF-NOTES).
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        os.environ.pop(var, None)
    isa, threads, peak = fma_peak(args.build)
    rss = peak_rss(args.build, args.rss_length, args.window) if args.rss_length else None
    rasp = rasp_rows(args.build, args.rasp_lengths, args.python_max) if args.rasp_lengths else []
    names = args.peers.split(",")
    peers = torch_peers(names, args.window)
    jax_run = jax_peer() if "jax" in names else None
    iree_run = iree_peer() if "iree" in names else None
    ort_run = ort_peer() if "ort" in names else None
    order = [n for n in names
             if n in peers or (n == "jax" and jax_run) or (n == "iree" and iree_run)
             or (n == "ort" and ort_run)]
    print(f"FP32 FMA peak ({isa}, {threads} threads): {peak:.0f} GFLOP/s\n")
    head = "| variant | L | D | raspc ms | GFLOP/s | % peak | compile s |"
    rule = "|---|---|---|---|---|---|---|"
    for n in order:
        head += f" {n} ms | {n}/raspc |"
        rule += "---|---|"
    print(head)
    print(rule, flush=True)
    for variant in args.variants.split(","):
        for D in map(int, args.dims.split(",")):
            for L in map(int, args.lengths.split(",")):
                ours, compile_s = run_raspc(args.build, variant, L, D, args.repeat, args.window)
                gflops = 4.0 * HEADS * D * pairs(variant, L, args.window) / ours / 1e9
                row = (f"| {variant} | {L} | {D} | {ours * 1e3:.1f} | {gflops:.0f} | "
                       f"{100 * gflops / peak:.0f} | {compile_s:.2f} |")
                for n in order:
                    try:
                        if n == "jax":
                            t = jax_run(variant, L, D, args.repeat, args.window)
                        elif n == "iree":
                            t = iree_run(variant, L, D, args.repeat, args.window)
                        elif n == "ort":
                            t = ort_run(variant, L, D, args.repeat, args.window)
                        else:
                            t = peers[n](variant, L, D, args.repeat)
                        row += f" {t * 1e3:.1f} | {t / ours:.2f} |"
                    except Exception as e:  # noqa: BLE001
                        print(f"{n} {variant} L={L} D={D}: {type(e).__name__}: {e}",
                              file=sys.stderr)
                        row += " - | - |"
                print(row, flush=True)
    if args.linear_lengths:
        print("\n| linear attention (elu+1), D = 64 | L | raspc ms | ms per 1k positions |")
        print("|---|---|---|---|")
        for variant in ("linear", "causal_linear"):
            out = subprocess.run(
                [os.path.join(args.build, "bin", "raspc-bench-attention"),
                 f"--variants={variant}", f"--lengths={args.linear_lengths}", "--dims=64",
                 "--repeat=2"], check=True, capture_output=True, text=True).stdout.splitlines()
            for line in out[1:]:
                f = line.split(",")
                print(f"| {variant} | {f[2]} | {float(f[4]):.1f} | "
                      f"{float(f[4]) / int(f[2]) * 1000:.2f} |")
    if rasp:
        print("\n| program | L | raspc ms | plain Python ms | Python/raspc |")
        print("|---|---|---|---|---|")
        for name, L, ms, py in rasp:
            py_text = f"{py * 1e3:.0f} | {py * 1e3 / ms:.0f}" if py is not None else "- | -"
            print(f"| {name} | {L} | {ms:.1f} | {py_text} |")
    if rss:
        L = args.rss_length
        print(f"\nSliding window {args.window}, L = {L}, D = 64: {rss[0]:.0f} ms, peak RSS "
              f"{rss[1]:.0f} MiB (JIT compile and the benchmark's own inputs included); "
              f"the [heads, L, L] fp32 scores alone would be {HEADS * L * L * 4 / 2**30:.1f} GiB")


if __name__ == "__main__":
    main()
