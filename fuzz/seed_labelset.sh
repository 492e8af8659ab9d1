#!/usr/bin/env bash
# Seeds for fuzz_labelset: small label set files in the format's corners.
set -eu
d=${1:?corpus dir}
mkdir -p "$d"
printf 'sports\n  skiing\n  tennis = n00482298\nnot sports\nunclear\n' >"$d/two-levels"
printf '# a comment\n!closed\narchery   # trailing comment\n\n' >"$d/closed"
printf 'a = \nb = x = y\n\t c\n' >"$d/odd"
