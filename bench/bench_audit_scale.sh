#!/usr/bin/env bash
# Near-duplicate search at scale (bench/bench_audit_scale.c): synthetic
# 1280-d embeddings with 1 % planted near-duplicates.
#   bench/bench_audit_scale.sh [N_BIG] [N_ANCHOR]
# 1. N_ANCHOR rows (100,000), side by side in one run: ordo's join, then
#    faiss-cpu (PyPI) IndexFlatIP.range_search (exact, brute force) and
#    IndexIVFFlat (nlist and nprobe as ordo's cells and probes) on the same
#    normalised rows: pairs, planted recall, seconds, CPU seconds, peak RSS,
#    ratios. SKLEARN=1 adds scikit-learn's NearestNeighbors (brute, cosine
#    radius, n_jobs=2; > 50 min at 100k on the shared machine).
# 2. N_BIG rows (1,000,000): ordo alone on 2 cores: seconds, CPU seconds,
#    peak RSS, planted recall (targets: <= 180 s, <= 3 GB).
# MAXPROBE (default 4) and CELLS (0: auto) reach ordo_audit_dup_opts.
set -euo pipefail
cd "$(dirname "$0")/.."
BIG=${1:-1000000}
SMALL=${2:-100000}
COS=${COSINE:-0.90}
BUILD=${BUILD:-build}
WORK=${WORK:-/tmp/ordo-bench-audit}
PY=${ORDO_PYTHON:-/usr/bin/python3}
export MAXPROBE=${MAXPROBE:-4}
mkdir -p "$WORK" "$BUILD/bench"
make -s -j2 BUILD="$BUILD" "$BUILD/bench/bench_audit_scale"
N=$(( BIG > SMALL ? BIG : SMALL ))
F=$WORK/synthetic-$N.f16
[ -s "$F.planted" ] && [ -s "$F" ] || "$BUILD/bench/bench_audit_scale" gen "$F" "$N"
export OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2
# faiss's OpenMP threads otherwise spin while they wait, and CPU seconds
# would count the spinning (ordo's OpenBLAS threads yield instead)
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
# Debian's OpenBLAS 0.3.21 falls back on its generic kernels on this CPU;
# ordo itself re-execs with the core named (src/cli/main.c), this binary not
if [ -z "${OPENBLAS_CORETYPE:-}" ] && grep -qw avx512f /proc/cpuinfo; then export OPENBLAS_CORETYPE=SkylakeX; fi
echo "# $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-auto}, max_probe $MAXPROBE, cosine $COS"
echo "== $SMALL rows: ordo vs faiss-cpu (same rows, same run)"
o=$("$BUILD/bench/bench_audit_scale" run "$F" "$SMALL" "$COS")
echo "ordo: $o"
cells=$(echo "$o" | sed -E 's/.* cells=([0-9]+).*/\1/')
s=$($PY - "$F" "$SMALL" "$COS" "$cells" "$MAXPROBE" "${SKLEARN:-0}" <<'PYEOF'
import resource, sys, time
import numpy as np
f, n, cos, cells, probe, skl = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6] == "1"
X = np.fromfile(f, dtype="<f2", count=n * 1280).reshape(n, 1280).astype(np.float32)
X /= np.linalg.norm(X, axis=1, keepdims=True)
planted = {tuple(map(int, l.split())) for l in open(f + ".planted")}
planted = {p for p in planted if p[1] < n}
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
def report(name, secs, c, pairs):
    found = len(planted & pairs)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{name}: seconds={secs:.2f} cpu_seconds={c:.2f} pairs={len(pairs)} planted={len(planted)} "
          f"planted_found={found} recall={found / max(1, len(planted)):.4f} peak_rss_mb={rss:.0f}", flush=True)
def faiss_pairs(lims, I):
    out = set()
    for i in range(n):
        for j in I[lims[i]:lims[i + 1]]:
            if j > i: out.add((i, int(j)))
    return out
import faiss
faiss.omp_set_num_threads(2)
t, c = time.perf_counter(), cpu()
idx = faiss.IndexFlatIP(1280); idx.add(X)
lims, D, I = idx.range_search(X, cos)
report("faiss_flat", time.perf_counter() - t, cpu() - c, faiss_pairs(lims, I))
t, c = time.perf_counter(), cpu()
q = faiss.IndexFlatIP(1280)
ivf = faiss.IndexIVFFlat(q, 1280, cells, faiss.METRIC_INNER_PRODUCT)
ivf.train(X[np.linspace(0, n - 1, min(n, max(20000, 20 * cells))).astype(int)]); ivf.add(X); ivf.nprobe = probe
lims, D, I = ivf.range_search(X, cos)
report("faiss_ivf", time.perf_counter() - t, cpu() - c, faiss_pairs(lims, I))
if skl:
    from sklearn.neighbors import NearestNeighbors
    t, c = time.perf_counter(), cpu()
    nn = NearestNeighbors(radius=1 - cos, metric="cosine", algorithm="brute", n_jobs=2).fit(X)
    _, ind = nn.radius_neighbors(X)
    report("sklearn", time.perf_counter() - t, cpu() - c, {(i, int(j)) for i, js in enumerate(ind) for j in js if j > i})
PYEOF
)
echo "$s"
val() { echo "$1" | sed -E "s/.* $2=([0-9.]+).*/\1/; s/^[a-z_]+: $2=([0-9.]+).*/\1/"; }
os=$(val "$o" seconds); oc=$(val "$o" cpu_seconds)
while read -r line; do
    name=${line%%:*}
    ws=$(val "$line" seconds); wc=$(val "$line" cpu_seconds)
    echo "ratio $name/ordo: seconds $(echo "$ws / $os" | bc -l | cut -c1-6), cpu seconds $(echo "$wc / $oc" | bc -l | cut -c1-6)"
done <<< "$s"
if [ "$BIG" -gt "$SMALL" ]; then
    echo "== $BIG rows: ordo alone, 2 cores (targets: seconds <= 180, peak_rss_mb <= 3072)"
    "$BUILD/bench/bench_audit_scale" run "$F" "$BIG" "$COS"
fi
