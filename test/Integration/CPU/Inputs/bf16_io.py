"""bf16 through `raspc run` as NumPy users with ml_dtypes have it: .npy
files of two-byte voids ('<V2'), BF16 tensors in .safetensors. Written and
checked with the standard library only (a bf16 is the top half of an f32).

    bf16_io.py write PREFIX     x.npy and w.safetensors
    bf16_io.py check PREFIX     compares y.npy with x @ w^T + x, done here
"""
import json
import struct
import sys

T, D = 3, 4
X = [[(i * D + j) % 5 - 2.0 for j in range(D)] for i in range(T)]
W = [[0.5 if i == j else 0.25 * ((i + j) % 3) for j in range(D)] for i in range(D)]


def bf16(values):
    return b"".join(struct.pack("<f", v)[2:] for v in values)


def unbf16(data):
    return [struct.unpack("<f", b"\0\0" + data[i:i + 2])[0] for i in range(0, len(data), 2)]


def header(descr, shape):
    text = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (
        descr, ", ".join(map(str, shape)) + ("," if len(shape) == 1 else ""))
    text += " " * ((64 - (10 + len(text) + 1) % 64) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode()


prefix = sys.argv[2]
if sys.argv[1] == "write":
    with open(prefix + ".x.npy", "wb") as f:
        f.write(header("<V2", (T, D)) + bf16([v for row in X for v in row]))
    data = bf16([v for row in W for v in row])
    meta = json.dumps({"w": {"dtype": "BF16", "shape": [D, D],
                             "data_offsets": [0, len(data)]}}).encode()
    with open(prefix + ".w.safetensors", "wb") as f:
        f.write(struct.pack("<Q", len(meta)) + meta + data)
else:
    raw = open(prefix + ".y.npy", "rb").read()
    length = struct.unpack("<H", raw[8:10])[0]
    print(raw[10:10 + length].decode().strip())
    y = unbf16(raw[10 + length:])
    want = [sum(X[i][k] * W[j][k] for k in range(D)) + X[i][j] for i in range(T) for j in range(D)]
    worst = max(abs(a - b) for a, b in zip(y, want))
    print("values %s" % ("match" if len(y) == len(want) and worst == 0 else "differ by %g" % worst))
