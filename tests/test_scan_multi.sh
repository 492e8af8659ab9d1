#!/usr/bin/env bash
# test_scan_multi.sh - a model made of several networks (lite0+lite1+lite2):
#   * an ensemble scan stores 3,840-d rows; member k's 1,280 columns equal a
#     scan by that network alone (same precision, same test-time
#     augmentation) to float16 rounding, in the order the model names them,
#     and the logits are the mean of the three single scans' logits;
#   * bad names (unknown, repeated, empty member) are refused by init and
#     scan with nothing written; a project never mixes models (scan, import,
#     merge of a shard scanned with another model);
#   * everything downstream runs on it: next, train (propagate, linear),
#     simulate, eval, audit, export --embeddings (and import back), the page,
#     a sharded scan + merge (and mpirun when present); the finetune learner
#     refuses it with what to do instead;
#   * missing weights name the member the model lacks;
#   * a project made without --model gets lite0+lite1+lite2 (the default).
# Needs $ORDO_BIN, the three networks' weights, numpy and $ORDO_DATA
# (datasets/imagenet-sample: small photos, so every network decodes them at
# full scale and the columns match exactly, not only to float16 rounding).
set -u
PY=${ORDO_PYTHON:-/usr/bin/python3}
. "$(dirname "$0")/lib.sh"
need_command scan
IMGS=$DATA/datasets/imagenet-sample
if ! [ -d "$IMGS" ]; then skp all "no $IMGS (set ORDO_DATA)"; summary; fi
if ! "$PY" -c 'import numpy' 2>/dev/null; then skp all "no numpy for $PY"; summary; fi
if ! "$BIN" weights list 2>/dev/null | grep -q 'lite0+lite1+lite2 ready'; then
    skp all "the three networks' weights are not all installed (ordo weights list)"; summary
fi
T=$(mktemp -d /tmp/ordo_test_multi.XXXXXX)
SV=
trap '[ -n "$SV" ] && kill $SV 2>/dev/null; rm -rf "$T"' EXIT
cd "$T"
q() { sqlite3 "$1/.ordo/ordo.db" "$2"; }
expect() { # name, exit status wanted, pattern (grep -E), status, output
    if [ "$4" = "$2" ] && grep -qE -- "$3" <<<"$5"; then ok "$1"
    else bad "$1" "exit $4: $(head -c 400 <<<"$5")"; fi
}
N=24; [ -n "${ORDO_SANITIZED:-}" ] && N=8
mkdir ph
find "$IMGS" -type f | sort | head -n "$N" | while IFS= read -r f; do cp -p "$f" ph/; done
scan_new() { # project, model, extra init args...: init + scan of ph/
    local p=$1 m=$2; shift 2
    "$BIN" init --model "$m" "$@" "$p" >/dev/null &&
        "$BIN" scan --project "$p" --quiet --no-sync --threads 2 ph 2> "$p.err"
}

# ---- the ensemble against its members ------------------------------------------------
scan_new e lite0+lite1+lite2 || bad "ensemble scan" "$(cat e.err)"
for m in lite0 lite1 lite2; do scan_new "$m" "$m" || bad "$m scan" "$(cat "$m.err")"; done
check "ensemble: the project's width is 3,840" [ "$(q e "SELECT value FROM meta WHERE key='embed_dim'")" = 3840 ]
check "ensemble: $N rows of 3,840 half floats" [ "$(stat -c %s e/.ordo/embed.f16)" = $((N * 3840 * 2)) ]
check "ensemble: the model is recorded as named" [ "$(q e "SELECT value FROM meta WHERE key='model'")" = lite0+lite1+lite2 ]
cat > cmp.py <<'EOF'
# cmp.py ENS MEMBER...: ENS's columns [1280 k, 1280 (k+1)) are MEMBER k's
# embedding rows to float16 rounding, and its logits the mean of the
# members' (each side rounded to float16 once).
# cmp.py A B --same: the same photos with the same rows (to batch rounding).
import sqlite3, sys
import numpy as np
def load(p):
    db = sqlite3.connect(p + "/.ordo/ordo.db")
    d = int(db.execute("SELECT value FROM meta WHERE key='embed_dim'").fetchone()[0])
    rows = db.execute("SELECT f.path, i.slot FROM files f JOIN images i ON i.id = f.image_id"
                      " WHERE f.state = 0 ORDER BY f.path").fetchall()
    E = np.fromfile(p + "/.ordo/embed.f16", "<f2").reshape(-1, d).astype(np.float32)
    L = np.fromfile(p + "/.ordo/logits.f16", "<f2").reshape(-1, 1000).astype(np.float32)
    s = [r[1] for r in rows]
    return [bytes(r[0]) if isinstance(r[0], bytes) else r[0] for r in rows], E[s], L[s]
