#!/usr/bin/env python3
"""Compile time of every shipped example, through the driver.

    bench/compile_time.py [--build build] [--repeat 3] [--cuda]

For each file under examples/rasp and examples/models (and its folders), runs
`raspc FILE --emit=obj -o /dev/null` (and, with --cuda, `--target=cuda
--emit=ptx`) --repeat times and prints the best wall time in milliseconds,
then the sum. Compare two builds by running it on each on the same machine.
"""
import argparse
import glob
import os
import subprocess
import sys
import time


def best_of(cmd, repeat):
    best = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        elapsed = time.perf_counter() - start
        if result.returncode != 0:
            sys.exit(f"failed: {' '.join(cmd)}\n{result.stderr.decode()}")
        best = elapsed if best is None else min(best, elapsed)
    return best * 1000


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default=os.path.join(root, "build"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cuda", action="store_true", help="also time --target=cuda --emit=ptx")
    args = parser.parse_args()
    raspc = os.path.join(args.build, "bin", "raspc")
    files = sorted(glob.glob(os.path.join(root, "examples/rasp/*.rasp")) +
                   glob.glob(os.path.join(root, "examples/models/*.rasp")) +
                   glob.glob(os.path.join(root, "examples/models/*/*.rasp")))
    targets = [("cpu obj", ["--emit=obj", "-o", os.devnull])]
    if args.cuda:
        targets.append(("cuda ptx", ["--target=cuda", "--emit=ptx", "-o", os.devnull]))
    print(f"{'example':<32}" + "".join(f"{name:>12}" for name, _ in targets))
    totals = [0.0] * len(targets)
    for path in files:
        row = f"{os.path.relpath(path, os.path.join(root, 'examples')):<32}"
        for i, (_, flags) in enumerate(targets):
            ms = best_of([raspc, path] + flags, args.repeat)
            totals[i] += ms
            row += f"{ms:>10.0f}ms"
        print(row)
    print(f"{'total':<32}" + "".join(f"{t:>10.0f}ms" for t in totals))


if __name__ == "__main__":
    main()
