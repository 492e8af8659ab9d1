#!/usr/bin/python3
"""bench_features.py - which embedding buys the most accuracy per label:
a linear head (scikit-learn logistic regression on standardized features,
class-balanced, L2 1e-3 per mean sample loss = ordo's middle strength) on
the embeddings of ordo projects of sports100, side by side, anchor first.

    bench/bench_features.py [--labels 400,1000,0] [--seeds 1,2,3] NAME=PROJECT ... [NAME=A+B ...]

NAME=PROJECT: a scanned project of all sports100 photos (exported with
`ordo export --embeddings`); NAME=A+B: the concatenation of two or more
NAMEs given before. The first NAME is the anchor: every row prints its
accuracy difference to it. Labels: a seeded random order of the random
split's pool (the first 400 held out as ordo simulate's evaluation sample),
the first N trained on (0 = every pool label); accuracy on the split's test
photos. Data: $ORDO_DATA/datasets/sports100/random_split.csv.
"""
import argparse, csv, os, subprocess, sys, tempfile, time
import warnings

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

warnings.filterwarnings("ignore")
here = os.path.dirname(os.path.abspath(__file__))
ap = argparse.ArgumentParser()
ap.add_argument("--labels", default="400,1000,0")
ap.add_argument("--seeds", default="1,2,3")
ap.add_argument("--ordo", default=os.path.join(here, "..", os.environ.get("BUILD", "build"), "ordo"))
ap.add_argument("sets", nargs="+")
a = ap.parse_args()
data = os.path.join(os.environ.get("ORDO_DATA", os.path.join(here, "..", "..", "shared")),
                    "datasets", "sports100")
rows = list(csv.DictReader(open(os.path.join(data, "random_split.csv"), newline="")))
paths = [os.path.realpath(os.path.join(data, r["path"])) for r in rows]
names = sorted({r["label"] for r in rows})
y = np.array([names.index(r["label"]) for r in rows])
split = np.array([r["split"] for r in rows])

feats = {}
order = []
with tempfile.TemporaryDirectory() as tmp:
    for spec in a.sets:
        name, src = spec.split("=", 1)
        if "+" in src:
            feats[name] = np.hstack([feats[p] for p in src.split("+")])
        else:
            out = os.path.join(tmp, name)
            subprocess.run([a.ordo, "export", "--project", src, "--embeddings", out], check=True,
                           stdout=subprocess.DEVNULL)
            E = np.load(os.path.join(out, "embeddings.npy")).astype(np.float32)
            where = {os.path.realpath(p.rstrip("\n")): i
                     for i, p in enumerate(open(os.path.join(out, "paths.txt")))}
            missing = [p for p in paths if p not in where]
            if missing:
                sys.exit(f"{src}: {len(missing)} photos of the split not in the project, e.g. {missing[0]}")
            feats[name] = E[[where[p] for p in paths]]
        order.append(name)

pool = np.where(split == "pool")[0]
test = np.where(split == "test")[0]
Ns = [int(v) for v in a.labels.split(",")]
seeds = [int(v) for v in a.seeds.split(",")]
print(f"sports100 random split: pool {len(pool)}, test {len(test)}; seeds {a.seeds}; "
      f"linear head, L2 1e-3; anchor {order[0]}")
acc = {}
for name in order:
    X = feats[name]
    for n in Ns:
        r = []
        t0 = time.process_time()
        for s in seeds:
            p = np.random.RandomState(s).permutation(pool)
            tr = p[400:400 + n] if n > 0 else p[400:]
            sc = StandardScaler().fit(X[tr])
            m = LogisticRegression(C=1.0 / (1e-3 * len(tr)), class_weight="balanced", max_iter=300)
            m.fit(sc.transform(X[tr]), y[tr])
            r.append((m.predict(sc.transform(X[test])) == y[test]).mean())
        acc[name, n] = np.array(r)
        d = acc[name, n] - acc[order[0], n]
        lab = n if n > 0 else len(pool) - 400
        print(f"{name:>16} dim {X.shape[1]:5d} labels {lab:5d}: accuracy {np.mean(r):.4f} "
              f"(sd {np.std(r, ddof=1) if len(r) > 1 else 0:.4f})  vs anchor {np.mean(d):+.4f} "
              f"(paired sd {np.std(d, ddof=1) if len(d) > 1 else 0:.4f})  [{time.process_time() - t0:.0f} s CPU]",
              flush=True)
