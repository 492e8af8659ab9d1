#!/usr/bin/env bash
# calibrate.sh - regenerates src/nn/calib.c, the activation ranges of the
# int8 networks, from ordo's fp32 network on the calibration photos:
#
#   the first 3 photos (by file name) of each of the 100 classes of
#   sports100's pool/ folder: 300 photos.
#
# None is in sports100's curated test/ folder or in imagenet-sample, the sets
# the int8 accuracy is judged on (bench/bench_int8.sh also reports the
# agreement without these 300 photos). Min-max ranges: see tools/calibrate.c.
#   tools/calibrate.sh            (needs $ORDO_DATA, default ../shared)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
DATA=${ORDO_DATA:-../shared}
WDIR=${ORDO_WEIGHTS:-${XDG_CACHE_HOME:-$HOME/.cache}/ordo/weights}
make -s BUILD="$BUILD" "$BUILD/tools/calibrate"
list=$(mktemp)
trap 'rm -f "$list"' EXIT
for d in "$DATA"/datasets/sports100/pool/*/; do
    find "$d" -maxdepth 1 -type f -name '*.jpg' | LC_ALL=C sort | head -3
done > "$list"
"$BUILD/tools/calibrate" "$WDIR" "$list" lite0 lite1 lite2 > "$BUILD/tools/calib.c"
mv "$BUILD/tools/calib.c" src/nn/calib.c
echo "wrote src/nn/calib.c from $(wc -l < "$list") photos"
