#!/usr/bin/env bash
# test_finetune_cli.sh - `ordo train --learner finetune` and `ordo simulate
# --learners finetune` end to end on a small real project (6 sports100
# classes x 15 pool photos + 3 test photos each): the activation cache is
# built once and reused, the version records the learner, every image is
# re-embedded through the store, and a project whose photos are gone gets a
# clear message. Needs $ORDO_BIN, the model weights and $ORDO_DATA.
set -u
PY=${ORDO_PYTHON:-/usr/bin/python3}
. "$(dirname "$0")/lib.sh"
need_command train
need_data pool
T=$(mktemp -d /tmp/ordo_test_ft.XXXXXX)
trap 'rm -rf "$T"' EXIT
P=$T/proj
q() { sqlite3 -cmd ".timeout 10000" "$P/.ordo/ordo.db" "$1"; }
mkdir -p "$P" "$T/imgs"
CLASSES=("archery" "bowling" "curling" "fencing" "rowing" "surfing")
for c in "${CLASSES[@]}"; do
    mkdir -p "$T/imgs/pool/$c" "$T/imgs/test/$c"
    ls "$SPORTS/pool/$c" | head -n 15 | while read -r f; do cp "$SPORTS/pool/$c/$f" "$T/imgs/pool/$c/"; done
    ls "$SPORTS/test/$c" | head -n 3 | while read -r f; do cp "$SPORTS/test/$c/$f" "$T/imgs/test/$c/"; done
done
{ echo "path,label,split"
  for s in pool test; do for c in "${CLASSES[@]}"; do
      for f in "$T/imgs/$s/$c"/*; do echo "$s/$c/$(basename "$f"),$c,$s"; done; done; done
} > "$T/imgs/labels.csv"
"$BIN" init --model lite0 "$P" >/dev/null 2>&1 && "$BIN" scan --project "$P" --quiet "$T/imgs" >/dev/null 2>&1
check "scan of the small set" [ "$(q 'SELECT count(*) FROM images')" = 108 ]
export ORDO_PROJECT=$P
cp -a "$P" "$T/copy"          # for the bad-input case below
{ echo "path,label"; grep ',pool$' "$T/imgs/labels.csv" | cut -d, -f1,2 | sed 's|^|imgs/|'; } > "$T/imp.csv"
check "import labels" "$BIN" label --import "$T/imp.csv"

emb0=$(md5sum < "$P/.ordo/embed.f16")
out=$("$BIN" train --learner finetune --json 2>"$T/err")
check "train --learner finetune: json with the fine-tune's figures" "$PY" -c "import json,sys; d=json.loads(sys.argv[1]); \
    assert d['learner']=='finetune' and d['labels']==90 and d['classes']==6, d; f=d['finetune']; \
    assert f['cache_filled']==108 and f['reembedded']==108 and f['epochs']>=0, f" "$out"
check "the version records the finetune learner" \
    [ "$(q "SELECT learner FROM learn_models WHERE kind='classifier' ORDER BY id DESC LIMIT 1")" = finetune ]
check "the cache lists every image" [ "$(q 'SELECT count(*) FROM cut_rows')" = 108 ]
check "the cache is 49 x 320 half floats an image" \
    [ "$(stat -c %s "$P/.ordo/cut.f16")" = $((108 * 49 * 320 * 2)) ]
check "the embeddings were rewritten (adapted features)" [ "$(md5sum < "$P/.ordo/embed.f16")" != "$emb0" ]
out=$("$BIN" train --learner finetune --json 2>/dev/null)
check "a second fine-tune reuses the cache" "$PY" -c "import json,sys; f=json.loads(sys.argv[1])['finetune']; \
    assert f['cache_filled']==0 and f['reembedded']==108, f" "$out"
check "ranking works on the adapted features" bash -c "'$BIN' next 5 --csv | tail -n +2 | wc -l | grep -qx 5"
check "text output names the fine-tune" bash -c "'$BIN' train --learner finetune | grep -q '^fine-tuned the head'"

out=$("$BIN" simulate --truth "$T/imgs/labels.csv" --strategies random --learners linear,finetune \
      --seeds 1 --rounds 2 --batch 20 --eval 20 --threads 1 --json 2>/dev/null)
check "simulate --learners linear,finetune" "$PY" -c "import json,sys; s=json.loads(sys.argv[1])['strategies']; \
    assert set(s)=={'random/linear','random/finetune'}, s; \
    assert all(len(v['curve'])==2 and 0<=v['curve'][-1]['accuracy_mean']<=1 for v in s.values())" "$out"
check "simulate: unknown learner refused" bash -c "'$BIN' simulate --truth '$T/imgs/labels.csv' --eval 20 --learners mlp 2>&1 | grep -q 'unknown learner'"

# bad input: labeled photos are gone before the cache was ever built
export ORDO_PROJECT=$T/copy
"$BIN" label --import "$T/imp.csv" >/dev/null 2>&1
rm -rf "$T/imgs/pool/archery"
out=$("$BIN" train --learner finetune 2>&1); rc=$?
check "photos gone: a clear message" bash -c "[ $rc = 1 ] && echo \"\$1\" | grep -q '15 of 90 images have no cached activations'" _ "$out"
check "photos gone: no finetune version stored" \
    [ "$(sqlite3 "$T/copy/.ordo/ordo.db" "SELECT count(*) FROM learn_models WHERE learner='finetune'" 2>/dev/null || echo 0)" = 0 ]
summary