args = [a for a in sys.argv[1:] if not a.startswith("--")]
pe, Ee, Le = load(args[0])
if "--same" in sys.argv:
    # the same model scanned another way (shards, MPI): the same rows up to
    # the network's batch-size rounding, as tests/test_mpi.sh allows
    pm, Em, Lm = load(args[1])
    assert pm == pe and Em.shape == Ee.shape, "not the same photos or widths"
    assert np.abs(Em - Ee).max() <= 1e-2 and np.abs(Lm - Le).max() <= 2e-2, \
        "rows differ by %g / %g" % (np.abs(Em - Ee).max(), np.abs(Lm - Le).max())
    print("    %d photos, %d rows bit-identical" % (len(pe), ((Em == Ee).all(1) & (Lm == Le).all(1)).sum()))
    sys.exit(0)
assert Ee.shape[1] == 1280 * len(args[1:]), Ee.shape
Ls = []
for k, p in enumerate(args[1:]):
    pm, Em, Lm = load(p)
    assert pm == pe and len(pe) > 0, "not the same photos"
    x = Ee[:, 1280 * k:1280 * (k + 1)]
    # float16 keeps 11 significant bits: a value rounded twice differs by at
    # most 2^-10 of it (plus the subnormal step near zero)
    tol = 2.0 ** -10 * np.abs(Em) + 2.0 ** -24
    assert (np.abs(x - Em) <= tol).all(), "%s: columns %d.. differ by %g" % (p, 1280 * k, np.abs(x - Em).max())
    Ls.append(Lm)
if True:
    m = np.mean(Ls, 0)
    tol = 2.0 ** -10 * np.maximum(np.abs(m), np.abs(np.array(Ls)).max(0)) + 2.0 ** -24
    assert (np.abs(Le - m) <= tol).all(), "logits differ from the mean by %g" % np.abs(Le - m).max()
    # and they are not simply one member's
    assert min(np.abs(Le - l).max() for l in Ls) > 0.01
print("    %d photos, %d networks" % (len(pe), len(args) - 1))
EOF
check "ensemble: the columns are lite0's, lite1's, lite2's; the logits their mean" "$PY" cmp.py e lite0 lite1 lite2
cp -a e pg   # for the page, before any evaluation sample is drawn
M=4
rm -rf ph4; mkdir ph4; ls ph | head -n $M | while read -r f; do cp -p "ph/$f" ph4/; done
scan4() { # project, model, init args...
    local p=$1 m=$2; shift 2
    "$BIN" init --model "$m" "$@" "$p" >/dev/null &&
        "$BIN" scan --project "$p" --quiet --no-sync --threads 2 ph4 2> "$p.err"
}
scan4 ei8 lite2+lite0 --precision int8 && scan4 l2i8 lite2 --precision int8 &&
    scan4 l0i8 lite0 --precision int8 || bad "int8 scans" "$(cat ./*i8.err)"
check "int8 applies to every member, in the order named (lite2+lite0)" "$PY" cmp.py ei8 l2i8 l0i8
check "int8 is recorded" [ "$(q ei8 "SELECT value FROM meta WHERE key='precision'")" = int8 ]
scan4 efl lite0+lite1 --tta flip && scan4 l0fl lite0 --tta flip && scan4 l1fl lite1 --tta flip ||
    bad "flip scans" "$(cat ./*fl.err)"
check "flip test-time augmentation applies to every member" "$PY" cmp.py efl l0fl l1fl

# ---- bad names: refused with nothing written ------------------------------------------------
for m in lite0+lite9 lite0+lite0 lite0++lite1 +lite0 lite0+ lite1+lite2+lite1 LITE0+lite1 ""; do
    out=$("$BIN" init --model "$m" "bad" 2>&1); rc=$?
    if [ $rc = 2 ] && ! [ -e bad ] && grep -qE "unknown network|named twice|empty (network|model) name" <<<"$out"; then
        ok "init --model '$m' refused, nothing made: $out"
    else bad "init --model '$m'" "rc=$rc exists=$([ -e bad ] && echo yes) $out"; rm -rf bad; fi
