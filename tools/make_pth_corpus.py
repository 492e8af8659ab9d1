#!/usr/bin/python3
"""make_pth_corpus.py - seed corpus for fuzz/fuzz_pth.c, made with torch.

Usage: /usr/bin/python3 tools/make_pth_corpus.py DIR

Writes a handful of small legacy-format (non-zip) state_dicts shaped like
the EfficientNet-Lite files: conv + batch norm modules (OrderedDict with
_metadata, LongStorage num_batches_tracked), channels-last weights (non-
contiguous strides), a view at a storage offset, shared storages, and a
0-dim tensor. Small inputs keep the fuzzer fast; nothing is committed.
"""
import io
import os
import sys

import torch
from torch import nn


def save(path, obj):
    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=False)
    with open(path, "wb") as f:
        f.write(buf.getvalue())


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(3, 4, 3, bias=False), nn.BatchNorm2d(4), nn.Linear(4, 2))
    save(f"{out}/module.pth", m.state_dict())
    sd = m.state_dict()
    # channels-last storage, as in the EfficientNet-Lite files
    sd["0.weight"] = sd["0.weight"].permute(2, 3, 1, 0).contiguous().permute(3, 2, 0, 1)
    save(f"{out}/channels_last.pth", sd)
    base = torch.arange(12, dtype=torch.float32)
    save(f"{out}/views.pth", {"a": base[2:8].view(2, 3), "b": base.view(3, 4).t(),
                               "c": torch.tensor(7, dtype=torch.int64),
                               "d": torch.zeros(0, 5)})
    save(f"{out}/empty.pth", {})
    save(f"{out}/long.pth", {"x": torch.arange(-3, 3, dtype=torch.int64)})


if __name__ == "__main__":
    main()
