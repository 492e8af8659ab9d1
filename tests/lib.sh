# tests/lib.sh - what every shell test shares: where ordo and the data are,
# the pass/fail/skip counters and the summary line tests/run.sh adds up.
# Sourced, not run:  . "$(dirname "$0")/lib.sh"
BIN=${ORDO_BIN:-$PWD/build/ordo}
DATA=${ORDO_DATA:-../shared}
SPORTS=$DATA/datasets/sports100
pass=0 fail=0 skip=0
ok()   { echo "ok   $1"; pass=$((pass + 1)); }
bad()  { echo "FAIL $1: $2"; fail=$((fail + 1)); }
skp()  { echo "skip $1: $2"; skip=$((skip + 1)); }
check() { # name, condition-command...
    local name=$1; shift
    if "$@"; then ok "$name"; else bad "$name" "$*"; fi
}
summary() { echo "$pass passed, $fail failed, $skip skipped"; exit $((fail > 0)); }
# need_command CMD: skip the whole test (with the reason) unless $BIN has CMD.
need_command() {
    if ! [ -x "$BIN" ] || ! "$BIN" "$1" --help >/dev/null 2>&1; then
        skp all "no ordo binary with a $1 command at $BIN"; summary
    fi
}
# need_data SPLIT: skip the whole test unless sports100's SPLIT folder exists.
need_data() {
    if ! [ -d "$SPORTS/$1" ]; then
        skp all "no data set at $SPORTS (set ORDO_DATA)"; summary
    fi
}
