#!/usr/bin/env bash
# bench_next.sh - the real `ordo next 1000` (default mix) on synthetic
# projects of 100k, 300k and 1M images written through the store
# (bench/bench_next.c): wall time, CPU time and peak RSS of the whole
# command (open, load, eval sample, compose, print), in three states:
#   cold     0 labels (the first run also draws the evaluation sample)
#   labeled  ~5,000 labels imported with `ordo label --import` (k-center,
#            nearest-labeled novelty)
#   model    after `ordo train` on them (ranking with the trained
#            classifier's probabilities, 100 classes)
# and side by side scikit-activeml's TypiClust and CoreSet on the same
# embeddings (the first N rows of the store's embed.f16) at 10k, 50k, 100k.
#
#   bench/bench_next.sh [SIZES] [PY_SIZES]
#   env: BUILD (build), ORDO_BENCH_NEXT_DIR (/tmp/ordo-bench-next: the
#        generated projects, about 4.9 GB per million images, kept),
#        LABELS (5000), REPEAT (2 runs per state), STATES ("cold labeled model"),
#        PY_CAP (300 s per scikit-activeml run; a method that exceeds it is
#        not tried at larger sizes), THREADS (OPENBLAS_NUM_THREADS, 2),
#        PHASES (1: at the largest size, one more run per state with
#        `bench_next time`, the same steps as `ordo next` timed one by one)
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
DIR=${ORDO_BENCH_NEXT_DIR:-/tmp/ordo-bench-next}
SIZES=${1:-"100000 300000 1000000"}
PY_SIZES=${2-"10000 50000 100000"}   # "" skips the Python side
LABELS=${LABELS:-5000}
REPEAT=${REPEAT:-2}
STATES=${STATES:-"cold labeled model"}
PY_CAP=${PY_CAP:-300}
PHASES=${PHASES:-1}
export OPENBLAS_NUM_THREADS=${THREADS:-2}
PY=/usr/bin/python3
ORDO=$BUILD/ordo
mkdir -p "$DIR" "$BUILD/bench"
make -s -j2 BUILD="$BUILD" "$BUILD/ordo" "$BUILD/bench/bench_next" || exit 1

# One pristine project per size, generated once (a project of n images is the
# prefix of a larger one: every image has its own seed).
base() {
    local n=$1 b=$DIR/base-$1
    if [ ! -f "$b/.complete" ]; then
        local need=$(( n * 5200 / 1000000 + 100 )) avail
        avail=$(df -Pm "$DIR" | awk 'NR == 2 {print $4}')
        if [ "$avail" -lt "$need" ]; then
            echo "bench_next: $DIR has $avail MB free, $n images need about $need MB" >&2
            exit 1
        fi
        rm -rf "$b"
        echo "# generating $n images through the store into $b" >&2
        "$BUILD/bench/bench_next" "$b" "$n" "$LABELS" >&2 || exit 1
        touch "$b/.complete"
    fi
    echo "$b"
}

# A fresh working copy: its own database, the matrices hard-linked (no
# command here writes a committed matrix row; labels, the evaluation sample
# and models live in the database).
work() {
    local b=$1 w=$DIR/work-$2
    rm -rf "$w"
    mkdir -p "$w/.ordo"
    cp "$b/.ordo/ordo.db" "$w/.ordo/"
    ln "$b/.ordo/embed.f16" "$b/.ordo/logits.f16" "$w/.ordo/"
    echo "$w"
}

# run N STATE RUN PROJECT: one timed `ordo next 1000`, checked
run_next() {
    local n=$1 state=$2 k=$3 w=$4 out=$DIR/next-$1-$2-$3.csv t=$DIR/time.txt
    local load; load=$(cut -d' ' -f1 /proc/loadavg)
    if ! /usr/bin/time -o "$t" -f '%e %U %S %M' "$ORDO" next 1000 --project "$w" --csv > "$out"; then
        echo "bench_next: ordo next failed (n=$n $state run $k)" >&2
        exit 1
    fi
    local rows distinct reasons model lab
    rows=$(tail -n +2 "$out" | wc -l)
    distinct=$(tail -n +2 "$out" | awk -F, '{print $(NF-2)}' | sort -u | wc -l)   # image_id (top_class may hold quoted commas)
    reasons=$(tail -n +2 "$out" | cut -d, -f3 | sort | uniq -c | awk '{printf "%s=%s ", $2, $1}')
    model=$(tail -n +2 "$out" | head -n 1 | awk -F, '{print $(NF-6)}')
    lab=$(sqlite3 "$w/.ordo/ordo.db" "SELECT COUNT(*) FROM labels l JOIN (SELECT image_id, MAX(id) m FROM labels GROUP BY image_id) t ON l.id = t.m WHERE l.label <> 'skip'")
    read -r wall user sys rss < "$t"
    printf "%9d %-8s %7d %3d %8.1f %8.1f %9.0f %6s  %-8s %4d/%-4d %s\n" "$n" "$state" "$lab" "$k" \
        "$wall" "$(echo "$user + $sys" | bc)" "$(echo "$rss / 1024" | bc)" "$load" "$model" "$distinct" \
        "$rows" "$reasons"
    echo "$n $state $k $wall $(echo "$user + $sys" | bc) $rss" >> "$DIR/results.txt"
    if [ "$rows" -ne 1000 ] || [ "$distinct" -ne 1000 ]; then
        echo "bench_next: expected 1000 distinct rows" >&2
        exit 1
    fi
    # the default schedule gives every reason a share, before labels too
    if [ "$(echo "$reasons" | wc -w)" -ne 4 ]; then
        echo "bench_next: expected all four reasons" >&2
        exit 1
    fi
}

