#!/usr/bin/env bash
# test_import_wide.sh - a project whose vectors are wider than ordo's own and
# whose probabilities are over the imported model's own classes:
#   * 2048-d embeddings (ResNet-50's width) with probabilities over 22 sports
#     classes of the model's own import; the matrices are 2048 and 22 wide;
#     `ordo status` / `ordo next` / Label Studio export / the page's keys show
#     those class names (never ImageNet's), and the import is a scan record;
#   * next, train, next with the trained model, simulate, audit and the page
#     (next, grid, suggestions) run on it;
#   * export -> import into a fresh project with classes.txt gives the same
#     `ordo next` batch;
#   * a second class list (other names, other order, ImageNet's) is refused,
#     and malformed class lists (a name twice, an empty line, one name, a
#     control character, fewer names than columns, no probabilities) are
#     refused with nothing written.
# Needs $ORDO_BIN, numpy (python3-numpy), curl and $ORDO_DATA.
set -u
PY=${ORDO_PYTHON:-/usr/bin/python3}
. "$(dirname "$0")/lib.sh"
need_command import
if ! "$PY" -c 'import numpy' 2>/dev/null; then skp all "no numpy for $PY (./setup.sh --test installs it)"; summary; fi
IMGS=$DATA/datasets/imagenet-sample
if ! [ -d "$IMGS" ]; then skp all "no $IMGS (set ORDO_DATA)"; summary; fi
T=$(mktemp -d /tmp/ordo_test_wide.XXXXXX)
SV=
trap '[ -n "$SV" ] && kill $SV 2>/dev/null; rm -rf "$T"' EXIT
cd "$T"
find "$IMGS" -type f | sort | head -n 120 > paths.txt
n_img() { "$BIN" status --project "$1" | awk '/^images/ { print $2 }'; }

"$PY" - <<'EOF'
import numpy as np
rng = np.random.default_rng(11)
n, d, k = 120, 2048, 22
names = ["archery", "baseball", "basketball", "bowling", "boxing", "curling", "fencing",
         "football", "golf", "hockey", "judo", "polo", "rowing", "rugby", "sailing",
         "skiing", "surfing", "swimming", "tennis", "volleyball", "weightlifting", "wrestling"]
g = np.arange(n) % 4                          # 4 groups: clusters and labels
centres = rng.standard_normal((4, d)).astype(np.float32) * 2
e = centres[g] + rng.standard_normal((n, d)).astype(np.float32)
np.save("e.npy", e)
logit = rng.standard_normal((n, k)) ; logit[np.arange(n), g * 5] += 4
p = np.exp(logit); p /= p.sum(1, keepdims=True)
np.save("p.npy", p.astype(np.float32))
open("classes.txt", "w").write("\n".join(names) + "\n")
open("classes_reordered.txt", "w").write("\n".join(names[1:] + names[:1]) + "\n")
open("classes_other.txt", "w").write("\n".join(n_ + "x" for n_ in names) + "\n")
open("classes_dup.txt", "w").write("\n".join(names[:21] + ["golf"]) + "\n")
open("classes_empty_line.txt", "w").write("\n".join(names[:10] + [""] + names[11:]) + "\n")
open("classes_one.txt", "w").write("golf\n")
open("classes_ctrl.txt", "w").write("\n".join(names[:21] + ["ta\tb"]) + "\n")
open("classes_short.txt", "w").write("\n".join(names[:21]) + "\n")
paths = open("paths.txt").read().split("\n")[:n]
with open("labels.csv", "w") as f:
    for i in range(0, n, 3):
        f.write("%s,g%d\n" % (paths[i], g[i]))
with open("truth.csv", "w") as f:
    f.write("path,label\n")
    for i in range(n):
        f.write("%s,g%d\n" % (paths[i], g[i]))
EOF

