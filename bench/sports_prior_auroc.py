#!/usr/bin/env python3
"""AUROC of ordo's zero-shot sports prior: sports100 (sports) vs the non-sports
photos of imagenet-sample.

Positives: every photo of $ORDO_DATA/datasets/sports100 (pool + test, 4,989).
Negatives: the imagenet-sample photos whose true class (the wnid in the file
name) is not "sports-related": weight 0 in the evaluated list and in the
default list, and not under sports equipment (n04285146), game equipment
(n03414162), sports implement (n04285622) or athlete (n09820263).

The per-class weights come from ordo's own code (the C helper
bench/sports_prior_auroc.c, given as --weights TSV). Probabilities come from
`ordo classify --csv --top K` when --ordo is given and works (the score then
misses the mass outside the top K, printed as a bound), else from the PyTorch
reference model (EfficientNet-Lite0, preprocessing as in ordo: bicubic resize
of the shorter side to 256, centre crop 224, (p - 127) / 128), cached in
--cache so reruns are cheap.

usage: /usr/bin/python3 bench/sports_prior_auroc.py --weights W.tsv [--ordo BIN]
           [--data DIR] [--cache DIR] [--weights-pth PTH] [--top K]
"""
import argparse
import array
import csv
import io
import math
import os
import subprocess
import sys


def read_weights(path):
    syn, w, rel, wnid, art = [], [0.0] * 1000, [0] * 1000, [""] * 1000, [0] * 1000
    for line in open(path, encoding="utf-8"):
        f = line.rstrip("\n").split("\t")
        if f[0] == "S":
            syn.append((f[1], float(f[2]), int(f[3]), f[4]))
        elif f[0] == "C":
            c = int(f[1])
            wnid[c], w[c], rel[c], art[c] = f[2], float(f[3]), int(f[4]), int(f[6])
    return syn, w, rel, wnid, art


def image_sets(data):
    sp = os.path.join(data, "datasets", "sports100")
    pos = [os.path.join(sp, r["path"]) for r in csv.DictReader(open(os.path.join(sp, "labels.csv")))]
    ind = os.path.join(data, "datasets", "imagenet-sample")
    neg = sorted(os.path.join(ind, f) for f in os.listdir(ind) if f.startswith("n"))
    return pos, neg


# ---- probabilities from ordo ------------------------------------------------

def probs_ordo(ordo, paths, top):
    """path -> {class: prob} from `ordo classify --csv` (top-K only)."""
    out = {}
    step = 256
    for i in range(0, len(paths), step):
        r = subprocess.run([ordo, "classify", "--precision", "fp32", "--csv", "--top", str(top)] + paths[i:i + step],
                           capture_output=True, text=True)
        if r.returncode != 0 and not r.stdout:
            raise RuntimeError("ordo classify failed: " + r.stderr.strip()[-300:])
        for row in csv.DictReader(io.StringIO(r.stdout)):
            out.setdefault(row["path"], {})[int(row["class_index"])] = float(row["probability"])
    return out


# ---- probabilities from the PyTorch reference ----------------------------------

def probs_reference(paths, cache, pth, tag):
    os.makedirs(cache, exist_ok=True)
    base = os.path.join(cache, "ref_" + tag)
    if os.path.exists(base + ".f32") and os.path.exists(base + ".txt"):
        names = open(base + ".txt", encoding="utf-8").read().split("\n")[:-1]
        if names == paths:
            a = array.array("f")
            a.frombytes(open(base + ".f32", "rb").read())
            return {p: dict(enumerate(a[i * 1000:(i + 1) * 1000])) for i, p in enumerate(paths)}
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
        x = torch.frombuffer(bytearray(im.tobytes()), dtype=torch.uint8).view(224, 224, 3)
        return ((x.float() - 127.0) / 128.0).permute(2, 0, 1).contiguous()

    torch.set_num_threads(1)
    m = EfficientNet.from_name("efficientnet-lite0")
    m.load_state_dict(torch.load(pth, map_location="cpu"))
    m.eval()
    a = array.array("f")
    with torch.no_grad():
        for i in range(0, len(paths), 32):
            x = torch.stack([load(p) for p in paths[i:i + 32]])
            a.extend(torch.softmax(m(x), dim=1).flatten().tolist())
            print(f"  reference {tag}: {min(i + 32, len(paths))}/{len(paths)}", file=sys.stderr)
    open(base + ".f32", "wb").write(a.tobytes())
    open(base + ".txt", "w", encoding="utf-8").write("".join(p + "\n" for p in paths))
    return {p: dict(enumerate(a[i * 1000:(i + 1) * 1000])) for i, p in enumerate(paths)}


