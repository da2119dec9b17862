#!/usr/bin/env python3
"""RASP programs from Python: compile the shipped examples, run them on
tokens, look at the selectors they build.

    PYTHONPATH=build/python build/venv/bin/python examples/python/rasp_programs.py
"""
import pathlib

import numpy as np

import raspc

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "rasp"

# A program from a file: sort integers that may repeat.
sort = raspc.compile(EXAMPLES / "sort.rasp")
print(sort.signature)                            # def sort(tokens: i64[T]) -> i64[?]
print(sort.run_tokens([3, 1, 2, 1]))             # [1, 1, 2, 3]
print(sort(np.array([9, 4, 7], np.int64)))       # the same on an array: [4 7 9]

# A program from text; positions where nothing is selected give None.
shift = raspc.compile("""
def shift_two(tokens) {
  return aggregate(select(indices, indices, key == query - 2), tokens);
}
""")
print(shift.run_tokens(["a", "b", "c", "d"]))   # [None, None, 'a', 'b']

# Selectors as boolean [queries, keys] arrays.
reverse = raspc.compile(EXAMPLES / "reverse.rasp", expose_selectors=True)
values, selectors = reverse.run_tokens(list("abcd"), selectors=True)
print(values)                                     # ['d', 'c', 'b', 'a']
for name, pattern in selectors.items():
    print(name)
    print("\n".join(" ".join("1" if s else "." for s in row) for row in pattern))

# Mistakes are located.
try:
    raspc.compile("def f(tokens) {\n  return aggregate(select(indices, tokens), tokens);\n}\n")
except raspc.CompileError as error:
    print(f"line {error.line}, column {error.column}: {error.message}")
