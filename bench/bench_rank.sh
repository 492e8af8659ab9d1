#!/usr/bin/env bash
# bench_rank.sh - composing a batch of 1000 with the default mix from 100k,
# 300k and 1M synthetic images (time, CPU time, peak RSS), and side by side
# scikit-activeml's TypiClust and CoreSet (the nearest equivalents) at 10k,
# 50k and 100k with a time cap per run.
#
#   bench/bench_rank.sh [SIZES] [PY_SIZES]
#   env: BUILD (build), LABELED ("0 5000": labeled images per run), ORDO_BENCH_DIR (/tmp/ordo-bench-rank: 2.6 GB of
#        synthetic embeddings, generated once), PY_CAP (300 s per run),
#        ORDO_PYDEPS (private pip --target folder for scikit-activeml)
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
DIR=${ORDO_BENCH_DIR:-/tmp/ordo-bench-rank}
SIZES=${1:-"100000 300000 1000000"}
LABELED=${LABELED:-"0 5000"}
PY_SIZES=${2-"10000 50000 100000"}   # "" skips the Python side
PY_CAP=${PY_CAP:-300}
PYDEPS=${ORDO_PYDEPS:-$DIR/pydeps}
PY=/usr/bin/python3
mkdir -p "$DIR" "$BUILD/bench"
make -s -j2 BUILD="$BUILD" "$BUILD/libordo.a" || exit 1
cc -std=c11 -O2 -g -Wall -Wextra -D_GNU_SOURCE -Isrc -pthread -o "$BUILD/bench/bench_rank" \
   bench/bench_rank.c "$BUILD/libordo.a" -lopenblas -lm || exit 1
max=0
for n in $SIZES $PY_SIZES; do [ "$n" -gt "$max" ] && max=$n; done
EMB=$DIR/emb.f16
have=$(( $(stat -c %s "$EMB" 2>/dev/null || echo 0) / 2560 ))
if [ "$have" -lt "$max" ]; then
    echo "generating $max synthetic embeddings in $EMB"
    "$BUILD/bench/bench_rank" gen "$EMB" "$max" || exit 1
fi
# OpenBLAS 0.3.21 (Debian) does not recognise this VM's CPU model and falls
# back to its SSE3 "Prescott" kernels; name the core when the CPU has AVX-512.
if [ -z "${OPENBLAS_CORETYPE:-}" ] && grep -qw avx512f /proc/cpuinfo; then
    export OPENBLAS_CORETYPE=SkylakeX
fi
echo "# machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-auto}"
echo "# ordo: compose a batch of 1000, default mix, cold start (0 labeled) and a later round (5000 labeled)"
for n in $SIZES; do
    for lab in $LABELED; do
        OPENBLAS_NUM_THREADS=2 "$BUILD/bench/bench_rank" run "$EMB" "$n" 1000 "$lab"
    done
done
if [ -n "$PY_SIZES" ]; then
    if ! PYTHONPATH=$PYDEPS $PY -c "import skactiveml" 2>/dev/null; then
        # a private folder: pip would otherwise put NumPy 2 in front of
        # Debian's NumPy for every user of /usr/bin/python3
        $PY -m pip install -q --target "$PYDEPS" scikit-activeml || exit 1
    fi
    echo "# scikit-activeml $(PYTHONPATH=$PYDEPS $PY -c 'import skactiveml; print(skactiveml.__version__)'), same embeddings (1280-d), batch 1000, cap ${PY_CAP}s"
    for n in $PY_SIZES; do
        OPENBLAS_NUM_THREADS=2 "$BUILD/bench/bench_rank" run "$EMB" "$n" 1000 0
        for m in typiclust coreset; do
            out=$(OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 PYTHONPATH=$PYDEPS timeout "$PY_CAP" \
                  $PY bench/bench_rank.py "$EMB" "$n" "$m" 1000 2>&1)
            rc=$?
            if [ $rc -eq 124 ]; then echo "method=$m n=$n batch=1000 seconds=>$PY_CAP (timed out)"
            elif [ $rc -ne 0 ]; then echo "method=$m n=$n failed: $(echo "$out" | tail -n 1)"
            else echo "$out" | tail -n 1; fi
        done
    done
fi
