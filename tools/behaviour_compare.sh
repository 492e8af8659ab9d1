#!/bin/sh
# tools/behaviour_compare.sh A B - compares two snapshots written by
# tools/behaviour_snapshot.sh: every recorded file must be byte-identical.
# Prints one line per file and exits 1 if any differs.
set -u
a=$1 b=$2 bad=0 n=0
for f in $(cd "$a" && ls *.txt *.json *.csv); do
    n=$((n + 1))
    if cmp -s "$a/$f" "$b/$f"; then
        echo "same  $f ($(wc -l < "$a/$f") lines, sha256 $(sha256sum < "$a/$f" | cut -c1-12))"
    else
        echo "DIFF  $f"
        bad=1
    fi
done
[ "$bad" = 0 ] && echo "all $n files identical" || echo "some files differ"
exit $bad
