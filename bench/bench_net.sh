#!/usr/bin/env bash
# bench_net.sh - images/s of the network alone (preprocessed batches), ordo
# vs ONNX Runtime on an ONNX export of the same weights, same thread count,
# side by side in one run. Each engine runs batches of 1, 8 and 32; the
# ratio compares each engine's best batch. Peak RSS is per process.
#
#   bench/bench_net.sh [MODEL...]          (default: lite0)
# env: BUILD (default build), THREADS ("1 2"), BATCHES ("1 8 32"),
#      SECS (seconds per measurement, default 5), REPS (rounds, default 2: every
#      measurement is repeated and the best kept, which damps a busy machine's
#      noise), ORDO_WEIGHTS (weights dir),
#      ORDO_LIB (use this static library instead of building $BUILD/libordo.a).
# Needs /usr/bin/python3 with torch, efficientnet_lite_pytorch, onnxruntime.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PY=${ORDO_PYTHON:-/usr/bin/python3}
THREADS=${THREADS:-"1 2"}
BATCHES=${BATCHES:-"1 8 32"}
SECS=${SECS:-5}
REPS=${REPS:-2}
MODELS=${*:-lite0}
WDIR=${ORDO_WEIGHTS:-${XDG_CACHE_HOME:-$HOME/.cache}/ordo/weights}

LIB=${ORDO_LIB:-$BUILD/libordo.a}
[ -n "${ORDO_LIB:-}" ] || make -s BUILD="$BUILD" "$LIB"
LDLIBS=$(make -s --no-print-directory --eval 'print-ldlibs: ; @echo $(LDLIBS)' print-ldlibs)
mkdir -p "$BUILD/bench"
cc -O2 -g -std=c11 -Wall -Wextra -D_GNU_SOURCE -Isrc -pthread -o "$BUILD/bench/bench_net" \
   bench/bench_net.c "$LIB" $LDLIBS

echo "# bench_net: network alone, images/s (higher is better), $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for m in $MODELS; do
    size=$("$PY" -c "import sys; sys.path.insert(0, 'tools'); import reference; print(reference.SIZES['$m'])")
    w="$WDIR/$m.pth"
    [ -f "$w" ] || { echo "missing weights $w (ordo weights install)"; exit 1; }
    onnx="$BUILD/bench/$m.onnx"
    [ -f "$onnx" ] || "$PY" tools/reference.py export-onnx --model "$m" --weights "$w" --out "$onnx" >/dev/null 2>&1
    for rep in $(seq "$REPS"); do
        for t in $THREADS; do
            for b in $BATCHES; do
                # alternate the engines so background load hits both alike
                line=$("$BUILD/bench/bench_net" "$m" "$w" "$t" "$b" "$SECS") && echo "$m $line" | tee -a "$out"
                line=$("$PY" bench/bench_ort.py "$onnx" "$size" "$t" "$b" "$SECS" 2>/dev/null) && echo "$m $line" | tee -a "$out"
            done
        done
    done
done
echo
echo "model  threads  ordo img/s (batch)  ORT img/s (batch)  ordo/ORT  ordo RSS MB  ORT RSS MB  ordo cpu ms/img  ORT cpu ms/img"
awk '
{ m=$1; eng=$2; t=""; b=""; ips=0; rss=0; cpu=0
  for (i=3;i<=NF;i++) { split($i,kv,"="); if (kv[1]=="threads") t=kv[2]; if (kv[1]=="batch") b=kv[2];
    if (kv[1]=="img/s") ips=kv[2]+0; if (kv[1]=="rss_mb") rss=kv[2]+0; if (kv[1]=="cpu_ms/img") cpu=kv[2]+0 }
  k=m" "t; keys[k]=1
  if (ips > best[k" "eng]) { best[k" "eng]=ips; bb[k" "eng]=b; br[k" "eng]=rss; bc[k" "eng]=cpu } }
END { for (k in keys) { split(k,p," ")
  o=best[k" ordo"]; r=best[k" ort"]
  printf "%-6s %7s  %10.1f (%2s)    %10.1f (%2s)   %7.2f  %10.0f  %10.0f  %15.2f  %14.2f\n", p[1], p[2], o, bb[k" ordo"], r, bb[k" ort"], (r>0?o/r:0), br[k" ordo"], br[k" ort"], bc[k" ordo"], bc[k" ort"] } }
' "$out" | sort
echo "# RSS and cpu ms/img are those of each engine's best-batch run. cpu ms/img (user+sys"
echo "# CPU time per image) is a diagnostic that stays meaningful on a busy machine; ORT's"
echo "# includes its worker threads' spinning."
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
