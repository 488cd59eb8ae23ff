#!/bin/bash
# test_install.sh: `make install` and `make uninstall`, into a DESTDIR
# (the FHS layout, PREFIX=/usr/local) and into a temporary PREFIX, where
# the installed programs are run: lightvm-cc builds a guest that the
# installed lightvm runs, a client of liblightvm builds with pkg-config
# and talks to the installed lightvmd, which reads the installed config
# file. Nothing is installed outside $TMP.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
trap 'daemon_stop; lib_cleanup' EXIT

# The build this run tests (the sanitizer build is made with SAN=1).
if [ "$BUILD" = build/san ]; then MAKEVARS=(SAN=1); else MAKEVARS=(BUILD="$BUILD"); fi
VERSION=$(./scripts/version.sh)
DEST=$TMP/dest
P=$TMP/prefix
# A temporary PREFIX with the system's directories inside it too.
PVARS=(PREFIX="$P" SYSCONFDIR="$P/etc" LOCALSTATEDIR="$P/var" RUNSTATEDIR="$P/run")

minstall() { make -s --no-print-directory "${MAKEVARS[@]}" "$@" install >"$TMP/make.log" 2>&1 || { tail -20 "$TMP/make.log"; return 1; }; }
muninstall() { make -s --no-print-directory "${MAKEVARS[@]}" "$@" uninstall >"$TMP/make.log" 2>&1 || { tail -20 "$TMP/make.log"; return 1; }; }

# Every file make install puts in a DESTDIR, relative to it.
LAYOUT="etc/lightvm/lightvmd.conf
usr/local/bin/lightvm
usr/local/bin/lightvm-cc
usr/local/include/lightvm/lightvm.h
usr/local/lib/liblightvm.a
usr/local/lib/lightvm/lightvm-shell
usr/local/lib/lightvm/lightvm-tinyx-init
usr/local/lib/lightvm/lightvm-fn-guest.elf
usr/local/lib/lightvm/sdk/bin/lightvm-cc
usr/local/lib/lightvm/sdk/include/lightvm/abi.h
usr/local/lib/lightvm/sdk/include/lightvm/guest.h
usr/local/lib/lightvm/sdk/include/lightvm/net.h
usr/local/lib/lightvm/sdk/lib/liblightvm-guest.a
usr/local/lib/lightvm/sdk/lib/liblightvm-net.a
usr/local/lib/pkgconfig/liblightvm.pc
usr/local/lib/systemd/system/lightvmd.service
usr/local/lib/tmpfiles.d/lightvm.conf
usr/local/sbin/lightvmd
usr/local/share/bash-completion/completions/lightvm
usr/local/share/man/man1/lightvm.1
usr/local/share/man/man8/lightvmd.8"

t_destdir_layout() {
    minstall DESTDIR="$DEST" || return 1
    local f missing=0
    for f in $LAYOUT; do
        [ -e "$DEST/$f" ] || { echo "missing $f"; missing=1; }
    done
    for f in run/lightvm var/lib/lightvm var/cache/lightvm; do
        [ -d "$DEST/$f" ] || { echo "missing directory $f"; missing=1; }
    done
    [ $missing = 0 ] || return 1
    [ "$(stat -c %a "$DEST/usr/local/sbin/lightvmd")" = 755 ] &&
        [ "$(stat -c %a "$DEST/etc/lightvm/lightvmd.conf")" = 644 ] || return 1
    # Nothing outside the DESTDIR names it.
    ! grep -rl "$DEST" "$DEST" || { echo "files name the DESTDIR"; return 1; }
    contains "$DEST/usr/local/lib/systemd/system/lightvmd.service" \
        "ExecStart=/usr/local/sbin/lightvmd" &&
        contains "$DEST/usr/local/lib/pkgconfig/liblightvm.pc" "prefix=/usr/local" &&
        contains "$DEST/usr/local/lib/pkgconfig/liblightvm.pc" "Version: $VERSION"
}

