#!/usr/bin/env bash
# The README is assembled from docs/*.md (tools/mkreadme.py); it must be
# current, and every command `ordo --help` lists must appear in it.
cd "$(dirname "$0")/.."
BIN=${ORDO_BIN:-build/ordo}
pass=0 fail=0
if python3 tools/mkreadme.py --check; then pass=$((pass + 1)); echo "ok   README.md matches docs/*.md"
else fail=$((fail + 1)); echo "FAIL README.md is stale: run python3 tools/mkreadme.py"; fi
for cmd in $("$BIN" --help | awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 }'); do
    if grep -q "ordo $cmd" README.md; then pass=$((pass + 1))
    else fail=$((fail + 1)); echo "FAIL README.md never shows 'ordo $cmd'"; fi
done
echo "$pass passed, $fail failed, 0 skipped"
[ "$fail" -eq 0 ]
