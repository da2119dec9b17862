"""Writes x.npy and weight .safetensors files for model-params.test."""
import json
import struct
import sys

prefix = sys.argv[1]
T, D = 5, 4
x = [[(i * D + j) % 7 - 3.0 for j in range(D)] for i in range(T)]
wk = [[0.1 * (i + j) for j in range(D)] for i in range(D)]
wv = [[0.5 if i == j else 0.25 * (i - j) for j in range(D)] for i in range(D)]


def npy(path, rows):
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }" % (len(rows), len(rows[0]))
    header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        for row in rows:
            f.write(struct.pack("<%df" % len(row), *row))


def safetensors(path, tensors):
    header, data = {}, b""
    for name, rows in tensors.items():
        flat = [v for row in rows for v in row]
        header[name] = {"dtype": "F32", "shape": [len(rows), len(rows[0])],
                        "data_offsets": [len(data), len(data) + 4 * len(flat)]}
        data += struct.pack("<%df" % len(flat), *flat)
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


npy(prefix + ".x.npy", x)
safetensors(prefix + ".weights.safetensors", {"wk": wk, "wv": wv})
safetensors(prefix + ".short.safetensors", {"wk": wk})
safetensors(prefix + ".shape.safetensors", {"wk": [row[:3] for row in wk], "wv": wv})
with open(prefix + ".expected.json", "w") as f:
    v = [[sum(x[i][k] * wv[k][j] for k in range(D)) for j in range(D)] for i in range(T)]
    y = [[sum(v[r][j] for r in range(i + 1)) / (i + 1) for j in range(D)] for i in range(T)]
    json.dump(y, f)