t_destdir_manpages() {
    # Rendered by man, with their sections and this version.
    local p
    for p in man1/lightvm.1 man8/lightvmd.8; do
        MANWIDTH=80 man -l "$DEST/usr/local/share/man/$p" >"$TMP/page" 2>/dev/null || return 1
        contains "$TMP/page" "NAME" && contains "$TMP/page" "SYNOPSIS" &&
            contains "$TMP/page" "$VERSION" || return 1
    done
    MANWIDTH=80 man -l "$DEST/usr/local/share/man/man8/lightvmd.8" | grep -q "Type=notify"
}

t_destdir_completion() {
    # The installed completion, driven as bash drives it, with the
    # installed lightvm first in PATH.
    PATH="$DEST/usr/local/bin:$PATH" bash -c '
        . "$1/usr/local/share/bash-completion/completions/lightvm"
        complete -p lightvm | grep -q _lightvm || exit 1
        COMP_WORDS=(lightvm ver); COMP_CWORD=1; _lightvm
        [ "${COMPREPLY[*]}" = version ] || { echo "ver -> ${COMPREPLY[*]}"; exit 1; }
        COMP_WORDS=(lightvm api --he); COMP_CWORD=2; _lightvm
        [ "${COMPREPLY[*]}" = --help ] || { echo "api --he -> ${COMPREPLY[*]}"; exit 1; }
        COMP_WORDS=(lightvm create --mon); COMP_CWORD=2; _lightvm
        [ "${COMPREPLY[*]}" = --monitor ] || { echo "create --mon -> ${COMPREPLY[*]}"; exit 1; }
        COMP_WORDS=(lightvm create --monitor q); COMP_CWORD=3; _lightvm
        [ "${COMPREPLY[*]}" = qemu ] || { echo "--monitor q -> ${COMPREPLY[*]}"; exit 1; }
    ' _ "$DEST"
}

t_destdir_keeps_config() {
    # The operator's file survives a reinstall and an uninstall.
    echo '{"pool": "0"}' >"$DEST/etc/lightvm/lightvmd.conf"
    minstall DESTDIR="$DEST" || return 1
    [ "$(cat "$DEST/etc/lightvm/lightvmd.conf")" = '{"pool": "0"}' ] &&
        cmp -s etc/lightvmd.conf "$DEST/etc/lightvm/lightvmd.conf.dist" || return 1
    muninstall DESTDIR="$DEST" || return 1
    [ "$(cat "$DEST/etc/lightvm/lightvmd.conf")" = '{"pool": "0"}' ] || return 1
    rm "$DEST/etc/lightvm/lightvmd.conf"
}

t_destdir_uninstall() {
    minstall DESTDIR="$DEST" || return 1
    muninstall DESTDIR="$DEST" || return 1
    local left
    left=$(find "$DEST" -type f -o -type l)
    [ -z "$left" ] || { echo "left after uninstall:"; echo "$left"; return 1; }
}

t_prefix_install() {
    minstall "${PVARS[@]}" || return 1
    [ -x "$P/bin/lightvm" ] && [ -x "$P/sbin/lightvmd" ] &&
        [ -e "$P/etc/lightvm/lightvmd.conf" ] && [ -d "$P/var/lib/lightvm" ] &&
        contains "$P/lib/systemd/system/lightvmd.service" "ExecStart=$P/sbin/lightvmd"
}

t_prefix_versions() {
    "$P/sbin/lightvmd" --version >"$TMP/v" && contains "$TMP/v" "lightvmd $VERSION" &&
        "$P/bin/lightvm" --version >"$TMP/v" && contains "$TMP/v" "lightvm $VERSION"
}

t_version_fallback() {
    # Outside a git checkout (a release tarball), the VERSION file.
    mkdir -p "$TMP/nogit/scripts"
    cp scripts/version.sh "$TMP/nogit/scripts/" && echo 9.8.7 >"$TMP/nogit/VERSION"
    [ "$(GIT_CEILING_DIRECTORIES=$TMP "$TMP/nogit/scripts/version.sh")" = 9.8.7 ] || return 1
    # In this checkout: from git, starting with the VERSION file's or a tag.
    [ -n "$VERSION" ] && [ "$VERSION" != unknown ]
}

