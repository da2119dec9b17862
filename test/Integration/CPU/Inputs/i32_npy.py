"""Writes a 1-D i32 .npy with the standard library: i32_npy.py PATH [V ...]
(no values: an empty array)."""
import struct
import sys

path, values = sys.argv[1], [int(v) for v in sys.argv[2:]]
text = "{'descr': '<i4', 'fortran_order': False, 'shape': (%d,), }" % len(values)
text += " " * ((64 - (10 + len(text) + 1) % 64) % 64) + "\n"
with open(path, "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode())
    f.write(struct.pack("<%di" % len(values), *values))