# ---- malformed class lists: refused, nothing written ----------------------------
"$BIN" init w >/dev/null
refused() { # name, expected message part, import args...
    local name=$1 want=$2; shift 2
    if "$BIN" import embeddings "$@" --project w > out 2> err; then bad "$name" "accepted"; return; fi
    if ! grep -qi -- "$want" err; then bad "$name" "message: $(head -c 300 err)"; return; fi
    if [ "$(n_img w)" != "$EXPECT" ]; then bad "$name" "project changed: $(n_img w) images"; return; fi
    if [ "$EXPECT" = 0 ] && "$BIN" status --project w | grep -q '^model *[a-z]'; then
        bad "$name" "a model was recorded"; return; fi
    ok "$name refused: $(grep -v 'nothing was imported' err | head -n 1)"
}
EXPECT=0
A=(e.npy --paths paths.txt --probs p.npy --model resnet50-sports)
refused "class named twice" "line 22 repeats the class name of line 9" "${A[@]}" --classes classes_dup.txt
refused "empty class line" "line 11: empty class name" "${A[@]}" --classes classes_empty_line.txt
refused "one class" "at least 2" "${A[@]}" --classes classes_one.txt
refused "control character in a class" "class 22: a class name is" "${A[@]}" --classes classes_ctrl.txt
refused "fewer names than columns" "expected (120, 21)" "${A[@]}" --classes classes_short.txt
refused "classes without probabilities" "give --probs" e.npy --paths paths.txt --model resnet50-sports --classes classes.txt
refused "22 columns as ImageNet's" "name them with --classes" e.npy --paths paths.txt --probs p.npy --model resnet50-sports
refused "lite0 with own classes" "1280" "${A[@]}" --classes classes.txt --model lite0

# ---- the import -------------------------------------------------------------------
if "$BIN" import embeddings "${A[@]}" --classes classes.txt --project w > out 2> err && [ "$(n_img w)" = 120 ]; then
    ok "120 2048-d embeddings with 22 own classes imported: $(cat out)"
else bad "import" "$(cat err)"; fi
check "embedding matrix is 2048 half floats wide" [ "$(stat -c %s w/.ordo/embed.f16)" = $((120 * 2048 * 2)) ]
check "logit matrix is 22 half floats wide" [ "$(stat -c %s w/.ordo/logits.f16)" = $((120 * 22 * 2)) ]
"$BIN" status --project w > st.txt
check "status: the import is a scan record" grep -q '^last scan  [0-9].*(1 scans)' st.txt
check "status: top classes by the model's own names" grep -qE '^ +[0-9]+  (archery|curling|judo|skiing)$' st.txt
EXPECT=120
refused "another class order" "differ in names or order" "${A[@]}" --classes classes_reordered.txt
refused "other class names" "differ in names or order" "${A[@]}" --classes classes_other.txt
"$PY" -c "import numpy as np; p=np.full((120,1000),1e-3,np.float32); np.save('p1000.npy',p)"
refused "ImageNet probabilities into own classes" "over the model's own classes" e.npy --paths paths.txt --probs p1000.npy --model resnet50-sports
"$BIN" import embeddings "${A[@]}" --classes classes.txt --project w > out 2> err && [ "$(n_img w)" = 120 ] \
    && ok "the same class list again is accepted (same images)" || bad "same again" "$(cat err)"

# ---- ranking, learners, simulate, audit ----------------------------------------------
if "$BIN" next 20 --project w > next_w.csv 2> err && [ "$(wc -l < next_w.csv)" = 21 ]; then
    ok "ordo next ranks 2048-d vectors"
else bad "next" "$(cat err)"; fi
cols=$(tail -n +2 next_w.csv | cut -d, -f5 | sort -u | tr '\n' ' ')
"$PY" - "$cols" <<'EOF' && ok "next shows the model's own class names: $cols" || bad "next names" "$cols"
import sys
own = set(open("classes.txt").read().split())
got = set(sys.argv[1].split())
assert got and got <= own, got - own
EOF
check "next: no WordNet ids for own classes" bash -c "tail -n +2 next_w.csv | cut -d, -f9 | sort -u | grep -qx ''"
"$BIN" import labels --csv labels.csv --project w > out 2> err || bad "labels" "$(cat err)"
if "$BIN" train --project w > out 2> err; then ok "ordo train on 2048-d vectors: $(head -n 1 out)"
else bad "train" "$(cat err)"; fi
"$BIN" next 10 --project w 2>/dev/null | tail -n +2 | cut -d, -f5 | sort -u | grep -qE '^g[0-3]$' \
    && ok "the trained classifier ranks 2048-d vectors" || bad "next after train" "$("$BIN" next 3 --project w 2>&1)"
