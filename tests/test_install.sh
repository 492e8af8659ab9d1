#!/usr/bin/env bash
# test_install.sh - ordo installs like a C tool:
#   * `make install DESTDIR=... PREFIX=/usr` puts the binary, the man page and
#     the bash completion where they belong; the installed binary runs;
#     `make uninstall` removes exactly them;
#   * docs/ordo.1 is what tools/mkman.py makes from the binary's help (so the
#     man page and `ordo --help` agree), `man -l` renders it with every
#     command's options, and --version matches debian/changelog;
#   * the bash completion completes commands and a command's options;
#   * `dpkg-buildpackage -us -uc -b` on a copy of the tree gives a .deb whose
#     Depends name the shared libraries ordo links, and whose ordo runs.
# Needs $ORDO_BIN built from this tree; the package part needs debhelper
# (./setup.sh --test installs it) and skips without it.
set -u
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=$(dirname "$BIN")
T=$(mktemp -d /tmp/ordo_test_install.XXXXXX)
trap 'rm -rf "$T"' EXIT
VERSION=$("$BIN" --version | awk '{ print $2 }')

# ---- make install / uninstall -------------------------------------------------
D=$T/dest
if make -s -C "$ROOT" install BUILD="${BUILD_DIR#$ROOT/}" DESTDIR="$D" PREFIX=/usr > "$T/out" 2>&1; then
    ok "make install DESTDIR PREFIX=/usr"
else bad "make install" "$(tail -n 5 "$T/out")"; fi
files=(usr/bin/ordo usr/share/man/man1/ordo.1 usr/share/bash-completion/completions/ordo)
for f in "${files[@]}"; do check "installed $f" test -s "$D/$f"; done
[ "$("$D/usr/bin/ordo" --version)" = "ordo $VERSION" ] && ok "installed ordo --version: ordo $VERSION" || bad "installed binary" "$("$D/usr/bin/ordo" --version 2>&1)"
[ "$(find "$D" -type f | wc -l)" = 3 ] && ok "nothing else installed" || bad "extra files" "$(find "$D" -type f)"
make -s -C "$ROOT" uninstall DESTDIR="$D" PREFIX=/usr > "$T/out" 2>&1
[ -z "$(find "$D" -type f)" ] && ok "make uninstall removes them" || bad "uninstall" "$(find "$D" -type f)"

# ---- the man page ---------------------------------------------------------------
if python3 "$ROOT/tools/mkman.py" --check "$BIN"; then ok "docs/ordo.1 matches ordo --help and every 'ordo COMMAND --help'"
else bad "man page" "stale: run python3 tools/mkman.py"; fi
if command -v man >/dev/null; then
    MANWIDTH=100 man -l "$ROOT/docs/ordo.1" > "$T/man.txt" 2> "$T/manerr"
    missing=""
    for cmd in $("$BIN" --help | awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 }'); do
        grep -q "^   ordo $cmd\$" "$T/man.txt" || missing="$missing $cmd"
    done
    [ -z "$missing" ] && [ ! -s "$T/manerr" ] && grep -q "^NAME" "$T/man.txt" \
        && ok "man -l renders NAME and an options section for every command" || bad "man -l" "missing:$missing $(head -n 3 "$T/manerr")"
    grep -q -- "--embeddings OUT" "$T/man.txt" && ok "man page shows command options (export --embeddings)" || bad "man options" "no --embeddings"
else
    skp "man -l" "no man (apt install man-db)"
fi
deb_version=$(sed -n '1s/^ordo (\([^)-]*\).*/\1/p' "$ROOT/debian/changelog")
[ "$deb_version" = "$VERSION" ] && ok "debian/changelog version = ordo --version ($VERSION)" || bad "version" "changelog $deb_version, binary $VERSION"

# ---- bash completion ------------------------------------------------------------
comp() { # words... (the last is the one being completed)
    bash -c '
        . "$1"; shift
        ordo() { "$ORDO_REAL" "$@"; }
        COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_WORDS[0]=$ORDO_REAL
        _ordo; printf "%s\n" "${COMPREPLY[@]}"' _ "$ROOT/completion/ordo.bash" "$@"
}
export ORDO_REAL=$BIN
[ "$(comp ordo im)" = "import" ] && ok "completion: 'ordo im' -> import" || bad "complete command" "$(comp ordo im)"
[ "$(comp ordo export --emb)" = "--embeddings" ] && ok "completion: 'ordo export --emb' -> --embeddings" || bad "complete option" "$(comp ordo export --emb)"
[ "$(comp ordo import emb)" = "embeddings" ] && ok "completion: 'ordo import emb' -> embeddings" || bad "complete import" "$(comp ordo import emb)"

# ---- the Debian package ---------------------------------------------------------
if ! command -v dpkg-buildpackage >/dev/null || ! [ -d /usr/share/perl5/Debian/Debhelper ]; then
    skp "Debian package" "no debhelper (./setup.sh --test installs it)"; summary
fi
mkdir -p "$T/pkg/src"
tar -C "$ROOT" --exclude='./build*' --exclude=./.cache --exclude=./.git --exclude='./debian/ordo' \
    --exclude='./debian/.debhelper' -cf - . | tar -C "$T/pkg/src" -xf -
if (cd "$T/pkg/src" && DEB_BUILD_OPTIONS="parallel=$(nproc) nocheck" dpkg-buildpackage -us -uc -b > "$T/deb.log" 2>&1); then
    ok "dpkg-buildpackage -us -uc -b"
else bad "dpkg-buildpackage" "$(tail -n 15 "$T/deb.log")"; summary; fi
deb=$(ls "$T"/pkg/ordo_*.deb 2>/dev/null | head -n 1)
if [ -z "$deb" ]; then bad ".deb" "none in $T/pkg"; summary; fi
deps=$(dpkg-deb -f "$deb" Depends)
missing=""
for lib in libsqlite3-0 libjpeg62-turbo libopenblas0 libmicrohttpd12 libjansson4 libxxhash0 libzip4 wordnet-base libc6; do
    echo "$deps" | grep -q "$lib" || missing="$missing $lib"
done
[ -z "$missing" ] && ok ".deb Depends (from shlibs) names the libraries: $(echo "$deps" | tr -d '\n' | cut -c1-140)..." || bad "Depends" "missing$missing in: $deps"
dpkg-deb -x "$deb" "$T/x"
[ "$("$T/x/usr/bin/ordo" --version)" = "ordo $VERSION" ] && ok ".deb's ordo runs: ordo $VERSION" || bad ".deb binary" "$("$T/x/usr/bin/ordo" --version 2>&1)"
for f in usr/share/man/man1/ordo.1.gz usr/share/bash-completion/completions/ordo; do check ".deb has $f" test -s "$T/x/$f"; done
summary
