"""Sinkhorn attention for sinkhorn_layer.rasp, from the definition, with the
Python standard library only.

    reference.py write PREFIX          writes PREFIX.x.npy, PREFIX.weights.safetensors
    reference.py check PREFIX ITERS    compares PREFIX.y.npy with the reference
"""
import json
import math
import random
import struct
import sys

T, D, HEADS = 7, 16, 2
HD = D // HEADS


def npy_write(path, rows):
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }" % (len(rows), len(rows[0]))
    header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        for row in rows:
            f.write(struct.pack("<%df" % len(row), *row))


def npy_read(path):
    data = open(path, "rb").read()
    assert data[:6] == b"\x93NUMPY", "not an npy file"
    n = struct.unpack("<H", data[8:10])[0]
    return struct.unpack("<%df" % ((len(data) - 10 - n) // 4), data[10 + n:])


def safetensors_write(path, tensors):
    header, data = {}, b""
    for name, rows in tensors.items():
        flat = [v for row in rows for v in row]
        header[name] = {"dtype": "F32", "shape": [len(rows), len(rows[0])],
                        "data_offsets": [len(data), len(data) + 4 * len(flat)]}
        data += struct.pack("<%df" % len(flat), *flat)
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


def inputs():
    rng = random.Random(7)
    mat = lambda r, c, s: [[rng.uniform(-s, s) for _ in range(c)] for _ in range(r)]  # noqa: E731
    return mat(T, D, 1.0), mat(D, D, 0.5), mat(D, D, 0.5), mat(D, D, 0.5)


def matmul(a, b):
    return [[sum(a[i][k] * b[k][j] for k in range(len(b))) for j in range(len(b[0]))]
            for i in range(len(a))]


def sinkhorn_layer(x, wq, wk, wv, iterations):
    q, k, v = matmul(x, wq), matmul(x, wk), matmul(x, wv)
    out = [[0.0] * D for _ in range(T)]
    for h in range(HEADS):
        cols = range(h * HD, (h + 1) * HD)
        s = [[sum(q[i][c] * k[j][c] for c in cols) / math.sqrt(HD) for j in range(T)]
             for i in range(T)]
        p = []
        for row in s:
            m = max(row)
            e = [math.exp(x - m) for x in row]
            p.append([x / sum(e) for x in e])
        for _ in range(iterations):
            col_sums = [sum(p[i][j] for i in range(T)) for j in range(T)]
            p = [[p[i][j] / col_sums[j] for j in range(T)] for i in range(T)]
            p = [[x / sum(row) for x in row] for row in p]
        for i in range(T):
            for c in cols:
                out[i][c] = sum(p[i][j] * v[j][c] for j in range(T))
    return out


def main():
    mode, prefix = sys.argv[1], sys.argv[2]
    x, wq, wk, wv = inputs()
    if mode == "write":
        npy_write(prefix + ".x.npy", x)
        safetensors_write(prefix + ".weights.safetensors", {"wq": wq, "wk": wk, "wv": wv})
        return
    expected = [v for row in sinkhorn_layer(x, wq, wk, wv, int(sys.argv[3])) for v in row]
    got = npy_read(prefix + ".y.npy")
    assert len(got) == len(expected), (len(got), len(expected))
    error = max(abs(a - b) for a, b in zip(got, expected))
    print("max abs error below 1e-4" if error < 1e-4 else "max abs error %g" % error)


if __name__ == "__main__":
    main()
