"""Shared pieces of the raspc Python tests: programs and NumPy references
written independently of raspc."""

import os
import pathlib

import numpy as np
import pytest

SOURCE_DIR = pathlib.Path(os.environ.get("RASPC_SOURCE_DIR", pathlib.Path(__file__).parents[2]))

CAUSAL_ATTENTION = """
model attend(x: f32[T, 8]) -> f32[T, 8] {
  param wq, wk, wv: f32[8, 8];
  let q = heads(x @ wq, 2);
  let k = heads(x @ wk, 2);
  let v = heads(x @ wv, 2);
  let s = select(k, q, key_pos <= query_pos) scored dot(q, k) / 2;
  return merge_heads(aggregate(s, v, softmax));
}
"""


def causal_attention_reference(x, wq, wk, wv, heads=2):
    """Causal softmax attention in float64, head by head."""
    x, wq, wk, wv = (a.astype(np.float64) for a in (x, wq, wk, wv))
    t, d = x.shape
    hd = d // heads
    q, k, v = (x @ w for w in (wq, wk, wv))
    out = np.zeros((t, d))
    for h in range(heads):
        cols = slice(h * hd, (h + 1) * hd)
        scores = q[:, cols] @ k[:, cols].T / 2
        scores[np.triu_indices(t, 1)] = -np.inf
        weights = np.exp(scores - scores.max(axis=1, keepdims=True))
        weights /= weights.sum(axis=1, keepdims=True)
        out[:, cols] = weights @ v[:, cols]
    return out


@pytest.fixture(scope="session")
def rng():
    return np.random.default_rng(7)