echo "# machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), OPENBLAS_NUM_THREADS=$OPENBLAS_NUM_THREADS"
echo "# ordo next 1000 --csv, default mix; /usr/bin/time: wall, user+sys CPU, peak RSS (max resident incl. touched file pages)"
: > "$DIR/results.txt"
printf "%9s %-8s %7s %3s %8s %8s %9s %6s  %-8s %9s %s\n" images state labeled run wall_s cpu_s rss_MB load1 model distinct "picks per reason"
for n in $SIZES; do
    b=$(base "$n") || exit 1
    w=$(work "$b" "$n")
    for state in $STATES; do
        case $state in
        labeled)
            "$ORDO" label --import "$b/labels.csv" --project "$w" --annotator bench > /dev/null || exit 1 ;;
        model)
            [ -z "$(sqlite3 "$w/.ordo/ordo.db" "SELECT 1 FROM labels LIMIT 1")" ] &&
                { "$ORDO" label --import "$b/labels.csv" --project "$w" --annotator bench > /dev/null || exit 1; }
            /usr/bin/time -o "$DIR/time.txt" -f '%e %U %S %M' "$ORDO" train --project "$w" > "$DIR/train-$n.txt" || exit 1
            read -r tw tu ts tm < "$DIR/time.txt"
            printf "%9d %-8s %35s\n" "$n" "(train)" "ordo train: $tw s wall, $(echo "$tu + $ts" | bc) s CPU, $(( tm / 1024 )) MB" ;;
        esac
        for k in $(seq 1 "$REPEAT"); do run_next "$n" "$state" "$k" "$w"; done
        if [ "$PHASES" = 1 ] && [ "$n" = "$(echo $SIZES | awk '{print $NF}')" ]; then
            # ordo sets OPENBLAS_CORETYPE itself (main.c); this bench binary does not
            ct=${OPENBLAS_CORETYPE:-}
            [ -z "$ct" ] && grep -qw avx512f /proc/cpuinfo && ct=SkylakeX
            echo "#   phases ($state, load $(cut -d' ' -f1 /proc/loadavg)): $(OPENBLAS_CORETYPE=$ct "$BUILD/bench/bench_next" time "$w")"
        fi
    done
done
# growth from the smallest to the largest size, per state (the last run of each)
first=$(echo $SIZES | awk '{print $1}')
last=$(echo $SIZES | awk '{print $NF}')
if [ "$first" != "$last" ]; then
    for state in $STATES; do
        awk -v a="$first" -v b="$last" -v s="$state" '
            $2 == s && $1 == a { wa = $4; ca = $5; ra = $6 }
            $2 == s && $1 == b { wb = $4; cb = $5; rb = $6 }
            END { if (wa && wb) printf "# growth %s %d -> %d (x%.0f images): wall x%.2f, CPU x%.2f, peak RSS x%.2f\n",
                  s, a, b, b / a, wb / wa, cb / ca, rb / ra }' "$DIR/results.txt"
    done
fi

if [ -n "$PY_SIZES" ]; then
    # the Python side reads the store's embedding matrix directly: its first
    # N rows are the images of an N-image project
    pymax=0
    for n in $PY_SIZES; do [ "$n" -gt "$pymax" ] && pymax=$n; done
    pb=$(base "$pymax") || exit 1
    echo "# scikit-activeml $($PY -c 'import skactiveml; print(skactiveml.__version__)'), cold start, batch 1000, the same 1280-d embeddings, cap ${PY_CAP}s; load $(cut -d' ' -f1-3 /proc/loadavg)"
    declare -A dead
    for n in $PY_SIZES; do
        b=$(base "$n") || exit 1
        w=$(work "$b" "$n")
        STATE_LINE=$(run_next "$n" cold 1 "$w") || exit 1
        echo "ordo next: $STATE_LINE"
        for m in typiclust coreset; do
            if [ -n "${dead[$m]:-}" ]; then echo "method=$m n=$n not tried (${dead[$m]})"; continue; fi
            out=$(OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 /usr/bin/time -f 'cpu_s=%U+%S' timeout "$PY_CAP" \
                  $PY bench/bench_rank.py "$pb/.ordo/embed.f16" "$n" "$m" 1000 2>&1)
            rc=$?
            if [ $rc -eq 124 ] || echo "$out" | grep -q "status 124"; then
                echo "method=$m n=$n batch=1000 seconds=>$PY_CAP (exceeded the cap)"
                dead[$m]="exceeded ${PY_CAP}s at n=$n"
            elif [ $rc -ne 0 ]; then
                echo "method=$m n=$n failed: $(echo "$out" | grep -v '^Command' | tail -n 1)"
                dead[$m]="failed at n=$n"
            else echo "$(echo "$out" | grep '^method=') $(echo "$out" | grep '^cpu_s=')"; fi
        done
    done
fi
