#!/usr/bin/env bash
# test_scan.sh - end-to-end tests of `ordo init`, `ordo scan`, `ordo status`:
#   * a real data set scanned into a fresh project (a 300-image subset of
#     sports100 by default; all 4,989 photos with ORDO_FULL_TESTS=1);
#   * hostile files mixed in (zero bytes, truncated JPEG, text named .jpg, an
#     unreadable file, a FIFO, a directory symlink loop, a dangling link, odd
#     names): each a failed row with a reason, the rest scanned;
#   * incremental rescans (unchanged, changed, deleted, duplicates);
#   * 20+ SIGKILLs at random moments, then a final run: the database equals a
#     clean scan's (same rows, same scores) and PRAGMA integrity_check is ok.
# Needs $ORDO_BIN (with the scan command), the model weights and $ORDO_DATA.
set -u
PY=${ORDO_PYTHON:-/usr/bin/python3}
. "$(dirname "$0")/lib.sh"

need_command scan
need_data pool
T=$(mktemp -d /tmp/ordo_test_scan.XXXXXX)
trap 'chmod -R u+rwx "$T" 2>/dev/null; rm -rf "$T"' EXIT
q() { sqlite3 "$1/.ordo/ordo.db" "$2"; }
# Unreadable-file checks need a process without CAP_DAC_OVERRIDE: root reads
# anything, so as root the scan runs with those capabilities dropped.
SCAN=("$BIN" scan)
if [ "$(id -u)" = 0 ]; then
    if command -v setpriv >/dev/null; then
        SCAN=(setpriv --bounding-set=-dac_override,-dac_read_search "$BIN" scan)
    else
        SCAN=()
    fi
fi

# ---- a real data set -------------------------------------------------------
P=$T/proj
mkdir -p "$P"
if [ -n "${ORDO_FULL_TESTS:-}" ]; then
    SRC=$SPORTS; WANT=4989
else
    # Sanitized builds are ~10x slower: a smaller subset keeps `make san` short.
    WANT=300; [ -n "${ORDO_SANITIZED:-}" ] && WANT=60
    SRC=$T/sub
    mkdir -p "$SRC"
    # Three files from each of the first 100 folders of pool/: every class.
    find "$SPORTS/pool" -name '*.jpg' | sort | awk -F/ '{d=$(NF-1)} c[d]++ < 3' | head -n "$WANT" |
        while IFS= read -r f; do
            d=$(basename "$(dirname "$f")"); mkdir -p "$SRC/$d"; cp "$f" "$SRC/$d/"
        done
fi
"$BIN" init --model lite0 "$P" >/dev/null
start=$(date +%s.%N)
"$BIN" scan --project "$P" --quiet "$SRC" 2>"$T/scan.err"
rc=$?
secs=$(echo "$(date +%s.%N) - $start" | bc)
echo "    scanned $SRC: $WANT images in ${secs} s (rc $rc)"
check "scan exits 0" [ "$rc" = 0 ]
"$BIN" status --project "$P" --json >"$T/status.json"
check "status --json reports $WANT ok" "$PY" -c "
import json,sys; s=json.load(open('$T/status.json'))
sys.exit(not (s['ok']==$WANT and s['images']==$WANT and s['failed']==0 and s['model']=='lite0'
  and s['missing']==0 and s['last_scan'] and len(s['top_classes'])>0))"
check "every image has embedding, scores, top-5, hash, dims" [ "$(q "$P" "
  SELECT count(*) FROM images i JOIN files f ON f.image_id=i.id
  WHERE length(i.hash)=16 AND i.width>0 AND i.height>0 AND i.top_class4 BETWEEN 0 AND 999
  AND i.max_prob>0 AND i.margin>=0 AND i.entropy>0 AND f.size>0 AND f.mtime_ns>0
  AND i.slot < (SELECT value FROM meta WHERE key='next_slot')")" = "$WANT" ]
