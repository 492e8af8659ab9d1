#!/usr/bin/env bash
# bench_scan.sh - end-to-end `ordo scan` throughput against the network
# alone (same model, threads and batch; real sports100 photos), side by side
# in one run, interleaved so both see the same machine load. Target: scan >=
# 90 % of the network-only images/s (decoding, hashing and storage hidden
# behind inference). Also peak RSS of scans of 1,000 and 4,989 images (it
# must not grow with the number of images) and a rescan with nothing new.
# On a shared machine wall time includes waiting for cores, so images per
# CPU-second (user + system) is printed as well.
#   bench/bench_scan.sh
# env: BUILD (default build), ORDO_BIN (default $BUILD/ordo), MODEL (lite0),
#      THREADS (2), BATCH (16), SECS (network-only seconds, 20), ROUNDS
#      (interleaved network / scan pairs, 3), ORDO_DATA.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
BIN=${ORDO_BIN:-$BUILD/ordo}
MODEL=${MODEL:-lite0}
PRECISION=${PRECISION:-fp32}   # the network-alone figure is fp32's: the scan in the same precision
THREADS=${THREADS:-2}
BATCH=${BATCH:-16}
SECS=${SECS:-20}
ROUNDS=${ROUNDS:-3}
DATA=${ORDO_DATA:-$(cd .. && pwd)/shared}
SPORTS=$DATA/datasets/sports100
make -s BUILD="$BUILD" "$BUILD/bench/bench_scan"
T=$(mktemp -d /tmp/ordo_bench_scan.XXXXXX)
trap 'rm -rf "$T"' EXIT
mapfile -t imgs < <(find "$SPORTS/pool" -name '*.jpg' | sort)
mkdir -p "$T/sub1000"
for ((i = 0; i < 1000; i++)); do cp "${imgs[$((i * 3))]}" "$T/sub1000/$i.jpg"; done

echo "# bench_scan: $MODEL, $THREADS threads, batch $BATCH, $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
net() {
    "$BUILD/bench/bench_scan" "$MODEL" "$THREADS" "$BATCH" "$SECS" "${imgs[@]:0:64}" | tee -a "$T/net.txt"
}
scan() {   # label, n, path..., prints images/s and peak RSS
    local label=$1 n=$2; shift 2
    rm -rf "$T/p"; mkdir "$T/p"; "$BIN" init --model "$MODEL" --precision "$PRECISION" "$T/p" >/dev/null
    /usr/bin/time -f "%e %U %S %M" -o "$T/time" "$BIN" scan --project "$T/p" --quiet \
        --threads "$THREADS" --batch "$BATCH" "$@"
    read -r e u s m <"$T/time"
    echo "$e $u $s" >>"$T/scan.txt"
    printf 'scan %-10s %5d images: %.1f images/s wall, %.1f images per CPU-second, %.1f s, peak RSS %d MB\n' \
        "$label" "$n" "$(echo "$n / $e" | bc -l)" "$(echo "$n / ($u + $s)" | bc -l)" "$e" $((m / 1024))
}
# ROUNDS interleaved (network alone, full scan) pairs: a shared machine's
# noise moves single runs by +-10 %, so the ratio is of the medians (and of
# the best runs, the machine's capability when nothing interferes).
: >"$T/net.txt"
scan sub1000 1000 "$T/sub1000"   # for its peak RSS only
: >"$T/scan.txt"
for ((r = 1; r <= ROUNDS; r++)); do
    net
    scan sports100 4989 "$SPORTS"
done
/usr/bin/time -f "%e %M" -o "$T/time" "$BIN" scan --project "$T/p" --quiet "$SPORTS"
read -r e m <"$T/time"
printf 'rescan     4989 images, nothing new: %.2f s, peak RSS %d MB\n' "$e" $((m / 1024))
# columns: images/s wall, images per CPU-second
awk '/^net/ {print $7, $10}' "$T/net.txt" >"$T/net.col"
awk '{print 4989 / $1, 4989 / ($2 + $3)}' "$T/scan.txt" >"$T/scan.col"
medbest() { # file column -> "median best"
    sort -g -k"$2","$2" "$1" | awk -v c="$2" '{v[NR] = $c} END {
        m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print m, v[NR]}'
}
read -r nwm nwb < <(medbest "$T/net.col" 1); read -r ncm ncb < <(medbest "$T/net.col" 2)
read -r swm swb < <(medbest "$T/scan.col" 1); read -r scm scb < <(medbest "$T/scan.col" 2)
printf 'net  (%d runs): median %.1f images/s wall, %.1f per CPU-second; best %.1f, %.1f\n' \
    "$ROUNDS" "$nwm" "$ncm" "$nwb" "$ncb"
printf 'scan (%d runs): median %.1f images/s wall, %.1f per CPU-second; best %.1f, %.1f\n' \
    "$ROUNDS" "$swm" "$scm" "$swb" "$scb"
printf 'ratio scan/net (sports100), medians: %.1f %% wall, %.1f %% per CPU-second (target >= 90 %%)\n' \
    "$(echo "100 * $swm / $nwm" | bc -l)" "$(echo "100 * $scm / $ncm" | bc -l)"
printf 'ratio scan/net (sports100), best runs: %.1f %% wall, %.1f %% per CPU-second\n' \
    "$(echo "100 * $swb / $nwb" | bc -l)" "$(echo "100 * $scb / $ncb" | bc -l)"
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
