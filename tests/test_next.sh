#!/usr/bin/env bash
# test_next.sh - `ordo next` and `ordo order` end to end on real photos:
# a project of 4 photos from each of 30 sports100 classes (120 images).
#   * next 40: 40 distinct images in the default mix's cold start (no labels:
#     eval 6, uncertain 2, novel 2, diverse 30), valid CSV and JSON; a fixed --mix with
#     every reason gives each its share (eval 6, uncertain 14, novel 2,
#     diverse 18);
#   * same seed = same batch; the evaluation sample is stored once
#     (rank_eval) and the eval picks are members of it;
#   * labeled images never come back; asking for more than the pool returns
#     every unlabeled image once;
#   * bad options fail with a message; `ordo order DIR` ranks a folder;
#   * after labels and `ordo train`, the newest model ranks the pool (model-N,
#     its labels and probabilities as `ordo export` reports them, the learned
#     sports filter as the prior).
# Needs $ORDO_BIN, the model weights and $ORDO_DATA.
set -u
PY=${ORDO_PYTHON:-/usr/bin/python3}
. "$(dirname "$0")/lib.sh"
need_command next
need_data pool
T=$(mktemp -d /tmp/ordo_test_next.XXXXXX)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/photos"
n=0
while IFS= read -r d; do
    n=$((n + 1)); [ $n -gt 30 ] && break
    mkdir -p "$T/photos/$(basename "$d")"
    find "$d" -maxdepth 1 -name '*.jpg' -print0 | sort -z | head -z -n 4 | xargs -0 cp -t "$T/photos/$(basename "$d")/"
done < <(find "$SPORTS/pool" -mindepth 1 -maxdepth 1 -type d | sort)
P=$T/proj
mkdir -p "$P"
if ! "$BIN" init --model lite0 "$P" >/dev/null 2>"$T/err" || ! "$BIN" scan --project "$P" --quiet "$T/photos" 2>>"$T/err"; then
    if grep -qi "weights" "$T/err"; then skp all "model weights missing: $(head -n 1 "$T/err")"; summary; fi
    bad scan "$(head -n 3 "$T/err")"; summary
fi
q() { sqlite3 "$P/.ordo/ordo.db" "$1"; }

# a +-20 % evaluation sample (21 of 120) leaves room for the other reasons
"$BIN" next 40 --project "$P" --eval-width 0.2 > "$T/a.csv" 2>"$T/err"; rc=$?
check "next exits 0" [ $rc -eq 0 ]
"$BIN" next 40 --project "$P" > "$T/b.csv"
"$BIN" next 40 --project "$P" --seed 9 > "$T/c.csv"
"$BIN" next 40 --project "$P" --json > "$T/a.json"
check "same seed, same batch" cmp -s "$T/a.csv" "$T/b.csv"
check "another seed, another batch" bash -c "! cmp -s '$T/a.csv' '$T/c.csv'"
$PY - "$T/a.csv" "$T/a.json" > "$T/py.out" 2>&1 <<'PYEOF'
import csv, json, sys, collections
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
assert rows and list(rows[0].keys())[:6] == ["position", "path", "reason", "score", "top_class", "top_prob"], rows[0].keys()
assert len(rows) == 40, len(rows)
assert len({r["path"] for r in rows}) == 40, "repeats"
assert [int(r["position"]) for r in rows] == list(range(1, 41))
c = collections.Counter(r["reason"] for r in rows)
assert c == {"eval": 6, "uncertain": 2, "novel": 2, "diverse": 30}, c
js = [json.loads(l) for l in open(sys.argv[2])]
assert [j["path"] for j in js] == [r["path"] for r in rows]
need = {"least-confidence", "margin", "ratio", "entropy", "hier", "uncertain", "outlier",
        "energy", "nn_dist", "novel", "typicality", "kcenter_dist", "prior"}
