#!/usr/bin/python3
"""recheck_tune.py - picks the int8 fp32 re-check thresholds (src/nn/net.c
recheck_default) from pure-int8 dumps of bench/bench_int8, on the
calibration photos only.

    BENCH_INT8_GAPS=G0 build/bench/bench_int8 lite0 W0 2 LIST int8@0
    BENCH_INT8_GAPS=G2 build/bench/bench_int8 lite2 W2 2 LIST int8@0
    tools/recheck_tune.py G0 G2          (LIST as bench/bench_int8.sh builds it)

A photo is re-checked when its int8 logit margin l(top-1) - l(top-2) is
below t. For t = 0.00, 0.01, ... it prints, per dump, the fraction f of the
calibration photos re-checked and two estimates of their top-1 agreement
with fp32 after the re-check (a re-checked photo agrees by construction):

- observed: the photos int8 changed and did not re-check, counted. Few
  photos decide it (lite0: 10 of the 300 changed, lite2: 4), so it jumps
  with any change of the int8 arithmetic (docs/scan.md).
- predicted: a noise model fitted on all 300 photos. For each photo and each
  of int8's runners-up j = 2..10, d_j = (int8's gap l1 - lj) - (fp32's gap
  for the same two classes) is how far int8 strays; pooled over photos and
  runners-up, the d_j give an empirical survival function S(x) = P(d > x).
  fp32 disagrees when some fp32 gap g_j - d_j is below 0, so a photo with
  int8 gaps g_j is predicted to change with p = 1 - prod_j (1 - S(g_j))
  (runners-up taken as independent), and the predicted agreement at t is
  1 - sum of p over the photos not re-checked / n. It uses 2,700 continuous
  errors instead of a handful of changed photos.

The pick, per dump (per model): the smallest t at which both estimates
reach TARGET (env, default 0.99); and the largest of those, for a variant
that keeps one threshold for every model. CONFIRM=1 also prints the other photos'
figures at that t (never used to pick it). Old BENCH_INT8_DUMP files (no
gaps) still give the observed estimate."""
import bisect
import os
import sys


def load(path):
    """Rows (calib?, changed?, [g2..g10], [d2..d10] or None)."""
    rows = []
    for line in open(path):
        f = line.split()
        if len(f) == 21:   # BENCH_INT8_GAPS
            g = [float(x) for x in f[3:12]]
            d = [float(x) for x in f[12:21]]
        else:              # BENCH_INT8_DUMP: only the margin
            g, d = [float(f[4])], None
        rows.append((f[0] == "calib", int(f[1]) != int(f[2]), g, d))
    return rows


def flip_prob(rows):
    """p for every row from the calibration rows' d_j (see the top)."""
    ds = sorted(x for c, _, _, d in rows if c and d for x in d)
    if not ds:
        return None
    n = len(ds)

    def surv(x):
        return 1.0 - bisect.bisect_right(ds, x) / n

    out = []
    for _, _, g, _ in rows:
        keep = 1.0
        for x in g:
            keep *= 1.0 - surv(x)
        out.append(1.0 - keep)
    return out


def at(rows, p, t, calib):
    sel = [i for i, r in enumerate(rows) if r[0] == calib]
    n = len(sel)
    re = [rows[i][2][0] < t for i in sel]
    f = sum(re) / n
    bad = sum(rows[i][1] and not r for i, r in zip(sel, re))
    pred = 1 - sum(p[i] for i, r in zip(sel, re) if not r) / n if p else None
    return n, f, 1 - bad / n, pred


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    target = float(os.environ.get("TARGET", "0.99"))
    dumps = []
    for path in sys.argv[1:]:
        rows = load(path)
        dumps.append((os.path.basename(path), rows, flip_prob(rows)))
    picks = {}
    for i in range(0, 31):
        t = i / 100
        cells = []
        for name, rows, p in dumps:
            n, f, a, pa = at(rows, p, t, True)
            cells.append(f"{name}: f={f:.4f} agree={a:.4f}"
                         + (f" predicted={pa:.4f}" if pa is not None else ""))
            if name not in picks and a >= target and (pa is None or pa >= target):
                picks[name] = t
        print(f"t={t:.2f}  " + "  ".join(cells))
    for name, rows, p in dumps:
        if name not in picks:
            print(f"{name}: no t <= 0.30 reaches {target} on the calibration photos")
            continue
        how = "observed and predicted" if p else "observed"
        print(f"pick {name}: t={picks[name]:.2f} (smallest t with {how} calibration agreement >= {target})")
        if os.environ.get("CONFIRM") == "1":
            n, f, a, pa = at(rows, p, picks[name], False)
            print(f"confirm {name}: n={n} f={f:.4f} agree={a:.4f}"
                  + (f" predicted={pa:.4f}" if pa is not None else ""))
    if len(picks) == len(dumps) > 1:
        print(f"one threshold for every dump (variants tuned that way): t={max(picks.values()):.2f}")


main()
