#!/usr/bin/env bash
# bench_camera.sh - `ordo scan` of camera-size photos: the per-image CPU of
# each stage (bench_camera.c: read + hash, entropy decode at the chosen DCT
# scale, resize, network), the rate those costs allow on 2 cores, the scan's
# own rate (fp32 and int8 projects), and the Pillow + ONNX Runtime pipeline
# on the same photos and threads (thread pool; Pillow's draft mode, i.e. its
# DCT scaling, on and off), interleaved in one run.
# The photos: N imagenet-sample photos upscaled (bicubic) to 4000x3000
# (12 MP; portrait ones 3000x4000), JPEG quality 92, in a temp dir (never the
# repository). Real camera files carry more detail, so more entropy-coded
# bits per pixel: decoding them costs more than these.
#   bench/bench_camera.sh
# env: BUILD (build), MODEL (lite0), THREADS (2), N (48 photos), ROUNDS (2),
#      ORDO_DATA (../shared), ORDO_WEIGHTS.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PY=${ORDO_PYTHON:-/usr/bin/python3}
MODEL=${MODEL:-lite0}
THREADS=${THREADS:-2}
N=${N:-48}
ROUNDS=${ROUNDS:-2}
DATA=${ORDO_DATA:-../shared}
WDIR=${ORDO_WEIGHTS:-${XDG_CACHE_HOME:-$HOME/.cache}/ordo/weights}
make -s BUILD="$BUILD" "$BUILD/libordo.a" "$BUILD/ordo"
LDLIBS=$(make -s --no-print-directory --eval 'print-ldlibs: ; @echo $(LDLIBS)' print-ldlibs)
mkdir -p "$BUILD/bench"
cc -O2 -g -std=c11 -Wall -Wextra -D_GNU_SOURCE -Isrc -pthread -o "$BUILD/bench/bench_camera" \
   bench/bench_camera.c "$BUILD/libordo.a" $LDLIBS
T=$(mktemp -d /tmp/ordo_bench_camera.XXXXXX)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/cam"
find "$DATA/datasets/imagenet-sample" -type f | LC_ALL=C sort | head -"$N" > "$T/src"
"$PY" - "$T/src" "$T/cam" <<'PYEOF'
import os, sys
from PIL import Image
for i, p in enumerate(open(sys.argv[1]).read().split("\n")):
    if not p:
        continue
    im = Image.open(p).convert("RGB")
    size = (4000, 3000) if im.width >= im.height else (3000, 4000)
    im.resize(size, Image.BICUBIC).save(os.path.join(sys.argv[2], "%03d.jpg" % i), quality=92)
PYEOF
ls "$T"/cam/*.jpg > "$T/list"
size=$("$PY" -c "import sys; sys.path.insert(0, 'tools'); import reference; print(reference.SIZES['$MODEL'])")
onnx="$BUILD/bench/$MODEL.onnx"
[ -f "$onnx" ] || "$PY" tools/reference.py export-onnx --model "$MODEL" --weights "$WDIR/$MODEL.pth" --out "$onnx" >/dev/null 2>&1
echo "# bench_camera: $(wc -l < "$T/list") photos of 12 MP, $(du -sh "$T/cam" | cut -f1) in all, $MODEL, $THREADS threads, $(nproc) CPUs:$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$BUILD/bench/bench_camera" "$MODEL" "$WDIR/$MODEL.pth" fp32,int8 $(cat "$T/list") | tee "$T/stages"
scan() {   # $1 precision: fresh project, whole scan, wall images/s
    rm -rf "$T/p"; mkdir -p "$T/p"
    "$BUILD/ordo" init --precision "$1" "$T/p" >/dev/null
    local t0 t1
    t0=$(date +%s.%N)
    "$BUILD/ordo" scan --project "$T/p" --quiet --no-sync --threads "$THREADS" "$T/cam"
    t1=$(date +%s.%N)
    awk -v n="$(wc -l < "$T/list")" -v a="$t0" -v b="$t1" -v p="$1" 'BEGIN { printf "scan-%s img/s=%.1f\n", p, n / (b - a) }'
}
for r in $(seq "$ROUNDS"); do
    scan fp32 | tee -a "$T/runs"
    scan int8 | tee -a "$T/runs"
    "$PY" bench/bench_ort_classify.py "$onnx" "$size" "$THREADS" 16 "$T/list" pool | sed 's/^ort-path/pil-ort/' | tee -a "$T/runs"
    "$PY" bench/bench_ort_classify.py "$onnx" "$size" "$THREADS" 16 "$T/list" draft pool | sed 's/^ort-path/pil-draft-ort/' | tee -a "$T/runs"
done
echo
awk '
FNR == NR { if ($1 ~ /^allowed-/) { split($2, kv, "="); allowed[substr($1, 9)] = kv[2] } next }
{ for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "img/s" && kv[2] + 0 > best[$1]) best[$1] = kv[2] + 0 } }
END {
  pil = best["pil-ort"] > best["pil-draft-ort"] ? best["pil-ort"] : best["pil-draft-ort"]
  printf "PIL+ORT pool: %.1f img/s, with draft: %.1f img/s\n", best["pil-ort"], best["pil-draft-ort"]
  for (p in allowed)
    printf "ordo scan %s: %.1f img/s = %.2f of the %.1f its stages allow on 2 cores, %.2fx PIL+ORT (best of the two)\n", p, best["scan-" p], best["scan-" p] / allowed[p], allowed[p], best["scan-" p] / pil
}' "$T/stages" "$T/runs"
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
