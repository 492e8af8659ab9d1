#!/usr/bin/env python3
"""Near-duplicate benchmark on real photos: altered copies mixed into the pool.

usage: bench_audit_dups.py PROJECT PAIRS_CSV LABELS_CSV POOL_ROOT [AUDIT_CSV]
Reads the project's embeddings (.ordo/embed.f16 through the images/files
tables), then:
  * cosine of every copy-original pair (pairs.csv from audit_copies.py) and
    of every pair of distinct pool photos of the same class;
  * the lowest threshold (0.005 steps) where < 1 % of same-class pairs are
    reported, and the copy recall there, per alteration;
  * with AUDIT_CSV (`ordo audit --dups --csv` at that threshold): recall of
    copy-original pairs put in one group, and its pairs vs brute force.
"""
import csv
import os
import sqlite3
import sys

import numpy as np


def main():
    proj, pairs_csv, labels_csv, pool_root = sys.argv[1:5]
    audit_csv = sys.argv[5] if len(sys.argv) > 5 else None
    db = sqlite3.connect(os.path.join(proj, ".ordo", "ordo.db"))
    slot_of = {}
    id_of = {}
    for path, iid, slot in db.execute(
            "SELECT f.path, i.id, i.slot FROM files f JOIN images i ON f.image_id = i.id WHERE f.state = 0"):
        p = path.decode() if isinstance(path, bytes) else path
        slot_of[p] = slot
        id_of[p] = iid
    E = np.fromfile(os.path.join(proj, ".ordo", "embed.f16"), dtype="<f2").reshape(-1, 1280).astype(np.float32)
    E /= np.maximum(np.linalg.norm(E, axis=1, keepdims=True), 1e-12)

    def cos(a, b):
        return float(E[slot_of[a]] @ E[slot_of[b]])

    copies = []
    for r in csv.DictReader(open(pairs_csv)):
        if r["copy"] in slot_of and r["original"] in slot_of:
            copies.append((r["copy"], r["original"], r["kind"], cos(r["copy"], r["original"])))
    pool = []
    for r in csv.DictReader(open(labels_csv)):
        if r["path"].startswith("pool/"):
            p = os.path.join(pool_root, r["path"].split("/", 1)[1])
            if p in slot_of:
                pool.append((p, r["label"]))
    by = {}
    for p, l in pool:
        by.setdefault(l, []).append(p)
    same = []
    for l, ps in by.items():
        X = E[[slot_of[p] for p in ps]]
        S = X @ X.T
        iu = np.triu_indices(len(ps), 1)
        same.append(S[iu])
    same = np.concatenate(same)
    cc = np.array([c[3] for c in copies])
    print(f"copy-original pairs: {len(copies)}; distinct same-class pool pairs: {len(same)}")
    t = 0.5
    while (same >= t).mean() >= 0.01:
        t += 0.005
    print(f"threshold where < 1 % of same-class pairs are reported: {t:.3f} "
          f"(same-class rate {(same >= t).mean() * 100:.3f} %)")
    print(f"copy-original recall at {t:.3f}: {(cc >= t).mean():.4f}")
    for kind in sorted({c[2] for c in copies}):
        k = np.array([c[3] for c in copies if c[2] == kind])
        print(f"  {kind:10s} recall {(k >= t).mean():.4f}  median cosine {np.median(k):.4f}  min {k.min():.4f}")
    for tt in (0.85, 0.88, 0.90, 0.92, 0.95):
        print(f"  at {tt:.2f}: copy recall {(cc >= tt).mean():.4f}, same-class pairs reported {(same >= tt).mean() * 100:.3f} %")
    print(f"same-class pairs at cosine >= 0.97 (duplicates inside sports100 itself?): {(same >= 0.97).sum()}")
    if audit_csv:
        grp = {}
        for r in csv.DictReader(open(audit_csv)):
            if r["kind"] == "duplicate":
                grp[r["path"]] = r["group_id"]
        found = sum(1 for c in copies if c[0] in grp and grp.get(c[0]) == grp.get(c[1]))
        thr = float(os.environ.get("THRESHOLD", t))
        print(f"ordo audit at {thr:.3f}: copy-original pairs in one group {found}/{len(copies)} = "
              f"{found / len(copies):.4f} (brute-force pair recall at that threshold "
              f"{(cc >= thr).mean():.4f})")


if __name__ == "__main__":
    main()
