#!/usr/bin/env bash
# bench_store.sh - store write throughput (target >= 20,000 images/s with
# embeddings, so storage never limits a scan) and read-back speed, with peak
# RSS per tenth of the writes (it must not grow with the number of images).
#   bench/bench_store.sh [N...]     (default: 100000 1000000)
# env: BUILD (default build), DURABLE=1 to also run with fdatasync per commit.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
make -s BUILD="$BUILD" "$BUILD/bench/bench_store"
echo "# bench_store, $(nproc) CPUs, load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for n in ${*:-100000 1000000}; do
    "$BUILD/bench/bench_store" "$n"
    [ -n "${DURABLE:-}" ] && "$BUILD/bench/bench_store" "$n" --durable
done
