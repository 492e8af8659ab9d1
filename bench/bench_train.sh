#!/usr/bin/env bash
# Training benchmark: ordo_learn_train vs scikit-learn on the same data, 2 threads.
#   bench/bench_train.sh [REAL_PREFIX]
# REAL_PREFIX: tools/learn_embed.py output for sports100 (real lite0
# embeddings; 10,000 labels are real rows plus jitter, see bench_train.c);
# without it a synthetic 100-class mixture. Sizes: 4,000 and 10,000 training
# labels (1280-d), L2 by 3-fold CV over 5 strengths, then the final fit.
# scikit-learn: LogisticRegressionCV over the same grid (SKLEARN_TIMEOUT s,
# default 1800, per size).
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PY=${ORDO_PYTHON:-/usr/bin/python3}
export OPENBLAS_NUM_THREADS=${THREADS:-2} OMP_NUM_THREADS=${THREADS:-2} MKL_NUM_THREADS=${THREADS:-2}
# OpenBLAS 0.3.21 does not recognise every AVX-512 CPU and then falls back to
# its slowest (Prescott) kernels; name the core when the CPU has AVX-512.
if [ -z "${OPENBLAS_CORETYPE:-}" ] && grep -q avx512f /proc/cpuinfo; then export OPENBLAS_CORETYPE=SkylakeX; fi
real=${1:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$BUILD/bench"
cc -std=c11 -O2 -D_GNU_SOURCE -Isrc -o "$BUILD/bench/bench_train" bench/bench_train.c \
   src/learn/logreg.c src/learn/model_io.c src/base/err.c -lopenblas -lxxhash -lm -lpthread
echo "threads $OPENBLAS_NUM_THREADS, OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-auto}, $(nproc) cores online, load $(cut -d' ' -f1-3 /proc/loadavg)"
for n in 4000 10000; do
    if [ -n "$real" ]; then
        o=$("$BUILD/bench/bench_train" --real "$real" --n $n --dump "$tmp/d$n")
    else
        "$PY" bench/bench_train.py gen "$tmp/d$n" $n
        o=$("$BUILD/bench/bench_train" "$tmp/d$n")
    fi
    echo "$o"
    s=$(timeout "${SKLEARN_TIMEOUT:-1800}" "$PY" -W ignore bench/bench_train.py sklearn "$tmp/d$n" || echo "sklearn timed out after ${SKLEARN_TIMEOUT:-1800} s")
    echo "$s"
    to=$(echo "$o" | sed -E 's/.*: ([0-9.]+) s .*/\1/')
    ts=$(echo "$s" | sed -nE 's/.*LogisticRegressionCV ([0-9.]+) s.*/\1/p')
    [ -n "$ts" ] && echo "n=$n: scikit-learn / ordo time ratio $(awk -v a="$ts" -v b="$to" 'BEGIN{printf "%.1f", a/b}')x"
done
