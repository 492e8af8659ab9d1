#!/usr/bin/env bash
# bench_classify.sh - images/s of the whole `ordo classify` path (read,
# decode, resize, network, print) against (a) ordo's network alone on
# preprocessed batches and (b) the same path done with PIL + ONNX Runtime,
# 1 and 2 threads, side by side in one run.
#
#   bench/bench_classify.sh [N_IMAGES] [MODEL]   (default 600 lite0)
# Images: N evenly spaced over every photo under ../shared/datasets. Needs build/ordo, the weights, and
# /usr/bin/python3 with torch, onnxruntime, PIL.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PY=${ORDO_PYTHON:-/usr/bin/python3}
N=${1:-600}
MODEL=${2:-lite0}
BATCH=${BATCH:-16}
PRECISION=${PRECISION:-fp32}   # the anchor runs fp32; int8 (the default on VNNI CPUs): PRECISION=int8
DATA=${ORDO_DATA:-../shared}
WDIR=${ORDO_WEIGHTS:-${XDG_CACHE_HOME:-$HOME/.cache}/ordo/weights}
make -s BUILD="$BUILD" "$BUILD/ordo"
mkdir -p "$BUILD/bench"
list=$BUILD/bench/classify_files.txt
# An evenly spaced sample of every image under datasets/ (sports100's 224 px
# photos and imagenet-sample's larger ones in their real proportion).
find "$DATA/datasets" -type f \( -iname '*.jpg' -o -iname '*.jpeg' \) | sort \
    | awk -v n="$N" '{ a[NR] = $0 } END { for (i = 0; i < n && i < NR; i++) print a[int(i * NR / n) + 1] }' > "$list"
n=$(wc -l < "$list")
size=$("$PY" -c "import sys; sys.path.insert(0, 'tools'); import reference; print(reference.SIZES['$MODEL'])")
onnx="$BUILD/bench/$MODEL.onnx"
[ -f "$onnx" ] || "$PY" tools/reference.py export-onnx --model "$MODEL" --weights "$WDIR/$MODEL.pth" --out "$onnx" >/dev/null 2>&1
make -s BUILD="$BUILD" "$BUILD/bench/bench_net"
echo "# bench_classify: $n images ($MODEL), $(nproc) CPUs, load before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf "%-8s %14s %14s %14s %9s %9s %12s\n" threads "net alone" "ordo classify" "PIL+ORT path" "(b)/(a)" "ordo/ORT" "ordo RSS MB"
for t in 1 2; do
    a=$("$BUILD/bench/bench_net" "$MODEL" "$WDIR/$MODEL.pth" "$t" "$BATCH" 5 | grep -oE 'img/s=[0-9.]+' | cut -d= -f2)
    tf=$(mktemp)
    # xargs keeps odd file names intact
    /usr/bin/time -f "%e %M" -o "$tf" xargs -d '\n' -a "$list" "$BUILD/ordo" classify --model "$MODEL" --precision "$PRECISION" \
        --threads "$t" --batch "$BATCH" --csv > /dev/null
    read -r secs rsskb < "$tf"; rm -f "$tf"
    b=$(awk -v n="$n" -v s="$secs" 'BEGIN { printf "%.2f", n / s }')
    o=$("$PY" bench/bench_ort_classify.py "$onnx" "$size" "$t" 32 "$list" | grep -oE 'img/s=[0-9.]+' | cut -d= -f2)
    printf "%-8s %14s %14s %14s %9s %9s %12s\n" "$t" "$a" "$b" "$o" \
        "$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", b / a }')" \
        "$(awk -v o="$o" -v b="$b" 'BEGIN { printf "%.2f", b / o }')" "$((rsskb / 1024))"
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