check "matrices hold one row per image" [ "$(stat -c %s "$P/.ordo/embed.f16")" = "$((WANT * 2560))" ]
check "sports prior stored (WordNet present)" [ "$(q "$P" "SELECT count(*) FROM images WHERE sports BETWEEN 0 AND 1")" = "$WANT" ]
check "status text runs" "$BIN" status --project "$P" >/dev/null

# Project discovery: $ORDO_PROJECT and walking up from a subdirectory.
mkdir -p "$P/deep/er"
check "found from a subdirectory" bash -c "cd '$P/deep/er' && ORDO_PROJECT= '$BIN' status --json | grep -q '\"ok\":$WANT'"
check "found from ORDO_PROJECT" bash -c "cd / && ORDO_PROJECT='$P' '$BIN' status --json | grep -q '\"ok\":$WANT'"
out=$(cd / && ORDO_PROJECT= "$BIN" status 2>&1); rc=$?
check "no project: exit 1 naming ordo init" bash -c "[ $rc = 1 ] && grep -q 'ordo init' <<<'$out'"
out=$("$BIN" scan --project "$P" --model lite2 "$SRC" 2>&1); rc=$?
check "another model refused" bash -c "[ $rc != 0 ] && grep -q 'scanned with lite0' <<<\"\$1\"" _ "$out"
# Precision: this project was scanned in the default precision (int8 on a
# CPU with AVX-512 VNNI unless ORDO_KERNEL=c, else fp32: nn/net.h
# ordo_net_default_precision) and says so; the other is refused. An int8
# project records it at init and keeps it.
DEF=fp32 OTHER=int8
if [ "${ORDO_KERNEL:-}" != c ] && grep -qw avx512_vnni /proc/cpuinfo && grep -qw avx512bw /proc/cpuinfo &&
    grep -qw avx512vl /proc/cpuinfo && grep -qw avx512dq /proc/cpuinfo; then
    DEF=int8 OTHER=fp32
fi
out=$("$BIN" scan --project "$P" --precision $OTHER "$SRC" 2>&1); rc=$?
check "another precision refused" bash -c "[ $rc != 0 ] && grep -q 'computed in $DEF' <<<\"\$1\"" _ "$out"
check "precision recorded: $DEF, the default here" [ "$(q "$P" "SELECT value FROM meta WHERE key='precision'")" = $DEF ]
check "status names the precision" bash -c "'$BIN' status --project '$P' --json | grep -q '\"precision\":\"$DEF\"' &&
    '$BIN' status --project '$P' | grep -q '^precision  $DEF\$'"
out=$("$BIN" init --model lite0 --precision bf16 "$T/p8" 2>&1); rc=$?
check "unknown precision refused at init" bash -c "[ $rc = 2 ] && grep -q 'unknown precision' <<<\"\$1\"" _ "$out"
"$BIN" init --model lite0 --precision int8 "$T/p8" >/dev/null
mkdir -p "$T/few"
find "$SPORTS/pool" -type f -name "*.jpg" | sort | head -5 | while read -r f; do cp "$f" "$T/few/"; done
"$BIN" scan --project "$T/p8" --quiet "$T/few"; rc=$?
check "int8 project scans" [ "$rc:$(q "$T/p8" "SELECT count(*) FROM images")" = 0:5 ]
out=$("$BIN" scan --project "$T/p8" --precision fp32 "$T/few" 2>&1); rc=$?
check "int8 project refuses fp32" bash -c "[ $rc != 0 ] && grep -q 'computed in int8' <<<\"\$1\"" _ "$out"
# Without the VNNI kernels (ORDO_KERNEL=c stands for such a CPU) the default
# is fp32: the portable int8 kernels are slower than fp32's.
"$BIN" init --model lite0 "$T/pc" >/dev/null
ORDO_KERNEL=c "$BIN" scan --project "$T/pc" --quiet "$T/few"; rc=$?
check "default without VNNI kernels: fp32" [ "$rc:$(q "$T/pc" "SELECT value FROM meta WHERE key='precision'")" = 0:fp32 ]

