#!/bin/bash
# test_files.sh: the guest's file tree (docs/sdk.md, "Files").
#
# tests/guests/files.elf carries tests/guests/files-tree (and a generated
# data/big.txt) in its image (lightvm-cc --files) and checks, through
# musl's ordinary calls, what each served call answers against Linux's
# errno for errno. Here: its verdict; the image's files byte for byte;
# the host's files out of reach; the writable area's bound; lightvm-cc's
# one-line errors for a tree it cannot carry; and the tree's state (open
# descriptors, written files) carried by save, restore and clone.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh

LIGHTVMD=$BUILD/bin/lightvmd
FILES=$TGUESTS/files.elf
CC=$BUILD/sdk/bin/lightvm-cc
trap 'daemon_stop; lib_cleanup' EXIT

cold() { LIGHTVM_NO_DAEMON=1 "$LIGHTVM" run "$@"; }

t_check() {
    cold "$FILES" check >"$TMP/check.out" 2>&1
    local rc=$?
    cat "$TMP/check.out"
    [ $rc = 0 ] && grep -qE '^files: [0-9]+ passed, 0 failed$' "$TMP/check.out"
}

# The image's files come out as they went in.
t_cat() {
    cold "$FILES" cat /etc/app.conf >"$TMP/conf" &&
        cmp "$TMP/conf" tests/guests/files-tree/etc/app.conf &&
        cold "$FILES" cat /data/big.txt >"$TMP/big" && seq 1 5000 | cmp - "$TMP/big"
}

# A path of the host's is not in the guest's tree.
t_no_host_files() {
    local f
    for f in /etc/hostname /proc/self/status "$PWD/README.md"; do
        cold "$FILES" cat "$f" >"$TMP/host.out" 2>&1
        [ $? = 1 ] && contains "$TMP/host.out" "No such file or directory" || return 1
    done
}

# The writable area is bounded (half the guest's RAM): ENOSPC, the guest
# goes on, and the space comes back when the file goes.
t_fill() {
    cold "$FILES" fill 100 >"$TMP/fill.out" 2>&1
    local rc=$?
    cat "$TMP/fill.out"
    [ $rc = 0 ] && contains "$TMP/fill.out" "No space left on device" &&
        contains "$TMP/fill.out" "after unlink: writable" &&
        # With more RAM the same 10 MiB fit.
        cold -m 64M "$FILES" fill 10 | grep -q '^wrote 10240 KiB$'
}

# lightvm-cc: one line naming what is wrong, a non-zero status.
cc_refuses() { # WANT ARGS...: lightvm-cc ARGS fails with WANT in one line
    local want=$1
    shift
    "$CC" "$@" -o "$TMP/bad.elf" tests/guests/files.c >"$TMP/cc.err" 2>&1 &&
        { echo "lightvm-cc accepted $*"; return 1; }
    cat "$TMP/cc.err"
    [ "$(wc -l <"$TMP/cc.err")" = 1 ] && contains "$TMP/cc.err" "$want" &&
        [ ! -e "$TMP/bad.elf" ]
}

t_cc_errors() {
    mkdir -p "$TMP/links" && ln -sf /etc/passwd "$TMP/links/pw" &&
        printf 'not a tar archive, but long enough to hold a header block?' |
        head -c 1024 >"$TMP/junk.tar" &&
        dd if=/dev/zero bs=1024 count=1 2>/dev/null >>"$TMP/junk.tar" || return 1
    tar cf "$TMP/cut.tar" -C tests/guests/files-tree etc/motd && truncate -s 600 "$TMP/cut.tar"
    cc_refuses "no such directory or archive" --files "$TMP/nothing" &&
        cc_refuses "needs a directory or a tar archive" --files &&
        cc_refuses "links are not supported" --files "$TMP/links" &&
        cc_refuses "checksum is wrong" --files "$TMP/junk.tar" &&
        cc_refuses "past the end of the archive" --files "$TMP/cut.tar"
}

# A tar archive made by hand works as a directory does; tarcheck lists it.
t_tar_archive() {
    tar --format=ustar -cf "$TMP/tree.tar" -C tests/guests/files-tree . &&
        "$CC" -O2 --files "$TMP/tree.tar" -o "$TMP/t.elf" tests/guests/files.c &&
        cold "$TMP/t.elf" cat /data/sub/deep.txt | grep -qx nested &&
        "$BUILD/sdk/bin/lightvm-tarcheck" --list "$TMP/tree.tar" >"$TMP/list" &&
        grep -qx 'f 0644          7 /data/sub/deep.txt' "$TMP/list" &&
        grep -q '^d .* /etc$' "$TMP/list"
}

# ---- Snapshots: the tree and its descriptors live in guest RAM ----------

console_has() {
    local deadline=$((SECONDS + 20))
    until $LIGHTVM console "$1" 2>/dev/null | grep -qE -- "$2"; do
        [ $SECONDS -lt $deadline ] || { echo "console of $1 lacks '$2'"; $LIGHTVM console "$1" | tail -n 3; return 1; }
        read -rt 0.02 <> <(:) 2>/dev/null || true
    done
}
last_tick() { $LIGHTVM console "$1" | sed -n 's/^tick \([0-9]*\) .*/\1/p' | tail -n 1; }

t_daemon() { daemon_start && chmod 755 "$TMP"; }

# Each tick appends to /tmp/log through a descriptor opened at start and
# checks the whole file and the image's files: after a restore and in
# clones the count goes on and every check still holds.
t_save_restore() {
    local t
    $LIGHTVM create --name fs "$FILES" ticks 10 >/dev/null && console_has fs '^tick 3 ok' &&
        $LIGHTVM save fs "$TMP/fs.state" && $LIGHTVM restore "$TMP/fs.state" >/dev/null || return 1
    t=$(last_tick fs)
    console_has fs "^tick $((t + 2)) ok" || return 1
    ! $LIGHTVM console fs | grep -q BAD || { echo "a check failed after the restore"; return 1; }
    $LIGHTVM poweroff fs && [ "$($LIGHTVM wait fs)" = "exited with status 0" ] &&
        $LIGHTVM destroy fs >/dev/null
}

t_clone() {
    local n t
    $LIGHTVM create --name fo "$FILES" ticks 10 >/dev/null && console_has fo '^tick 2 ok' &&
        $LIGHTVM clone -n 2 fo >/dev/null || return 1
    for n in 1 2; do
        console_has "fo-$n" '^tick [0-9]+ ok' || return 1
        t=$(last_tick "fo-$n")
        console_has "fo-$n" "^tick $((t + 2)) ok" || return 1
        ! $LIGHTVM console "fo-$n" | grep -q BAD || { echo "fo-$n: a check failed"; return 1; }
    done
    $LIGHTVM destroy fo fo-1 fo-2 >/dev/null
}

check check t_check
check cat t_cat
check no_host_files t_no_host_files
check fill t_fill
check cc_errors t_cc_errors
check tar_archive t_tar_archive
check daemon t_daemon
check save_restore t_save_restore
check clone t_clone
finish
