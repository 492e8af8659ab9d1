#!/usr/bin/env python3
"""Label-error benchmark: ordo audit vs cleanlab on the same out-of-fold probabilities.

usage: bench_audit_labels.py flip LABELS_CSV POOL_ROOT SEED RATE OUT_CSV
           writes path,label for every pool photo with RATE of them (seeded)
           flipped to another class, and OUT_CSV.flips (the flipped paths)
       bench_audit_labels.py score OUT_CSV AUDIT_CSV OOF_CSV
           scores ordo's ranking (audit --csv --all) and cleanlab's
           find_label_issues on the learner's out-of-fold probabilities
"""
import csv
import random
import sys

import numpy as np


def flip(labels_csv, root, seed, rate, out):
    rows = []
    with open(labels_csv) as f:
        for r in csv.DictReader(f):
            if r["split"] == "pool" or r["path"].startswith("pool/"):
                rows.append((root.rstrip("/") + "/" + r["path"].split("/", 1)[1], r["label"]))
    classes = sorted({l for _, l in rows})
    rnd = random.Random(seed)
    idx = rnd.sample(range(len(rows)), int(round(rate * len(rows))))
    flipped = set(idx)
    with open(out, "w", newline="") as f, open(out + ".flips", "w") as g:
        w = csv.writer(f)
        w.writerow(["path", "label"])
        for i, (p, l) in enumerate(rows):
            if i in flipped:
                l = rnd.choice([c for c in classes if c != l])
                g.write(p + "\n")
            w.writerow([p, l])
    print(f"flipped {len(idx)} of {len(rows)} labels (seed {seed})")


def ap_of(order, truth):
    """average precision of a ranking (list of keys) against a set"""
    hits, s = 0, 0.0
    for i, k in enumerate(order, 1):
        if k in truth:
            hits += 1
            s += hits / i
    return s / max(1, len(truth))


def at_k(order, truth, k):
    h = sum(1 for x in order[:k] if x in truth)
    return h / k, h / len(truth)


def score(out, audit_csv, oof_csv):
    flips = set(open(out + ".flips").read().split("\n")) - {""}
    ordo = [r for r in csv.DictReader(open(audit_csv)) if r["kind"] == "suspect"]
    ordo_order = [r["path"] for r in ordo]
    ordo_flagged = {r["path"] for r in ordo if r["flagged"] == "1"}
    # the learner's out-of-fold probabilities, the same ones ordo started from
    with open(oof_csv) as f:
        rd = csv.reader(f)
        head = next(rd)
        classes = head[2:]
        ids, labels, P = [], [], []
        for r in rd:
            ids.append(int(r[0]))
            labels.append(classes.index(r[1]))
            P.append([float(x) for x in r[2:]])
    P = np.array(P)
    P = P / P.sum(1, keepdims=True)
    labels = np.array(labels)
    id2path = {int(r["image_id"]): r["path"] for r in ordo}
    paths = [id2path[i] for i in ids]
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores
    ranked = find_label_issues(labels, P, return_indices_ranked_by="self_confidence")
    cl_flagged = {paths[i] for i in ranked}
    # cleanlab's full order: its issues (ranked) first, then the rest by its
    # label quality score, so the average precision covers every label
    q = get_label_quality_scores(labels, P, method="self_confidence")
    rest = [i for i in np.argsort(q, kind="stable") if paths[i] not in cl_flagged]
    cl_order = [paths[i] for i in ranked] + [paths[i] for i in rest]
    # cleanlab's own ranking score alone (no flagged-first), for reference
    cl_self = [paths[i] for i in np.argsort(q, kind="stable")]
    qn = get_label_quality_scores(labels, P, method="normalized_margin")
    cl_margin = [paths[i] for i in np.argsort(qn, kind="stable")]
    k = len(flips)
    res = {}
    for name, order, flagged in (("ordo", ordo_order, ordo_flagged),
                                 ("cleanlab", cl_order, cl_flagged),
                                 ("cleanlab_self_confidence_order", cl_self, None),
                                 ("cleanlab_margin_order", cl_margin, None)):
        p, r = at_k(order, flips, k)
        ap = ap_of(order, flips)
        fl = ""
        if flagged is not None:
            tp = len(flagged & flips)
            fl = f" flagged={len(flagged)} flagged_precision={tp / max(1, len(flagged)):.4f} flagged_recall={tp / k:.4f}"
        print(f"{name}: labels={len(order)} flips={k} precision@k={p:.4f} recall@k={r:.4f} AP={ap:.4f}{fl}")
        res[name] = ap
    print(f"AP ratio ordo/cleanlab = {res['ordo'] / res['cleanlab']:.3f}")
    # the top 20 suspects among labels that were not flipped (real errors?)
    print("top 20 ordo suspects among unflipped labels:")
    n = 0
    for r in ordo:
        if r["path"] in flips:
            continue
        print(f"  {r['score']}  {r['path']}  '{r['label']}' -> '{r['suggested']}'")
        n += 1
        if n == 20:
            break


if __name__ == "__main__":
    if sys.argv[1] == "flip":
        flip(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), sys.argv[6])
    else:
        score(sys.argv[2], sys.argv[3], sys.argv[4])
