#!/bin/sh
# fetch.sh CACHE DEST PACKAGE: unpack Debian's source package PACKAGE, at
# the version pinned in tests/compat/compat.lock, into DEST (for the
# compatibility suite; net/fetch-lwip.sh does the same for lwIP).
#
# Never committed, fetched with apt-get source through a private deb-src
# list and lists directory under CACHE (the system's apt set-up is left
# alone). Downloads stay in CACHE, checked against the pinned .dsc sum;
# dpkg-source checks the rest against the .dsc. A failure is one line on
# stderr saying why.
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
cache=$1
dest=$2
pkg=$3
die() {
    echo "compat: $pkg: $*" >&2
    exit 1
}
line=$(awk -v p="$pkg" '$1 == p { print $2, $3 }' "$here/compat.lock")
[ -n "$line" ] || die "not in tests/compat/compat.lock"
ver=${line% *}
sum=${line#* }
mkdir -p "$cache"
cache="$(cd "$cache" && pwd)"
dsc="${pkg}_${ver#*:}.dsc"

have() { [ -f "$cache/$dsc" ] && echo "$sum  $cache/$dsc" | sha256sum -c --status -; }

if ! have; then
    command -v apt-get >/dev/null || die "apt-get is missing (a Debian host is needed to fetch sources)"
    command -v dpkg-source >/dev/null || die "dpkg-source is missing (apt-get install dpkg-dev)"
    sys=/etc/apt/sources.list.d/debian.sources
    if [ -f "$sys" ]; then
        awk 'BEGIN { RS = ""; ORS = "\n\n" } NR == 1' "$sys" |
            sed -e 's/^Types:.*/Types: deb-src/' \
                -e 's/^\(Suites:\) *\([^ ]*\).*/\1 \2/' >"$cache/deb-src.sources"
        srclist=$cache/deb-src.sources
    elif grep -qs '^deb ' /etc/apt/sources.list; then
        grep -m1 '^deb ' /etc/apt/sources.list | sed 's/^deb /deb-src /' \
            >"$cache/deb-src.list"
        srclist=$cache/deb-src.list
    else
        die "no Debian apt source to derive a deb-src entry from ($sys, /etc/apt/sources.list)"
    fi
    mkdir -p "$cache/lists/partial"
    apt_opts="-q -o Dir::Etc::SourceList=$srclist \
-o Dir::Etc::SourceParts=/nonexistent -o Dir::State::Lists=$cache/lists \
-o APT::Sandbox::User=root"
    # The source indexes: fetched once, shared with fetch-lwip.sh's cache.
    if ! ls "$cache/lists/"*Sources* >/dev/null 2>&1; then
        # shellcheck disable=SC2086
        apt-get $apt_opts update >"$cache/apt-update.log" 2>&1 ||
            die "apt-get update of the deb-src list failed (offline?): $(tail -n 1 "$cache/apt-update.log")"
    fi
    # shellcheck disable=SC2086
    (cd "$cache" && apt-get $apt_opts source --download-only "$pkg=$ver") \
        >"$cache/apt-source-$pkg.log" 2>&1 ||
        die "apt-get source $pkg=$ver failed: $(grep -m1 '^E:' "$cache/apt-source-$pkg.log" || tail -n 1 "$cache/apt-source-$pkg.log")"
    have || die "the downloaded $dsc does not match its sum in compat.lock"
fi
rm -rf "$dest" "$dest.tmp"
mkdir -p "$(dirname "$dest")"
dpkg-source --no-check -x "$cache/$dsc" "$dest.tmp" >"$cache/dpkg-source-$pkg.log" 2>&1 ||
    die "dpkg-source -x $dsc failed: $(tail -n 1 "$cache/dpkg-source-$pkg.log")"
echo "$ver" >"$dest.tmp/.lightvm-version"
mv "$dest.tmp" "$dest"
