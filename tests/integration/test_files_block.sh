#!/bin/bash
# test_files_block.sh: the guest's file tree from a tar on a read-only
# block device named "files" (docs/sdk.md, "A tree on a block device").
# tests/guests/files_block.elf declares the device; here: the archive's
# files byte for byte, a write that changes guest RAM and not the disk,
# a corrupt archive and one bigger than the guest can hold reported on
# the console in one line while the guest runs on, and a guest started
# without the device refused.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh

G=$TGUESTS/files_block.elf
cold() { LIGHTVM_NO_DAEMON=1 "$LIGHTVM" run "$@"; }

setup() {
    mkdir -p "$TMP/tree/dir/sub" &&
        echo "hello from the disk" >"$TMP/tree/dir/a.txt" &&
        seq 1 20000 >"$TMP/tree/dir/sub/big.txt" &&
        tar cf "$TMP/tree.tar" -C "$TMP/tree" .
}

t_cat() {
    cold --block files="$TMP/tree.tar" "$G" cat /dir/a.txt /dir/sub/big.txt >"$TMP/cat.out" &&
        cat "$TMP/tree/dir/a.txt" "$TMP/tree/dir/sub/big.txt" | cmp - "$TMP/cat.out"
}

t_ls() {
    cold --block files="$TMP/tree.tar" "$G" ls /dir >"$TMP/ls.out" &&
        [ "$(sort "$TMP/ls.out" | tr '\n' ' ')" = "a.txt sub " ]
}

# Writes go to guest RAM; the disk is read-only and stays as it was.
t_write() {
    local before
    before=$(sha256sum <"$TMP/tree.tar")
    cold --block files="$TMP/tree.tar" "$G" write /dir/a.txt changed >"$TMP/w.out" &&
        [ "$(cat "$TMP/w.out")" = changed ] &&
        [ "$(sha256sum <"$TMP/tree.tar")" = "$before" ]
}

t_corrupt() {
    cp "$TMP/tree.tar" "$TMP/bad.tar"
    # The second member's header: its checksum no longer matches.
    printf X | dd of="$TMP/bad.tar" bs=1 seek=520 conv=notrunc 2>/dev/null
    expect_status 1 cold --block files="$TMP/bad.tar" "$G" cat /dir/a.txt >"$TMP/bad.out" 2>&1
    cat "$TMP/bad.out"
    contains "$TMP/bad.out" "block device files: the archive is cut short: a header's checksum is wrong" &&
        contains "$TMP/bad.out" "/dir/a.txt: No such file or directory"
}

t_too_big() {
    head -c 3000000 /dev/zero >"$TMP/big.bin" && tar cf "$TMP/big.tar" -C "$TMP" big.bin
    cold -m 4M --block files="$TMP/big.tar" "$G" ls / >"$TMP/tb.out" 2>&1
    local rc=$?
    cat "$TMP/tb.out"
    [ $rc = 0 ] && contains "$TMP/tb.out" "block device files: bigger than half the RAM" &&
        contains "$TMP/tb.out" tmp
}

t_not_attached() {
    expect_status 125 cold "$G" ls / 2>"$TMP/na.out"
    contains "$TMP/na.out" "attach it with --block files=FILE"
}

check setup setup
check cat t_cat
check ls t_ls
check write t_write
check corrupt t_corrupt
check too_big t_too_big
check not_attached t_not_attached
check no_leftovers no_new_leftovers
finish
