#!/bin/sh
# fetch-lwip.sh CACHE DEST: unpack Debian's lwip source package, at the
# version pinned in net/lwip.lock, into DEST.
#
# Third-party source is never committed: it is fetched from Debian's
# source archive with apt, using a private deb-src list and lists
# directory under CACHE so the system's apt set-up is untouched. The
# downloaded files stay in CACHE and are checked against the pinned
# SHA-256 sums, so a rebuild (or `make clean`) does not fetch again.
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/lwip.lock"
cache=$1
dest=$2
mkdir -p "$cache"
cache="$(cd "$cache" && pwd)"

upver=${LWIP_VERSION%-*}            # 2.1.3+dfsg1
dsc="${LWIP_PACKAGE}_${LWIP_VERSION}.dsc"
orig="${LWIP_PACKAGE}_${upver}.orig.tar.xz"
deb="${LWIP_PACKAGE}_${LWIP_VERSION}.debian.tar.xz"

check() { # check FILE SHA256: 0 if FILE exists with that sum
    [ -f "$cache/$1" ] && echo "$2  $cache/$1" | sha256sum -c --status -
}

have() {
    check "$dsc" "$LWIP_DSC_SHA256" && check "$orig" "$LWIP_ORIG_SHA256" &&
        check "$deb" "$LWIP_DEBIAN_SHA256"
}

if ! have; then
    # A deb-src twin of the system's main Debian entry: same URIs,
    # components and signing key, first suite only (derived, so no host
    # name is written into the project).
    sys=/etc/apt/sources.list.d/debian.sources
    if [ -f "$sys" ]; then
        awk 'BEGIN { RS = ""; ORS = "\n\n" } NR == 1' "$sys" |
            sed -e 's/^Types:.*/Types: deb-src/' \
                -e 's/^\(Suites:\) *\([^ ]*\).*/\1 \2/' >"$cache/deb-src.sources"
    elif grep -qs '^deb ' /etc/apt/sources.list; then
        # One-line format (hosts upgraded from Debian 11): the first
        # entry, as deb-src.
        grep -m1 '^deb ' /etc/apt/sources.list | sed 's/^deb /deb-src /' \
            >"$cache/deb-src.list"
    else
        echo "fetch-lwip.sh: no Debian apt source found (in $sys or" \
            "/etc/apt/sources.list)" >&2
        exit 1
    fi
    srclist=$cache/deb-src.sources
    [ -f "$cache/deb-src.list" ] && srclist=$cache/deb-src.list
    mkdir -p "$cache/lists/partial"
    apt_opts="-q -o Dir::Etc::SourceList=$srclist \
-o Dir::Etc::SourceParts=/nonexistent -o Dir::State::Lists=$cache/lists \
-o APT::Sandbox::User=root"
    # shellcheck disable=SC2086
    apt-get $apt_opts update >"$cache/apt-update.log" 2>&1 || {
        cat "$cache/apt-update.log" >&2
        exit 1
    }
    # shellcheck disable=SC2086
    (cd "$cache" && apt-get $apt_opts source --download-only \
        "$LWIP_PACKAGE=$LWIP_VERSION") >"$cache/apt-source.log" 2>&1 || {
        cat "$cache/apt-source.log" >&2
        exit 1
    }
    if ! have; then
        echo "fetch-lwip.sh: downloaded $LWIP_PACKAGE $LWIP_VERSION does not" \
            "match the sums in net/lwip.lock" >&2
        exit 1
    fi
fi

# Unpack with Debian's patches applied (they touch only the sockets layer
# and the Hurd port, which the SDK does not compile), then ours
# (net/patches/: fixes found by our fuzzer, each explained in its header).
rm -rf "$dest" "$dest.tmp"
mkdir -p "$(dirname "$dest")"
dpkg-source --no-check -x "$cache/$dsc" "$dest.tmp" >/dev/null
grep -q "LWIP_VERSION_MAJOR *2" "$dest.tmp/src/include/lwip/init.h"
echo "$LWIP_VERSION" >"$dest.tmp/.lightvm-version"
for p in "$here"/patches/*.patch; do
    [ -e "$p" ] || continue
    patch -p1 -s -N -d "$dest.tmp" <"$p"
    echo "patched: $(basename "$p")" >>"$dest.tmp/.lightvm-version"
done
mv "$dest.tmp" "$dest"
