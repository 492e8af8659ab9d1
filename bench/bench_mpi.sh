#!/usr/bin/env bash
# bench_mpi.sh - scale-out benchmarks (issue: scale out with MPI).
#   1. Scan throughput: the same photos scanned by 1 process (anchor), by
#      `mpirun -n 1 ordo scan --mpi` and by `mpirun -n 2` (1 network thread
#      and 1 decode thread per rank), each into a fresh project; images/s,
#      speed-up, and where rank 0's time went (own shard, waiting, merge,
#      MPI calls).
#   2. Ranking heavy steps on synthetic embeddings (bench_mpi_rank, default
#      1,000,000 rows) with 1 vs 2 ranks: speed-up and communication share.
# Usage: bench/bench_mpi.sh [N_IMAGES (600)] [N_ROWS (1000000)]
# Env: ORDO_BIN (build/ordo; its folder's libordo.a builds bench_mpi_rank),
#      BENCH_RANK (a prebuilt bench_mpi_rank), BENCH_EMB (keep the synthetic
#      embeddings file there), ORDO_DATA (../shared). The machine's load average is printed: on a
#      shared machine the figures are only as good as the idle cores.
set -u
cd "$(dirname "$0")/.."
BIN=${ORDO_BIN:-$PWD/build/ordo}
BR=${BENCH_RANK:-}
DATA=${ORDO_DATA:-../shared}
N=${1:-600}
ROWS=${2:-1000000}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
T=$(mktemp -d /tmp/ordo_bench_mpi.XXXXXX)
trap 'rm -rf "$T"' EXIT
echo "machine: $(nproc) cores; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- 1. scan --------------------------------------------------------------------
SRC=$T/photos
mkdir -p "$SRC"
find "$DATA/datasets/sports100/pool" -name '*.jpg' | sort | awk 'NR % 4 == 1' | head -n "$N" |
    while IFS= read -r f; do
        d=$(basename "$(dirname "$f")"); mkdir -p "$SRC/$d"; cp "$f" "$SRC/$d/"
    done
n=$(find "$SRC" -type f | wc -l)
echo "scan: $n photos of sports100/pool (224x224 JPEG), lite0, --no-sync"
run_scan() { # label, command... ; prints wall seconds and images/s
    local label=$1; shift
    local P=$T/p_$RANDOM
    mkdir -p "$P"; "$BIN" init --model lite0 --precision fp32 "$P" >/dev/null
    local t0 t1
    t0=$(date +%s.%N)
    "$@" --project "$P" --no-sync --threads 1 --decode-threads 1 "$SRC" >"$T/out" 2>&1
    local rc=$?
    t1=$(date +%s.%N)
    local s; s=$(echo "$t1 - $t0" | bc -l)
    local ok; ok=$(sqlite3 "$P/.ordo/ordo.db" 'SELECT count(*) FROM files WHERE state = 0')
    printf '  %-34s %6.1f s  %6.1f images/s  (%s ok, exit %s)\n' "$label" "$s" \
        "$(echo "$ok / $s" | bc -l)" "$ok" "$rc"
    grep '^mpi:' "$T/out" | sed 's/^/      /'
    echo "$s" >"$T/secs_$label"
}
run_scan "1 process (no MPI)" "$BIN" scan
run_scan "mpirun -n 1 (1 thread)" mpirun -n 1 "$BIN" scan --mpi
run_scan "mpirun -n 2 (1 thread each)" mpirun -n 2 "$BIN" scan --mpi
a=$(cat "$T/secs_mpirun -n 1 (1 thread)"); b=$(cat "$T/secs_mpirun -n 2 (1 thread each)")
c=$(cat "$T/secs_1 process (no MPI)")
printf '  speed-up 2 ranks vs 1 rank: %.2fx; vs 1 process without MPI: %.2fx\n' \
    "$(echo "$a / $b" | bc -l)" "$(echo "$c / $b" | bc -l)"

# ---- 2. ranking ---------------------------------------------------------------------
# bench_mpi_rank is built here against the same build's library.
BUILD=$(dirname "$BIN")
if ! [ -x "$BR" ] && [ -f "$BUILD/libordo.a" ]; then
    BR=$T/bench_mpi_rank
    cc -std=c11 -O2 -g -D_GNU_SOURCE -Isrc -pthread $(mpicc --showme:compile) -o "$BR" \
        bench/bench_mpi_rank.c "$BUILD/libordo.a" -lsqlite3 -lxxhash -lopenblas -lm \
        $(mpicc --showme:link) || BR=""
fi
if [ -n "$BR" ] && [ -x "$BR" ]; then
    EMB=${BENCH_EMB:-$T/emb.f16}   # BENCH_EMB: keep the 2.5 GB file between runs
    [ -s "$EMB" ] && [ "$(stat -c %s "$EMB")" -ge $((ROWS * 2560)) ] ||
        "$BR" gen "$EMB" "$ROWS"
    echo "ranking: ordo_rank_compose, batch 1000, default mix, $ROWS synthetic rows;"
    echo "  cold start (no labels) and a later round (20000 labeled: k-center greedy)"
    # One BLAS thread per rank: ranks are bound to cores, and the batch is
    # bit-identical only for the same BLAS thread count (see docs/cluster.md).
    for lab in 0 20000; do
        for np in 1 2; do
            mpirun -x OPENBLAS_NUM_THREADS=1 -n $np "$BR" run "$EMB" "$ROWS" 1000 $lab 2>&1 |
                sed 's/^/  /'
        done
    done
else
    echo "ranking: skipped (no bench_mpi_rank and no $BUILD/libordo.a to build it)"
fi
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
