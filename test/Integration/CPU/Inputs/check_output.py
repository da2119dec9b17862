"""Compares y.npy from raspc with the expected values from write_weights.py."""
import json
import struct
import sys

prefix = sys.argv[1]
data = open(prefix + ".y.npy", "rb").read()
assert data[:6] == b"\x93NUMPY", "not an npy file"
header_length = struct.unpack("<H", data[8:10])[0]
values = struct.unpack("<%df" % ((len(data) - 10 - header_length) // 4), data[10 + header_length:])
expected = [v for row in json.load(open(prefix + ".expected.json")) for v in row]
assert len(values) == len(expected), (len(values), len(expected))
error = max(abs(a - b) for a, b in zip(values, expected))
print("max abs error below 1e-5" if error < 1e-5 else "max abs error %g" % error)
