#!/usr/bin/env bash
# Training benchmark: ordo_learn_train vs scikit-learn, same data, 2 threads.
#   bench/bench_train.sh [REAL_PREFIX]
# REAL_PREFIX: output of tools/learn_embed.py for sports100 (real embeddings);
# without it the data are a synthetic 100-class mixture. Sizes: 4,000 and
# 10,000 training labels (1280-d), L2 by 3-fold CV over 5 strengths.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PY=${ORDO_PYTHON:-/usr/bin/python3}
export OPENBLAS_NUM_THREADS=${THREADS:-2} OMP_NUM_THREADS=${THREADS:-2} MKL_NUM_THREADS=${THREADS:-2}
real=${1:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$BUILD/bench"
cc -std=c11 -O2 -D_GNU_SOURCE -Isrc -o "$BUILD/bench/bench_train" bench/bench_train.c \
   src/learn/*.c src/base/err.c -lopenblas -lxxhash -lm -lpthread
for n in 4000 10000; do
    if [ -n "$real" ]; then "$PY" bench/bench_train.py gen "$tmp/d$n" $n --real "$real"
    else "$PY" bench/bench_train.py gen "$tmp/d$n" $n; fi
    o=$("$BUILD/bench/bench_train" "$tmp/d$n"); echo "$o"
    s=$("$PY" bench/bench_train.py sklearn "$tmp/d$n"); echo "$s"
    to=$(echo "$o" | sed -E 's/.*: ([0-9.]+) s .*/\1/')
    ts=$(echo "$s" | sed -E 's/.*LogisticRegressionCV ([0-9.]+) s.*/\1/')
    echo "n=$n: sklearn / ordo time ratio $(awk -v a="$ts" -v b="$to" 'BEGIN{printf "%.1f", a/b}')x"
done