if "$BIN" simulate --truth truth.csv --rounds 2 --batch 10 --seeds 1 --eval 20 --threads 1 --l2 1 \
        --project w > sim.txt 2> err; then ok "ordo simulate on 2048-d vectors: $(grep -m1 -i 'random' sim.txt | head -c 100)"
else bad "simulate" "$(tail -n 3 err)"; fi
if "$BIN" audit --project w > audit.txt 2> err; then ok "ordo audit on 2048-d vectors: $(head -n 1 audit.txt | head -c 100)"
else bad "audit" "$(tail -n 3 err)"; fi

# ---- export -> import gives the same batch ------------------------------------------------
"$BIN" init v >/dev/null
if "$BIN" export --embeddings ex --project w 2> err && cmp -s ex/classes.txt classes.txt \
    && "$PY" -c "
import numpy as np
e = np.load('e.npy'); x = np.load('ex/embeddings.npy'); p = np.load('ex/probabilities.npy')
assert x.shape == (120, 2048) and (x == e.astype(np.float16)).all()
assert p.shape == (120, 22) and np.abs(p - np.load('p.npy')).max() < 2e-3
"; then ok "export: 2048-d embeddings, 22-class probabilities and classes.txt"
else bad "export" "$(cat err)"; fi
"$BIN" init w2 >/dev/null
"$BIN" import embeddings ex/embeddings.npy --paths ex/paths.txt --logits ex/logits.npy \
    --classes ex/classes.txt --model resnet50-sports --project w2 > out 2> err || bad "re-import" "$(cat err)"
"$BIN" init w0 >/dev/null
"$BIN" import embeddings "${A[@]}" --classes classes.txt --project w0 > /dev/null 2>&1
"$BIN" next 20 --project w0 > a.csv 2>/dev/null; "$BIN" next 20 --project w2 > b.csv 2>/dev/null
check "exported and re-imported: the same next batch" cmp -s a.csv b.csv

# ---- Label Studio pre-annotations and the page --------------------------------------------
"$BIN" export --label-studio --project w0 2>/dev/null | grep -q '"model_version":"resnet50-sports","score":[0-9.]*,"result":\[{[^]]*"choices":\["\(archery\|curling\|judo\|skiing\)"\]' \
    && ok "Label Studio pre-annotations name the model's own classes" || bad "LS" "$("$BIN" export --label-studio --project w0 2>&1 | head -c 400)"
if command -v curl >/dev/null; then
    PORT=$((20000 + RANDOM % 20000))
    "$BIN" serve --port $PORT --project w0 > serve.log 2>&1 & SV=$!
    for _ in $(seq 100); do curl -s "http://127.0.0.1:$PORT/api/stats" >/dev/null 2>&1 && break; sleep 0.2; done
    # an image outside the evaluation sample (which never gets suggestions)
    id=$(curl -s "http://127.0.0.1:$PORT/api/next?n=20" | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
items = d.get("items", d) if isinstance(d, dict) else d
print(next(i["id"] for i in items if i.get("reason") != "eval"))' 2>/dev/null)
    sg=$(curl -s "http://127.0.0.1:$PORT/api/suggest?id=$id")
    gr=$(curl -s "http://127.0.0.1:$PORT/api/grid?n=8")
    check "page: the keys offer the model's own classes" bash -c "grep -qE '\"label\":\"(archery|curling|judo|skiing)\"[^}]*\"src\":\"model\"' <<< \"\$1\" && ! grep -q '\"src\":\"imagenet' <<< \"\$1\"" _ "$sg"
    check "page: a grid of 8 neighbours in 2048-d" bash -c "[ \$(grep -o '\"id\":' <<< \"\$1\" | wc -l) -ge 8 ]" _ "$gr"
    kill $SV; wait $SV 2>/dev/null; SV=
else skp "page" "no curl"; fi
summary