done
"$BIN" init fresh >/dev/null
out=$("$BIN" scan --project fresh --model lite1+lite1 ph 2>&1); rc=$?
check "scan --model lite1+lite1 refused (exit 2), nothing recorded" \
    [ $rc = 2 -a "$(q fresh "SELECT count(*) FROM files")" = 0 -a -z "$(q fresh "SELECT value FROM meta WHERE key='model'")" ]

# ---- never mixed ----------------------------------------------------------------------------
out=$("$BIN" scan --project lite0 --model lite0+lite1+lite2 --quiet ph 2>&1)
expect "a lite0 project refuses lite0+lite1+lite2" 1 "scanned with lite0; refusing to mix" $? "$out"
out=$("$BIN" scan --project e --model lite0 --quiet ph 2>&1)
expect "a lite0+lite1+lite2 project refuses lite0" 1 "scanned with lite0\+lite1\+lite2; refusing" $? "$out"
"$BIN" export --embeddings ex0 --project lite0 2>/dev/null
out=$("$BIN" import embeddings ex0/embeddings.npy --paths ex0/paths.txt --model lite0 --project e 2>&1)
expect "importing lite0 vectors into it is refused" 1 "refusing to mix" $? "$out"
check "...and nothing changed" [ "$(q e "SELECT count(*) FROM images")" = "$N" ]
out=$("$BIN" scan --project e --quiet ph 2>&1)
check "a rescan without --model uses the project's (nothing new)" [ $? = 0 -a "$(q e "SELECT count(*) FROM scans")" = 2 ]

# ---- the default ------------------------------------------------------------------------------
"$BIN" init dflt >/dev/null && "$BIN" scan --project dflt --quiet --no-sync --threads 2 ph4 2>/dev/null
check "without --model a new project scans with lite0+lite1+lite2 (3,840-d)" \
    [ "$(q dflt "SELECT value FROM meta WHERE key='model'")/$(q dflt "SELECT value FROM meta WHERE key='embed_dim'")" = lite0+lite1+lite2/3840 ]

# ---- downstream ---------------------------------------------------------------------------------
cp -a e w
"$PY" - "$T" <<'EOF'
import os, sys
t = sys.argv[1]
paths = sorted(os.path.join(t, "ph", f) for f in os.listdir(os.path.join(t, "ph")))
with open("truth.csv", "w") as f:
    f.write("path,label\n")
    for i, p in enumerate(paths): f.write("%s,g%d\n" % (p, i % 3))
with open("labels.csv", "w") as f:   # two thirds, before any evaluation sample is drawn
    for i, p in enumerate(paths):
        if i % 3: f.write("%s,g%d\n" % (p, i % 3))
EOF
"$BIN" import labels --csv labels.csv --project w > /dev/null 2> err || bad "labels" "$(cat err)"
for l in propagate linear; do
    if "$BIN" train --learner $l --project w > out 2> err; then ok "train --learner $l: $(head -n 1 out)"
    else bad "train $l" "$(cat err)"; fi
done
"$BIN" next 4 --project w > next.csv 2> err
check "next ranks the unlabeled 3,840-d rows with the trained model" \
    [ "$(tail -n +2 next.csv | cut -d, -f7 | sort -u)" = model-2 ]
out=$("$BIN" train --learner finetune --project w 2>&1)
expect "finetune refuses a project of three networks, saying what to do" 1 \
    "adapts one network.*3 networks.*--learner propagate or linear" $? "$out"
if "$BIN" simulate --truth truth.csv --rounds 2 --batch 3 --seeds 1 --eval 4 --threads 1 --l2 1 \
        --learners linear,propagate --project w > sim.txt 2> err; then ok "simulate on 3,840-d rows"
else bad "simulate" "$(tail -n 3 err)"; fi
"$BIN" eval --project w > out 2> err && ok "eval" || bad "eval" "$(cat err)"
"$BIN" audit --project w > out 2> err && ok "audit: $(head -n 1 out | head -c 80)" || bad "audit" "$(cat err)"
if "$BIN" export --embeddings ex --project w 2> err && "$PY" -c "
import numpy as np
x = np.load('ex/embeddings.npy'); y = np.load('ex0/embeddings.npy')
assert x.shape == ($N, 3840), x.shape
assert open('ex/paths.txt').read() == open('ex0/paths.txt').read()
assert (x[:, :1280] == y).all()
"; then ok "export --embeddings: 3,840 columns, the first 1,280 lite0's export"
else bad "export" "$(cat err)"; fi
"$BIN" init back >/dev/null
"$BIN" import embeddings ex/embeddings.npy --paths ex/paths.txt --logits ex/logits.npy \
    --model lite0+lite1+lite2 --project back > out 2> err || bad "import back" "$(cat err)"
