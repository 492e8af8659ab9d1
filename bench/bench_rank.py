"""bench_rank.py - scikit-activeml's TypiClust and CoreSet on the same synthetic
embeddings bench_rank.c uses (the first N rows of its float16 file), for the
side-by-side table in bench/bench_rank.sh.

  python3 bench/bench_rank.py FILE N METHOD BATCH     (METHOD: typiclust | coreset)

Prints one line: method=... n=... batch=... seconds=... peak_rss_mb=...
scikit-activeml is installed into a private folder (see bench_rank.sh) so it
cannot replace Debian's numpy for the rest of the system.
"""
import resource
import sys
import time

import numpy as np


def main():
    path, n, method, batch = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    X = np.fromfile(path, dtype="<f2", count=n * 1280).reshape(n, 1280).astype(np.float32)
    y = np.full(n, np.nan)          # cold start: nothing labeled
    from skactiveml.pool import CoreSet, TypiClust
    t0 = time.monotonic()
    if method == "typiclust":
        qs = TypiClust(random_state=0)
        idx = qs.query(X, y, batch_size=batch)
    elif method == "coreset":
        # CoreSet needs at least one labeled sample to measure distance from
        y = y.copy()
        y[0] = 0
        qs = CoreSet(random_state=0)
        idx = qs.query(X, y, batch_size=batch)
    else:
        raise SystemExit("unknown method " + method)
    dt = time.monotonic() - t0
    assert len(set(int(i) for i in idx)) == batch
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"method={method} n={n} batch={batch} seconds={dt:.2f} peak_rss_mb={rss:.0f}")


if __name__ == "__main__":
    main()
