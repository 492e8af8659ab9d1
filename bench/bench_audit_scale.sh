#!/usr/bin/env bash
# Near-duplicate search at scale (bench/bench_audit_scale.c): synthetic
# 1280-d embeddings with 1 % planted near-duplicates.
#   bench/bench_audit_scale.sh [N_BIG] [N_ANCHOR]
# 1. N_ANCHOR rows (100,000): ordo's join vs scikit-learn's
#    NearestNeighbors(radius, metric=cosine, brute) side by side; pairs,
#    planted recall, seconds, ratio.
# 2. N_BIG rows (1,000,000): ordo alone on 2 cores (OPENBLAS_NUM_THREADS=2):
#    seconds, peak RSS, planted recall.
set -euo pipefail
cd "$(dirname "$0")/.."
BIG=${1:-1000000}
SMALL=${2:-100000}
COS=${COSINE:-0.90}
BUILD=${BUILD:-build}
WORK=${WORK:-/tmp/ordo-bench-audit}
PY=${ORDO_PYTHON:-/usr/bin/python3}
mkdir -p "$WORK" "$BUILD/bench"
make -s -j2 BUILD="$BUILD" "$BUILD/libordo.a"
LDLIBS=$(make -s --no-print-directory BUILD="$BUILD" --eval 'print-ldlibs: ; @echo $(LDLIBS)' print-ldlibs)
cc -std=c11 -O2 -g -Wall -Wextra -D_GNU_SOURCE -Isrc -pthread -o "$BUILD/bench/bench_audit_scale" \
   bench/bench_audit_scale.c "$BUILD/libordo.a" $LDLIBS
F=$WORK/synthetic-$BIG.f16
[ -s "$F.planted" ] || "$BUILD/bench/bench_audit_scale" gen "$F" "$BIG"
export OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2
echo "== $SMALL rows: ordo vs scikit-learn NearestNeighbors (brute, cosine radius $(echo "1 - $COS" | bc -l | sed 's/^\./0./'))"
o=$("$BUILD/bench/bench_audit_scale" run "$F" "$SMALL" "$COS")
echo "ordo: $o"
s=$($PY - "$F" "$SMALL" "$COS" <<'PYEOF'
import resource, sys, time
import numpy as np
from sklearn.neighbors import NearestNeighbors
f, n, cos = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
X = np.fromfile(f, dtype="<f2", count=n * 1280).reshape(n, 1280).astype(np.float32)
planted = [tuple(map(int, l.split())) for l in open(f + ".planted")]
planted = {p for p in planted if p[1] < n}
t = time.perf_counter()
nn = NearestNeighbors(radius=1 - cos, metric="cosine", algorithm="brute", n_jobs=2).fit(X)
_, ind = nn.radius_neighbors(X)
secs = time.perf_counter() - t
pairs = {(i, int(j)) for i, js in enumerate(ind) for j in js if j > i}
found = len(planted & pairs)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"seconds={secs:.2f} pairs={len(pairs)} planted={len(planted)} planted_found={found} "
      f"recall={found / max(1, len(planted)):.4f} peak_rss_mb={rss:.0f}")
PYEOF
)
echo "scikit-learn: $s"
os=$(echo "$o" | sed -E 's/.* seconds=([0-9.]+).*/\1/')
ss=$(echo "$s" | sed -E 's/^seconds=([0-9.]+).*/\1/')
echo "speed ratio (scikit-learn seconds / ordo seconds) = $(echo "$ss / $os" | bc -l | cut -c1-5)"
if [ "$BIG" -gt "$SMALL" ]; then
    echo "== $BIG rows: ordo alone, 2 cores"
    "$BUILD/bench/bench_audit_scale" run "$F" "$BIG" "$COS"
fi
