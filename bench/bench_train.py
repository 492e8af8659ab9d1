#!/usr/bin/env python3
"""Data and scikit-learn side of bench_train.sh.

  bench_train.py gen OUT N     write a synthetic OUT.f32 / OUT.y / OUT.txt
  bench_train.py sklearn OUT   time scikit-learn on OUT

gen: a 100-class Gaussian mixture in 1280-d (real-embedding data sets are
written by `bench_train --real PREFIX --n N --dump OUT`). Labels: train
rows y >= 0, test rows stored as -2 - y.

sklearn: StandardScaler + LogisticRegressionCV over the same grid as ordo
(C = 1 / (l2 * n_train) for l2 in 3e-2 .. 3e-4), 3 stratified folds,
class_weight='balanced', lbfgs, max_iter 200, then one plain
LogisticRegression fit at the chosen C for a per-fit comparison.
"""
import csv, sys, time
import numpy as np

D = 1280
GRID = [3e-2, 1e-2, 3e-3, 1e-3, 3e-4]


def gen(out, n, real):
    rng = np.random.default_rng(7)
    if real:
        rows = list(csv.DictReader(open(real + ".csv")))
        m = len(rows)
        names = sorted({r["label"] for r in rows})
        y = np.array([names.index(r["label"]) for r in rows], np.int32)
        x = np.fromfile(real + ".f32", np.float32, m * D).reshape(m, D)
        perm = rng.permutation(m)
        ntr = min(n, m - 1000)
        tr, te = perm[:ntr], perm[m - 1000:] if n > ntr else perm[ntr:]
        xtr, ytr = x[tr], y[tr]
        if n > ntr:
            sd = np.zeros(D, np.float32)
            for c in range(len(names)):
                sd += ((xtr[ytr == c] - xtr[ytr == c].mean(0)) ** 2).sum(0)
            sd = np.sqrt(sd / len(ytr)).astype(np.float32)
            pick = rng.integers(0, ntr, n)
            xtr = xtr[pick] + 0.5 * sd * rng.standard_normal((n, D)).astype(np.float32)
            ytr = ytr[pick]
        xs = np.concatenate([xtr, x[te]]).astype(np.float32)
        ys = np.concatenate([ytr, -2 - y[te]]).astype(np.int32)
        k = len(names)
    else:
        k = 100
        cen = rng.standard_normal((k, D)).astype(np.float32) * 0.25
        nt = 1000
        yy = rng.integers(0, k, n + nt)
        xs = (cen[yy] + rng.standard_normal((n + nt, D)).astype(np.float32)).astype(np.float32)
        ys = np.where(np.arange(n + nt) < n, yy, -2 - yy).astype(np.int32)
    xs.tofile(out + ".f32")
    ys.tofile(out + ".y")
    open(out + ".txt", "w").write(f"{len(ys)} {D} {k}\n")


def sk(out):
    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
    from sklearn.model_selection import StratifiedKFold
    from sklearn.preprocessing import StandardScaler
    n, d, k = map(int, open(out + ".txt").read().split())
    x = np.fromfile(out + ".f32", np.float32, n * d).reshape(n, d)
    y = np.fromfile(out + ".y", np.int32, n)
    tr = y >= 0
    ntr = int(tr.sum())
    Cs = [1.0 / (l * ntr) for l in GRID]
    t0 = time.perf_counter()
    c0 = time.process_time()
    sc = StandardScaler().fit(x[tr])
    xtr, xte = sc.transform(x[tr]), sc.transform(x[~tr])
    cv = LogisticRegressionCV(Cs=Cs, cv=StratifiedKFold(3, shuffle=True, random_state=1),
                              class_weight="balanced", max_iter=200, tol=1e-4)
    cv.fit(xtr, y[tr])
    t1 = time.perf_counter()
    c1 = time.process_time()
    acc = float((cv.predict(xte) == -2 - y[~tr]).mean())
    C = float(np.ravel(cv.C_)[0])
    t2 = time.perf_counter()
    one = LogisticRegression(C=C, class_weight="balanced", max_iter=200, tol=1e-4).fit(xtr, y[tr])
    t3 = time.perf_counter()
    acc1 = float((one.predict(xte) == -2 - y[~tr]).mean())
    print(f"sklearn train labels {ntr} d {d} k {k}: LogisticRegressionCV {t1 - t0:.2f} s (CPU {c1 - c0:.2f} s) "
          f"(l2 {1.0 / (C * ntr):g}, test acc {acc:.4f}); one LogisticRegression fit "
          f"{t3 - t2:.2f} s (test acc {acc1:.4f}, {int(np.max(one.n_iter_))} iterations)")


if __name__ == "__main__":
    if sys.argv[1] == "gen":
        real = sys.argv[sys.argv.index("--real") + 1] if "--real" in sys.argv else None
        gen(sys.argv[2], int(sys.argv[3]), real)
    else:
        sk(sys.argv[2])
