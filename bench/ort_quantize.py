#!/usr/bin/python3
"""ort_quantize.py - ONNX Runtime's own static int8 model of the same weights,
the anchor of bench_int8.sh. Usage: ort_quantize.py IN.onnx OUT.onnx SIZE LIST
LIST: the calibration photos, one path a line (the same 300 ordo's
tools/calibrate.sh uses), preprocessed as tools/reference.py does (bicubic
resize of the shorter side to SIZE/0.875, centre crop, (p - 127) / 128).
Settings: onnxruntime.quantization.quant_pre_process, then quantize_static
with QDQ format, per-channel int8 weights, uint8 activations, MinMax
calibration (its default) - the configuration ORT documents for x86 CPUs
with VNNI."""
import sys

import numpy as np
from PIL import Image
from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType,
                                      quantize_static)
from onnxruntime.quantization.shape_inference import quant_pre_process

src, dst, S, lst = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
R = int(S / 0.875)


def prep(path):
    im = Image.open(path).convert("RGB")
    w, h = im.size
    nw, nh = (R, max(1, round(h * R / w))) if w < h else (max(1, round(w * R / h)), R)
    im = im.resize((nw, nh), Image.BICUBIC)
    l, t = (nw - S) // 2, (nh - S) // 2
    a = (np.asarray(im.crop((l, t, l + S, t + S)), dtype=np.float32) - 127.0) / 128.0
    return a.transpose(2, 0, 1)[None]


class Reader(CalibrationDataReader):
    def __init__(self, paths):
        self.it = iter(paths)

    def get_next(self):
        p = next(self.it, None)
        return None if p is None else {"input": prep(p)}


paths = [l.strip() for l in open(lst) if l.strip()]
pre = dst + ".pre.onnx"
quant_pre_process(src, pre)
quantize_static(pre, dst, Reader(paths), quant_format=QuantFormat.QDQ, per_channel=True,
                activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
print("quantized %s -> %s with %d calibration photos" % (src, dst, len(paths)))
