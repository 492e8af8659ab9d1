#!/usr/bin/env bash
# Label errors: flip 5 % of sports100's pool labels (seeded), label every pool
# photo, run `ordo audit`, and score its ranking against the flips side by
# side with cleanlab's find_label_issues on the learner's same out-of-fold
# probabilities.
#   bench/bench_audit_labels.sh [SEED] [KNN_WEIGHT]
# Needs a scanned project of the pool in $PROJ (default: made in $WORK).
set -euo pipefail
cd "$(dirname "$0")/.."
SEED=${1:-1}
KNN=${2:-0.3}
DATA=$(cd "${ORDO_DATA:-../shared}/datasets/sports100" && pwd)
ORDO=${ORDO_BIN:-$PWD/build/ordo}
PY=${ORDO_PYTHON:-/usr/bin/python3}
WORK=${WORK:-/tmp/ordo-bench-audit}
mkdir -p "$WORK"
BASE=${PROJ:-$WORK/pool}
if [ ! -d "$BASE/.ordo" ]; then
    "$ORDO" init --model lite0 --precision fp32 "$BASE" >/dev/null
    "$ORDO" scan --project "$BASE" --quiet "$DATA/pool"
fi
P=$WORK/labels-$SEED
rm -rf "$P" && mkdir -p "$P" && cp -r "$BASE/.ordo" "$P/"
$PY bench/bench_audit_labels.py flip "$DATA/labels.csv" "$DATA/pool" "$SEED" 0.05 "$WORK/flipped-$SEED.csv"
"$ORDO" label --project "$P" --import "$WORK/flipped-$SEED.csv" >/dev/null
/usr/bin/time -f "ordo audit: %e s wall, %M kB peak RSS" \
    "$ORDO" audit --project "$P" --labels --knn "$KNN" --csv --all --no-save \
    --oof "$WORK/oof-$SEED.csv" > "$WORK/audit-$SEED.csv"
$PY bench/bench_audit_labels.py score "$WORK/flipped-$SEED.csv" "$WORK/audit-$SEED.csv" "$WORK/oof-$SEED.csv"
