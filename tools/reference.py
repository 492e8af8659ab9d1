#!/usr/bin/python3
"""reference.py - the PyTorch reference for ordo's network (src/nn/net.c).

Runs the PyPI package efficientnet-lite-pytorch 0.1.0 (lukemelas' model with
the Lite changes) with the same weights ordo loads, so tests and benches can
compare against an independent implementation. Run with Debian's
/usr/bin/python3 (it has python3-torch).

  reference.py run --model lite0 [--weights PATH] --input IN.f32 --n N \\
               --logits OUT.f32 [--embed OUT.f32]
      IN.f32 holds N preprocessed images, raw float32 NHWC (S x S x 3, S the
      model's input size). Writes N x 1000 logits and N x 1280 embeddings
      (the global average pool) as raw float32.
  reference.py prep --model lite0 --out IN.f32 IMAGE...
      A simple preprocessing (PIL bicubic resize of the shorter side to
      S/0.875, centre crop S, (x - 127) / 128) written as raw NHWC float32.
      Only used to feed both implementations identical tensors.
  reference.py export-onnx --model lite0 [--weights PATH] --out MODEL.onnx
      ONNX export (NCHW input "input", static S x S, dynamic batch) for the
      ONNX Runtime benchmark.

Weights: --weights, else liteN.pth in $ORDO_WEIGHTS, $XDG_CACHE_HOME/ordo/
weights or ~/.cache/ordo/weights (the same lookup as src/nn/weights.h).
"""
import argparse
import os
import sys

SIZES = {"lite0": 224, "lite1": 240, "lite2": 260}


def weights_path(model, given):
    if given:
        if os.path.isdir(given):
            return os.path.join(given, model + ".pth")
        return given
    d = os.environ.get("ORDO_WEIGHTS")
    if not d:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = xdg if xdg else os.path.join(os.path.expanduser("~"), ".cache")
        d = os.path.join(base, "ordo", "weights")
    return os.path.join(d, model + ".pth")


def load_model(model, weights):
    import torch
    from efficientnet_lite_pytorch import EfficientNet

    net = EfficientNet.from_name("efficientnet-" + model)
    state = torch.load(weights_path(model, weights), map_location="cpu")
    net.load_state_dict(state, strict=True)
    net.eval()
    return net


# Tensors cross to and from files as raw float32 through torch and the array
# module only: torch 1.13 cannot exchange arrays with NumPy 2.


def write_f32(t, path):
    import array
    array.array("f", t.reshape(-1).tolist()).tofile(open(path, "wb"))


def run(args):
    import torch

    S = SIZES[args.model]
    with open(args.input, "rb") as f:
        raw = bytearray(f.read())
    if len(raw) != args.n * S * S * 3 * 4:
        sys.exit("reference.py: %s has %d bytes, expected %d x %d x %d x 3 floats"
                 % (args.input, len(raw), args.n, S, S))
    x = torch.frombuffer(raw, dtype=torch.float32).reshape(args.n, S, S, 3)
    x = x.permute(0, 3, 1, 2).contiguous()
    net = load_model(args.model, args.weights)
    pooled = []
    hook = net._avg_pooling.register_forward_hook(
        lambda m, i, o: pooled.append(o.reshape(o.shape[0], -1)))
    with torch.no_grad():
        logits = torch.cat([net(x[i:i + 16]) for i in range(0, args.n, 16)])
    hook.remove()
    write_f32(logits, args.logits)
    if args.embed:
        write_f32(torch.cat(pooled), args.embed)


def prep(args):
    import torch
    from PIL import Image

    S = SIZES[args.model]
    R = int(S / 0.875)
    out = []
    for p in args.images:
        im = Image.open(p).convert("RGB")
        w, h = im.size
        if w < h:
            nw, nh = R, max(1, round(h * R / w))
        else:
            nw, nh = max(1, round(w * R / h)), R
        im = im.resize((nw, nh), Image.BICUBIC)
        l, t = (nw - S) // 2, (nh - S) // 2
        im = im.crop((l, t, l + S, t + S))
        px = torch.frombuffer(bytearray(im.tobytes()), dtype=torch.uint8)
        out.append((px.float() - 127.0) / 128.0)
    write_f32(torch.cat(out), args.out)


def export_onnx(args):
    import torch

    S = SIZES[args.model]
    net = load_model(args.model, args.weights)
    dummy = torch.zeros(1, 3, S, S)
    torch.onnx.export(net, dummy, args.out, input_names=["input"],
                      output_names=["logits"], opset_version=13,
                      dynamic_axes={"input": {0: "n"}, "logits": {0: "n"}})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--model", choices=SIZES, required=True)
    r.add_argument("--weights")
    r.add_argument("--input", required=True)
    r.add_argument("--n", type=int, required=True)
    r.add_argument("--logits", required=True)
    r.add_argument("--embed")
    p = sub.add_parser("prep")
    p.add_argument("--model", choices=SIZES, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("images", nargs="+")
    e = sub.add_parser("export-onnx")
    e.add_argument("--model", choices=SIZES, required=True)
    e.add_argument("--weights")
    e.add_argument("--out", required=True)
    args = ap.parse_args()
    {"run": run, "prep": prep, "export-onnx": export_onnx}[args.cmd](args)


if __name__ == "__main__":
    main()
