#!/usr/bin/env bash
# test_learn_cli.sh - end-to-end tests of ordo label / labels / train / eval /
# export / simulate on a small real project (6 sports100 classes x 15 pool
# photos + 3 test photos each), and crash safety: 24 SIGKILLs during label
# writes and training, after which every acknowledged label is present, the
# newest model loads and PRAGMA integrity_check is ok.
# Needs $ORDO_BIN, the model weights and $ORDO_DATA.
set -u
PY=${ORDO_PYTHON:-/usr/bin/python3}
. "$(dirname "$0")/lib.sh"
need_command train
need_data pool
T=$(mktemp -d /tmp/ordo_test_learn.XXXXXX)
trap 'rm -rf "$T"' EXIT
q() { sqlite3 -cmd ".timeout 10000" "$P/.ordo/ordo.db" "$1"; }
P=$T/proj
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

# --- labels -------------------------------------------------------------------
A="$T/imgs/pool/archery/$(ls "$T/imgs/pool/archery" | head -n 1)"
check "label one image" "$BIN" label "$A" archery --annotator ann1 --reason manual
check "unknown path refused" bash -c "! '$BIN' label '$T/nope.jpg' archery 2>/dev/null"
check "empty label refused" bash -c "! '$BIN' label '$A' '' 2>/dev/null"
check "control characters refused" bash -c "! '$BIN' label '$A' \$'a\\nb' 2>/dev/null"
# import: relative paths from the CSV's folder, a header, every pool image
"$PY" - "$T/imgs/labels.csv" "$T/imp.csv" <<'EOF'
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["split"] == "pool"]
with open(sys.argv[2], "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["path", "label"])
    for r in rows[1:]:
        w.writerow(["imgs/" + r["path"], r["label"]])
EOF
check "import labels" "$BIN" label --import "$T/imp.csv"
check "90 labeled images" [ "$("$BIN" labels --csv | tail -n +2 | wc -l)" = 90 ]
"$BIN" label "$A" bowling >/dev/null
"$BIN" label "$A" archery >/dev/null
check "current label is the newest event" \
    [ "$("$BIN" labels --csv | grep -F "$A" | cut -d, -f3)" = archery ]
check "history keeps every event" [ "$("$BIN" labels --history --csv | grep -cF "$A")" = 3 ]
check "bad import is all or nothing" bash -c "printf 'path,label\n%s,x\n/nope.jpg,y\n' '$A' > '$T/bad.csv'; \
    n=\$(sqlite3 '$P/.ordo/ordo.db' 'SELECT count(*) FROM labels'); ! '$BIN' label --import '$T/bad.csv' 2>/dev/null && \
    [ \"\$(sqlite3 '$P/.ordo/ordo.db' 'SELECT count(*) FROM labels')\" = \"\$n\" ]"

# --- train / eval ---------------------------------------------------------------
out=$("$BIN" train --json 2>&1)
check "train without an eval sample" "$PY" -c "import json,sys; d=json.loads(sys.argv[1]); \
    assert d['classes']==6 and d['labels']==90 and d['eval']['n']==0, d" "$out"
check "eval without labeled eval images warns" bash -c "'$BIN' eval | grep -q warning"
# draw the evaluation sample (ordo next), label it, retrain: evaluation on it only
"$BIN" next 20 --mix eval=1 --csv > "$T/next.csv" 2>/dev/null
check "next drew an evaluation sample" [ "$(q 'SELECT count(*) FROM rank_eval')" -gt 0 ]
"$PY" - "$T/next.csv" "$T/ev.csv" <<'EOF'
import csv, os, sys
with open(sys.argv[2], "w", newline="") as f:
    w = csv.writer(f)
    for r in csv.DictReader(open(sys.argv[1])):
        w.writerow([r["path"], os.path.basename(os.path.dirname(r["path"]))])
EOF
"$BIN" label --import "$T/ev.csv" >/dev/null
nev=$(q "SELECT count(DISTINCT image_id) FROM labels WHERE image_id IN (SELECT image_id FROM rank_eval)")
ntr=$(q "SELECT count(DISTINCT image_id) FROM labels WHERE image_id NOT IN (SELECT image_id FROM rank_eval)")
out=$("$BIN" train --json 2>&1)
# (training labels that near-duplicate an evaluation image are kept out: leaks)
check "train skips the evaluation sample and its leaks, eval uses only it" "$PY" -c "import json,sys; d=json.loads(sys.argv[1]); \
    assert d['labels']+d['leaks']==int(sys.argv[3]) and d['eval']['n']==int(sys.argv[2]) > 0, (d, sys.argv[2:])" "$out" "$nev" "$ntr"
out=$("$BIN" eval --json)
check "eval json: accuracy inside its Wilson interval, history of 2" "$PY" -c "import json,sys; d=json.loads(sys.argv[1]); \
    assert d['n']>0 and d['accuracy_ci'][0]<=d['accuracy']<=d['accuracy_ci'][1], d; \
    assert d['macro_f1_ci'][0]<=d['macro_f1']<=d['macro_f1_ci'][1]; assert len(d['history'])==2; \
    assert d['accuracy']>0.5, d['accuracy']" "$out"
check "model versions kept" [ "$(q "SELECT count(*) FROM learn_models WHERE kind='classifier'")" = 2 ]

# --- learners and the stopping criterion --------------------------------------------
check "train: unknown learner refused" bash -c "'$BIN' train --learner mlp 2>&1 >/dev/null | grep -q 'unknown learner'; [ \${PIPESTATUS[0]} = 2 ]"
out=$("$BIN" train --learner linear --json 2>&1)
check "train --learner linear records it" "$PY" -c "import json,sys; assert json.loads(sys.argv[1])['learner']=='linear'" "$out"
check "learn_models records each version's learner" \
    [ "$(q "SELECT group_concat(learner) FROM learn_models WHERE kind='classifier'")" = "propagate,propagate,linear" ]
out=$("$BIN" eval --json)
check "eval: kappa between successive versions, stability summary" "$PY" -c "import json,sys; d=json.loads(sys.argv[1]); \
    h=d['history']; assert h[0]['kappa_to_previous'] is None and all(-1<=x['kappa_to_previous']<=1 for x in h[1:]), h; \
    assert [x['learner'] for x in h]==['propagate','propagate','linear']; \
    st=d['stability']; assert st['pairs']==2 and st['sample']==108 and st['stop'] in (True, False), st" "$out"
check "eval text shows the stability line" bash -c "'$BIN' eval | grep -q '^stability: mean kappa'"

# --- export -------------------------------------------------------------------------
check "export: a row per image" [ "$("$BIN" export | tail -n +2 | wc -l)" = 108 ]
check "export --jsonl parses" bash -c "'$BIN' export --jsonl | '$PY' -c 'import json,sys; [json.loads(l) for l in sys.stdin]'"
"$BIN" export --tree "$T/tree" >/dev/null 2>&1
nl=$("$BIN" labels --csv | tail -n +2 | wc -l)
check "export --tree links every labeled image" [ "$(find "$T/tree" -type l | wc -l)" = "$nl" ]
check "export --tree refuses an existing folder" bash -c "! '$BIN' export --tree '$T/tree' >/dev/null 2>&1"

# --- simulate -----------------------------------------------------------------------
out=$("$BIN" simulate --truth "$T/imgs/labels.csv" --strategies random,margin,most-confident \
      --seeds 2 --rounds 3 --batch 10 --eval 20 --threads 2 --json --plot "$T/s.svg" --csv "$T/s.csv")
check "simulate json has every strategy and curve" "$PY" -c "import json,sys; d=json.loads(sys.argv[1]); \
    s=d['strategies']; assert set(s)=={'random','margin','most-confident'}; \
    assert all(len(v['curve'])==3 and v['curve'][0]['labels']==10 for v in s.values()); \
    assert d['measured_on']=='test' and d['test']==18; \
    assert s['random']['labels_to_match_random'] is not None" "$out"
check "simulate writes the SVG plot" grep -q "<polyline" "$T/s.svg"
check "simulate csv: strategies x seeds x rounds rows" [ "$(tail -n +2 "$T/s.csv" | wc -l)" = 18 ]
out2=$("$BIN" simulate --truth "$T/imgs/labels.csv" --strategies random,margin,most-confident \
      --seeds 2 --rounds 3 --batch 10 --eval 20 --threads 1 --json)
check "simulate is deterministic (threads 2 vs 1)" [ "$out" = "$out2" ]
out5=$("$BIN" simulate --truth "$T/imgs/labels.csv" --strategies random --learners linear,propagate \
      --seeds 2 --rounds 4 --batch 10 --eval 20 --json)
check "simulate --learners: a curve per strategy x learner, linear's the same as without" "$PY" -c "import json,sys; \
    a=json.loads(sys.argv[1])['strategies']; b=json.loads(sys.argv[2])['strategies']; \
    assert set(a)=={'random/linear','random/propagate'}, a.keys(); \
    assert a['random/linear']['curve'][:3]==b['random']['curve'], 'linear changed'; \
    assert a['random/linear']['curve'][0]['kappa_mean'] is None and a['random/linear']['curve'][1]['kappa_mean'] is not None; \
    assert 'stop' in a['random/propagate']" "$out5" "$out"
check "simulate: unknown learner refused" bash -c "! '$BIN' simulate --truth '$T/imgs/labels.csv' --learners nope 2>/dev/null"
# a strategy's curve follows its name, not its place in the list; --seed
# starts another series of seeds (another evaluation sample)
out3=$("$BIN" simulate --truth "$T/imgs/labels.csv" --strategies most-confident,random \
      --seeds 2 --rounds 3 --batch 10 --eval 20 --json)
out4=$("$BIN" simulate --truth "$T/imgs/labels.csv" --strategies random,most-confident \
      --seeds 2 --rounds 3 --batch 10 --eval 20 --seed 9 --json)
check "simulate: the same curve wherever a strategy is listed; --seed S changes it" "$PY" -c "import json,sys; \
    a,b,c=(json.loads(x)['strategies'] for x in sys.argv[1:4]); \
    assert a['random']['curve']==c['random']['curve'], 'random moved with its place'; \
    assert a['most-confident']['curve']==c['most-confident']['curve']; \
    assert b['random']['curve']!=a['random']['curve'], '--seed 9 gave the same random curve'" \
    "$out" "$out4" "$out3"

# --- crash safety -------------------------------------------------------------------
kills=0 lost=0
export BIN T
for round in $(seq 1 16); do
    : > "$T/ack"
    # its own process group, so one kill takes the loop and its ordo child
    setsid bash -c '
        mapfile -t IMGS < <(find "$T/imgs/pool" -name "*.jpg" | sort)
        for j in $(seq 1 200); do
            f=${IMGS[$(( ('"$round"' * 7 + j) % ${#IMGS[@]} ))]}
            "$BIN" label "$f" "crash-'"$round"'-$j" >/dev/null 2>&1 && echo "$f|crash-'"$round"'-$j" >> "$T/ack"
        done' 2>/dev/null &
    pid=$!
    sleep "0.$((RANDOM % 9 + 1))"
    kill -KILL -- "-$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    kills=$((kills + 1))
    while IFS='|' read -r f l; do
        [ "$(q "SELECT count(*) FROM labels WHERE label = '$l'")" = 1 ] || lost=$((lost + 1))
    done < "$T/ack"
done
for round in $(seq 1 8); do
    "$BIN" train >/dev/null 2>&1 &
    pid=$!
    sleep "0.$((RANDOM % 30 + 1))" # a training run here takes about 0.1-1 s
    kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
    kills=$((kills + 1))
done
check "no acknowledged label lost over $kills SIGKILLs" [ "$lost" = 0 ]
check "integrity_check after the kills" [ "$(q 'PRAGMA integrity_check')" = ok ]
check "the newest model still loads" "$BIN" eval --json
summary