assert all(need <= set(j["scores"]) for j in js)
assert all(0 <= j["scores"]["margin"] <= 1 for j in js)
assert all(j["model"] == "imagenet" for j in js) and all(r["model"] == "imagenet" for r in rows)
print("ok")
PYEOF
check "CSV/JSON columns, 40 distinct, default mix" grep -qx ok "$T/py.out"
[ -s "$T/py.out" ] && ! grep -qx ok "$T/py.out" && cat "$T/py.out"
"$BIN" next 40 --project "$P" --mix eval=0.15,uncertain=0.35,novel=0.05,diverse=0.45 > "$T/fixed.csv"
fixed=$(awk -F, 'NR > 1 {print $3}' "$T/fixed.csv" | sort | uniq -c | awk '{printf "%s=%s ", $2, $1}')
check "fixed --mix: every reason gets its share ($fixed)" \
    [ "$fixed" = "diverse=18 eval=6 novel=2 uncertain=14 " ]
m=$(q "SELECT count(*) FROM rank_eval")
check "eval sample stored ($m rows)" [ "${m:-0}" -gt 0 ]
ids=$(awk -F, '$3 == "eval" {print $(NF-2)}' "$T/a.csv" | paste -sd, -)
inside=$(q "SELECT count(*) FROM rank_eval WHERE image_id IN ($ids)")
check "eval picks are sample members" [ "$inside" = 6 ]
"$BIN" next 40 --project "$P" --seed 5 >/dev/null
check "eval sample fixed across runs" [ "$(q 'SELECT count(*) FROM rank_eval')" = "$m" ]

"$BIN" next 60 --project "$P" --mix uncertain=1,diverse=1 > "$T/noeval.csv"
ev_ids=$(q "SELECT image_id FROM rank_eval" | paste -sd' ' -)
taken=0
for id in $(tail -n +2 "$T/noeval.csv" | awk -F, '{print $(NF-2)}'); do
    case " $ev_ids " in *" $id "*) taken=$((taken + 1)) ;; esac
done
check "a batch without eval share never takes sample images" [ $taken = 0 ]

# label the first 10 picks: none of them may come back
now=$(date +%s)
for id in $(tail -n +2 "$T/a.csv" | head -n 10 | awk -F, '{print $(NF-2)}'); do
    q "INSERT INTO labels(image_id,label,annotator,source,reason,created) VALUES($id,'x','t','cli','test',$now)"
done
"$BIN" next 1000 --project "$P" > "$T/all.csv"
total=$(q "SELECT count(*) FROM images")
got=$(($(wc -l < "$T/all.csv") - 1))
check "more than the pool: every unlabeled image once ($got of $total - 10)" [ "$got" = $((total - 10)) ]
dup=$(tail -n +2 "$T/all.csv" | awk -F, '{print $(NF-2)}' | sort | uniq -d | wc -l)
check "no repeats" [ "$dup" = 0 ]
back=0
for id in $(tail -n +2 "$T/a.csv" | head -n 10 | awk -F, '{print $(NF-2)}'); do
    tail -n +2 "$T/all.csv" | awk -F, '{print $(NF-2)}' | grep -qx "$id" && back=$((back + 1))
done
check "labeled images never return" [ $back = 0 ]

"$BIN" next 5 --project "$P" --mix bogus=1 >/dev/null 2>"$T/e1"; rc=$?
check "bad --mix fails with a message" bash -c "[ $rc -ne 0 ] && grep -q bogus '$T/e1'"
"$BIN" next 0 --project "$P" >/dev/null 2>&1; rc=$?
check "N=0 refused" [ $rc -ne 0 ]
"$BIN" next 5 --project "$T/nowhere" >/dev/null 2>&1; rc=$?
check "no project: fails" [ $rc -ne 0 ]

# --- once 'ordo train' has stored a model, it ranks the pool ----------------------
# Label the non-eval images with even ids by their folder (the true sport), 4 of
# them not-sports, train: 'ordo next' must then say model-N, name the customer's
# labels as top classes with the probabilities 'ordo export' reports for the
# newest model, use the learned sports filter as the prior, and rank its
# uncertain picks by that model's margin.
"$BIN" export --project "$P" > "$T/pre.csv"
q "SELECT image_id FROM rank_eval" > "$T/eval_ids"
$PY - "$T/pre.csv" "$T/eval_ids" "$T/lab.csv" <<'PYEOF'
import csv, os, sys
ev = {int(l) for l in open(sys.argv[2]) if l.strip()}
rows = [r for r in csv.DictReader(open(sys.argv[1], newline=""))
        if int(r["image_id"]) % 2 == 0 and int(r["image_id"]) not in ev]