# Flip test-time augmentation: recorded at init, never mixed; with it a photo
# and its mirror image get the same embedding (each is the mean of the same
# two passes), without it they differ.
out=$("$BIN" init --model lite0 --tta rotate "$T/pf" 2>&1); rc=$?
check "unknown tta refused at init" bash -c "[ $rc = 2 ] && grep -q 'unknown test-time' <<<\"\$1\"" _ "$out"
mkdir -p "$T/mir"
$PY - "$T/mir" <<'PYEOF'
import os, struct, sys
import numpy as np
def bmp(path, a):   # 24-bit BMP, bottom-up rows padded to 4 bytes
    h, w, _ = a.shape
    row = (w * 3 + 3) & ~3
    with open(path, "wb") as f:
        f.write(b"BM" + struct.pack("<IHHI", 54 + row * h, 0, 0, 54))
        f.write(struct.pack("<IiiHHIIiiII", 40, w, h, 1, 24, 0, row * h, 2835, 2835, 0, 0))
        for y in range(h - 1, -1, -1):
            f.write(a[y, :, ::-1].tobytes() + b"\0" * (row - w * 3))
r = np.random.RandomState(5)
y, x = np.mgrid[0:256, 0:256]
for i in range(2):   # asymmetric pictures: a ramp, a disc off centre, noise
    a = np.stack([x * 255 // 256, (((x - 70 - 40 * i) ** 2 + (y - 128) ** 2) < 3600) * 200,
                  r.randint(0, 256, (256, 256))], -1).astype(np.uint8)
    bmp(os.path.join(sys.argv[1], f"p{i}.bmp"), a)
    bmp(os.path.join(sys.argv[1], f"p{i}_mirror.bmp"), np.ascontiguousarray(a[:, ::-1]))
PYEOF
"$BIN" init --model lite0 --tta flip "$T/pf" >/dev/null && "$BIN" scan --project "$T/pf" --quiet "$T/mir"; rc=$?
check "flip project scans" [ "$rc:$(q "$T/pf" "SELECT count(*) FROM images")" = 0:4 ]
check "flip recorded" [ "$(q "$T/pf" "SELECT value FROM meta WHERE key='tta'")" = flip ]
"$BIN" init --model lite0 "$T/pn" >/dev/null && "$BIN" scan --project "$T/pn" --quiet "$T/mir"
cos() {   # cosine of the embeddings of p0 and its mirror in project $1
    rm -rf "$T/emb" && "$BIN" export --project "$1" --embeddings "$T/emb" >/dev/null &&
    $PY - "$T/emb" <<'PYEOF'
import os, sys
import numpy as np
d = sys.argv[1]
E = np.load(os.path.join(d, "embeddings.npy")).astype(np.float64)
p = [os.path.basename(l.rstrip("\n")) for l in open(os.path.join(d, "paths.txt"))]
a, b = E[p.index("p0.bmp")], E[p.index("p0_mirror.bmp")]
print(f"{a @ b / np.linalg.norm(a) / np.linalg.norm(b):.6f}")
PYEOF
}
cf=$(cos "$T/pf"); cn=$(cos "$T/pn")
check "flip: a photo and its mirror embed alike ($cf)" awk -v c="$cf" 'BEGIN{exit !(c > 0.9999)}'
check "no flip: they differ ($cn)" awk -v c="$cn" 'BEGIN{exit !(c < 0.999)}'
out=$("$BIN" scan --project "$T/pf" --tta none "$T/few" 2>&1); rc=$?
check "flip project refuses tta none" bash -c "[ $rc != 0 ] && grep -q 'augmentation flip' <<<\"\$1\"" _ "$out"
out=$("$BIN" scan --project "$P" --tta flip "$SRC" 2>&1); rc=$?
check "scanned project refuses tta flip" bash -c "[ $rc != 0 ] && grep -q 'augmentation none' <<<\"\$1\"" _ "$out"

