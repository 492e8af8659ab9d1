#!/usr/bin/env bash
# Fine-tune benchmark: `ordo train --learner finetune` against the anchor
# `ordo train --learner linear`, same project, same labels (every pool label
# of sports100's random_split.csv: 4,026), 2 cores.
#   bench/bench_finetune.sh [PROJECT]
# PROJECT: an ordo project holding every sports100 photo scanned with lite0
# (copied, never changed); without it one is made here (init + scan, a few
# minutes). Prints wall, CPU (user+sys) and peak RSS of each run, the ratio
# finetune / linear, the cache build (first fine-tune: decodes every image
# again), and the re-embedding rate with its estimate for 1M images.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
BIN=$PWD/$BUILD/ordo
DATA=${ORDO_DATA:-../shared}
SPORTS=$DATA/datasets/sports100
tmp=$(mktemp -d /tmp/ordo_bench_ft.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
echo "$(nproc) cores online, load $(cut -d' ' -f1-3 /proc/loadavg)"
if [ -n "${1:-}" ]; then
    cp -a "$1" "$tmp/p"
else
    mkdir "$tmp/p"
    "$BIN" init --model lite0 --precision fp32 "$tmp/p" >/dev/null
    /usr/bin/time -f "scan: %e s wall, %U+%S s CPU" "$BIN" scan --project "$tmp/p" --quiet "$SPORTS"
fi
/usr/bin/python3 - "$SPORTS" "$tmp/labels.csv" <<'EOF'
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1] + "/random_split.csv")) if r["split"] == "pool"]
with open(sys.argv[2], "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["path", "label"])
    for r in rows:
        w.writerow([sys.argv[1] + "/" + r["path"], r["label"]])
EOF
"$BIN" label --project "$tmp/p" --import "$tmp/labels.csv" >/dev/null
cp -a "$tmp/p" "$tmp/lin"
run() { # name, args...: prints "name: wall cpu rss" and keeps the JSON
    local name=$1; shift
    /usr/bin/time -f "%e %U %S %M" -o "$tmp/time" "$BIN" train --json "$@" > "$tmp/$name.json"
    read -r wall u s rss < "$tmp/time"
    echo "$name: $wall s wall, $(awk -v a="$u" -v b="$s" 'BEGIN{print a+b}') s CPU, peak RSS $((rss / 1024)) MB"
    eval "${name}_wall=$wall"
}
run linear --project "$tmp/lin" --learner linear
run finetune_first --project "$tmp/p" --learner finetune
run finetune --project "$tmp/p" --learner finetune
/usr/bin/python3 - "$tmp" <<'EOF'
import json, sys
t = sys.argv[1]
lin = json.load(open(t + "/linear.json"))
first = json.load(open(t + "/finetune_first.json"))["finetune"]
ft = json.load(open(t + "/finetune.json"))
f = ft["finetune"]
print("labels %d, classes %d" % (ft["labels"], ft["classes"]))
print("activation cache: %d images in %.1f s (first fine-tune only)" % (first["cache_filled"], first["cache_seconds"]))
print("fine-tune: %d epochs (held-out accuracy %.3f -> %.3f), %.1f s training" % (
    f["epochs"], f["heldout_accuracy"][0], f["heldout_accuracy"][1], f["train_seconds"]))
rate = f["reembedded"] / f["reembed_seconds"]
print("re-embedding: %d images in %.2f s = %.0f images/s -> 1M images ~%.0f s (estimate from this run)" % (
    f["reembedded"], f["reembed_seconds"], rate, 1e6 / rate))
EOF
echo "ratio finetune / linear wall: $(awk -v a="$finetune_wall" -v b="$linear_wall" 'BEGIN{printf "%.1f", a/b}')x (target: finetune <= 600 s)"
