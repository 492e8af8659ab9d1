#!/usr/bin/env bash
# bench_int8.sh - ordo's int8 network against its fp32 network and against
# ONNX Runtime's own static int8 model of the same weights (quantize_static,
# the same 300 calibration photos: bench/ort_quantize.py), same threads,
# interleaved in one run (a busy machine's load hits all alike); then how
# far int8 strays from fp32 on real photos (top-1 agreement, embedding
# cosine) over sports100 (all 4,989) and imagenet-sample (200).
# Each int8 variant V runs twice: pure ("V@0") and with its fp32 re-check
# of near-ties ("V", the net's tuned threshold; net.h ordo_net_set_recheck).
# The re-check's cost depends on the photos (the fraction f it re-checks),
# so ordo's engines are timed on real photos: every 5th photo outside the
# calibration set (978), decoded once, taken in turn (BENCH_NET_PHOTOS).
# (Before: every 19th, 258 photos, of which bench_net read only the 101
# whose paths hold no space; f over them has a standard error of about 2
# points, as large as a change of the threshold makes.)
#
#   bench/bench_int8.sh [MODEL...]          (default: lite0 lite2)
# env: BUILD (build), THREADS (2), BATCHES ("16 32": scan's batch and a
#      larger one), SECS (3), REPS (2: the best of each is kept), ACC (1:
#      run the accuracy part; 0: speed only), VARIANTS ("int8
#      int8+fpdw int8+w16late": ordo's int8 precision and the int8 variants of the
#      accuracy/speed frontier, nn/net.h; NAME@MARGIN sets the threshold),
#      SPEED_EVERY (5: which photos are timed, see above), ORDO_DATA
#      (../shared), ORDO_WEIGHTS.
# Needs /usr/bin/python3 with torch, efficientnet_lite_pytorch, onnxruntime, PIL.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PY=${ORDO_PYTHON:-/usr/bin/python3}
THREADS=${THREADS:-2}
BATCHES=${BATCHES:-"16 32"}
SECS=${SECS:-3}
REPS=${REPS:-2}
ACC=${ACC:-1}
MODELS=${*:-lite0 lite2}
VARIANTS=${VARIANTS:-int8 int8+fpdw int8+w16late}
DATA=${ORDO_DATA:-../shared}
WDIR=${ORDO_WEIGHTS:-${XDG_CACHE_HOME:-$HOME/.cache}/ordo/weights}