# ---- hostile files ------------------------------------------------------------
H=$T/hostile
mkdir -p "$H/d"
imgs=("$SPORTS"/pool/*/*.jpg)
good() { cp "${imgs[$1]}" "$2"; }
good 0 "$H/ok one.jpg"
good 1 "$H/quote\"s and 'single'.jpg"
good 2 "$H/new
line.jpg"
good 3 "$H/$(printf 'bad\xff\xfeutf8.jpg')"
good 4 "$H/d/,comma;semi.jpg"
good 5 "$H/no_extension_image"            # found by content, not by name
: >"$H/zero.jpg"
head -c 3000 "${imgs[6]}" >"$H/truncated.jpg"
echo "this is not a photo" >"$H/text.jpg"
echo "notes" >"$H/README.txt"                # not an image, not named like one: skipped
good 7 "$H/unreadable.jpg"; chmod 000 "$H/unreadable.jpg"
mkfifo "$H/fifo.jpg"                          # not a regular file: never opened
ln -s .. "$H/d/loop"                          # directory symlink loop
ln -s "$H/nowhere.jpg" "$H/dangling.jpg"
printf 'GIF89a\x01\x00\x01\x00' >"$H/$(printf 'cut\nname \xff.gif')"
H2=$T/hproj; mkdir -p "$H2"; "$BIN" init --model lite0 "$H2" >/dev/null
if [ ${#SCAN[@]} = 0 ]; then
    skp "hostile corpus" "running as root without setpriv"
else
    "${SCAN[@]}" --project "$H2" "$H" >"$T/h.out" 2>"$T/h.err"; rc=$?
    check "hostile scan exits 0" [ "$rc" = 0 ]
    check "hostile: 6 good images scanned" [ "$(q "$H2" "SELECT count(*) FROM files WHERE state=0")" = 6 ]
    kinds=$(q "$H2" "SELECT error_kind FROM files WHERE state=1 ORDER BY error_kind" | tr '\n' ' ')
    echo "    failed kinds: $kinds"
    check "hostile: failed kinds" [ "$kinds" = "broken_link decode decode empty loop not_image unreadable " ]
    for name in zero.jpg truncated.jpg text.jpg unreadable.jpg dangling.jpg d/loop; do
        check "hostile: $name has a failed row with a reason" [ "$(q "$H2" "SELECT count(*) FROM files
          WHERE path=CAST('$H/$name' AS BLOB) AND state=1 AND length(error)>3")" = 1 ]
    done
    check "hostile: newline name scanned" [ "$(q "$H2" "SELECT count(*) FROM files WHERE instr(hex(path), '6E65770A6C696E65')>0 AND state=0")" = 1 ]
    check "hostile: invalid UTF-8 name kept" [ "$(q "$H2" "SELECT count(*) FROM files WHERE instr(hex(path), 'FFFE')>0 AND state=0")" = 1 ]
    check "hostile: FIFO not recorded" [ "$(q "$H2" "SELECT count(*) FROM files WHERE path LIKE '%fifo%'")" = 0 ]
    check "hostile: README skipped" [ "$(q "$H2" "SELECT count(*) FROM files WHERE path LIKE '%README%'")" = 0 ]
    check "hostile: one stderr line per failure" [ "$(grep -c '^ordo: ' "$T/h.err")" = 7 ]
    "$BIN" status --project "$H2" --json >"$T/hs.json"
    check "hostile: status counts failures by reason" "$PY" -c "
import json,sys; s=json.load(open('$T/hs.json'))
sys.exit(not (s['ok']==6 and s['failed']==7 and s['failed_by_reason']=={'decode':2,'unreadable':1,'broken_link':1,'empty':1,'loop':1,'not_image':1}))"
    # Fixing the unreadable file makes the next scan pick it up.
    chmod 644 "$H/unreadable.jpg"
    "${SCAN[@]}" --project "$H2" --quiet "$H" 2>/dev/null
    check "hostile: unreadable file scanned once readable" [ "$(q "$H2" "SELECT state FROM files WHERE path=CAST('$H/unreadable.jpg' AS BLOB)")" = 0 ]
fi

# ---- camera-size progressive JPEGs (jpeg.c leaves out the AC scans 1/8 cannot see) ------
# A 2100 px progressive photo decodes at DCT scale 1/8 for lite0; the same file cut inside
# the luma AC scans and before the last DC scan, and with damaged bytes, must each get a
# failed row with a reason and one stderr line, never a silently grey or partial image.
PG=$T/prog; PGP=$T/progproj; mkdir -p "$PG" "$PGP"; "$BIN" init --model lite0 "$PGP" >/dev/null
if "$PY" - "${imgs[8]}" "$PG" <<'PYEOF' 2>"$T/prog.err"
import sys
from PIL import Image
im = Image.open(sys.argv[1]).convert("RGB").resize((2100, 2200), Image.BICUBIC)
im.save(sys.argv[2] + "/whole.jpg", quality=85, progressive=True)
b = open(sys.argv[2] + "/whole.jpg", "rb").read()
sos = [i for i in range(len(b) - 1) if b[i] == 0xFF and b[i + 1] == 0xDA]
open(sys.argv[2] + "/cut_in_ac.jpg", "wb").write(b[:(sos[1] + sos[2]) // 2])
open(sys.argv[2] + "/cut_before_last_dc.jpg", "wb").write(b[:sos[6] - 1])
bad = bytearray(b)
bad[sos[1] + 20:sos[1] + 400] = b"\xff\xc9" * 190     # markers where entropy data belongs
open(sys.argv[2] + "/damaged.jpg", "wb").write(bytes(bad))
PYEOF
then
    "$BIN" scan --project "$PGP" --threads 2 --quiet "$PG" 2>"$T/pg.err"; rc=$?
    check "progressive: scan exits 0" [ "$rc" = 0 ]
    check "progressive: the whole photo scanned" [ "$(q "$PGP" "SELECT count(*) FROM files WHERE state=0")" = 1 ]
    for name in cut_in_ac.jpg cut_before_last_dc.jpg damaged.jpg; do
        check "progressive: $name has a failed row with a reason" [ "$(q "$PGP" "SELECT count(*) FROM files
          WHERE path=CAST('$PG/$name' AS BLOB) AND state=1 AND error_kind='decode' AND length(error)>3")" = 1 ]
    done
    check "progressive: truncation named" [ "$(q "$PGP" "SELECT count(*) FROM files WHERE state=1 AND error LIKE '%truncated%'")" = 2 ]
    check "progressive: one stderr line per failure" [ "$(grep -c '^ordo: ' "$T/pg.err")" = 3 ]
else
    skp "progressive JPEGs" "$(tail -1 "$T/prog.err")"
fi

# ---- damaged weights: the network is built by the inference thread while the decoders
# already run; its failure must stop the whole scan with the reason, record nothing, and
# leave the project to the next scan.
head -c 5000 /dev/urandom >"$T/bad.pth"
BW=$T/bwproj; mkdir -p "$BW"; "$BIN" init --model lite0 "$BW" >/dev/null
timeout 300 "$BIN" scan --project "$BW" --weights "$T/bad.pth" --quiet "$PG" 2>"$T/bw.err"; rc=$?
check "bad weights: scan fails (no hang)" [ "$rc" = 1 ]
check "bad weights: one line with the reason" [ "$(grep -c "bad.pth: " "$T/bw.err")" = 1 ]
check "bad weights: nothing recorded" [ "$(q "$BW" "SELECT count(*) FROM files")" = 0 ]
"$BIN" scan --project "$BW" --quiet "$PG" 2>/dev/null
check "bad weights: the next scan works" [ "$(q "$BW" "SELECT count(*) FROM files WHERE state=0")" = 1 ]

# ---- the classify issue's corpus (tests/test_img_corpus.py) ----------------------------
C=$T/corpus; CP=$T/cproj; mkdir -p "$C" "$CP"
if (cd tests && "$PY" -c "
import os, sys
import test_img_corpus as c
good, bad = c.build_corpus()
for n, v in list(good.items()) + list(bad.items()):
    open(os.path.join('$C', n), 'wb').write(v[0])
" 2>"$T/corpus.err"); then
    "$BIN" init --model lite0 "$CP" >/dev/null
    "$BIN" scan --project "$CP" --quiet "$C" 2>/dev/null; rc=$?
    check "corpus: scan exits 0" [ "$rc" = 0 ]
    "$PY" - "$C" "$CP" >"$T/corpus.out" 2>&1 <<'EOF2'
import os, sqlite3, sys
sys.path.insert(0, "tests")
import test_img_corpus as c
good, bad = c.build_corpus()
d, proj = sys.argv[1], sys.argv[2]
db = sqlite3.connect(proj + "/.ordo/ordo.db")
rows = {bytes(p).decode("utf-8", "replace").rsplit("/", 1)[1]: (st, kind, err)
        for p, st, kind, err in db.execute("SELECT path, state, error_kind, error FROM files")}
imgext = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp")
wrong = []
for n in good:
    if rows.get(n, (None,))[0] != 0:
        wrong.append("%s: want ok, got %r" % (n, rows.get(n)))
for n in bad:
    r = rows.get(n)
    if n.lower().endswith(imgext):   # named like an image: a failed row with a reason
        if not r or r[0] != 1 or not r[2]:
            wrong.append("%s: want a failed row, got %r" % (n, r))
    elif r and r[0] != 1:             # anything else: skipped, or failed if it sniffs as one
        wrong.append("%s: want skipped or failed, got %r" % (n, r))
kinds = {}
for st, kind, err in rows.values():
    if st == 1:
        kinds[kind] = kinds.get(kind, 0) + 1
print("%d good files ok, %d bad files; failed rows by kind: %s" % (len(good), len(bad), kinds))
for w in wrong: print("WRONG", w)
sys.exit(1 if wrong else 0)
EOF2
    rc=$?
    sed 's/^/    /' "$T/corpus.out"
    check "corpus: good files ok, bad image files failed with a reason" [ "$rc" = 0 ]
else
    skp "corpus" "tests/test_img_corpus.py unavailable: $(tail -n 1 "$T/corpus.err")"
fi

# ---- incremental ------------------------------------------------------------------
I=$T/inc; IP=$T/incproj
mkdir -p "$I/a" "$I/b" "$IP"
for k in 10 11 12 13; do good $k "$I/a/$k.jpg"; done
good 14 "$I/b/14.jpg"
"$BIN" init --model lite0 "$IP" >/dev/null
"$BIN" scan --project "$IP" --quiet "$I"
sqlite3 "$IP/.ordo/ordo.db" "INSERT INTO labels(image_id,label,annotator,source,created)
  SELECT image_id,'tennis','t','cli',0 FROM files WHERE path=CAST('$I/a/12.jpg' AS BLOB)"
cp "$I/a/10.jpg" "$I/b/dup.jpg"              # duplicate content
good 15 "$I/a/11.jpg"                          # changed content
touch -d '2001-01-01' "$I/a/11.jpg"
rm "$I/a/12.jpg"                               # deleted (labeled)
"$BIN" scan --project "$IP" "$I" 2>"$T/inc.err"
cat "$T/inc.err" | sed 's/^/    /'
check "incremental: summary line" grep -q '1 new images.*1 duplicates, 3 unchanged, 0 failed, 0 not images, 1 now missing' "$T/inc.err"
"$BIN" status --project "$IP" --json >"$T/is.json"
check "incremental: status" "$PY" -c "
import json,sys; s=json.load(open('$T/is.json'))
sys.exit(not (s['ok']==5 and s['images']==4 and s['duplicates']==1 and s['missing']==1 and s['labeled']==1))"
check "incremental: label of the missing image kept" [ "$(q "$IP" "SELECT count(*) FROM labels l JOIN files f ON f.image_id=l.image_id WHERE f.state=2")" = 1 ]
"$BIN" scan --project "$IP" --quiet "$I/b"    # scanning b alone never marks a/ missing
check "incremental: other roots untouched" [ "$(q "$IP" "SELECT count(*) FROM files WHERE state=2")" = 1 ]
good 12 "$I/a/12.jpg"; touch -d '2002-02-02' "$I/a/12.jpg"
"$BIN" scan --project "$IP" --quiet "$I"
mv "$I/b" "$I/moved"                           # a moved folder is not inferred again
"$BIN" scan --project "$IP" "$I" 2>"$T/mv.err"
check "incremental: moved folder linked, old paths missing" grep -q ' 0 new images.*2 duplicates, .* 2 now missing' "$T/mv.err"
check "incremental: file back, same image row" [ "$(q "$IP" "SELECT count(*) FROM files f JOIN labels l ON l.image_id=f.image_id WHERE f.state=0")" = 1 ]

# ---- SIGKILL at random moments ---------------------------------------------------------
K=$T/kill; mkdir -p "$K"
NK=${ORDO_KILL_IMAGES:-200}
[ -n "${ORDO_SANITIZED:-}" ] && NK=${ORDO_KILL_IMAGES:-40}
for ((k = 0; k < NK; k++)); do cp "${imgs[$((k * 17 % ${#imgs[@]}))]}" "$K/$(printf '%04d' $k).jpg"; done
cp "$K/0003.jpg" "$K/dup.jpg"; echo junk >"$K/junk.jpg"
A=$T/clean; B=$T/killed; mkdir -p "$A" "$B"
"$BIN" init --model lite0 "$A" >/dev/null; "$BIN" init --model lite0 "$B" >/dev/null
start=$(date +%s.%N)
"$BIN" scan --project "$A" --quiet "$K" 2>/dev/null
clean=$(echo "$(date +%s.%N) - $start" | bc)
echo "    clean scan of $NK images: ${clean} s"
kills=0 finished=0
RANDOM=7
# Start-up cost (weights, WordNet, walk) = a rescan with nothing to do.
start=$(date +%s.%N)
"$BIN" scan --project "$A" --quiet "$K" 2>/dev/null
startup=$(echo "$(date +%s.%N) - $start" | bc)
echo "    start-up (rescan, nothing new): ${startup} s"
# Each run dies at a random moment in [startup/2, startup + clean/4], so the
# kills land all along the scan (start-up, decoding, inference, commits) and
# the 25 runs together get through most of it.
lo=$(echo "$startup * 500" | bc -l | cut -d. -f1)
span=$(echo "($startup / 2 + $clean / 4) * 1000 + 1" | bc -l | cut -d. -f1)
for ((round = 0; round < 60 && kills < 25; round++)); do
    "$BIN" scan --project "$B" --quiet "$K" 2>/dev/null &
    pid=$!
    ms=$((lo + RANDOM % span))
    sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    if [ $? = 137 ]; then kills=$((kills + 1)); else
        finished=$((finished + 1))
        span=$((span / 2 + 1))   # little work left: aim earlier (kills in rescans too)
    fi
done
echo "    $kills kills ($finished runs finished before their kill); rows before the final run: $(q "$B" "SELECT count(*) FROM files")"
"$BIN" scan --project "$B" --quiet "$K" 2>"$T/final.err"
check "kill: final run exits 0" [ $? = 0 ]
check "kill: at least 20 kills" [ "$kills" -ge 20 ]
check "kill: integrity_check ok" [ "$(q "$B" "PRAGMA integrity_check")" = ok ]
"$PY" - "$A" "$B" >"$T/cmp.out" 2>&1 <<'EOF'
import sqlite3, sys
import numpy as np
def load(p):
    db = sqlite3.connect(p + "/.ordo/ordo.db")
    files = db.execute("SELECT f.path, f.size, f.mtime_ns, f.hash, f.state, f.error_kind, i.hash "
                       "FROM files f LEFT JOIN images i ON i.id=f.image_id ORDER BY f.path").fetchall()
    cols = ("hash, slot, width, height, format, top_class0, top_class1, top_class2, top_class3,"
            " top_class4, top_prob0, top_prob1, top_prob2, top_prob3, top_prob4, max_prob, margin,"
            " entropy, sports, nfiles")
    imgs = db.execute("SELECT %s FROM images ORDER BY hash" % cols).fetchall()
    nslot = int(db.execute("SELECT value FROM meta WHERE key='next_slot'").fetchone()[0])
    e = np.fromfile(p + "/.ordo/embed.f16", dtype="<f2")
    l = np.fromfile(p + "/.ordo/logits.f16", dtype="<f2")
    return files, imgs, nslot, e, l
fa, ia, na, ea, la = load(sys.argv[1])
fb, ib, nb, eb, lb = load(sys.argv[2])
problems = []
if fa != fb: problems.append("files differ: %d vs %d rows" % (len(fa), len(fb)))
if len(ia) != len(ib): problems.append("images: %d vs %d rows" % (len(ia), len(ib)))
if na != len(ia) or nb != len(ib): problems.append("next_slot %d/%d vs %d/%d images" % (na, nb, len(ia), len(ib)))
worst_s = worst_e = worst_l = 0.0
for a, b in zip(ia, ib):
    if a[0] != b[0] or a[2:10] != b[2:10] or a[19] != b[19]:
        problems.append("image %s: %r vs %r" % (a[0].hex(), a, b)); continue
    worst_s = max([worst_s] + [abs(x - y) for x, y in zip(a[10:19], b[10:19])])
    sa, sb = a[1], b[1]
    ra, rb = ea[sa*1280:(sa+1)*1280].astype(np.float32), eb[sb*1280:(sb+1)*1280].astype(np.float32)
    worst_e = max(worst_e, float(np.max(np.abs(ra - rb))))
    ra, rb = la[sa*1000:(sa+1)*1000].astype(np.float32), lb[sb*1000:(sb+1)*1000].astype(np.float32)
    worst_l = max(worst_l, float(np.max(np.abs(ra - rb))))
# Batches differ after a kill, so the network may sum in another order:
# equal up to float rounding (and one half-float step).
if worst_s > 1e-4: problems.append("scores differ by %g" % worst_s)
if worst_e > 2e-2: problems.append("embeddings differ by %g" % worst_e)
if worst_l > 5e-2: problems.append("logits differ by %g" % worst_l)
print("rows: %d files, %d images; max diff: scores %.2g, embeddings %.2g, logits %.2g"
      % (len(fb), len(ib), worst_s, worst_e, worst_l))
for p in problems[:10]: print("PROBLEM", p)
sys.exit(1 if problems else 0)
EOF
rc=$?
sed 's/^/    /' "$T/cmp.out"
check "kill: database equals the clean scan's" [ "$rc" = 0 ]
check "kill: no duplicate rows" [ "$(q "$B" "SELECT count(*) - count(DISTINCT path) FROM files")" = 0 ]
check "kill: $((NK + 2)) files, $NK images" [ "$(q "$B" "SELECT count(*) FROM files")/$(q "$B" "SELECT count(*) FROM images")" = "$((NK + 2))/$NK" ]

summary
