#!/usr/bin/python3
"""recheck_tune.py - picks the int8 fp32 re-check threshold (src/nn/net.c
recheck_default) from pure-int8 dumps of bench/bench_int8, on the
calibration photos only.

    BENCH_INT8_DUMP=D0 build/bench/bench_int8 lite0 W0 2 LIST int8@0
    BENCH_INT8_DUMP=D2 build/bench/bench_int8 lite2 W2 2 LIST int8@0
    tools/recheck_tune.py D0 D2          (LIST as bench/bench_int8.sh builds it)

For thresholds t = 0.01, 0.02, ... it prints, per dump, the fraction f of the
calibration photos whose int8 logit margin l(top-1) - l(top-2) is below t
(re-checked in fp32) and their top-1 agreement with fp32 (a re-checked photo
agrees by construction), then the rule's pick: the smallest t at which every
dump's calibration agreement reaches TARGET (env, default 0.99). With
CONFIRM=1 it also prints the other photos' figures at that t (never used to
pick it)."""
import os
import sys


def load(path):
    rows = []
    for line in open(path):
        f = line.split()
        rows.append((f[0], int(f[1]) != int(f[2]), float(f[4])))
    return rows


def at(rows, t, calib):
    r = [x for x in rows if (x[0] == "calib") == calib]
    n = len(r)
    f = sum(m < t for _, _, m in r) / n
    bad = sum(ch and m >= t for _, ch, m in r)
    return n, f, 1 - bad / n


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    target = float(os.environ.get("TARGET", "0.99"))
    dumps = [(p, load(p)) for p in sys.argv[1:]]
    pick = None
    for i in range(0, 31):
        t = i / 100
        cells, ok = [], True
        for p, rows in dumps:
            n, f, a = at(rows, t, True)
            cells.append(f"{os.path.basename(p)}: f={f:.4f} agree={a:.4f}")
            ok = ok and a >= target
        print(f"t={t:.2f}  " + "  ".join(cells))
        if ok and pick is None:
            pick = t
    if pick is None:
        print(f"no t <= 0.30 reaches {target} on the calibration photos")
        return
    print(f"pick: t={pick:.2f} (smallest t with calibration agreement >= {target} in every dump)")
    if os.environ.get("CONFIRM") == "1":
        for p, rows in dumps:
            n, f, a = at(rows, pick, False)
            print(f"confirm {os.path.basename(p)}: n={n} f={f:.4f} agree={a:.4f}")


main()
