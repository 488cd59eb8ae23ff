#!/bin/sh
# fetch.sh CACHE DEST PACKAGE [LOCK]: unpack Debian's source package
# PACKAGE, at the version pinned in LOCK (default tests/compat/compat.lock),
# into DEST (for the compatibility suite, and for the SDK's mbedTLS with
# tls/mbedtls.lock; net/fetch-lwip.sh does the same for lwIP).
#
# A lock line may name a Debian suite as its fourth field (e.g. trixie):
# the source is then taken from that suite instead of the host's first
# one, through a deb-src list and lists directory of its own.
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
lock=${4:-$here/compat.lock}
die() {
    echo "compat: $pkg: $*" >&2
    exit 1
}
line=$(awk -v p="$pkg" '$1 == p { print $2, $3, $4 }' "$lock")
[ -n "$line" ] || die "not in $lock"
set -- $line
ver=$1
sum=$2
suite=${3:-}
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
        if [ -n "$suite" ]; then
            sed "s/^Suites:.*/Suites: $suite/" "$srclist" >"$cache/deb-src-$suite.sources"
            srclist=$cache/deb-src-$suite.sources
        fi
    elif grep -qs '^deb ' /etc/apt/sources.list; then
        grep -m1 '^deb ' /etc/apt/sources.list | sed 's/^deb /deb-src /' \
            >"$cache/deb-src.list"
        srclist=$cache/deb-src.list
        if [ -n "$suite" ]; then
            awk -v s="$suite" '{ $3 = s; print }' "$srclist" >"$cache/deb-src-$suite.list"
            srclist=$cache/deb-src-$suite.list
        fi
    else
        die "no Debian apt source to derive a deb-src entry from ($sys, /etc/apt/sources.list)"
    fi
    lists=$cache/lists${suite:+-$suite}
    mkdir -p "$lists/partial"
    apt_opts="-q -o Dir::Etc::SourceList=$srclist \
-o Dir::Etc::SourceParts=/nonexistent -o Dir::State::Lists=$lists \
-o APT::Sandbox::User=root"
    # The source indexes: fetched once, shared with fetch-lwip.sh's cache.
    if ! ls "$lists/"*Sources* >/dev/null 2>&1; then
        # shellcheck disable=SC2086
        apt-get $apt_opts update >"$cache/apt-update.log" 2>&1 ||
            die "apt-get update of the deb-src list failed (offline?): $(tail -n 1 "$cache/apt-update.log")"
    fi
    # shellcheck disable=SC2086
    (cd "$cache" && apt-get $apt_opts source --download-only "$pkg=$ver") \
        >"$cache/apt-source-$pkg.log" 2>&1 ||
        die "apt-get source $pkg=$ver failed: $(grep -m1 '^E:' "$cache/apt-source-$pkg.log" || tail -n 1 "$cache/apt-source-$pkg.log")"
    have || die "the downloaded $dsc does not match its sum in $(basename "$lock")"
fi
rm -rf "$dest" "$dest.tmp"
mkdir -p "$(dirname "$dest")"
dpkg-source --no-check -x "$cache/$dsc" "$dest.tmp" >"$cache/dpkg-source-$pkg.log" 2>&1 ||
    die "dpkg-source -x $dsc failed: $(tail -n 1 "$cache/dpkg-source-$pkg.log")"
echo "$ver" >"$dest.tmp/.lightvm-version"
mv "$dest.tmp" "$dest"
