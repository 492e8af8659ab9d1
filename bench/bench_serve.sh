#!/usr/bin/env bash
# bench_serve.sh - load benchmark of `ordo serve` with wrk.
#
#   bench/bench_serve.sh [SECONDS]     (default 30; env: BUILD=build, N=1000 images,
#                                        CONNS=100, WRITERS=4, PROJECT=DIR)
#
# Builds a synthetic project of N images (tests/test_server --make-project),
# or copies the database of a scanned project (PROJECT=DIR, real photos),
# starts the server on a free loopback port and runs wrk with CONNS
# connections for SECONDS on each read endpoint:
#   next   GET /api/next?n=5       the next images to label (queue + suggestions)
#   image  GET /api/image/ID       the labeling view's image (ID random of 200)
#   thumb  GET /api/thumb/ID       grid thumbnails (ID random of 200)
# then a second run: CONNS/2 connections on next and CONNS/2 on thumb while
# WRITERS more connections post labels as fast as they can; afterwards every
# acknowledged label must be in the database. Prints wrk's latency table and one summary line per run.
# Target (issue 6): no errors and p99 < 50 ms with 100 connections on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
DUR=${1:-30}
N=${N:-1000}
CONNS=${CONNS:-100}
WRITERS=${WRITERS:-4}
ORDO=$PWD/$BUILD/ordo
FIX=$PWD/$BUILD/tests/test_server
for b in "$ORDO" "$FIX"; do [ -x "$b" ] || { echo "build $b first (make BUILD=$BUILD)"; exit 1; }; done
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 1; }

tmp=$(mktemp -d /tmp/ordo-bench-serve-XXXXXX)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

if [ -n "${PROJECT:-}" ]; then   # a scanned project: work on a copy of its .ordo
    mkdir -p "$tmp/p"
    cp -r "$PROJECT/.ordo" "$tmp/p/.ordo"
    rm -rf "$tmp/p/.ordo/cache"
    N=$(sqlite3 "$tmp/p/.ordo/ordo.db" "SELECT MAX(id) FROM images")
    echo "== project: copy of $PROJECT ($N images)"
else
    echo "== project: $N synthetic images"
    "$FIX" --make-project "$tmp/p" "$N" >/dev/null
fi
# --retrain-every 0: the write run's labels are all distinct, nothing to learn
"$ORDO" serve --project "$tmp/p" --port 0 --double-share 0 --retrain-every 0 >"$tmp/log" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q serving "$tmp/log" 2>/dev/null && break; sleep 0.1; done
port=$(sed -n 's|.*http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$tmp/log")
url=http://127.0.0.1:$port
echo "== server: $url ($(nproc) cores)"

# Warm the cache: the first request for an image decodes and encodes it.
for id in $(seq 1 200); do
    curl -sf -o /dev/null "$url/api/thumb/$id"
    curl -sf -o /dev/null "$url/api/image/$id"
done

cat >"$tmp/rand.lua" <<'LUA'
local kind = os.getenv("KIND")
request = function()
  return wrk.format("GET", "/api/" .. kind .. "/" .. math.random(1, 200))
end
LUA
cat >"$tmp/write.lua" <<'LUA'
local threads, nthreads = {}, 0
function setup(thread)
  nthreads = nthreads + 1
  thread:set("tid", nthreads)
  table.insert(threads, thread)
end
function init(args)
  ok, cnt, csrf, nimg = 0, 0, os.getenv("CSRF"), tonumber(os.getenv("NIMG"))
end
function request()
  cnt = cnt + 1
  local body = "id=" .. math.random(1, nimg) .. "&label=bench-" .. tid .. "-" .. cnt
  return wrk.format("POST", "/api/label", {["Content-Type"] = "application/x-www-form-urlencoded",
                                           ["X-Ordo-CSRF"] = csrf}, body)
end
function response(status, headers, body)
  if status == 200 then ok = ok + 1 elseif not shown then shown = true; io.stderr:write("first refusal: " .. status .. " " .. body .. "\n") end
end
function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("ok") end
  io.write(string.format("acknowledged_labels %d\n", total))
end
LUA

summary() {   # name, wrk output file
    local rps p99 errs non2xx
    rps=$(awk '/Requests\/sec/ {print $2}' "$2")
    p99=$(awk '$1 == "99%" {print $2}' "$2")
    errs=$(grep -o 'Socket errors:.*' "$2" || echo "Socket errors: none")
    non2xx=$(grep -o 'Non-2xx or 3xx responses: [0-9]*' "$2" || echo "Non-2xx or 3xx responses: 0")
    printf 'RESULT %-18s req/s %-10s p99 %-9s %s; %s\n' "$1" "$rps" "$p99" "$non2xx" "$errs"
}

run() {   # name, connections, wrk args...
    local name=$1 conns=$2; shift 2
    echo "== $name"
    wrk -t2 -c"$conns" -d"${DUR}s" --latency "$@" | tee "$tmp/$name.txt"
    summary "$name" "$tmp/$name.txt"
}

run next "$CONNS" "$url/api/next?n=5"
KIND=image run image "$CONNS" -s "$tmp/rand.lua" "$url"
KIND=thumb run thumb "$CONNS" -s "$tmp/rand.lua" "$url"

# Second run: the same CONNS read connections, half on next and half on
# thumb, while WRITERS more connections post labels.
echo "== second run: reads under concurrent label writes ($WRITERS writer connections)"
csrf=$(curl -sf "$url/api/me" | sed 's/.*"csrf":"\([0-9a-f]*\)".*/\1/')
CSRF=$csrf NIMG=$N wrk -t1 -c"$WRITERS" -d"${DUR}s" --latency -s "$tmp/write.lua" "$url" \
    >"$tmp/writes.txt" &
wpid=$!
sleep 0.5
KIND=thumb run thumb+writes $((CONNS / 2)) -s "$tmp/rand.lua" "$url" &
tpid=$!
run next+writes $((CONNS - CONNS / 2)) "$url/api/next?n=5"
wait "$tpid" "$wpid"
cat "$tmp/writes.txt"
summary writes "$tmp/writes.txt"
acked=$(awk '/acknowledged_labels/ {print $2}' "$tmp/writes.txt")
stored=$(sqlite3 "$tmp/p/.ordo/ordo.db" "SELECT COUNT(DISTINCT label) FROM labels WHERE label LIKE 'bench-%'")
echo "RESULT labels acknowledged $acked, in the database $stored"
if [ "$stored" -lt "$acked" ]; then
    echo "FAIL: $((acked - stored)) acknowledged labels missing"
    exit 1
fi