"$BIN" next 10 --project e > a.csv 2>/dev/null; "$BIN" next 10 --project back > b.csv 2>/dev/null
check "exported and imported back (--model lite0+lite1+lite2): the same next batch" cmp -s a.csv b.csv
out=$("$BIN" init back2 >/dev/null; "$BIN" import embeddings ex/embeddings.npy --paths ex/paths.txt \
    --model lite0+lite1 --project back2 2>&1)
expect "an import whose width is not the model's is refused" 1 \
    "lite0\+lite1 embeddings have 2560 values, not 3840" $? "$out"
if command -v curl >/dev/null; then
    PORT=$((20000 + RANDOM % 20000))
    # unlabeled, and a small evaluation sample (the grid never shows it)
    "$BIN" next 2 --eval-width 0.3 --project pg >/dev/null
    "$BIN" serve --port $PORT --project pg > serve.log 2>&1 & SV=$!
    for _ in $(seq 100); do curl -s "http://127.0.0.1:$PORT/api/stats" >/dev/null 2>&1 && break; sleep 0.2; done
    nx=$(curl -s "http://127.0.0.1:$PORT/api/next?n=4")
    gr=$(curl -s "http://127.0.0.1:$PORT/api/grid?n=4")
    check "page: next" grep -q '"id":' <<<"$nx"
    check "page: a grid of neighbours by cosine of 3,840-d rows" \
        bash -c "[ \$(grep -o '\"id\":' <<< \"\$1\" | wc -l) -ge 2 ]" _ "$gr"
    kill $SV; wait $SV 2>/dev/null; SV=
else skp "page" "no curl"; fi

# ---- shards and merge ----------------------------------------------------------------------------
"$BIN" init s >/dev/null
"$BIN" scan --project s --model lite0+lite1+lite2 --shard 0/2 --quiet --no-sync --threads 2 ph 2> err &&
    "$BIN" scan --project s --shard 1/2 --quiet --no-sync --threads 2 ph 2>> err || bad "shard scans" "$(cat err)"
check "shard stores are 3,840 wide" [ "$(q s/.ordo/shards/1-of-2 "SELECT value FROM meta WHERE key='embed_dim'")" = 3840 ]
"$BIN" merge --project s --quiet --no-sync 2> err || bad "merge" "$(cat err)"
check "shards merged: the same rows as the one-process scan" "$PY" cmp.py s e --same
"$BIN" init x --model lite0 >/dev/null
"$BIN" scan --project x --shard 0/2 --quiet --no-sync --threads 2 ph 2>/dev/null
cp -a s/.ordo/shards/1-of-2 x/.ordo/shards/
out=$("$BIN" merge --project x --no-sync 2>&1)
expect "merge refuses a shard scanned with another model" 1 \
    "shard 1-of-2 was scanned with lite0\+lite1\+lite2, the project with lite0" $? "$out"
check "...and the project is unchanged" [ "$(q x "SELECT count(*) FROM images")" = 0 ]
if command -v mpirun >/dev/null && [ -z "${ORDO_SANITIZED:-}" ]; then
    "$BIN" init --model lite0+lite1+lite2 mp >/dev/null
    OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun --oversubscribe -n 2 \
        "$BIN" scan --mpi --project mp --no-sync --threads 1 ph > out 2>&1 || bad "mpirun scan" "$(tail -n 3 out)"
    check "mpirun -n 2: the same rows as the one-process scan" "$PY" cmp.py mp e --same
else skp "mpi" "no mpirun (or a sanitized build)"; fi

# ---- missing weights ------------------------------------------------------------------------------------
W=$("$BIN" weights list | sed -n 's/^weights directory: //p')
mkdir wpart; ln -s "$W/lite0.pth" "$W/lite2.pth" wpart/
"$BIN" init --model lite0+lite1+lite2 mw >/dev/null
out=$("$BIN" scan --project mw --weights wpart --quiet ph 2>&1)
expect "a missing member's weights: refused, naming it" 1 \
    "model lite0\+lite1\+lite2 runs lite1: no lite1 weights at" $? "$out"
check "...before anything is scanned" [ "$(q mw "SELECT count(*) FROM files")" = 0 ]
check "weights list says what the model lacks" grep -q "lite0+lite1+lite2 needs lite1" <<<"$("$BIN" weights list --weights wpart)"
out=$("$BIN" scan --project mw --weights "$W/lite0.pth" --quiet ph 2>&1)
expect "one .pth file for three networks is refused" 1 "is one network's file" $? "$out"
summary
