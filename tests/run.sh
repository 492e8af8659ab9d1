#!/usr/bin/env bash
# Runs every test program (C binaries in $BUILD/tests, scripts tests/*.sh and
# tests/*.py) and adds up their "N passed, N failed, N skipped" lines.
# Exit status is non-zero if any test failed or any program crashed.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export ORDO_BIN=${ORDO_BIN:-$PWD/$BUILD/ordo}
export ORDO_DATA=${ORDO_DATA:-$(cd .. && pwd)/shared}
PY=${ORDO_PYTHON:-/usr/bin/python3}
pass=0 fail=0 skip=0 crashed=()
only=${1:-}

run_one() {   # name, command...
    local name=$1; shift
    [ -n "$only" ] && [[ "$name" != *"$only"* ]] && return
    echo "== $name"
    local out rc
    out=$("$@" 2>&1); rc=$?
    printf '%s\n' "$out" | sed 's/^/  /'
    local line
    line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -n 1)
    if [ -z "$line" ]; then
        crashed+=("$name (exit $rc, no summary)"); fail=$((fail + 1)); return
    fi
    local p f s
    p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
    f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
    s=$(echo "$line" | grep -oE '[0-9]+ skipped' | grep -oE '[0-9]+' || echo 0)
    pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + ${s:-0}))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        crashed+=("$name (exit $rc)"); fail=$((fail + 1))
    fi
}

for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    run_one "$(basename "$t")" "$t"
done
for t in tests/test_*.sh; do
    [ -f "$t" ] || continue
    run_one "$(basename "$t")" bash "$t"
done
if [ -z "${ORDO_SANITIZED:-}" ]; then   # python tests drive the release binary
    for t in tests/test_*.py; do
        [ -f "$t" ] || continue
        run_one "$(basename "$t")" "$PY" "$t"
    done
fi

for c in "${crashed[@]+"${crashed[@]}"}"; do echo "CRASHED: $c"; done
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
