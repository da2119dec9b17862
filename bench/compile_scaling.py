#!/usr/bin/env python3
"""Compile time against program size: generated programs of N operations of
one kind, each compiled to an object (`raspc --emit=obj`), with the time,
the peak memory and, per kind, the exponent k of time ~ N^k fitted over the
sizes (1: linear). The targets (#22): k <= 1.2, a 4095-term statement in
< 2 s, 1000 chained aggregates in < 3 s, 20 000 lets in < 5 s.

    python3 bench/compile_scaling.py [--build build] [--sizes 100,300,1000,3000]
                                     [--kinds sum,lets,aggregates,matmuls]
"""
import argparse
import math
import os
import pathlib
import resource
import subprocess
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]


def sum_terms(n):
    terms = " + ".join("tokens" if i % 2 else "indices" for i in range(n))
    return f"def main(tokens: int) {{\n  return {terms};\n}}\n"


def lets(n):
    body = "".join(f"  let a{i} = a{i - 1} + {i % 7};\n" for i in range(1, n))
    return f"def main(tokens: int) {{\n  let a0 = tokens;\n{body}  return a{n - 1};\n}}\n"


def aggregates(n):
    body = "".join(f"  let a{i} = aggregate(select(indices, indices, <=), a{i - 1});\n"
                   for i in range(1, n))
    return (f"def main(tokens: int) {{\n  let a0 = numerical(float(tokens));\n{body}"
            f"  return a{n - 1};\n}}\n")


def matmuls(n):
    body = "".join(f"  let h{i} = h{i - 1} @ w;\n" for i in range(1, n))
    return (f"model main(x: f32[T, 16]) -> f32[T, 16] {{\n  param w: f32[16, 16];\n"
            f"  let h0 = x;\n{body}  return h{n - 1};\n}}\n")


KINDS = {"sum": sum_terms, "lets": lets, "aggregates": aggregates, "matmuls": matmuls}


def compile_once(raspc, source, tmp):
    path = os.path.join(tmp, "p.rasp")
    with open(path, "w") as f:
        f.write(source)
    start = time.perf_counter()
    child = subprocess.Popen([raspc, path, "--emit=obj", "-o", os.path.join(tmp, "p.o")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    if status:
        raise RuntimeError(child.stderr.read().decode()[:500])
    return seconds, usage.ru_maxrss / 1024


def exponent(points):
    """Least-squares slope of log(time) over log(size)."""
    xs = [math.log(n) for n, _ in points]
    ys = [math.log(t) for _, t in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default=str(ROOT / "build"))
    parser.add_argument("--sizes", default="100,300,1000,3000")
    parser.add_argument("--kinds", default=",".join(KINDS))
    args = parser.parse_args()
    raspc = os.path.join(args.build, "bin", "raspc")
    sizes = [int(s) for s in args.sizes.split(",")]
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                if l.startswith("model name")), "unknown CPU")
    print(f"# {cpu}; raspc --emit=obj; seconds and peak MiB per size")
    print("kind, " + ", ".join(f"N={n} s, N={n} MiB" for n in sizes) + ", exponent")
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.kinds.split(","):
            points, row = [], [kind]
            for n in sizes:
                seconds, mib = compile_once(raspc, KINDS[kind](n), tmp)
                points.append((n, max(seconds, 1e-3)))
                row += [f"{seconds:.2f}", f"{mib:.0f}"]
            # One size has no slope.
            row.append(f"{exponent(points):.2f}" if len(sizes) > 1 else "-")
            print(", ".join(row), flush=True)


if __name__ == "__main__":
    main()
