#!/usr/bin/env bash
# bench_int8_ab.sh - pure int8's CPU time per image in this tree against the
# same precision built from another commit (default: main), with this
# tree's fp32 as the anchor, interleaved in one run (fp32, int8 of REF,
# int8 here, again and again), so a busy machine's load hits all three
# alike. Prints every run, then per model the median and the minimum CPU
# ms per image (user + sys, bench_net's cpu_ms/img) of each engine, the
# ratio here / REF, and r = fp32 / int8 for both: the speed ratio an
# int8 change moves (the fp32 re-check costs f x fp32 on top:
# speed = 1 / (1/r + f) of fp32's, docs/scan.md "Precision").
#
#   bench/bench_int8_ab.sh [MODEL...]          (default: lite0 lite2)
# env: REF (main), PREC (int8@0: pure int8, no re-check), THREADS (2),
#      BATCH (32), SECS (2), ROUNDS (5), BUILD (build), ORDO_WEIGHTS.
# REF is built once in a temporary git worktree (removed at the end).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
REF=${REF:-main}
PREC=${PREC:-int8@0}
THREADS=${THREADS:-2}
BATCH=${BATCH:-32}
SECS=${SECS:-2}
ROUNDS=${ROUNDS:-5}
MODELS=${*:-lite0 lite2}
WDIR=${ORDO_WEIGHTS:-${XDG_CACHE_HOME:-$HOME/.cache}/ordo/weights}

make -s BUILD="$BUILD" "$BUILD/bench/bench_net"
# REF may predate the Makefile's bench rule: its bench_net is linked here.
LDLIBS=$(make -s --no-print-directory --eval 'print-ldlibs: ; @echo $(LDLIBS)' print-ldlibs)
tmp=$(mktemp -d)
cleanup() { git worktree remove --force "$tmp/ref" >/dev/null 2>&1 || true; rm -rf "$tmp"; }
trap cleanup EXIT
git worktree add --detach "$tmp/ref" "$REF" >/dev/null 2>&1
make -s -C "$tmp/ref" BUILD=build build/libordo.a >/dev/null
cc -O2 -g -std=c11 -D_GNU_SOURCE -I"$tmp/ref/src" -pthread -o "$tmp/bench_net_ref" \
   "$tmp/ref/bench/bench_net.c" "$tmp/ref/build/libordo.a" $LDLIBS

echo "# bench_int8_ab: $PREC here ($(git rev-parse --short HEAD)) vs $REF ($(git -C "$tmp/ref" rev-parse --short HEAD)), anchor fp32 here; $THREADS threads, batch $BATCH, $ROUNDS rounds of ${SECS} s; $(nproc) CPUs:$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for m in $MODELS; do
    w="$WDIR/$m.pth"
    for r in $(seq "$ROUNDS"); do
        echo "fp32 $("$BUILD/bench/bench_net" "$m" "$w" "$THREADS" "$BATCH" "$SECS" fp32)"
        echo "ref $("$tmp/bench_net_ref" "$m" "$w" "$THREADS" "$BATCH" "$SECS" "$PREC")"
        echo "here $("$BUILD/bench/bench_net" "$m" "$w" "$THREADS" "$BATCH" "$SECS" "$PREC")"
    done
done | tee "$tmp/runs"
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
awk '
    { e = $1; m = $3; v = ""
      for (i = 4; i <= NF; i++) if ($i ~ /^cpu_ms\/img=/) { split($i, kv, "="); v = kv[2] }
      if (v != "") { n[m, e]++; x[m, e, n[m, e]] = v; if (!(m in seen)) { seen[m] = 1; order[++nm] = m } } }
    function med(m, e,   k, i, j, t, c) {
        c = n[m, e]; for (i = 1; i <= c; i++) y[i] = x[m, e, i]
        for (i = 2; i <= c; i++) { t = y[i]; for (j = i - 1; j >= 1 && y[j] > t; j--) y[j + 1] = y[j]; y[j + 1] = t }
        return c % 2 ? y[(c + 1) / 2] : (y[c / 2] + y[c / 2 + 1]) / 2 }
    function mn(m, e,   i, b) { b = x[m, e, 1]; for (i = 2; i <= n[m, e]; i++) if (x[m, e, i] < b) b = x[m, e, i]; return b }
    END {
        printf "| model | CPU ms/img (median / min): fp32 | %s ref | %s here | here / ref | r ref | r here |\n", p, p
        print "|---|---|---|---|---|---|---|"
        for (k = 1; k <= nm; k++) { m = order[k]
            f = med(m, "fp32"); ra = med(m, "ref"); rb = med(m, "here")
            printf "| %s | %.2f / %.2f | %.2f / %.2f | %.2f / %.2f | **%.3f** / %.3f | %.2f | **%.2f** |\n", m, f, mn(m, "fp32"), ra, mn(m, "ref"), rb, mn(m, "here"), rb / ra, mn(m, "here") / mn(m, "ref"), f / ra, f / rb }
    }' p="$PREC" "$tmp/runs"
