#!/bin/sh
# tools/behaviour_snapshot.sh ORDO OUT - records what a refactoring must keep
# bit-identical (issue 12: "scan results, ordo next batches and ordo simulate
# curves are bit-identical before and after on sports100"):
#   scan: every column of images/files/meta (no wall-clock columns) and the
#         SHA-256 of the embedding and logit matrices' committed rows;
#   a 2-shard scan folded in by `ordo merge` (the store's slot protocol used
#         by dist), dumped the same way;
#   ordo next 300 cold; the batch labeled with the truth, next again, every
#         --uncertainty method, ordo train, next with the model, export, eval;
#   ordo simulate (1 seed, 3 rounds of 50, every strategy).
# Wall-clock fields (seconds, created, started...) are removed. Compare two
# snapshots with tools/behaviour_compare.sh A B.
# Takes a few minutes on 2 cores; run it under nice on a shared machine.
set -eu
ORDO=$(realpath "$1")
OUT=$2
DATA=$(realpath "${ORDO_DATA:-../shared}")/datasets/sports100
rm -rf "$OUT"
mkdir -p "$OUT"
OUT=$(realpath "$OUT")
P=$OUT/proj
mkdir -p "$P"

dump() { # project dir, output prefix
    db=$1/.ordo/ordo.db
    sqlite3 -quote "$db" "SELECT * FROM images ORDER BY id" > "$2.images.txt"
    sqlite3 -quote "$db" "SELECT id, hex(path), size, mtime_ns, hex(hash), image_id, state, error_kind,
                   error, seen_scan, scan_id FROM files ORDER BY id" > "$2.files.txt"
    sqlite3 -quote "$db" "SELECT key, value FROM meta WHERE key <> 'created' ORDER BY key" > "$2.meta.txt"
    slots=$(sqlite3 "$db" "SELECT value FROM meta WHERE key = 'next_slot'")
    # committed rows only: bytes past next_slot are unreferenced by design
    head -c $((slots * 1280 * 2)) "$1/.ordo/embed.f16" | sha256sum > "$2.matrices.txt"
    head -c $((slots * 1000 * 2)) "$1/.ordo/logits.f16" | sha256sum >> "$2.matrices.txt"
}
# drops wall-clock keys from JSON lines / objects
strip_json() {
    python3 -c '
import json, sys
DROP = {"seconds", "created", "elapsed", "time", "wall", "started", "finished", "t"}
def clean(o):
    if isinstance(o, dict):
        return {k: clean(v) for k, v in o.items() if k not in DROP and not k.endswith("_s")
                and not k.endswith("seconds")}
    if isinstance(o, list):
        return [clean(v) for v in o]
    return o
txt = sys.stdin.read()
try:
    print(json.dumps(clean(json.loads(txt)), sort_keys=True, indent=0))
except ValueError:
    for line in txt.splitlines():
        if line.strip():
            print(json.dumps(clean(json.loads(line)), sort_keys=True))
'
}

"$ORDO" init --model lite0 "$P" > /dev/null
nice "$ORDO" scan --project "$P" --threads 2 --quiet --no-sync "$DATA"
dump "$P" "$OUT/scan"

# sharded scan of the test folder, merged (dist's use of the store)
S=$OUT/sharded
mkdir -p "$S"
"$ORDO" init --model lite0 "$S" > /dev/null
nice "$ORDO" scan --project "$S" --threads 2 --quiet --no-sync --shard 0/2 "$DATA/test"
nice "$ORDO" scan --project "$S" --threads 2 --quiet --no-sync --shard 1/2 "$DATA/test"
"$ORDO" merge --project "$S" --quiet --no-sync
dump "$S" "$OUT/merged"

"$ORDO" next 300 --project "$P" --json | strip_json > "$OUT/next_cold.json"
# label the cold batch with the truth, as a user would
python3 - "$OUT/next_cold.json" "$DATA" "$OUT/batch.csv" <<'EOF'
import csv, json, os, sys
truth = {}
for r in csv.DictReader(open(os.path.join(sys.argv[2], "labels.csv"))):
    truth[os.path.realpath(os.path.join(sys.argv[2], r["path"]))] = r["label"]
with open(sys.argv[3], "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["path", "label"])
    for line in open(sys.argv[1]):
        p = os.path.realpath(json.loads(line)["path"])
        w.writerow([p, truth[p]])
EOF
"$ORDO" label --project "$P" --import "$OUT/batch.csv" --annotator snap > /dev/null
"$ORDO" labels --project "$P" | sed "s/^[^ ]* //" > "$OUT/labels.txt"   # minus the time
"$ORDO" next 300 --project "$P" --json | strip_json > "$OUT/next_labeled.json"
for u in auto margin least-confidence ratio entropy hier; do
    "$ORDO" next 100 --project "$P" --json --uncertainty $u --seed 7 | strip_json > "$OUT/next_u_$u.json"
done
"$ORDO" train --project "$P" --json | strip_json > "$OUT/train.json"
"$ORDO" next 300 --project "$P" --json | strip_json > "$OUT/next_trained.json"
"$ORDO" next 100 --project "$P" --json --mix uncertain=1 | strip_json > "$OUT/next_trained_uncertain.json"
"$ORDO" export --project "$P" --csv > "$OUT/export.csv"
"$ORDO" eval --project "$P" --json | strip_json > "$OUT/eval.json"

nice "$ORDO" simulate --project "$P" --truth "$DATA/labels.csv" --seeds 1 --rounds 3 \
    --batch 50 --eval 200 --threads 2 --json --csv "$OUT/simulate.csv" | strip_json > "$OUT/simulate.json"
echo "snapshot in $OUT"
