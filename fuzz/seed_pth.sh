#!/usr/bin/env bash
# Seeds the fuzz_pth corpus with small legacy .pth files made by torch
# (tools/make_pth_corpus.py); without torch the fuzzer starts from nothing.
set -u
cd "$(dirname "$0")/.."
/usr/bin/python3 tools/make_pth_corpus.py "$1" 2>/dev/null || echo "fuzz_pth: no torch, empty seed corpus" >&2
exit 0
