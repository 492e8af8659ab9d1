#!/usr/bin/env bash
# `ordo train` time with the default learner (propagate) on 4,000 labels,
# against the anchor `ordo train --learner linear` on the same labels
# (issue 13: <= 60 s on 2 cores). Labels: every pool label of sports100's
# random_split.csv (4,026).
#   bench/bench_train_propagate.sh PROJECT
# PROJECT: an ordo project holding every sports100 photo (copied, never
# changed), e.g. one scanned with `ordo init --model lite0+lite1+lite2`.
# Three runs:
#   linear       the anchor, on PROJECT's 4,989 photos
#   propagate    the default learner, same photos (963 of them unlabeled)
#   propagate10k the default learner with its full unlabeled sample: PROJECT's
#                rows plus 10,000 jittered copies (a random photo's vector +
#                Gaussian noise of 0.25 x the per-dimension sd, ImageNet logits
#                copied; the files are byte-distinct copies so the import
#                hashes them apart), so the kNN graph covers 4,026 labeled +
#                10,000 unlabeled images, the learner's cap: the worst case
# Prints wall, CPU (user+sys) and peak RSS of each, and the ratios to linear.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
BIN=$PWD/$BUILD/ordo
DATA=${ORDO_DATA:-../shared}
SPORTS=$DATA/datasets/sports100
[ -n "${1:-}" ] || { echo "usage: $0 PROJECT" >&2; exit 2; }
tmp=$(mktemp -d /tmp/ordo_bench_prop.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
echo "$(nproc) cores online, load $(cut -d' ' -f1-3 /proc/loadavg)"
cp -a "$1" "$tmp/p"
rm -f "$tmp/p/.ordo/scan.lock"
/usr/bin/python3 - "$SPORTS" "$tmp/labels.csv" <<'EOF'
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1] + "/random_split.csv")) if r["split"] == "pool"]
with open(sys.argv[2], "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["path", "label"])
    for r in rows:
        w.writerow([sys.argv[1] + "/" + r["path"], r["label"]])
EOF
"$BIN" export --project "$tmp/p" --embeddings "$tmp/e" >/dev/null 2>&1
"$BIN" label --project "$tmp/p" --import "$tmp/labels.csv" >/dev/null
mkdir "$tmp/syn"
/usr/bin/python3 - "$tmp" <<'EOF'
import numpy as np, shutil, sys
t = sys.argv[1]
rng = np.random.default_rng(13)
E = np.load(t + "/e/embeddings.npy").astype(np.float32)
L = np.load(t + "/e/logits.npy").astype(np.float32)
paths = open(t + "/e/paths.txt").read().splitlines()
n = 10000
src = rng.integers(0, E.shape[0], n)
X = E[src] + rng.standard_normal((n, E.shape[1]), dtype=np.float32) * (0.25 * E.std(0))
out = []
for i, j in enumerate(src):
    p = "%s/syn/%05d.jpg" % (t, i)
    shutil.copyfile(paths[j], p)
    with open(p, "ab") as f:
        f.write(i.to_bytes(8, "little"))
    out.append(p)
np.save(t + "/big.npy", np.concatenate([E, X]).astype(np.float16))
np.save(t + "/big_logits.npy", np.concatenate([L, L[src]]))
open(t + "/big_paths.txt", "w").write("\n".join(paths + out) + "\n")
EOF
"$BIN" init "$tmp/big" >/dev/null
"$BIN" import embeddings "$tmp/big.npy" --paths "$tmp/big_paths.txt" --logits "$tmp/big_logits.npy" \
    --model bench-jitter --project "$tmp/big" >/dev/null
"$BIN" label --project "$tmp/big" --import "$tmp/labels.csv" >/dev/null
cp -a "$tmp/p" "$tmp/lin"
declare -A WALL CPU
run() { # name, args...: prints "name: wall cpu rss" and keeps the figures
    local name=$1; shift
    /usr/bin/time -f "%e %U %S %M" -o "$tmp/time" "$BIN" train --json "$@" > "$tmp/$name.json"
    read -r wall u s rss < "$tmp/time"
    cpu=$(awk -v a="$u" -v b="$s" 'BEGIN{print a+b}')
    echo "$name: $wall s wall, $cpu s CPU ($u user + $s sys), peak RSS $((rss / 1024)) MB"
    WALL[$name]=$wall
    CPU[$name]=$cpu
}
run linear --project "$tmp/lin" --learner linear
run propagate --project "$tmp/p" --learner propagate
run propagate10k --project "$tmp/big" --learner propagate
echo "labels 4026, dims $(/usr/bin/python3 -c "import numpy as np; print(np.load('$tmp/e/embeddings.npy', mmap_mode='r').shape[1])")"
for r in propagate propagate10k; do
    awk -v n="$r" -v w="${WALL[$r]}" -v c="${CPU[$r]}" -v lw="${WALL[linear]}" -v lc="${CPU[linear]}" \
        'BEGIN{printf "ratio %s / linear: %.2fx wall, %.2fx CPU (target: %s <= 60 s wall on 2 cores)\n", n, w / lw, c / lc, n}'
done
