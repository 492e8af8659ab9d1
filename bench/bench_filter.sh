#!/usr/bin/env bash
# bench_filter.sh - the sports filter against the zero-shot prior (its
# anchor) on a mixed pool: sports100 (4,989 sports photos) plus the
# non-sports photos of imagenet-sample (200 ImageNet photos minus the
# sports-related classes). AUROC of prior / learned-alone (the old filter) /
# combined (the filter on top of the prior, what `ordo train` fits now)
# after 50-500 random labels, mean over seeds, with the differences to the
# prior (mean and worst seed). See bench/bench_filter.c.
#
#   bench/bench_filter.sh [SEEDS] [LABELS]        (10, 50,100,200,300,500)
#   env: BUILD (build), MODEL (lite0), ORDO_BENCH_FILTER_DIR
#        (/tmp/ordo-bench-filter: the scanned project, kept and reused),
#        THREADS (OPENBLAS_NUM_THREADS, 2)
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
MODEL=${MODEL:-lite0}
DIR=${ORDO_BENCH_FILTER_DIR:-/tmp/ordo-bench-filter}/$MODEL
DATA=${ORDO_DATA:-$(cd .. && pwd)/shared}/datasets
export OPENBLAS_NUM_THREADS=${THREADS:-2}
make -s -j2 BUILD="$BUILD" "$BUILD/ordo" "$BUILD/bench/bench_filter"
if [ ! -d "$DIR/.ordo" ]; then
    mkdir -p "$DIR"
    "$BUILD/ordo" init --model "$MODEL" --precision fp32 "$DIR" > /dev/null
    echo "scanning sports100 and imagenet-sample into $DIR ($MODEL)..."
    "$BUILD/ordo" scan --project "$DIR" --quiet "$DATA/sports100" "$DATA/imagenet-sample"
fi
"$BUILD/bench/bench_filter" "$DIR" --seeds "${1:-10}" --labels "${2:-50,100,200,300,500}"
