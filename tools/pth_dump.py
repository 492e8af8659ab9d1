#!/usr/bin/python3
"""pth_dump.py - reference digests of a .pth state_dict, computed with torch.

Usage: /usr/bin/python3 tools/pth_dump.py FILE.pth [NAME...]

Prints the tensor count, then one FNV-1a 64-bit digest over the whole
state_dict in order (for each tensor: name bytes, a 0 byte, ndim and each
dim as little-endian int64, then the contiguous little-endian data), then
the first 4 values and the float64 sum of each NAME given. tests/test_pth.c
embeds these numbers and recomputes them from ordo's reader.
"""
import struct
import sys

import torch

FNV_OFF, FNV_PRIME, MASK = 0xCBF29CE484222325, 0x100000001B3, (1 << 64) - 1


def fnv(h, data):
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & MASK
    return h


def main():
    sd = torch.load(sys.argv[1], map_location="cpu")
    h = FNV_OFF
    # No numpy: torch's numpy bridge breaks when pip brings NumPy 2.
    for name, t in sd.items():
        head = name.encode() + b"\0" + struct.pack(f"<{t.dim() + 1}q", t.dim(), *t.shape)
        h = fnv(h, head)
        h = fnv(h, bytes(t.reshape(-1).contiguous().view(torch.uint8).tolist()))
    print(f"count {len(sd)}")
    print(f"fnv1a64 0x{h:016x}")
    for name in sys.argv[2:]:
        a = sd[name].reshape(-1)
        vals = " ".join(repr(float(v)) if a.is_floating_point() else str(int(v)) for v in a[:4])
        print(f"{name} shape={list(sd[name].shape)} first=[{vals}] "
              f"sum={a.double().sum().item()!r}")


if __name__ == "__main__":
    main()
