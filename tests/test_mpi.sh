#!/usr/bin/env bash
# test_mpi.sh - scale-out: `ordo scan --shard I/N` + `ordo merge`, and
# `mpirun -n P ordo scan --mpi`, against a single-process scan of the same
# photos (a 250-image subset of sports100 plus duplicates and bad files;
# all 4,989 photos with ORDO_FULL_TESTS=1):
#   * every merged row (files, images, embedding and logit rows) is a
#     byte-exact copy of a shard's row, and the project equals the
#     single-process one row for row (same file ids, image ids, slots) with
#     the same scores - bit-identical except where the network itself rounds
#     differently in a batch of another size (counted and printed) - for 3
#     shards, mpirun -n 2 and -n 3 --oversubscribe;
#   * merging twice changes nothing; a missing shard fails the merge;
#   * a rank killed with SIGKILL mid-scan: mpirun fails naming the rank,
#     every store passes PRAGMA integrity_check, a rerun finishes the work
#     and again equals the single-process scan (no duplicates);
#   * incremental rescans (file added, changed, deleted) stay equal;
#   * `ordo next 200 --mpi` equals `ordo next 200`, and on synthetic pools of
#     several row blocks the batch is the same on 1, 2 and 3 ranks.
# Needs $ORDO_BIN, the model weights, $ORDO_DATA and (for MPI) mpirun.
set -u
. "$(dirname "$0")/lib.sh"

need_command merge
need_data test
if ! command -v sqlite3 >/dev/null; then
    skp all "no sqlite3 command-line tool"; summary
