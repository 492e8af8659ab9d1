#!/usr/bin/env bash
# Seeds for fuzz_netlist: model names, good and bad.
set -eu
d=${1:?corpus dir}
mkdir -p "$d"
i=0
for m in lite0 lite1 lite2 lite0+lite1+lite2 lite2+lite0 lite0+lite0 lite0++lite1 +lite0 \
         lite0+ lite3 LITE0 lite0+lite1+lite2+lite0 lite00 lite; do
    printf '%s' "$m" >"$d/seed$i"; i=$((i + 1))
done
