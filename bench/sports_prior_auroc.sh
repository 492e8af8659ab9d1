#!/usr/bin/env bash
# AUROC of the zero-shot sports prior: sports100 (4,989 sports photos) vs the
# non-sports photos of imagenet-sample. Prints the synset list used.
#
#   bench/sports_prior_auroc.sh [--list FILE] [--reference] [--top K]
#
# Class weights come from ordo's own src/wordnet code (helper
# bench/sports_prior_auroc.c). Probabilities come from `ordo classify --csv`
# (build/ordo, built here if it links) or, when ordo is not available or
# --reference is given, from the PyTorch reference model (cached in
# $ORDO_BENCH_CACHE, default /tmp/ordo-bench-sports; the output says which).
set -euo pipefail
cd "$(dirname "$0")/.."
list= ref=0 top=1000
while [ $# -gt 0 ]; do
    case $1 in
    --list) list=$2; shift 2 ;;
    --reference) ref=1; shift ;;
    --top) top=$2; shift 2 ;;
    *) echo "usage: $0 [--list FILE] [--reference] [--top K]" >&2; exit 2 ;;
    esac
done
export ORDO_DATA=${ORDO_DATA:-$(cd .. && pwd)/shared}
cache=${ORDO_BENCH_CACHE:-/tmp/ordo-bench-sports}
mkdir -p "$cache"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cc -std=c11 -O2 -D_GNU_SOURCE -Isrc -o "$work/weights" bench/sports_prior_auroc.c \
    src/wordnet/wordnet.c src/wordnet/sports.c src/base/err.c
"$work/weights" ${list:+"$list"} > "$work/weights.tsv"

ordo_arg=()
if [ "$ref" = 0 ]; then
    bin=${ORDO_BIN:-build/ordo}
    if [ ! -x "$bin" ] && [ -z "${ORDO_BIN:-}" ]; then
        make -j2 build/ordo > "$work/make.log" 2>&1 || echo "note: build/ordo does not link yet (see make build/ordo)" >&2
    fi
    [ -x "$bin" ] && ordo_arg=(--ordo "$bin")
fi
/usr/bin/python3 bench/sports_prior_auroc.py --weights "$work/weights.tsv" --data "$ORDO_DATA" \
    --cache "$cache" --top "$top" "${ordo_arg[@]+"${ordo_arg[@]}"}"
