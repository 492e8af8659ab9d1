#!/usr/bin/env bash
# bench_camera.sh - `ordo scan` of camera-size photos against the rate its own
# stages allow, and against Pillow + ONNX Runtime, in one run:
#   1. bench_camera.c: each stage's CPU per image, one thread (read + hash,
#      decode at the chosen DCT scale, resize, network fp32/int8) and the
#      rate those costs allow on 2 cores: 2000 / (sum of ms/img);
#   2. interleaved, ROUNDS times: `ordo scan` (fp32 and int8 projects, fresh
#      each time), Pillow + ORT with a thread pool (the issue's anchor) and
#      the same with Pillow's draft mode (its DCT scaling), same threads;
#   3. an `ordo scan` of an empty folder: the scan's fixed start-up (process,
#      store, weights, WordNet), to tell it from the pipeline's rate.
# Each engine's wall time AND CPU time (user+sys, /usr/bin/time) are given:
# on a loaded machine the wall rates say little, the CPU per image stays.
# Done for two variants of the same photos: baseline JPEGs and progressive
# ones (where ordo leaves out the scans its DCT scale cannot see, jpeg.c).
# The photos: N imagenet-sample photos upscaled (bicubic) to 4000x3000
# (12 MP; portrait ones 3000x4000), JPEG quality 92 (Pillow, 4:2:0), in a
# temp dir, or in CAMDIR (made once, reused). Real camera files carry more
# detail, so more entropy-coded bits per pixel: decoding them costs more.
#   N=200 ROUNDS=3 bench/bench_camera.sh
# env: BUILD (build), MODEL (lite0), THREADS (2), N (48 photos), ROUNDS (2),
#      VARIANTS ("baseline progressive"), CAMDIR, ORDO_DATA (../shared),
#      ORDO_WEIGHTS.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PY=${ORDO_PYTHON:-/usr/bin/python3}
MODEL=${MODEL:-lite0}
THREADS=${THREADS:-2}
N=${N:-48}
ROUNDS=${ROUNDS:-2}
VARIANTS=${VARIANTS:-baseline progressive}
DATA=${ORDO_DATA:-../shared}
WDIR=${ORDO_WEIGHTS:-${XDG_CACHE_HOME:-$HOME/.cache}/ordo/weights}
make -s BUILD="$BUILD" "$BUILD/ordo" "$BUILD/bench/bench_camera"
T=$(mktemp -d /tmp/ordo_bench_camera.XXXXXX)
trap 'rm -rf "$T"' EXIT
CAM=${CAMDIR:-$T/photos}
mkdir -p "$CAM/baseline" "$CAM/progressive" "$T/empty"
if [ "$(ls "$CAM/baseline" | wc -l)" -lt "$N" ] || [ "$(ls "$CAM/progressive" | wc -l)" -lt "$N" ]; then
    find "$DATA/datasets/imagenet-sample" -type f | LC_ALL=C sort | head -"$N" > "$T/src"
    "$PY" - "$T/src" "$CAM" <<'PYEOF'
import os, sys
from PIL import Image
for i, p in enumerate(open(sys.argv[1]).read().split("\n")):
    if not p:
        continue
    im = Image.open(p).convert("RGB")
    size = (4000, 3000) if im.width >= im.height else (3000, 4000)
    big = im.resize(size, Image.BICUBIC)
    big.save(os.path.join(sys.argv[2], "baseline", "%03d.jpg" % i), quality=92)
    big.save(os.path.join(sys.argv[2], "progressive", "%03d.jpg" % i), quality=92, progressive=True)
PYEOF
fi
size=$("$PY" -c "import sys; sys.path.insert(0, 'tools'); import reference; print(reference.SIZES['$MODEL'])")
onnx="$BUILD/bench/$MODEL.onnx"
[ -f "$onnx" ] || "$PY" tools/reference.py export-onnx --model "$MODEL" --weights "$WDIR/$MODEL.pth" --out "$onnx" >/dev/null 2>&1
echo "# bench_camera: $N photos of 12 MP per variant, $MODEL, $THREADS threads, $(nproc) CPUs:$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

