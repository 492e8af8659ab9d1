#!/usr/bin/env bash
# test_import.sh - `ordo import` and `ordo export`'s formats for other tools:
#   * random 512-d float32 embeddings (.npy + path list) import into a fresh
#     project; export gives them back exactly (float16 of the input); the
#     project records the model and refuses another one's vectors and scans;
#     ranking and training run on them;
#   * malformed inputs (wrong shape, NaN, Inf, truncated, trailing bytes,
#     wrong dtype, big-endian, Fortran order, 3-d, paths that are not photos,
#     a path twice, probabilities that do not sum to 1, wider than 65536) are refused
#     with a message naming the fault, and nothing is written;
#   * CSV and JSON lines vectors import the same vectors as the .npy;
#   * a scanned project's exported embeddings + logits, imported into a fresh
#     project, give the same `ordo next` batch (and with probabilities, the
#     same images and reasons);
#   * labels: Label Studio export -> import into the fresh project gives the
#     same current labels, annotators and times; --history CSV and JSON lines
#     round trips keep every event; a folder tree (links or copies) too;
#   * a folder-tree import of sports100 gives exactly labels.csv.
# Needs $ORDO_BIN, numpy (python3-numpy), the weights and $ORDO_DATA.
set -u
PY=${ORDO_PYTHON:-/usr/bin/python3}
. "$(dirname "$0")/lib.sh"
need_command import
if ! "$PY" -c 'import numpy' 2>/dev/null; then skp all "no numpy for $PY (./setup.sh --test installs it)"; summary; fi
T=$(mktemp -d /tmp/ordo_test_import.XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$T"
IMGS=$DATA/datasets/imagenet-sample
if ! [ -d "$IMGS" ]; then skp all "no $IMGS (set ORDO_DATA)"; summary; fi
# ordo stores a photo's real path: name them that way here too, so a data
# folder reached through a symbolic link (../shared -> elsewhere) compares equal
IMGS=$(cd "$IMGS" && pwd -P)
find "$IMGS" -type f | sort | head -n 60 > paths.txt
n_img() { "$BIN" status --project "$1" | awk '/^images/ { print $2 }'; }

# ---- random embeddings ----------------------------------------------------------
"$PY" - <<'EOF'
import numpy as np
rng = np.random.default_rng(7)
e = rng.standard_normal((60, 512)).astype(np.float32)
np.save("e.npy", e)
np.save("e16.npy", e.astype(np.float16))
bad = {}
x = e.copy(); x[3, 7] = np.nan; bad["nan"] = x
x = e.copy(); x[5, 0] = np.inf; bad["inf"] = x
bad["f64"] = e.astype(np.float64)
bad["int"] = (e * 100).astype(np.int32)
bad["be"] = e.astype(">f4")
bad["fortran"] = np.asfortranarray(e)
bad["rows"] = e[:59]
bad["onedim"] = e[:, 0].copy()
bad["threedim"] = e.reshape(60, 2, 256)
bad["e256"] = e[:, :256].copy()
bad["wide"] = np.zeros((60, 65537), np.float16)
for k, v in bad.items():
    np.save(k + ".npy", v)
p = rng.random((60, 1000)).astype(np.float32); p /= p.sum(1, keepdims=True)
np.save("probs.npy", p)
np.save("probs_bad.npy", p * 2)
np.save("probs_shape.npy", p[:, :999])
# the same vectors as CSV and JSON lines
import json
paths = open("paths.txt").read().split("\n")[:60]
with open("e.csv", "w") as f:
    f.write("path," + ",".join("x%d" % i for i in range(512)) + "\n")
    for pth, r in zip(paths, e):
        f.write(pth + "," + ",".join(repr(float(v)) for v in r) + "\n")
with open("e.jsonl", "w") as f:
    for pth, r, q in zip(paths, e, p):
        f.write(json.dumps({"path": pth, "embedding": [float(v) for v in r],
                            "probabilities": [float(v) for v in q]}) + "\n")
EOF
head -c 20000 e.npy > trunc.npy
cat e.npy > trail.npy; printf 'xx' >> trail.npy
{ head -n 30 paths.txt; echo "$IMGS/no_such_photo.jpg"; tail -n 29 paths.txt; } > paths_missing.txt
{ head -n 59 paths.txt; head -n 1 paths.txt; } > paths_twice.txt

"$BIN" init r >/dev/null
refused() { # name, expected message part, import args...
    local name=$1 want=$2; shift 2
    if "$BIN" import embeddings "$@" --project r > out 2> err; then bad "$name" "accepted"; return; fi
    if ! grep -qi -- "$want" err; then bad "$name" "message: $(head -c 300 err)"; return; fi
    if [ "$(n_img r)" != "$EXPECT" ]; then
        bad "$name" "project changed: $(n_img r) images"; return; fi
    ok "$name refused: $(grep -v 'nothing was imported' err | head -n 1)"
}
EXPECT=0
refused "NaN" "row 4, column 8 is NaN" nan.npy --paths paths.txt --model clip
refused "Inf" "infinite" inf.npy --paths paths.txt --model clip
refused "float64" "dtype '<f8'" f64.npy --paths paths.txt --model clip
refused "int32" "dtype '<i4'" int.npy --paths paths.txt --model clip
refused "big-endian" "dtype '>f4'" be.npy --paths paths.txt --model clip
refused "Fortran order" "Fortran order" fortran.npy --paths paths.txt --model clip
refused "rows != paths" "59 rows but paths.txt lists 60" rows.npy --paths paths.txt --model clip
refused "1-d" "1-d array" onedim.npy --paths paths.txt --model clip
refused "3-d" "3 dimensions" threedim.npy --paths paths.txt --model clip
refused "truncated" "truncated" trunc.npy --paths paths.txt --model clip
refused "trailing bytes" "2 bytes after" trail.npy --paths paths.txt --model clip
refused "too wide" "at most 65536" wide.npy --paths paths.txt --model clip
refused "path not a photo" "row 31: .*no_such_photo.jpg: no such photo" e.npy --paths paths_missing.txt --model clip
refused "path twice" "listed twice" e.npy --paths paths_twice.txt --model clip
refused "probabilities sum" "sum to" e.npy --paths paths.txt --probs probs_bad.npy --model clip
refused "probabilities shape" "expected (60, 1000)" e.npy --paths paths.txt --probs probs_shape.npy --model clip
refused "no path list" "needs --paths" e.npy --model clip
refused "lite0 width" "1280" e.npy --paths paths.txt --model lite0
refused "bad model name" "model name" e.npy --paths paths.txt --model 'a b'
printf '\x93NUMPY\x01\x00\x10\x00{"descr": "<f4"}' > hdr.npy
refused "header" "lacks descr" hdr.npy --paths paths.txt --model clip
printf 'garbage' > junk.npy
refused "not npy" "not a .npy" junk.npy --paths paths.txt --model clip

if "$BIN" import embeddings e.npy --paths paths.txt --probs probs.npy --model clip-vit-b32 --project r > out 2> err \
    && [ "$(n_img r)" = 60 ]; then ok "60 random 512-d embeddings imported"
else bad "import" "$(cat err)"; fi
"$BIN" status --project r | grep -q '^model *clip-vit-b32' && ok "status names the model" || bad "model" "$("$BIN" status --project r | head -3)"
EXPECT=60
refused "another model" "vectors come from clip-vit-b32; refusing to mix" e.npy --paths paths.txt --model other --project r
refused "another width" "have 512 values, these have 256" e256.npy --paths paths.txt --model clip-vit-b32
refused "without the probabilities" "probabilities" e.npy --paths paths.txt --model clip-vit-b32
if "$BIN" scan --project r "$IMGS" > out 2> err; then bad "scan refused" "accepted"
else grep -q "imported from clip-vit-b32" err && ok "scan into an imported project refused: $(head -c 120 err)" || bad "scan message" "$(cat err)"; fi
"$BIN" export --embeddings ex_r --project r 2> err && "$PY" - <<'EOF' && ok "export gives the imported vectors back (float16, path order)" || bad "export" "$(cat err)"
import numpy as np
e = np.load("e.npy"); x = np.load("ex_r/embeddings.npy")
assert x.dtype == np.float16 and x.shape == (60, 512), (x.dtype, x.shape)
assert (x == e.astype(np.float16)).all()
assert open("ex_r/paths.txt").read() == open("paths.txt").read()
p = np.load("probs.npy"); q = np.load("ex_r/probabilities.npy")
assert q.shape == (60, 1000) and np.abs(p - q).max() < 2e-3 * p.max(), np.abs(p - q).max()
assert open("ex_r/model.txt").read() == "clip-vit-b32\n"
EOF
"$BIN" export --embeddings ex_r --project r 2> err && bad "export over an existing folder" "accepted" || ok "export refuses an existing folder"
"$BIN" next 10 --project r > next_r.csv 2> err && [ "$(wc -l < next_r.csv)" = 11 ] && ok "ordo next ranks imported vectors" || bad "next" "$(cat err)"
# the learners on imported vectors: labels by CSV (plain path,label rows),
# train, and the trained classifier ranks and pre-annotates
head -n 30 paths.txt | awk '{ print $0 "," (NR % 2 ? "odd" : "even") }' > r_labels.csv
"$BIN" import labels --csv r_labels.csv --project r > out 2> err || bad "csv labels" "$(cat err)"
if "$BIN" train --project r > out 2> err; then ok "ordo train on imported 512-d vectors: $(head -n 1 out)"
else bad "train" "$(cat err)"; fi
"$BIN" next 10 --project r 2>/dev/null | tail -n +2 | cut -d, -f7 | sort -u | grep -q '^model' && ok "the trained classifier ranks imported vectors" || bad "next after train" "$("$BIN" next 3 --project r 2>&1)"
"$BIN" export --label-studio --project r 2>/dev/null | grep -q '"model_version":"ordo classifier v' && ok "Label Studio pre-annotations from the trained classifier" || bad "LS predictions" "none"

# CSV and JSON lines: the same vectors as the .npy
for fmt in csv jsonl; do
    "$BIN" init r_$fmt >/dev/null
    if "$BIN" import embeddings e.$fmt --model clip-vit-b32 --project r_$fmt > out 2> err &&
        "$BIN" export --embeddings ex_$fmt --project r_$fmt 2>/dev/null &&
        "$PY" -c "import numpy as np, sys; a=np.load('ex_r/embeddings.npy'); b=np.load('ex_$fmt/embeddings.npy'); sys.exit(not (a==b).all())"; then
        ok "$fmt vectors import as the .npy ones"
    else bad "$fmt import" "$(cat err)"; fi
done
"$BIN" init r_bad >/dev/null
printf 'path,x1,x2\n%s,1,nan\n' "$(head -n 1 paths.txt)" > nan.csv
printf 'path,x1,x2\n%s,1,2\n%s,1\n' "$(head -n 1 paths.txt)" "$(sed -n 2p paths.txt)" > ragged.csv
printf '{"path": "%s", "embedding": [1, NaN]}\n' "$(head -n 1 paths.txt)" > nan.jsonl
printf '{"path": "%s", "embedding": [1, 2]}\n{"path": "%s", "embedding": [1, "x"]}\n' "$(head -n 1 paths.txt)" "$(sed -n 2p paths.txt)" > str.jsonl
for f in nan.csv:"line 2, value 2: NaN" ragged.csv:"line 3: 1 values, earlier rows have 2" \
         nan.jsonl:"line 1: " str.jsonl:'line 2: "embedding"\[1\] is not a number'; do
    want=${f#*:}; f=${f%%:*}
    if "$BIN" import embeddings $f --model m --project r_bad > out 2> err; then bad "$f" "accepted"
    elif [ "$(n_img r_bad)" != 0 ]; then bad "$f" "project changed"
    elif ! grep -q -- "$want" err; then bad "$f" "message: $(cat err)"
    else ok "$f refused: $(head -n 1 err)"; fi
done

# ---- ordo's own vectors: export, re-import, same batch --------------------------
mkdir photos; while read -r p; do cp "$p" photos/; done < paths.txt
"$BIN" init --model lite0 o >/dev/null
if ! "$BIN" scan --project o --quiet photos 2> err; then
    if grep -qi weights err; then skp "own vectors" "model weights missing"; summary; fi
    bad scan "$(cat err)"; summary
fi
"$BIN" export --embeddings ex_o --project o 2>/dev/null
"$BIN" init q >/dev/null
"$BIN" import embeddings ex_o/embeddings.npy --paths ex_o/paths.txt --logits ex_o/logits.npy --model lite0 --project q > out 2> err || bad "re-import" "$(cat err)"
"$BIN" next 20 --project o > next_o.csv; "$BIN" next 20 --project q > next_q.csv
cmp -s next_o.csv next_q.csv && ok "re-imported lite0 embeddings + logits: the same ordo next 20" || bad "same batch" "$(diff next_o.csv next_q.csv | head -5)"
"$BIN" init q_p >/dev/null
"$BIN" import embeddings ex_o/embeddings.npy --paths ex_o/paths.txt --probs ex_o/probabilities.npy --model lite0 --project q_p > out 2> err || bad "re-import probs" "$(cat err)"
"$BIN" next 20 --project q_p > next_qp.csv
cmp -s <(cut -d, -f2,3 next_o.csv) <(cut -d, -f2,3 next_qp.csv) && ok "with probabilities: the same images and reasons" || bad "same batch (probs)" "$(diff next_o.csv next_qp.csv | head -5)"
"$BIN" scan --project q --quiet photos 2> err && ok "a re-imported lite0 project still scans (same model)" || bad "scan lite0" "$(cat err)"

# ---- labels: Label Studio, history CSV / JSON lines, folder trees -----------------
i=0
while read -r p; do
    i=$((i + 1)); [ $i -gt 24 ] && break
    "$BIN" label "photos/$(basename "$p")" "class $((i % 4))" --annotator "ann$((i % 3))@x.org" --project o >/dev/null
done < paths.txt
"$BIN" label "photos/$(basename "$(head -n 1 paths.txt)")" "class 9" --annotator late --project o >/dev/null
cur() { "$BIN" labels --csv --project "$1" | cut -d, -f2,3,4,7; }   # path,label,annotator,created
hist() { "$BIN" labels --csv --history --project "$1" | cut -d, -f2,3,4,7 | sort; }
"$BIN" export --label-studio --project o > ls.json 2> err || bad "LS export" "$(cat err)"
"$PY" - <<'EOF' && ok "Label Studio export: a task per image, annotations and pre-annotations" || bad "LS format" "see above"
import json
t = json.load(open("ls.json"))
assert len(t) == 60
a = [x for x in t if x["annotations"]]
assert len(a) == 24, len(a)
r = a[0]["annotations"][0]
assert r["result"][0]["type"] == "choices" and r["completed_by"]["email"].endswith("@x.org")
assert len(a[0]["annotations"]) == 2 and a[0]["annotations"][1]["result"][0]["value"]["choices"] == ["class 9"]
assert all(x["predictions"] and x["predictions"][0]["result"][0]["value"]["choices"] for x in t)
assert t[0]["data"]["image"].startswith("/data/local-files/?d=")
EOF
"$BIN" import labels --label-studio ls.json --project q > out 2> err || bad "LS import" "$(cat err)"
[ "$(cur o | wc -l)" = 25 ] && cmp -s <(cur o) <(cur q) && ok "Label Studio round trip: same labels, annotators, times" || bad "LS round trip" "$(diff <(cur o) <(cur q) | head)"
cmp -s <(hist o) <(hist q) && ok "Label Studio round trip keeps every event" || bad "LS history" "$(diff <(hist o) <(hist q) | head)"
for fmt in csv jsonl; do
    "$BIN" init h_$fmt >/dev/null
    "$BIN" import embeddings ex_o/embeddings.npy --paths ex_o/paths.txt --logits ex_o/logits.npy --model lite0 --project h_$fmt >/dev/null
    "$BIN" export --history --$fmt --project o > hist.$fmt
    "$BIN" import labels --$fmt hist.$fmt --project h_$fmt > out 2> err || bad "$fmt labels import" "$(cat err)"
    cmp -s <(hist o) <(hist h_$fmt) && cmp -s <(cur o) <(cur h_$fmt) && ok "--history $fmt round trip: every event, annotator, time" || bad "$fmt round trip" "$(diff <(hist o) <(hist h_$fmt) | head)"
done
"$BIN" init t >/dev/null
"$BIN" import embeddings ex_o/embeddings.npy --paths ex_o/paths.txt --logits ex_o/logits.npy --model lite0 --project t >/dev/null
"$BIN" export --tree tree_links --project o > /dev/null 2>&1
"$BIN" import labels --tree tree_links --project t > out 2> err || bad "tree import" "$(cat err)"
cmp -s <("$BIN" labels --csv --project o | cut -d, -f2,3) <("$BIN" labels --csv --project t | cut -d, -f2,3) \
    && ok "folder tree (links) round trip: same labels" || bad "tree round trip" "$(cat err)"
"$BIN" export --tree tree_copies --copy --project o > /dev/null 2>&1
[ -z "$(find tree_copies -type l)" ] && [ "$(find tree_copies -type f | wc -l)" = 24 ] \
    && cmp -s "$(find tree_copies -type f | sort | head -n 1)" "photos/$(basename "$(find tree_copies -type f | sort | head -n 1)" | cut -d_ -f2-)" \
    && ok "--tree --copy: 24 copies, no links" || bad "copies" "$(find tree_copies | head)"
"$BIN" import labels --tree tree_copies --project t > out 2> err && bad "tree of unknown files" "accepted" \
    || { grep -q "24 of 24 labeled paths are not photos of this project" err && ok "labels for photos not in the project refused: $(head -n 1 err)" || bad "unknown message" "$(cat err)"; }
printf '[{"data": {"image": "/data/upload/1/x.jpg"}, "annotations": [{"result": [{"type": "choices", "value": {"choices": ["a"]}}]}]}]' > up.json
"$BIN" import labels --label-studio up.json --project q > out 2> err && bad "uploaded image" "accepted" || { grep -q "not a local file" err && ok "LS upload URL refused: $(head -n 1 err)" || bad "upload message" "$(cat err)"; }
printf '[{"data": {"image": "x"}, "annotations": [{"result": [{"type": "choices", "value": {"choices": ["a", "b"]}}]}]}]' > multi.json
"$BIN" import labels --label-studio multi.json --project q > out 2> err && bad "two choices" "accepted" || { grep -q "2 choices" err && ok "multi-choice refused" || bad "multi message" "$(cat err)"; }

# ---- sports100 as a folder tree ----------------------------------------------------
if [ -d "$SPORTS/pool" ] && [ -f "$SPORTS/labels.csv" ]; then
    tail -n +2 "$SPORTS/labels.csv" | cut -d, -f1 | sed "s|^|$SPORTS/|" > sp_paths.txt
    n=$(wc -l < sp_paths.txt)
    "$PY" -c "import numpy as np; np.save('sp.npy', np.random.default_rng(1).standard_normal(($n, 8)).astype(np.float32))"
    "$BIN" init sp >/dev/null
    "$BIN" import embeddings sp.npy --paths sp_paths.txt --model random8 --project sp > out 2> err || bad "sports100 vectors" "$(cat err)"
    "$BIN" import labels --tree "$SPORTS/pool" --project sp > out 2> err && "$BIN" import labels --tree "$SPORTS/test" --project sp >> out 2>> err || bad "tree import" "$(cat err)"
    "$BIN" export --csv --project sp | tail -n +2 | cut -d, -f2,3 | sed "s|^$(realpath "$SPORTS")/||" | sort > got.csv
    tail -n +2 "$SPORTS/labels.csv" | cut -d, -f1,2 | sort > want.csv
    [ "$(wc -l < got.csv)" = "$n" ] && cmp -s got.csv want.csv && ok "sports100 folder tree import = labels.csv ($n labels)" || bad "sports100 tree" "$(diff got.csv want.csv | head -5)"
else
    skp "sports100 tree" "no $SPORTS"
fi
summary