make -s BUILD="$BUILD" "$BUILD/bench/bench_net" "$BUILD/bench/bench_int8"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The calibration photos: the same list tools/calibrate.sh uses.
for d in "$DATA"/datasets/sports100/pool/*/; do
    find "$d" -maxdepth 1 -type f -name '*.jpg' | LC_ALL=C sort | head -3
done > "$tmp/calib"
{
    grep -vxFf "$tmp/calib" <(find "$DATA/datasets/sports100" -type f -name '*.jpg' | LC_ALL=C sort) | sed 's/^/sports100-rest /'
    sed 's/^/calib /' "$tmp/calib"
    find "$DATA/datasets/imagenet-sample" -type f | LC_ALL=C sort | sed 's/^/imagenet /'
} > "$tmp/list"
# in a fixed shuffled order: a run shorter than one pass still times a
# sample of every class (the list is sorted by class)
grep -v '^calib ' "$tmp/list" | awk -v k="${SPEED_EVERY:-5}" 'NR % k == 1' |
    shuf --random-source=<(yes) > "$tmp/speed_photos"
ENGINES=""
for v in $VARIANTS; do
    case $v in *@*) ENGINES="$ENGINES $v" ;; *) ENGINES="$ENGINES $v@0 $v" ;; esac
done

echo "# bench_int8: network alone, images/s (higher is better), $THREADS threads, $(nproc) CPUs:$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for m in $MODELS; do
    size=$("$PY" -c "import sys; sys.path.insert(0, 'tools'); import reference; print(reference.SIZES['$m'])")
    w="$WDIR/$m.pth"
    onnx="$BUILD/bench/$m.onnx" q="$BUILD/bench/$m.int8.onnx"
    [ -f "$onnx" ] || "$PY" tools/reference.py export-onnx --model "$m" --weights "$w" --out "$onnx" >/dev/null 2>&1
    [ -f "$q" ] || "$PY" bench/ort_quantize.py "$onnx" "$q" "$size" "$tmp/calib" >/dev/null 2>&1
    for rep in $(seq "$REPS"); do
        for b in $BATCHES; do
            for e in fp32 $ENGINES ort-int8 ort-fp32; do
                case $e in
                fp32|int8*) line=$(BENCH_NET_PHOTOS="$tmp/speed_photos" "$BUILD/bench/bench_net" "$m" "$w" "$THREADS" "$b" "$SECS" "$e") ;;
                ort-int8) line="ort-int8 ${m} $("$PY" bench/bench_ort.py "$q" "$size" "$THREADS" "$b" "$SECS" 2>/dev/null | cut -d' ' -f2-)" ;;
                ort-fp32) line="ort-fp32 ${m} $("$PY" bench/bench_ort.py "$onnx" "$size" "$THREADS" "$b" "$SECS" 2>/dev/null | cut -d' ' -f2-)" ;;
                esac
                echo "$line" | tee -a "$tmp/speed"
            done
        done
    done
done
echo
echo "model  engine              ordo fp32  engine  ORT int8  ORT fp32   /fp32  /ORT-int8   cpu ms/img fp32  engine  fp32/engine  f"
echo "       (best img/s over batches and rounds; CPU ms per image: the median of the engine's runs;"
echo "        f: the fraction of the timed photos the fp32 re-check ran, mean over the runs)"
awk -v vars="$ENGINES" '
{ eng=$1; m=$2; ips=0; cpu=0; fr=-1; for (i=3;i<=NF;i++) { split($i,kv,"="); if (kv[1]=="img/s") ips=kv[2]+0; if (kv[1]=="cpu_ms/img") cpu=kv[2]+0; if (kv[1]=="f") fr=kv[2]+0 }
  if (eng=="ordo") eng="fp32"; if (eng=="ordo-int8") eng="int8"
  ms[m]=1; if (ips > best[m" "eng]) best[m" "eng]=ips
  if (fr >= 0) { fs[m" "eng]+=fr; fn[m" "eng]++ }
  if (cpu > 0) { k=m" "eng; nc[k]++; c[k, nc[k]]=cpu } }
function med(k,   i, j, t, n, a) { n=nc[k]; if (!n) return 0; for (i=1;i<=n;i++) a[i]=c[k,i]
  for (i=1;i<=n;i++) for (j=i+1;j<=n;j++) if (a[j]<a[i]) { t=a[i]; a[i]=a[j]; a[j]=t }
  return n%2 ? a[(n+1)/2] : (a[n/2]+a[n/2+1])/2 }
END { nv=split(vars, V, " "); for (m in ms) for (v=1; v<=nv; v++) { e=V[v]; f=best[m" fp32"]; i=best[m" "e]; q=best[m" ort-int8"]; r=best[m" ort-fp32"]
  cf=med(m" fp32"); ce=med(m" "e); k=m" "e
  printf "%-6s %-18s %9.1f  %6.1f  %8.1f  %8.1f   %5.2f  %9.2f   %15.2f  %6.2f  %11.2f  %.4f\n", m, e, f, i, q, r, (f>0?i/f:0), (q>0?i/q:0), cf, ce, (ce>0?cf/ce:0), (fn[k]?fs[k]/fn[k]:0) } }
' "$tmp/speed" | sort | tee "$tmp/table"
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

[ "$ACC" = 1 ] || exit 0
echo
echo "# accuracy: int8 vs fp32 on the same decoded photos (calib = the 300 calibration photos the"
echo "# thresholds were tuned on; sports100-rest + imagenet confirm). top1_agree/cos: with the"
echo "# re-check; int8_*: the same variant pure; f: the fraction re-checked"
for m in $MODELS; do
    for v in $VARIANTS; do
        "$BUILD/bench/bench_int8" "$m" "$WDIR/$m.pth" "$THREADS" "$tmp/list" "$v" 2>"$tmp/changed.$m" | tee -a "$tmp/acc"
        echo "# $m $v: $(grep -c '^changed' "$tmp/changed.$m" || true) photos changed top-1 (with the re-check); fp32 top-1 softmax margin of those: $(grep '^changed' "$tmp/changed.$m" | sed 's/.*margin=//' | sort -g | awk '{a[NR]=$1} END {if (NR) printf "median %.3f, max %.3f", a[int((NR+1)/2)], a[NR]; else printf "-"}')"
    done
done
echo
echo "# summary, all 5,189 photos (speed: the table above; agreement and cosine: the accuracy runs)"
echo "model  engine              /fp32  /ORT-int8  fp32/engine CPU   f      top-1 agree  cos mean  cos min"
awk '
FNR==NR { sp[$1" "$2]=$0; next }
/ set=all / { v=$1; m=$2; for (i=3;i<=NF;i++) { split($i,kv,"="); x[kv[1]]=kv[2] }
  split(v, base, "@")
  for (k=0;k<2;k++) { e = k ? v : base[1]"@0"; if (!(m" "e in sp)) continue; split(sp[m" "e], s, " ")
    printf "%-6s %-18s %5.2f  %9.2f  %15.2f   %.4f  %10.2f %%  %8.5f  %7.5f\n", m, e, s[7], s[8], s[11], k ? x["f"] : 0,
      100*(k ? x["top1_agree"] : x["int8_top1_agree"]), k ? x["cos_mean"] : x["int8_cos_mean"], k ? x["cos_min"] : x["int8_cos_min"] } }
' "$tmp/table" "$tmp/acc"
