#!/usr/bin/env bash
# A short libFuzzer run of every fuzz target (CI), seeded by fuzz/seed_<name>.sh
# when present. Each target counts as one test: it passes when the fuzzer
# finds no crash, leak or sanitizer error within the time.
set -u
cd "$(dirname "$0")/.."
SECS=${ORDO_FUZZ_SECONDS:-60}
pass=0 fail=0
make -s fuzz || { echo "fuzz build failed"; echo "0 passed, 1 failed"; exit 1; }
for bin in build-fuzz/fuzz_*; do
    [ -x "$bin" ] || continue
    name=$(basename "$bin"); target=${name#fuzz_}
    corpus=build-fuzz/corpus-$target; mkdir -p "$corpus"
    [ -x fuzz/seed_$target.sh ] && fuzz/seed_$target.sh "$corpus"
    echo "== $name ($SECS s)"
    if "$bin" -max_total_time="$SECS" -rss_limit_mb=2048 -timeout=10 \
            -artifact_prefix=build-fuzz/crash-$target- "$corpus" > build-fuzz/$name.log 2>&1; then
        tail -n 2 build-fuzz/$name.log; pass=$((pass + 1)); echo "ok   $name"
    else
        tail -n 40 build-fuzz/$name.log; fail=$((fail + 1)); echo "FAIL $name"
    fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