fi
T=$(mktemp -d /tmp/ordo_test_mpi.XXXXXX)
trap 'rm -rf "$T"' EXIT
# mpirun refuses root unless told; -n 3 on 2 cores needs --oversubscribe.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MPIRUN=(mpirun --oversubscribe)
# Open MPI's own allocations outlive MPI_Finalize: no leak report for them
# (only under mpirun; the shard/merge commands keep leak checking).
[ -n "${ORDO_SANITIZED:-}" ] &&
    MPIRUN=(env ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" mpirun --oversubscribe)
have_mpi=1
command -v mpirun >/dev/null || have_mpi=0

# ---- the photos ------------------------------------------------------------
SRC=$T/photos
if [ -n "${ORDO_FULL_TESTS:-}" ]; then
    cp -r "$SPORTS/pool" "$SRC"; cp -r "$SPORTS/test" "$SRC/test"
else
    n=250; [ -n "${ORDO_SANITIZED:-}" ] && n=40
    mkdir -p "$SRC"
    find "$SPORTS/test" -name '*.jpg' | sort | head -n "$n" | while IFS= read -r f; do
        d=$(basename "$(dirname "$f")"); mkdir -p "$SRC/$d"; cp -p "$f" "$SRC/$d/"
    done
fi
# Duplicates (the same content in other files, likely in other shards) and
# failures (empty, not an image) must merge exactly like a single scan.
mkdir -p "$SRC/extra dir"
mapfile -t imgs < <(find "$SRC" -name '*.jpg' | sort)
cp "${imgs[0]}" "$SRC/extra dir/dup copy.jpg"
cp "${imgs[7]}" "$SRC/extra dir/dup 2.jpg"
cp "${imgs[7]}" "$SRC/zz dup 3.jpg"
echo "not an image" >"$SRC/extra dir/fake.jpg"
: >"$SRC/extra dir/empty.jpg"
NFILES=$(find "$SRC" -type f | wc -l)

# Comparing projects (Debian's python3: sqlite3 + numpy).
PY=${ORDO_PYTHON:-/usr/bin/python3}
cat >"$T/cmp.py" <<'PYEOF'
import glob, os, sqlite3, sys
import numpy as np
def load(p):
    db = sqlite3.connect("file:%s/.ordo/ordo.db?mode=ro" % p, uri=True)
    cols = [r[1] for r in db.execute("pragma table_info(images)")
            if r[1] not in ("id", "slot", "nfiles", "scan_id")]
    img = {r[0]: r[1:] for r in db.execute(
        "select hash, id, slot, nfiles, %s from images" % ",".join(cols))}
    files = db.execute("select id, path, size, mtime_ns, hash, image_id, state, error_kind,"
                       " error from files order by id").fetchall()
    meta = db.execute("select value from meta where key = 'next_slot'").fetchone()[0]
    def mat(name, w):
        return np.fromfile("%s/.ordo/%s" % (p, name), dtype="<f2").reshape(-1, w)
    return dict(img=img, files=files, meta=meta, cols=cols,
                E=mat("embed.f16", 1280), L=mat("logits.f16", 1000))
def same(a, b):
    """b was scanned differently (shards, MPI): the same rows, ids and slots;
    scores equal up to the network's batch-size rounding (reported)."""
    A, B = load(a), load(b)
    if A["files"] != B["files"]: return "file rows differ"
    if A["meta"] != B["meta"] or A["img"].keys() != B["img"].keys(): return "image set differs"
    exact = close = 0
    for h, ra in A["img"].items():
        rb = B["img"][h]
        if ra[:3] != rb[:3]: return "image id/slot/nfiles differ"
        na, nb = ra[3:], rb[3:]
        s = ra[1]
        ea, eb = A["E"][s].astype(np.float32), B["E"][s].astype(np.float32)
        la, lb = A["L"][s].astype(np.float32), B["L"][s].astype(np.float32)
        if na == nb and (ea == eb).all() and (la == lb).all():
            exact += 1; continue
        cls = [x for x, c in zip(na, A["cols"]) if "class" in c or c in ("width", "height", "format")]
        clsb = [x for x, c in zip(nb, B["cols"]) if "class" in c or c in ("width", "height", "format")]
        num = [(x, y) for x, y, c in zip(na, nb, A["cols"]) if isinstance(x, float)]
        if cls == clsb and all(abs(x - y) <= 1e-5 * max(1, abs(x)) for x, y in num) and \
           np.abs(ea - eb).max() <= 1e-2 and np.abs(la - lb).max() <= 2e-2:
            close += 1; continue
        return "image %s differs beyond rounding" % h.hex()
    print("    %d images bit-identical, %d equal up to float rounding" % (exact, close))
    return None
def merged_exact(p, n):
    """Every image row and matrix row of the project is a byte-for-byte copy
    of a shard's row for that content; every file row a shard's file row."""
    P = load(p)
    shards = [load(d) for d in sorted(glob.glob("%s/.ordo/shards/*-of-%s" % (p, n)))]
    fk = lambda r: r[1:5] + r[6:]
    sf = set(fk(r) for s in shards for r in s["files"])
    if any(fk(r) not in sf for r in P["files"]): return "a file row is no shard's row"
    for h, r in P["img"].items():
        if not any(h in s["img"] and s["img"][h][3:] == r[3:] and
                   (s["E"][s["img"][h][1]] == P["E"][r[1]]).all() and
                   (s["L"][s["img"][h][1]] == P["L"][r[1]]).all() for s in shards):
            return "image %s is no shard's copy" % h.hex()
    print("    %d images, %d files: exact copies of shard rows" % (len(P["img"]), len(P["files"])))
    return None
err = same(sys.argv[2], sys.argv[3]) if sys.argv[1] == "same" else merged_exact(sys.argv[2], sys.argv[3])
if err: print("    " + err)
sys.exit(1 if err else 0)
PYEOF
dump() {   # everything, for "nothing changed"
    sqlite3 -readonly "$1/.ordo/ordo.db" "SELECT * FROM files ORDER BY id;
        SELECT * FROM images ORDER BY id; SELECT * FROM meta ORDER BY key"
    md5sum <"$1/.ordo/embed.f16"; md5sum <"$1/.ordo/logits.f16"
}
same_as_ref() { "$PY" "$T/cmp.py" same "$REF" "$1"; }
merged_exact() { "$PY" "$T/cmp.py" exact "$1" "$2"; }
integrity() { # every store under a project
    local db r=0
    while IFS= read -r db; do
        [ "$(sqlite3 "$db" 'PRAGMA integrity_check')" = ok ] || { echo "    $db"; r=1; }
    done < <(find "$1/.ordo" -name ordo.db)
    return $r
}
no_dup_rows() { # no path and no content twice
    [ "$(sqlite3 "$1/.ordo/ordo.db" "SELECT (SELECT count(*) - count(DISTINCT path) FROM files)
        + (SELECT count(*) - count(DISTINCT hash) FROM images)")" = 0 ]
}

# ---- the reference: one process --------------------------------------------
REF=$T/single
mkdir -p "$REF"
"$BIN" init --model lite0 "$REF" >/dev/null
"$BIN" scan --project "$REF" --quiet --no-sync "$SRC" 2>/dev/null
check "single-process scan exits 0" [ $? = 0 ]
check "reference holds every file" \
    [ "$(sqlite3 "$REF/.ordo/ordo.db" 'SELECT count(*) FROM files')" = "$NFILES" ]

# ---- shard / merge -----------------------------------------------------------
S=$T/sharded
mkdir -p "$S"
"$BIN" init --model lite0 "$S" >/dev/null
src=0
for i in 0 2 1; do   # any order: shards are independent
    "$BIN" scan --project "$S" --quiet --no-sync --threads 1 --shard "$i/3" "$SRC" 2>/dev/null ||
        src=1
done
check "three shard scans exit 0" [ "$src" = 0 ]
counts=$(for i in 0 1 2; do
    sqlite3 "$S/.ordo/shards/$i-of-3/.ordo/ordo.db" 'SELECT count(*) FROM files'; done)
check "shards split the files (each a part, together all)" [ "$(awk '$1 > 0 {n++; s += $1}
    END {print n, s}' <<<"$counts")" = "3 $NFILES" ]
check "project untouched before the merge" \
    [ "$(sqlite3 "$S/.ordo/ordo.db" 'SELECT count(*) FROM files')" = 0 ]
"$BIN" merge --project "$S" --quiet --no-sync
check "merge exits 0" [ $? = 0 ]
check "shard/merge: every row a byte-exact copy of a shard's row" merged_exact "$S" 3
check "shard/merge equals the single-process scan (rows, ids, slots, scores)" same_as_ref "$S"
before=$(sqlite3 "$S/.ordo/ordo.db" 'SELECT count(*) FROM scans'; dump "$S" | md5sum)
out=$("$BIN" merge --project "$S" --no-sync 2>&1)
after=$(sqlite3 "$S/.ordo/ordo.db" 'SELECT count(*) FROM scans'; dump "$S" | md5sum)
check "merging again changes nothing" [ "$before" = "$after" ]
check "merging again says so" grep -q "merged already" <<<"$out"
# Forgetting what was merged forces a full re-merge: still nothing to write.
sqlite3 "$S/.ordo/ordo.db" 'DELETE FROM dist_merged'
out=$("$BIN" merge --project "$S" --no-sync 2>&1)
check "a full re-merge writes no row" grep -q " 0 written, 0 new images" <<<"$out"
check "...and the project is unchanged" same_as_ref "$S"
# A shard of another N that is missing: the merge says which, exits 1.
"$BIN" scan --project "$S" --quiet --no-sync --shard 1/4 "$SRC/extra dir" 2>/dev/null
out=$("$BIN" merge --project "$S" --no-sync 2>&1)
check "several shard sizes present: merge asks for --shards" grep -q -- "--shards N" <<<"$out"
out=$("$BIN" merge --project "$S" --shards 4 --no-sync 2>&1); rc=$?
check "missing shards fail the merge (exit 1) by name" \
    [ "$rc" = 1 -a -n "$(grep 'shards 0,2,3 of 4 are not finished' <<<"$out")" ]
check "bad --shard values are refused" [ "$("$BIN" scan --project "$S" --shard 3/3 "$SRC" \
    >/dev/null 2>&1; echo $?)" = 2 ]

# ---- MPI -------------------------------------------------------------------------
if [ "$have_mpi" = 0 ]; then
    skp "mpi" "no mpirun"; summary
fi
for np in 2 3; do
    M=$T/mpi$np
    mkdir -p "$M"
    "$BIN" init --model lite0 "$M" >/dev/null
    out=$("${MPIRUN[@]}" -n $np "$BIN" scan --mpi --project "$M" --no-sync "$SRC" 2>&1); rc=$?
    check "mpirun -n $np scan --mpi exits 0" [ "$rc" = 0 ]
    check "mpirun -n $np: one summary, from rank 0" [ "$(grep -c '^scanned ' <<<"$out")" = 1 ]
    check "mpirun -n $np: summary counts the whole job" \
        grep -q "^scanned $NFILES files" <<<"$out"
    check "mpirun -n $np: every row a byte-exact copy of a shard's row" merged_exact "$M" $np
    check "mpirun -n $np equals the single-process scan" same_as_ref "$M"
done

# ---- a rank killed mid-scan --------------------------------------------------------
K=$T/killed
mkdir -p "$K"
"$BIN" init --model lite0 "$K" >/dev/null
"${MPIRUN[@]}" -n 2 "$BIN" scan --mpi --project "$K" --no-sync --batch 4 "$SRC" >"$T/kill.log" 2>&1 &
mpid=$!
victim=""
for _ in $(seq 1 600); do   # until rank 1 has written something
    for p in $(pgrep -f "scan --mpi --project $K"); do
        if tr '\0' '\n' </proc/"$p"/environ 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=1'; then
            victim=$p
        fi
    done
    n1=$(sqlite3 "$K/.ordo/shards/1-of-2/.ordo/ordo.db" 'SELECT count(*) FROM files' 2>/dev/null)
    [ -n "$victim" ] && [ "${n1:-0}" -gt 10 ] && break
    sleep 0.1
done
[ -n "$victim" ] && kill -9 "$victim"
wait "$mpid"; rc=$?
echo "    killed rank 1 (pid ${victim:-none}) after ${n1:-0} of its files; mpirun exit $rc"
check "killing a rank fails the job" [ "$rc" != 0 ]
check "the failure names the rank and the signal" \
    grep -q "rank 1 .*exited on signal 9" "$T/kill.log"
check "no merge happened" [ "$(sqlite3 "$K/.ordo/ordo.db" 'SELECT count(*) FROM files')" = 0 ]
check "every store passes integrity_check after the kill" integrity "$K"
out=$("${MPIRUN[@]}" -n 2 "$BIN" scan --mpi --project "$K" --no-sync "$SRC" 2>&1); rc=$?
check "the rerun exits 0" [ "$rc" = 0 ]
check "the rerun resumed (unchanged files skipped)" grep -Eq "[1-9][0-9]* unchanged" <<<"$out"
check "after the rerun: equals the single-process scan" same_as_ref "$K"
check "after the rerun: every row a byte-exact copy of a shard's row" merged_exact "$K" 2
check "after the rerun: no duplicate rows" no_dup_rows "$K"

# ---- incremental: add, change, delete ------------------------------------------------
cp "${imgs[3]}" "$SRC/new one.jpg"
cp "${imgs[5]}" "${imgs[4]}"; touch -d '2001-01-01' "${imgs[4]}"   # changed content
rm -f "${imgs[6]}" "$SRC/extra dir/dup copy.jpg"
"$BIN" scan --project "$REF" --quiet --no-sync "$SRC" 2>/dev/null
"${MPIRUN[@]}" -n 2 "$BIN" scan --mpi --project "$T/mpi2" --quiet --no-sync "$SRC" 2>/dev/null
check "incremental MPI rescan equals incremental single rescan" same_as_ref "$T/mpi2"
check "...and is still made of exact shard rows" merged_exact "$T/mpi2" 2
check "...with the deleted files missing" [ "$(sqlite3 "$REF/.ordo/ordo.db" \
    'SELECT count(*) FROM files WHERE state = 2')" = 2 ]

# ---- ranking -------------------------------------------------------------------------
# One BLAS thread everywhere: mpirun binds each rank to a core (OpenBLAS then
# runs 1 thread), and the batch depends on the BLAS thread count (the
# typicality GEMM; see docs/cluster.md), also without MPI.
export OPENBLAS_NUM_THREADS=1
MPIRUN+=(-x OPENBLAS_NUM_THREADS)
if "$BIN" next --help 2>&1 | grep -q -- --mpi; then
    for args in "200" "200 --json --seed 7"; do
        a=$("$BIN" next $args --project "$REF" 2>/dev/null)
        for np in 2 3; do
            b=$("${MPIRUN[@]}" -n $np "$BIN" next $args --mpi --project "$REF" 2>/dev/null)
            check "next $args --mpi (-n $np) equals next $args" [ -n "$a" -a "$a" = "$b" ]
        done
    done
else
    skp "next --mpi" "this ordo has no \`next --mpi\`"
fi
# The sports subset fits in one block of rows, so only rank 0 computes there;
# synthetic pools of several blocks split the passes for real.
LIB=$(dirname "$BIN")/libordo.a
if [ -f "$LIB" ] && command -v mpicc >/dev/null; then
    BR=$T/bench_mpi_rank
    if cc -std=c11 -O1 -D_GNU_SOURCE -Isrc ${ORDO_SANITIZED:+-fsanitize=address,undefined} \
          -pthread $(mpicc --showme:compile) -o "$BR" bench/bench_mpi_rank.c "$LIB" \
          -lsqlite3 -lxxhash -lopenblas -lm $(mpicc --showme:link) 2>"$T/cc.err"; then
        rows=10000; [ -n "${ORDO_SANITIZED:-}" ] && rows=5000
        "$BR" gen "$T/emb.f16" $rows
        for lab in 0 3000; do
            sums=""
            for np in 1 2 3; do
                out=$("${MPIRUN[@]}" -n $np "$BR" run "$T/emb.f16" $rows 300 $lab 2>&1)
                echo "    $out" | cut -c1-150
                sums="$sums $(grep -o 'checksum=[0-9a-f]*' <<<"$out")"
            done
            check "$rows-row pool, $lab labeled: same batch on 1, 2 and 3 ranks" \
                [ "$(tr ' ' '\n' <<<"$sums" | grep -c checksum)" = 3 -a \
                  "$(tr ' ' '\n' <<<"$sums" | grep checksum | sort -u | wc -l)" = 1 ]
        done
    else
        bad "bench_mpi_rank builds" "$(head -n 3 "$T/cc.err")"
    fi
else
    skp "ranking over several blocks" "no $LIB or mpicc"
fi
summary