timed() {   # NAME COMMAND...: one line "NAME wall=S cpu=S" (+ the command's own output)
    local name=$1; shift
    /usr/bin/time -f "%e %U %S" -o "$T/time" "$@" > "$T/out"
    awk -v n="$name" '{ printf "%s wall=%s cpu=%.2f", n, $1, $2 + $3 }' "$T/time"
    sed -n 's/.*img\/s=\([0-9.]*\).*/ own-img\/s=\1/p' "$T/out" | head -1 | tr -d '\n'
    sed -n 's/.*cpu_ms\/img=\([0-9.]*\).*/ own-cpu-ms\/img=\1/p' "$T/out" | head -1 | tr -d '\n'
    echo
}
scan() {   # NAME PRECISION DIR: a fresh project, the whole `ordo scan` timed
    rm -rf "$T/p"; mkdir -p "$T/p"
    "$BUILD/ordo" init --model lite0 --precision "$2" "$T/p" >/dev/null
    timed "$1" "$BUILD/ordo" scan --project "$T/p" --quiet --no-sync --threads "$THREADS" "$3"
}
for v in $VARIANTS; do
    ls "$CAM/$v"/*.jpg | LC_ALL=C sort | head -"$N" > "$T/list"
    mkdir -p "$T/set"; rm -f "$T/set"/*
    while read -r f; do ln -s "$f" "$T/set/"; done < "$T/list"
    echo
    echo "## $v JPEGs: $(wc -l < "$T/list") photos, $(du -shL "$T/set" | cut -f1) in all"
    "$BUILD/bench/bench_camera" "$MODEL" "$WDIR/$MODEL.pth" fp32,int8 $(cat "$T/list") | tee "$T/stages"
    : > "$T/runs"
    for r in $(seq "$ROUNDS"); do
        scan scan-fp32 fp32 "$T/set" | tee -a "$T/runs"
        scan scan-int8 int8 "$T/set" | tee -a "$T/runs"
        scan startup-fp32 fp32 "$T/empty" | tee -a "$T/runs"
        timed pil-ort "$PY" bench/bench_ort_classify.py "$onnx" "$size" "$THREADS" 16 "$T/list" pool | tee -a "$T/runs"
        timed pil-draft-ort "$PY" bench/bench_ort_classify.py "$onnx" "$size" "$THREADS" 16 "$T/list" draft pool | tee -a "$T/runs"
    done
    # Best of the rounds (least disturbed). ordo's rate is its whole command,
    # start-up included; "pipeline" leaves out the empty scan's wall time.
    # The Python anchor's own img/s leaves out its start-up (imports, session).
    awk -v n="$(wc -l < "$T/list")" -v v="$v" '
    FNR == NR { if ($1 ~ /^allowed-/) { split($2, kv, "="); allowed[substr($1, 9)] = kv[2] }
                if ($1 ~ /^stage=net-/) { split($2, kv, "="); net[substr($1, 11)] = kv[2] }
                if ($1 == "stage=read" || $1 == "stage=decode" || $1 == "stage=resize") { split($2, kv, "="); pre += kv[2] }
                next }
    { split($2, w, "="); split($3, c, "="); e = $1
      if (!(e in wall) || w[2] < wall[e]) { wall[e] = w[2]; cpu[e] = c[2] }
      for (i = 4; i <= NF; i++) { split($i, kv, "=")
        if (kv[1] == "own-img/s" && kv[2] > own[e]) own[e] = kv[2]
        if (kv[1] == "own-cpu-ms/img" && (!(e in ocpu) || kv[2] < ocpu[e])) ocpu[e] = kv[2] } }
    END {
      su = wall["startup-fp32"]
      printf "%s: start-up (empty scan) %.2f s wall, %.2f s CPU\n", v, su, cpu["startup-fp32"]
      printf "%s: PIL+ORT pool %.1f img/s (%.1f ms CPU/img; start-up left out), with draft %.1f img/s (%.1f ms CPU/img)\n", v,
             own["pil-ort"], ocpu["pil-ort"], own["pil-draft-ort"], ocpu["pil-draft-ort"]
      for (p in allowed) {
        r = n / wall["scan-" p]; rp = n / (wall["scan-" p] - su)
        printf "%s: ordo scan %s: %.1f img/s whole command, %.1f pipeline (start-up left out): %.2f / %.2f of the %.1f its stages allow on 2 cores; %.2fx / %.2fx PIL+ORT, %.2fx / %.2fx PIL-draft+ORT\n",
               v, p, r, rp, r / allowed[p], rp / allowed[p], allowed[p], r / own["pil-ort"], rp / own["pil-ort"], r / own["pil-draft-ort"], rp / own["pil-draft-ort"]
        sc = 1000 * (cpu["scan-" p] - cpu["startup-fp32"]) / n
        printf "%s: ordo scan %s CPU %.1f ms/img (start-up left out) vs the stages sum %.1f: %.2f; vs PIL+ORT %.2fx less CPU, PIL-draft+ORT %.2fx; cores busy %.2f of 2\n",
               v, p, sc, pre + net[p], (pre + net[p]) / sc, ocpu["pil-ort"] / sc, ocpu["pil-draft-ort"] / sc, (cpu["scan-" p] - cpu["startup-fp32"]) / (wall["scan-" p] - su)
      }
    }' "$T/stages" "$T/runs" | tee -a "$T/summary"
done
echo
echo "# summary"
cat "$T/summary"
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
