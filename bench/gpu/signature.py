#!/usr/bin/env python3
"""Prints the runner's RESULT and ARG specs of a program (bench/gpu/aot_runner.cpp).

Reads `raspc FILE --emit=attn` on stdin; writes one line:
    ENTRY RESULT ARG...     e.g.  sort i64:1 i64:T
Open vocabularies get 4 token ids; an empty closed one (never) 1.
"""
import re
import sys

DTYPES = {"f32": "f32", "f16": "f16", "bf16": "bf16", "i32": "i32", "i64": "i64", "i1": "bool"}


def spec(tensor, attrs):
    *dims, element = tensor.split("x")
    dtype = DTYPES[element]
    shape = ",".join("T" if d == "?" else d for d in dims)
    vocab = re.search(r"raspc\.vocab = \[([^\]]*)\]", attrs or "")
    if vocab is None:
        return f"{dtype}:{shape}"
    words = len(re.findall(r'"(?:[^"\\]|\\.)*"', vocab.group(1)))
    return f"{dtype}:{shape}:{max(words, 4 if 'raspc.open_vocab' in attrs else 1)}"


def main():
    text = sys.stdin.read()
    m = re.search(r"func\.func @(\w+)\((.*)\) -> (.*) \{\n", text)
    if not m:
        sys.exit("signature.py: no func.func in the input")
    entry, params, results = m.groups()
    args = [spec(t, a) for t, a in
            re.findall(r"%arg\d+: tensor<([^>]*)>(?: \{([^{}]*)\})?", params)]
    result = re.search(r"tensor<([^>]*)>", results).group(1)
    *dims, element = result.split("x")
    print(entry, f"{DTYPES[element]}:{len(dims)}", *args)


if __name__ == "__main__":
    main()
