#!/usr/bin/env python3
"""An attention layer written in raspc, run on PyTorch tensors and checked
against torch.nn.functional.scaled_dot_product_attention (with NumPy
arrays and a NumPy reference where torch is not installed).

    PYTHONPATH=build/python bench/.venv/bin/python examples/python/attention_vs_sdpa.py
"""
import numpy as np

import raspc

T, D, H = 256, 64, 4
layer = raspc.compile(f"""
model attend(x: f32[T, {D}]) -> f32[T, {D}] {{
  param wq, wk, wv: f32[{D}, {D}];
  let q = heads(x @ wq, {H});
  let k = heads(x @ wk, {H});
  let v = heads(x @ wv, {H});
  let causal = select(k, q, key_pos <= query_pos) scored dot(q, k) / sqrt({D // H});
  return merge_heads(aggregate(causal, v, softmax));
}}
""")
print(layer.signature)

try:
    import torch
except ImportError:
    torch = None

if torch is not None:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(T, D, generator=generator)
    weights = {n: torch.randn(D, D, generator=generator) / D ** 0.5 for n in ("wq", "wk", "wv")}
    y = layer(x, **weights)                       # a torch.Tensor, no copies
    q, k, v = ((x @ weights[n]).reshape(T, H, D // H).transpose(0, 1) for n in ("wq", "wk", "wv"))
    expected = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    expected = expected.transpose(0, 1).reshape(T, D)
    print("max |raspc - SDPA| =", (y - expected).abs().max().item())
    assert torch.allclose(y, expected, atol=1e-4)
else:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((T, D), np.float32)
    weights = {n: rng.standard_normal((D, D), np.float32) / D ** 0.5 for n in ("wq", "wk", "wv")}
    y = layer(x, **weights)
    q, k, v = ((x @ weights[n]).reshape(T, H, D // H).transpose(1, 0, 2) for n in ("wq", "wk", "wv"))
    scores = q @ k.transpose(0, 2, 1) / np.sqrt(D // H)
    scores[:, np.triu_indices(T, 1)[0], np.triu_indices(T, 1)[1]] = -np.inf
    p = np.exp(scores - scores.max(-1, keepdims=True))
    expected = (p / p.sum(-1, keepdims=True) @ v).transpose(1, 0, 2).reshape(T, D)
    print("max |raspc - NumPy| =", np.abs(y - expected).max())
    assert np.allclose(y, expected, atol=1e-4)
