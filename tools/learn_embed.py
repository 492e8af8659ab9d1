#!/usr/bin/env python3
"""Reference embeddings + logits for a labelled image set (PyTorch EfficientNet-Lite).

Used to develop and check ordo's learning/simulation code on real data before
ordo's own network lands. Preprocessing follows ordo's contract: PIL bicubic
resize of the shorter side to 256, centre crop 224, (p - 127) / 128.
Embedding = extract_features() averaged over H, W (the 1280-d pooled feature).

Writes OUT.f32 (n x 1280 embeddings then n x 1000 logits, little-endian float32,
row-major) and OUT.csv (index,path,label,split in row order).

usage: /usr/bin/python3 tools/learn_embed.py DATASET_DIR OUT_PREFIX [--weights PTH] [--threads N]
"""
import argparse, csv, os, sys
import array
import torch
from PIL import Image
from efficientnet_lite_pytorch import EfficientNet


def load(path):
    im = Image.open(path).convert("RGB")
    w, h = im.size
    s = 256.0 / min(w, h)
    im = im.resize((max(1, round(w * s)), max(1, round(h * s))), Image.BICUBIC)
    w, h = im.size
    l, t = (w - 224) // 2, (h - 224) // 2
    im = im.crop((l, t, l + 224, t + 224))
    # torch.frombuffer, not numpy: a NumPy 2 in /usr/local breaks torch 1.13's numpy bridge
    t = torch.frombuffer(bytearray(im.tobytes()), dtype=torch.uint8).view(224, 224, 3)
    return ((t.float() - 127.0) / 128.0).permute(2, 0, 1).contiguous()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset")
    ap.add_argument("out")
    ap.add_argument("--weights", default=os.path.expanduser("~/.cache/ordo/weights/lite0.pth"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=32)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    rows = list(csv.DictReader(open(os.path.join(a.dataset, "labels.csv"))))
    m = EfficientNet.from_name("efficientnet-lite0")
    m.load_state_dict(torch.load(a.weights, map_location="cpu"))
    m.eval()
    n = len(rows)
    emb = torch.zeros((n, 1280))
    lg = torch.zeros((n, 1000))
    with torch.no_grad():
        for i in range(0, n, a.batch):
            x = torch.stack([load(os.path.join(a.dataset, r["path"]))
                                           for r in rows[i:i + a.batch]])
            f = m.extract_features(x)
            e = f.mean(dim=(2, 3))
            emb[i:i + len(x)] = e
            # same head as forward(): dropout is identity in eval, then fc
            lg[i:i + len(x)] = m._fc(e)
            print(f"{i + len(x)}/{n}", file=sys.stderr, flush=True)
    with open(a.out + ".f32", "wb") as f:
        for t in (emb, lg):  # x86-64: native float32 is little-endian
            f.write(array.array("f", t.flatten().tolist()).tobytes())
    with open(a.out + ".csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["index", "path", "label", "split"])
        for i, r in enumerate(rows):
            w.writerow([i, r["path"], r["label"], r["split"]])


if __name__ == "__main__":
    main()