with open(sys.argv[3], "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["path", "label"])
    for i, r in enumerate(rows):
        w.writerow([r["path"], "not-sports" if i % 12 == 5 else os.path.basename(os.path.dirname(r["path"]))])
PYEOF
"$BIN" label --project "$P" --import "$T/lab.csv" >/dev/null 2>"$T/err"
check "labels imported" [ $? -eq 0 ]
"$BIN" train --project "$P" > "$T/train.out" 2>&1
check "train stores a classifier and a sports filter" \
    [ "$(q "SELECT count(DISTINCT kind) FROM learn_models")" = 2 ]
mid=$(q "SELECT max(id) FROM learn_models WHERE kind='classifier'")
check "the sports filter is fitted on top of the zero-shot prior" \
    [ "$(q "SELECT learner FROM learn_models WHERE kind='sports' ORDER BY id DESC LIMIT 1")" = prior+linear ]
"$BIN" next 30 --project "$P" --json > "$T/m1.json"
"$BIN" next 30 --project "$P" --json > "$T/m2.json"
"$BIN" next 30 --project "$P" > "$T/m.csv"
"$BIN" export --project "$P" > "$T/post.csv"
q "SELECT DISTINCT label FROM labels WHERE label <> 'not-sports'" > "$T/labels"
check "with a model: same seed, same batch" cmp -s "$T/m1.json" "$T/m2.json"
$PY - "$T/m1.json" "$T/m.csv" "$T/post.csv" "$T/labels" "model-$mid" > "$T/py2.out" 2>&1 <<'PYEOF'
import csv, json, sys, collections
js = [json.loads(l) for l in open(sys.argv[1])]
rows = list(csv.DictReader(open(sys.argv[2], newline="")))
exp = {int(r["image_id"]): r for r in csv.DictReader(open(sys.argv[3], newline=""))}
labels = {l.rstrip("\n") for l in open(sys.argv[4])}
want = sys.argv[5]
assert len(js) == 30 and len(rows) == 30, (len(js), len(rows))
assert all(j["model"] == want for j in js), {j["model"] for j in js}
assert all(r["model"] == want for r in rows)
assert all(j["top_class"] in labels for j in js), [j["top_class"] for j in js if j["top_class"] not in labels]
for j in js:
    e = exp[j["image_id"]]
    assert e["predicted"] == j["top_class"], (j, e)
    assert abs(float(e["probability"]) - j["top_prob"]) < 1e-4, (j, e)
    assert e["not_sports"] != "" and abs(float(e["not_sports"]) - (1 - j["scores"]["prior"])) < 1e-4, (j, e)
    assert j["wnid"] == "" and j["scores"]["hier"] is None, j
    s = j["scores"]
    if j["reason"] == "uncertain":   # margin of the model's rows x relevance weight
        assert abs(s["uncertain"] - s["margin"] * (0.1 + 0.9 * s["prior"])) < 1e-4, j
    assert s["energy"] is not None and s["outlier"] is not None, j   # ImageNet's novelty stays
    assert isinstance(j["boundary"], bool) and not (j["boundary"] and j["low_prior"]), j
    if j["boundary"]:   # the learned filter's boundary share
        assert abs(s["prior"] - 0.5) < 0.4, j
c = collections.Counter(j["reason"] for j in js)
assert c["uncertain"] > 0, c
print("ok")
PYEOF
check "next ranks with model-$mid: its labels, probabilities, sports filter, margin" grep -qx ok "$T/py2.out"
[ -s "$T/py2.out" ] && ! grep -qx ok "$T/py2.out" && cat "$T/py2.out" "$T/train.out"

mkdir -p "$T/dir"
i=0
while IFS= read -r -d '' f; do i=$((i + 1)); cp "$f" "$T/dir/img$i.jpg"; done \
    < <(find "$T/photos" -name '*.jpg' -print0 | sort -z | head -z -n 12)
"$BIN" order "$T/dir" > "$T/order.csv" 2>"$T/err"; rc=$?
nimg=$(find "$T/dir" -maxdepth 1 -name '*.jpg' | wc -l)
check "order DIR ranks every image ($nimg)" bash -c "[ $rc -eq 0 ] && [ \$((\$(wc -l < '$T/order.csv') - 1)) -eq $nimg ]"
summary
