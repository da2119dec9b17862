#!/usr/bin/env python3
"""Forward attention on the GPU: raspc against torch SDPA and FlexAttention.

Run by bench/gpu/run_device.sh. Shapes from issue #6: B = 4, H = 16,
L in --lengths, D in {64, 128}, full, causal and document masks (causal
within documents of DOCUMENT tokens, FlexAttention's example; SDPA takes it
as a boolean mask); peers in bf16. raspc's
layers (bench/gpu/prepare.sh) are bf16 programs of one sequence (B = 4 is four
calls; the attention runs on the tensor cores), timed by raspc-aot-runner. FLOPs: 4 B H L^2 D, halved for causal.
"""
import argparse
import math
import os
import re
import subprocess
import sys

B, H = 4, 16
DOCUMENT = 512  # as bench/gpu/prepare.sh builds the document layers


def flops(L, D, mask):
    """Attention FLOPs, the causal ones halved (the convention of the peers'
    reports); documents: causal within each."""
    if mask == "document":
        return 4.0 * B * H * L * min(L, DOCUMENT) * D / 2
    return 4.0 * B * H * L * L * D / (2 if mask == "causal" else 1)


def cuda_time_ms(fn, repeat=10):
    import torch
    fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeat):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return min(times)


_flex = None


def compiled_flex():
    """One compiled FlexAttention for every shape, compiled per shape (not
    dynamic) and allowed enough recompiles for all of them: past dynamo's
    limit it would fall back to eager flex_attention, which materializes
    the scores."""
    global _flex
    if _flex is None:
        import torch
        from torch.nn.attention.flex_attention import flex_attention
        for limit in ("recompile_limit", "cache_size_limit"):
            if hasattr(torch._dynamo.config, limit):
                setattr(torch._dynamo.config, limit, 64)
        _flex = torch.compile(flex_attention, dynamic=False)
    return _flex


def peers(L, D, mask):
    import torch
    import torch.nn.functional as F
    q, k, v = (torch.randn(B, H, L, D, device="cuda", dtype=torch.bfloat16) for _ in range(3))
    doc = torch.arange(L, device="cuda") // DOCUMENT
    result = {}
    try:
        if mask == "document":
            # An additive mask made once (SDPA would convert a boolean one
            # on every call); SDPA computes all L^2 scores, so its TFLOP/s
            # here count the visible ones only (an effective rate).
            pos = torch.arange(L, device="cuda")
            visible = (doc[:, None] == doc[None, :]) & (pos[None, :] <= pos[:, None])
            bias = torch.zeros(L, L, device="cuda", dtype=torch.bfloat16)
            bias.masked_fill_(~visible, float("-inf"))
            del visible
            sdpa = lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        else:
            sdpa = lambda: F.scaled_dot_product_attention(q, k, v, is_causal=mask == "causal")
        result["sdpa"] = cuda_time_ms(sdpa)
    except Exception as e:  # noqa: BLE001 - report and go on
        print(f"<!-- sdpa {mask} L={L} D={D}: {type(e).__name__}: {e} -->", file=sys.stderr)
    try:
        from torch.nn.attention.flex_attention import create_block_mask
        flex = compiled_flex()
        block_mask = None
        if mask == "causal":
            block_mask = create_block_mask(lambda b, h, qi, ki: qi >= ki, None, None, L, L)
        elif mask == "document":
            block_mask = create_block_mask(
                lambda b, h, qi, ki: (doc[qi] == doc[ki]) & (qi >= ki), None, None, L, L)
        result["flex"] = cuda_time_ms(lambda: flex(q, k, v, block_mask=block_mask))
    except Exception as e:  # noqa: BLE001 - report and go on
        print(f"<!-- flex {mask} L={L} D={D}: {type(e).__name__}: {e} -->", file=sys.stderr)
    return result


