#!/usr/bin/env bash
# bench_ensemble.sh - what the three-network model costs to scan: `ordo scan
# --model lite0+lite1+lite2` (each photo decoded once, three networks, 3,840-d
# embeddings) against `--model lite0` (the anchor), on the same photos, same
# threads, batch and precision, run one after the other in this one command.
# Prints for each: wall seconds, CPU seconds (user + sys), images/s (wall and
# per CPU-second), peak RSS; then the CPU and wall ratios ensemble / lite0.
# The three networks alone cost about 1 + 1.3 + 2.0 = 4.3x lite0's network
# time (docs/learn.md, separate scans); the decode is shared, so the whole
# scan's ratio is expected a little under that.
#   bench/bench_ensemble.sh                 # all of sports100 (4,989 photos)
# env: BUILD (build), ORDO_BIN ($BUILD/ordo), THREADS (2), BATCH (16),
#      PRECISION (fp32), N (photos: 0 = all), KEEP (a folder: keep the two
#      projects there as KEEP/p0 and KEEP/p012), ORDO_DATA.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
BIN=${ORDO_BIN:-$BUILD/ordo}
THREADS=${THREADS:-2}
BATCH=${BATCH:-16}
PRECISION=${PRECISION:-fp32}
N=${N:-0}
DATA=${ORDO_DATA:-$(cd .. && pwd)/shared}
SPORTS=$DATA/datasets/sports100
[ -d "$SPORTS" ] || { echo "bench_ensemble: no $SPORTS (set ORDO_DATA)" >&2; exit 1; }
[ -x "$BIN" ] || make -s BUILD="$BUILD" "$BUILD/ordo"
T=$(mktemp -d /tmp/ordo_bench_ens.XXXXXX)
trap 'rm -rf "$T"' EXIT
SRC=$SPORTS
if [ "$N" -gt 0 ]; then   # the first N photos in path order, copied
    mkdir -p "$T/photos"
    i=0
    while IFS= read -r f && [ "$i" -lt "$N" ]; do
        cp "$f" "$T/photos/$i.jpg"; i=$((i + 1))
    done < <(find "$SPORTS" -name '*.jpg' | sort)
    SRC=$T/photos
fi
OUT=${KEEP:-$T}
mkdir -p "$OUT"

echo "# bench_ensemble: $THREADS threads, batch $BATCH, $PRECISION, $(nproc) CPUs:$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
echo "# photos: $SRC"
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
scan() {   # model, project name: prints one line and leaves "cpu wall" in $T/$2.t
    local model=$1 p=$OUT/$2
    rm -rf "$p"
    "$BIN" init --model "$model" --precision "$PRECISION" "$p" >/dev/null
    /usr/bin/time -f "%e %U %S %M" -o "$T/time" "$BIN" scan --project "$p" --quiet \
        --threads "$THREADS" --batch "$BATCH" "$SRC"
    read -r e u s m <"$T/time"
    local n
    n=$(sqlite3 "$p/.ordo/ordo.db" "SELECT count(*) FROM images")
    local dim
    dim=$(sqlite3 "$p/.ordo/ordo.db" "SELECT value FROM meta WHERE key='embed_dim'")
    echo "$(echo "$u + $s" | bc -l) $e" >"$T/$2.t"
    printf '%-18s %5d images, %4d-d: %7.1f s wall, %7.1f CPU s (user %.1f + sys %.1f), %5.1f images/s wall, %5.1f images per CPU-second, peak RSS %d MB\n' \
        "$model" "$n" "$dim" "$e" "$(echo "$u + $s" | bc -l)" "$u" "$s" "$(echo "$n / $e" | bc -l)" \
        "$(echo "$n / ($u + $s)" | bc -l)" $((m / 1024))
}
scan lite0 p0
scan lite0+lite1+lite2 p012
read -r c0 w0 <"$T/p0.t"
read -r c3 w3 <"$T/p012.t"
printf 'ratio lite0+lite1+lite2 / lite0: CPU %.2fx, wall %.2fx\n' "$(echo "$c3 / $c0" | bc -l)" \
    "$(echo "$w3 / $w0" | bc -l)"
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