# ---- scoring -------------------------------------------------------------

def auroc(pos, neg):
    """Mann-Whitney U / (|pos| |neg|), ties counted half."""
    allv = sorted([(v, 1) for v in pos] + [(v, 0) for v in neg])
    rank_sum, i = 0.0, 0
    while i < len(allv):
        j = i
        while j < len(allv) and allv[j][0] == allv[i][0]:
            j += 1
        r = (i + 1 + j) / 2.0          # average 1-based rank of the tie group
        rank_sum += r * sum(1 for k in range(i, j) if allv[k][1])
        i = j
    n1, n0 = len(pos), len(neg)
    return (rank_sum - n1 * (n1 + 1) / 2.0) / (n1 * n0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True)
    ap.add_argument("--ordo")
    ap.add_argument("--data", default=os.environ.get("ORDO_DATA", "../shared"))
    ap.add_argument("--cache", default="/tmp/ordo-bench-sports")
    ap.add_argument("--weights-pth", default=os.path.expanduser("~/.cache/ordo/weights/lite0.pth"))
    ap.add_argument("--top", type=int, default=1000)
    a = ap.parse_args()

    syn, w, rel, wnid, art = read_weights(a.weights)
    pos_paths, ind_paths = image_sets(a.data)
    cls_of = {c: i for i, c in enumerate(wnid)}
    neg_paths = [p for p in ind_paths if not rel[cls_of[os.path.basename(p)[:9]]]]
    dropped = [os.path.basename(p) for p in ind_paths if p not in set(neg_paths)]

    source = None
    if a.ordo:
        try:
            pr = probs_ordo(a.ordo, pos_paths + neg_paths, a.top)
            if len(pr) == len(pos_paths) + len(neg_paths):
                source = f"ordo classify --top {a.top} ({a.ordo})"
            else:
                print(f"note: ordo classified {len(pr)} of {len(pos_paths) + len(neg_paths)} "
                      "images; falling back to the PyTorch reference", file=sys.stderr)
        except (OSError, RuntimeError) as e:
            print(f"note: ordo unusable ({e}); falling back to the PyTorch reference",
                  file=sys.stderr)
    if source is None:
        pr = probs_reference(pos_paths, a.cache, a.weights_pth, "sports100")
        pr.update(probs_reference(neg_paths, a.cache, a.weights_pth, "imagenet_neg"))
        source = "PyTorch reference EfficientNet-Lite0 (ordo's own network not used)"

    def score(p):
        return min(1.0, sum(w[c] * v for c, v in p.items()))

    sp = [score(pr[p]) for p in pos_paths]
    sn = [score(pr[p]) for p in neg_paths]
    print("Sports prior synset list (later entries override earlier ones):")
    for s, wt, n, name in syn:
        print(f"  {s}  w={wt:<4g} classes={n:<3d} {name}")
    print(f"classes with weight > 0: {sum(1 for x in w if x > 0)}")
    print(f"probabilities: {source}")
    print(f"positives: {len(sp)} sports100 photos; negatives: {len(sn)} imagenet-sample photos "
          f"({len(dropped)} sports-related dropped: {', '.join(dropped)})")
    med = lambda v: sorted(v)[len(v) // 2]
    print(f"median score: sports {med(sp):.4f}, not-sports {med(sn):.4f}")
    for t in (0.05, 0.1, 0.2, 0.5):
        tpr = sum(1 for v in sp if v >= t) / len(sp)
        fpr = sum(1 for v in sn if v >= t) / len(sn)
        print(f"  threshold {t:.2f}: TPR {tpr:.3f}  FPR {fpr:.3f}")
    sa = [score(pr[p]) for p in neg_paths if art[cls_of[os.path.basename(p)[:9]]]]
    print(f"AUROC vs man-made negatives only ({len(sa)} photos under artifact): {auroc(sp, sa):.4f}")
    print(f"AUROC {auroc(sp, sn):.4f}")


if __name__ == "__main__":
    main()
