#!/bin/bash
# bench/bench_setup_fresh.sh [WORK] - times `./setup.sh` (the main job) as a
# new user would run it on a clean Debian 12: debootstraps a minbase bookworm
# root in WORK (default /tmp/ordo_fresh), copies a clean clone of this
# repository's HEAD and ../shared (or $ORDO_DATA) into it, chroots, runs
# `./setup.sh` with an empty environment and prints the wall time of each
# stage, the packages it added and what pip holds afterwards (the issue's
# target: no Python machine-learning package, no browser). No anchor: the
# figure is an absolute time on the machine it runs on.
# Needs root and debootstrap (apt-get install debootstrap; not a test tool).
# The root gets this machine's apt sources, DNS, /etc/pip.conf and local CA
# certificates, which a fresh machine on the same network needs too.
set -eu
[ "$(id -u)" = 0 ] || { echo "run as root (debootstrap, chroot)" >&2; exit 2; }
command -v debootstrap >/dev/null || { echo "needs debootstrap (apt-get install debootstrap)" >&2; exit 2; }
REPO=$(cd "$(dirname "$0")/.." && pwd)
DATA=$(realpath "${ORDO_DATA:-$REPO/../shared}")
F=${1:-/tmp/ordo_fresh}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
rm -rf "$F"
t0=$(date +%s)
debootstrap --variant=minbase bookworm "$F" "$MIRROR" > "$F.debootstrap.log" 2>&1
echo "debootstrap: $(( $(date +%s) - t0 )) s"
if [ -d /etc/apt/sources.list.d ] && ls /etc/apt/sources.list.d/*.sources >/dev/null 2>&1; then
    rm -f "$F/etc/apt/sources.list"
    cp /etc/apt/sources.list.d/debian.sources "$F/etc/apt/sources.list.d/" 2>/dev/null || true
fi
cp /etc/resolv.conf "$F/etc/resolv.conf"
[ -f /etc/pip.conf ] && cp /etc/pip.conf "$F/etc/pip.conf"
mkdir -p "$F/usr/local/share/ca-certificates"
cp /usr/local/share/ca-certificates/*.crt "$F/usr/local/share/ca-certificates/" 2>/dev/null || true
git clone -q "$REPO" "$F/root/ordo"
cp -a "$DATA" "$F/root/shared"
mount -t proc proc "$F/proc"; mount --rbind /dev "$F/dev"; mount --make-rslave "$F/dev"
mount -t sysfs sys "$F/sys"
trap 'umount "$F/proc"; umount -R "$F/dev"; umount "$F/sys"' EXIT
chroot "$F" dpkg-query -W -f='${Package}\n' | sort > "$F.before"
set +e
chroot "$F" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    bash -c 'cd /root/ordo && echo "start $EPOCHREALTIME"; time ./setup.sh 2>&1 |
             while IFS= read -r l; do echo "$EPOCHREALTIME $l"; done; echo "rc=${PIPESTATUS[0]} end $EPOCHREALTIME"' \
    > "$F.setup.log" 2>&1
set -e
chroot "$F" dpkg-query -W -f='${Package}\n' | sort > "$F.after"
python3 - "$F.setup.log" <<'PY'
import re, sys
lines = open(sys.argv[1]).read().splitlines()
start = float(lines[0].split()[1]); prev = None
for l in lines:
    m = re.match(r'^(\d+\.\d+) (.*)$', l)
    if m and '== ' in m.group(2):
        t = float(m.group(1)) - start
        if prev: print("  %7.1f s  %s" % (t - prev[0], prev[1]))
        prev = (t, re.sub(r'\x1b\[[0-9;]*m', '', m.group(2))[3:70])
    if l.startswith('rc='):
        end = float(l.split()[-1])
        if prev: print("  %7.1f s  %s" % (end - start - prev[0], prev[1]))
        print("setup.sh: %s, %.1f s wall" % (l.split()[0], end - start))
PY
grep -E '^(user|sys)' "$F.setup.log" | tr '\n' ' '; echo
added=$(comm -13 "$F.before" "$F.after")
echo "Debian packages added: $(echo "$added" | wc -l)"
echo "of them ML or browser: $(echo "$added" | grep -iE 'torch|chromium|firefox|^wrk$|sklearn|scikit|numpy|onnx|selenium|cleanlab|python3-pil' | tr '\n' ' ')(none expected)"
echo "pip list: $(chroot "$F" python3 -m pip list 2>/dev/null | tail -n +3 | awk '{print $1}' | tr '\n' ' ')"