t_prefix_sdk_guest_runs() {
    # The installed lightvm-cc (through its link in bin/) finds its
    # headers and libraries; the installed lightvm finds its shell.
    local out=$TMP/sdk
    mkdir -p "$out"
    PATH="$P/bin:$PATH" lightvm-cc -O2 -o "$out/hello.elf" examples/hello/hello.c || return 1
    PATH="$P/bin:$PATH" lightvm-cc --net -O2 -o "$out/daytime.elf" examples/daytime/daytime.c || return 1
    env -u LIGHTVM_SHELL "$P/bin/lightvm" run "$out/hello.elf" installed >"$TMP/out" || return 1
    contains "$TMP/out" "Hello from a lightvm guest!" && contains "$TMP/out" "argv[1] = installed"
}

t_prefix_daemon_and_client() {
    # The installed daemon with the installed config file, and a client
    # of the installed liblightvm built with pkg-config.
    LIGHTVMD="$P/sbin/lightvmd" daemon_start --config "$P/etc/lightvm/lightvmd.conf" || return 1
    "$P/bin/lightvm" version >"$TMP/v" || return 1
    contains "$TMP/v" "lightvmd: $VERSION" || return 1
    cat >"$TMP/client.c" <<'C'
#include <lightvm/lightvm.h>
#include <stdio.h>
#include <stdlib.h>
int main(void)
{
    struct lightvm_error e;
    struct lightvm *c = lightvm_connect(NULL, &e);
    char *reply;
    if (!c || lightvm_call(c, "{\"op\":\"version\"}", -1, &reply, &e) < 0) {
        fprintf(stderr, "%s\n", e.message);
        return 1;
    }
    puts(reply);
    free(reply);
    lightvm_close(c);
    return 0;
}
C
    local flags san=""
    flags=$(PKG_CONFIG_PATH="$P/lib/pkgconfig" pkg-config --cflags --libs --static liblightvm) || return 1
    # The sanitizer build's library needs its runtime in the program too.
    [ "$BUILD" = build/san ] && san="-fsanitize=address,undefined"
    # shellcheck disable=SC2086
    cc $san -o "$TMP/client" "$TMP/client.c" $flags || return 1
    "$TMP/client" >"$TMP/v" && contains "$TMP/v" "\"version\":\"$VERSION\""
}

t_prefix_config_settings() {
    # The file's pool setting is used; the command line wins over it.
    daemon_stop
    printf '{"pool": "0", "pool_rate": 7}\n' >"$TMP/pool.conf"
    LIGHTVMD="$P/sbin/lightvmd" daemon_start --config "$TMP/pool.conf" || return 1
    "$P/bin/lightvm" api '{"op":"pool"}' >"$TMP/pool" || return 1
    contains "$TMP/pool" '"classes":[]' && contains "$TMP/pool" '"rate":7' || return 1
    daemon_stop
    LIGHTVMD="$P/sbin/lightvmd" daemon_start --config "$TMP/pool.conf" --pool 16M=1 || return 1
    "$P/bin/lightvm" api '{"op":"pool"}' >"$TMP/pool" || return 1
    daemon_stop
    ! grep -q '"classes":\[\]' "$TMP/pool" || { cat "$TMP/pool"; return 1; }
    # A bad value names the file and the field.
    printf '{"pool_rate": -1}\n' >"$TMP/bad.conf"
    expect_status 2 "$P/sbin/lightvmd" --config "$TMP/bad.conf" 2>"$TMP/err" &&
        contains "$TMP/err" "$TMP/bad.conf: field pool_rate"
}

t_prefix_uninstall() {
    muninstall "${PVARS[@]}" || return 1
    local left
    left=$(find "$P" -type f -o -type l)
    [ -z "$left" ] || { echo "left after uninstall:"; echo "$left"; return 1; }
}

check destdir_layout t_destdir_layout
check destdir_manpages t_destdir_manpages
check destdir_completion t_destdir_completion
check destdir_keeps_config t_destdir_keeps_config
check destdir_uninstall t_destdir_uninstall
check prefix_install t_prefix_install
check prefix_versions t_prefix_versions
check version_fallback t_version_fallback
check prefix_sdk_guest_runs t_prefix_sdk_guest_runs
check prefix_daemon_and_client t_prefix_daemon_and_client
check prefix_config_settings t_prefix_config_settings
check prefix_uninstall t_prefix_uninstall
finish
