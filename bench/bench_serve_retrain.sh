#!/usr/bin/env bash
# bench_serve_retrain.sh - label POST latency while the page's model retrains.
#
#   bench/bench_serve_retrain.sh [SECONDS]   (default 20; env: BUILD=build, CONNS=100,
#                                             PROJECT=DIR scanned project, LABELED=1500)
#
# On a copy of a scanned project (default: the sports100 pool that
# tests/test_browser_annotator.py caches in $BUILD/cache/sports100-pool) with
# LABELED images answered from their folder names, wrk posts labels from
# CONNS connections (the true label of a random image) for SECONDS, twice:
#   anchor   no retraining running
#   retrain  the dashboard's retraining requested again and again, so a fit
#            of learn's classifier (the same as `ordo train`) runs throughout
# and prints both p99s and their ratio, plus how many fits completed. Every
# acknowledged label must be in the database afterwards.
# Target (issue 14): label POST p99 <= 50 ms while retraining on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
DUR=${1:-20}
CONNS=${CONNS:-100}
LABELED=${LABELED:-1500}
PROJECT=${PROJECT:-$BUILD/cache/sports100-pool}
ORDO=$PWD/$BUILD/ordo
[ -x "$ORDO" ] || { echo "build $ORDO first"; exit 1; }
[ -f "$PROJECT/.ordo/ordo.db" ] || { echo "no scanned project at $PROJECT (run tests/test_browser_annotator.py once, or set PROJECT)"; exit 1; }
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 1; }

tmp=$(mktemp -d /tmp/ordo-bench-retrain-XXXXXX)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
mkdir -p "$tmp/p/.ordo"
cp "$PROJECT"/.ordo/ordo.db "$PROJECT"/.ordo/*.f16 "$tmp/p/.ordo/"
db=$tmp/p/.ordo/ordo.db
# the true label of every image (folder name), and LABELED of them answered
sqlite3 -csv "$db" "SELECT image_id, CAST(path AS TEXT) FROM files WHERE state = 0 ORDER BY image_id" |
    awk -F, '{ n = split($2, p, "/"); gsub(/"/, "", p[n-1]); print $1 "\t" p[n-1] }' >"$tmp/truth.tsv"
nimg=$(wc -l <"$tmp/truth.tsv")
head -n "$LABELED" "$tmp/truth.tsv" | awk -F'\t' '{ printf "%s,\"%s\"\n", $1, $2 }' >"$tmp/seed.csv"
sqlite3 "$db" <<SQL
.mode csv
CREATE TEMP TABLE seed(image_id INTEGER, label TEXT);
.import $tmp/seed.csv seed
INSERT INTO labels(image_id, label, annotator, source, reason, created)
  SELECT image_id, label, 'seed', 'import', NULL, 0 FROM seed;
SQL
echo "== project: copy of $PROJECT ($nimg images, $LABELED answered)"

"$ORDO" serve --project "$tmp/p" --port 0 --double-share 0 --retrain-every 0 >"$tmp/log" 2>&1 &
pid=$!
for _ in $(seq 300); do grep -q serving "$tmp/log" 2>/dev/null && break; sleep 0.1; done
port=$(sed -n 's|.*http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$tmp/log")
url=http://127.0.0.1:$port
echo "== server: $url ($(nproc) cores)"
csrf=$(curl -sf "$url/api/me" | sed 's/.*"csrf":"\([0-9a-f]*\)".*/\1/')

# the labels to post: id and label, URL-encoded, one per line
awk -F'\t' '{ l = $2; gsub(/ /, "+", l); print "id=" $1 "&label=" l }' "$tmp/truth.tsv" >"$tmp/bodies.txt"
cat >"$tmp/write.lua" <<LUA
local bodies = {}
for line in io.lines("$tmp/bodies.txt") do bodies[#bodies + 1] = line end
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) ok = 0 end
function request()
  return wrk.format("POST", "/api/label", {["Content-Type"] = "application/x-www-form-urlencoded",
                                           ["X-Ordo-CSRF"] = "$csrf"}, bodies[math.random(1, #bodies)])
end
function response(status, headers, body) if status == 200 then ok = ok + 1 end end
function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("ok") end
  io.write(string.format("acknowledged_labels %d\n", total))
end
LUA

version() { curl -sf "$url/api/stats" | sed 's/.*"version":\([0-9]*\).*/\1/'; }
run() {   # name
    wrk -t2 -c"$CONNS" -d"${DUR}s" --latency -s "$tmp/write.lua" "$url" >"$tmp/$1.txt"
    cat "$tmp/$1.txt"
}

echo "== anchor: $CONNS connections posting labels, no retraining"
run anchor
v0=$(version)
echo "== retrain: the same while the model retrains again and again"
( end=$((SECONDS + DUR + 1)); while [ $SECONDS -lt $end ]; do
      curl -sf -o /dev/null -X POST -H "X-Ordo-CSRF: $csrf" "$url/api/retrain" || true; sleep 0.3
  done ) &
kpid=$!
sleep 1   # the first fit is running
run retrain
wait "$kpid" || true
for _ in $(seq 600); do curl -sf "$url/api/stats" | grep -q '"training":false' && break; sleep 0.1; done
v1=$(version)

p99() { awk '$1 == "99%" { v = $2; if (v ~ /us$/) { sub(/us/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms/, "", v) } else if (v ~ /s$/) { sub(/s/, "", v); v *= 1000 }; print v }' "$1"; }
a=$(p99 "$tmp/anchor.txt"); b=$(p99 "$tmp/retrain.txt")
acked=$(( $(awk '/acknowledged_labels/ {print $2}' "$tmp/anchor.txt") + $(awk '/acknowledged_labels/ {print $2}' "$tmp/retrain.txt") ))
kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
stored=$(sqlite3 "$db" "SELECT COUNT(*) FROM labels WHERE annotator = 'local'")
echo "RESULT label POST p99: anchor (no retraining) $a ms, during retraining $b ms, ratio $(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", b / a }')x; fits completed during the run: $((v1 - v0))"
echo "RESULT labels acknowledged $acked, in the database $stored"
[ "$stored" -ge "$acked" ] || { echo "FAIL: $((acked - stored)) acknowledged labels missing"; exit 1; }
