"""Examples for packed-batch-run.test, written and checked with the standard
library: two f32 inputs of 2 and 3 rows, and their row means.

    packed_io.py write PREFIX     a.npy, b.npy
    packed_io.py check PREFIX     y.npy against the means, done here
"""
import struct
import sys

A = [[1, 2, 3, 4], [3, 4, 5, 6]]
B = [[0, 0, 0, 3], [1, 1, 1, 3], [2, 2, 2, 3]]


def write(path, rows):
    text = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }" % (len(rows), len(rows[0]))
    text += " " * ((64 - (10 + len(text) + 1) % 64) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode())
        for row in rows:
            f.write(struct.pack("<%df" % len(row), *row))


prefix = sys.argv[2]
if sys.argv[1] == "write":
    write(prefix + ".a.npy", A)
    write(prefix + ".b.npy", B)
else:
    raw = open(prefix + ".y.npy", "rb").read()
    length = struct.unpack("<H", raw[8:10])[0]
    print(raw[10:10 + length].decode().strip())
    y = struct.unpack("<%df" % ((len(raw) - 10 - length) // 4), raw[10 + length:])
    want = [sum(col) / len(rows) for rows in (A, B) for col in zip(*rows)]
    print("means %s" % ("match" if list(y) == want else "differ: %s vs %s" % (y, want)))