def ours(build, layer, result, specs, L, entry="layer", calls=B):
    runner = os.path.join(build, "bin", "raspc-aot-runner")
    cmd = [runner, "bench", os.path.join(build, "layers", layer), entry, result, *specs,
           "--length", str(L), "--repeat", "3"]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        return None, "timeout"
    m = re.search(r": ([0-9.]+) ms", done.stdout)
    if done.returncode != 0 or not m:
        return None, ((done.stderr or done.stdout).strip().splitlines() or ["no output"])[-1]
    return float(m.group(1)) * calls, None  # one call per sequence


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--build", required=True)
    p.add_argument("--lengths", default="1024,4096,16384")
    p.add_argument("--ours-lengths", default="1024,4096,16384")
    a = p.parse_args()
    lengths = [int(x) for x in a.lengths.split(",")]
    ours_lengths = {int(x) for x in a.ours_lengths.split(",") if x}
    layers = {}
    with open(os.path.join(a.build, "layers.txt")) as f:
        for line in f:
            mask, d, lib, result, *specs = line.split()
            layers[(mask, int(d))] = (lib, result, specs)

    import torch
    print(f"GPU: {torch.cuda.get_device_name()}, torch {torch.__version__}\n")
    print("| mask | L | D | raspc ms | raspc TFLOP/s | sdpa ms | sdpa TFLOP/s | raspc/sdpa "
          "| flex ms | flex TFLOP/s | raspc/flex |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    default_ms = {}
    for mask in ("full", "causal", "document"):
        for D in (64, 128):
            if (mask, D) not in layers:
                continue
            for L in lengths:
                peer = peers(L, D, mask)
                mine, why = (None, "not run") if L not in ours_lengths else ours(
                    a.build, *layers[(mask, D)], L)
                f = flops(L, D, mask)
                default_ms[(mask, D, L)] = mine

                def cell(ms):
                    return ("-", "-") if ms is None else (f"{ms:.3f}", f"{f / ms / 1e9:.1f}")

                r, s, fl = cell(mine), cell(peer.get("sdpa")), cell(peer.get("flex"))
                ratio = lambda other: "-" if mine is None or other is None else f"{other / mine:.3f}"
                print(f"| {mask} | {L} | {D} | {r[0]} | {r[1]} | "
                      f"{s[0]} | {s[1]} | {ratio(peer.get('sdpa'))} | {fl[0]} | {fl[1]} | "
                      f"{ratio(peer.get('flex'))} |", flush=True)
                if why and L in ours_lengths:
                    print(f"<!-- raspc {L} {D} {mask}: {why} -->")
    variants(a.build, lengths, ours_lengths, default_ms)
    matmuls(a.build, lengths, ours_lengths)
    models(a.build, lengths, ours_lengths)
    print("\nraspc: bf16 layers, attention as tensor-core flash kernels "
          "(convert-attention-to-gpu-flash: mma.sync m16n8k16, K/V tiles in shared memory; "
          "variant wgmma: warpgroup MMA, sm_90a, each key block's softmax overlapping the "
          "MMAs of the one before; wgmma-serial: without that overlap); "
          "peers: bf16. Ratios: peer time / raspc time (> 1: raspc faster).")


def variants(build, lengths, ours_lengths, default_ms):
    """raspc's layers compiled with a tuning option (prepare.sh's variants.txt), against the
    default build of the same layer from the table above."""
    path = os.path.join(build, "variants.txt")
    if not os.path.exists(path):
        return
    print("\n| variant | mask | L | D | raspc ms | TFLOP/s | default ms | default/variant |")
    print("|---|---|---|---|---|---|---|---|")
    with open(path) as f:
        for line in f:
            label, mask, d, lib, result, *specs = line.split()
            D = int(d)
            for L in lengths:
                if L not in ours_lengths:
                    continue
                mine, why = ours(build, lib, result, specs, L)
                base = default_ms.get((mask, D, L))
                r = ("-", "-") if mine is None else (
                    f"{mine:.3f}", f"{flops(L, D, mask) / mine / 1e9:.1f}")
                ratio = "-" if mine is None or base is None else f"{base / mine:.3f}"
                print(f"| {label} | {mask} | {L} | {D} | {r[0]} | {r[1]} | "
                      f"{'-' if base is None else f'{base:.3f}'} | {ratio} |", flush=True)
                if why:
                    print(f"<!-- raspc variant {label} {L}: {why} -->")


def matmuls(build, lengths, ours_lengths):
    """x @ w, one call of T rows: raspc's matmul kernels (convert-matmul-to-gpu:
    tensor cores for bf16 by mma.sync, the default, and by wgmma, FMAs for f32)
    against torch.matmul (f32 without TF32, torch's default)."""
    import torch
    path = os.path.join(build, "matmuls.txt")
    if not os.path.exists(path):
        return
    torch.backends.cuda.matmul.allow_tf32 = False
    print("\n| kernel | dtype | T | K | N | raspc ms | raspc TFLOP/s | torch ms | torch TFLOP/s "
          "| torch/raspc |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    with open(path) as f:
        for line in f:
            kernel, dtype, k, n, lib, result, *specs = line.split()
            k, n = int(k), int(n)
            torch_dtype = {"bf16": torch.bfloat16, "f32": torch.float32}[dtype]
            for T in lengths:
                x = torch.randn(T, k, device="cuda", dtype=torch_dtype)
                w = torch.randn(k, n, device="cuda", dtype=torch_dtype)
                peer = cuda_time_ms(lambda: x @ w)
                mine, why = (None, "not run") if T not in ours_lengths else ours(
                    build, lib, result, specs, T, entry="projection", calls=1)
                f = 2.0 * T * k * n
                r = ("-", "-") if mine is None else (f"{mine:.3f}", f"{f / mine / 1e9:.1f}")
                ratio = "-" if mine is None else f"{peer / mine:.3f}"
                print(f"| {kernel} | {dtype} | {T} | {k} | {n} | {r[0]} | {r[1]} | {peer:.3f} | "
                      f"{f / peer / 1e9:.1f} | {ratio} |", flush=True)
                if why and T in ours_lengths:
                    print(f"<!-- raspc {kernel} {dtype} matmul {T}x{k}x{n}: {why} -->")


def encoder_block_torch(T):
    """examples/models/encoder_block.rasp in torch (f32, no TF32): the same
    operations on the same shapes, random parameters."""
    import torch
    import torch.nn.functional as F
    r = lambda *shape: torch.randn(*shape, device="cuda") * 0.05
    x = torch.randn(T, 256, device="cuda")
    g1, b1n, g2, b2n = r(256) + 1, r(256), r(256) + 1, r(256)
    wq, wk, wv, wo = r(256, 256), r(256, 256), r(256, 256), r(256, 256)
    w1, b1, w2, b2 = r(256, 1024), r(1024), r(1024, 256), r(256)

    def layer():
        h = F.layer_norm(x, (256,), g1, b1n)
        # [1, H, T, D]: SDPA's fused kernels take 4-D inputs only.
        q, k, v = ((h @ w).view(1, T, 4, 64).transpose(1, 2) for w in (wq, wk, wv))
        a = F.scaled_dot_product_attention(q, k, v)
        x1 = x + a[0].transpose(0, 1).reshape(T, 256) @ wo
        m = F.gelu(F.layer_norm(x1, (256,), g2, b2n) @ w1 + b1) @ w2 + b2
        return x1 + m
    return layer


def decoder_gqa_rope_torch(T):
    """examples/models/decoder_gqa_rope.rasp in torch (f32, no TF32): RMS
    norms, 8 query heads over 2 key/value heads with rotary embeddings
    (rotate-half), causal attention, a SiLU-gated MLP; random parameters."""
    import torch
    import torch.nn.functional as F
    r = lambda *shape: torch.randn(*shape, device="cuda") * 0.05
    x = torch.randn(T, 512, device="cuda")
    n1, n2 = r(512) + 1, r(512) + 1
    wq, wo, wk, wv = r(512, 512), r(512, 512), r(512, 128), r(512, 128)
    w_gate, w_up, w_down = r(512, 1024), r(512, 1024), r(1024, 512)
    inv = torch.exp(torch.arange(32, device="cuda") * (-math.log(10000.0) / 32))
    angle = torch.arange(T, device="cuda")[:, None] * inv[None, :]
    cos, sin = torch.cat([angle.cos()] * 2, -1), torch.cat([angle.sin()] * 2, -1)

    def rms(v, g):
        return v * torch.rsqrt(v.pow(2).mean(-1, keepdim=True) + 1e-6) * g

    def rope(h):
        a, b = h[..., :32], h[..., 32:]
        return h * cos + torch.cat([-b, a], -1) * sin

    def layer():
        h = rms(x, n1)
        q = rope((h @ wq).view(T, 8, 64).transpose(0, 1))
        k = rope((h @ wk).view(T, 2, 64).transpose(0, 1))
        v = (h @ wv).view(T, 2, 64).transpose(0, 1)
        # 4-D, key/value heads repeated: f32 SDPA's fused (memory-efficient)
        # kernel takes neither 3-D inputs nor enable_gqa.
        k, v = (t.repeat_interleave(4, 0)[None] for t in (k, v))
        a = F.scaled_dot_product_attention(q[None], k, v, is_causal=True)
        x1 = x + a[0].transpose(0, 1).reshape(T, 512) @ wo
        g = rms(x1, n2)
        return x1 + (F.silu(g @ w_gate) * (g @ w_up)) @ w_down
    return layer


def models(build, lengths, ours_lengths):
    """A whole example model on the GPU, one call of T positions: raspc's
    build (flash attention, matmul and row-reduction kernels, the rest by
    the reference lowering) against the same layer in torch eager (f32, no
    TF32)."""
    import torch
    path = os.path.join(build, "models.txt")
    if not os.path.exists(path):
        return
    torch.backends.cuda.matmul.allow_tf32 = False
    reference = {"encoder_block": encoder_block_torch,
                 "decoder_gqa_rope": decoder_gqa_rope_torch}
    print("\n| model | T | raspc ms | torch ms | torch/raspc |")
    print("|---|---|---|---|---|")
    with open(path) as f:
        for line in f:
            name, lib, entry, result, *specs = line.split()
            for T in lengths:
                peer = cuda_time_ms(reference[name](T))
                mine, why = (None, "not run") if T not in ours_lengths else ours(
                    build, lib, result, specs, T, entry=entry, calls=1)
                r = "-" if mine is None else f"{mine:.3f}"
                ratio = "-" if mine is None else f"{peer / mine:.3f}"
                print(f"| {name} | {T} | {r} | {peer:.3f} | {ratio} |", flush=True)
                if why and T in ours_lengths:
                    print(f"<!-- raspc {name} {T}: {why} -->")


if __name__ == "__main__":
    main()
