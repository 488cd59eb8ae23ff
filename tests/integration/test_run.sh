#!/bin/bash
# test_run.sh: every example boots under proc and prints what it must;
# exit statuses, console files, environment, block devices, the CLI's own
# errors and the flags it refuses for a monitor behave as docs/cli.md says.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
# The cold path: this suite is about lightvm on its own.
export LIGHTVM_NO_DAEMON=1

t_hello() {
    $LIGHTVM run $EXAMPLES/hello/hello.elf one "two words" >"$TMP/out" || return 1
    contains "$TMP/out" "Hello from a lightvm guest!" &&
        contains "$TMP/out" "argv[1] = one" &&
        contains "$TMP/out" "argv[2] = two words"
}

t_noop() {
    expect_status 0 $LIGHTVM run $EXAMPLES/noop/noop.elf
}

t_primes() {
    # Exit status 0 only if the count matches pi(N).
    $LIGHTVM run -m 64M $EXAMPLES/primes/primes.elf 1000000 >"$TMP/out" &&
        contains "$TMP/out" "primes below 1000000: 78498"
}

t_idle_poweroff() {
    # idle waits for the control device; SIGINT to lightvm asks it to
    # power off, and it exits 0 after saying it was waiting.
    $LIGHTVM run $EXAMPLES/idle/idle.elf >"$TMP/idle.out" 2>"$TMP/idle.err" &
    local pid=$!
    wait_for_file_text "$TMP/idle.out" "waiting for poweroff" || return 1
    kill -INT $pid
    wait $pid
    local rc=$?
    [ $rc -eq 0 ] || { echo "idle exited $rc"; cat "$TMP/idle.err"; return 1; }
    contains "$TMP/idle.err" "asking guest idle to power off"
}

t_exit_status() {
    for s in 0 1 7 42 255; do
        expect_status $s $LIGHTVM run -q $TGUESTS/exitcode.elf $s || return 1
    done
}

t_exit_message() {
    $LIGHTVM run $TGUESTS/exitcode.elf 3 2>"$TMP/err"
    contains "$TMP/err" "guest exitcode exited with status 3"
}

t_console_file() {
    $LIGHTVM run --console "$TMP/console.log" $EXAMPLES/hello/hello.elf x \
        >"$TMP/stdout" || return 1
    contains "$TMP/console.log" "argv[1] = x" && [ ! -s "$TMP/stdout" ]
}

t_console_limit() {
    # The console file stops growing at its limit; the guest goes on.
    $LIGHTVM run --console "$TMP/big.log" --console-limit 4K -m 64M \
        $EXAMPLES/primes/primes.elf 1000000 || return 1
    local size
    size=$(stat -c %s "$TMP/big.log")
    [ "$size" -le 4096 ] || { echo "console is $size bytes"; return 1; }
}

t_libc() {
    $LIGHTVM run -m 64M -e LIGHTVM_TEST=hello $TGUESTS/libc.elf hello \
        >"$TMP/out" || { cat "$TMP/out"; return 1; }
    contains "$TMP/out" "LIGHTVM_TEST=hello" && contains "$TMP/out" "checks passed"
}

t_name() {
    $LIGHTVM run --name wally $TGUESTS/exitcode.elf 4 2>"$TMP/err"
    contains "$TMP/err" "guest wally exited with status 4"
}

t_block_rw() {
    printf 'first line of the disk\n' >"$TMP/disk.img"
    truncate -s 64K "$TMP/disk.img"
    $LIGHTVM run -b disk0="$TMP/disk.img" $TGUESTS/blockdev.elf >"$TMP/out" ||
        { cat "$TMP/out"; return 1; }
    contains "$TMP/out" "block 0 says: first line of the disk" &&
        contains "$TMP/out" "blockdev: ok" &&
        # the guest's writes reached the file, at the right offsets
        [ "$(dd if="$TMP/disk.img" bs=512 skip=1 count=1 2>/dev/null | head -c 24)" = \
            "lightvm block at 512" ] &&
        [ "$(dd if="$TMP/disk.img" bs=512 skip=127 count=1 2>/dev/null | head -c 26)" = \
            "lightvm block at 65024" ]
}

t_block_readonly() {
    printf 'read only\n' >"$TMP/ro.img"
    truncate -s 4K "$TMP/ro.img"
    local before
    before=$(md5sum <"$TMP/ro.img")
    $LIGHTVM run -b disk0="$TMP/ro.img":ro $TGUESTS/blockdev.elf >"$TMP/out" ||
        { cat "$TMP/out"; return 1; }
    contains "$TMP/out" "read-only" && [ "$(md5sum <"$TMP/ro.img")" = "$before" ]
}

t_block_beyond() {
    truncate -s 4K "$TMP/small.img"
    $LIGHTVM run -b disk0="$TMP/small.img" $TGUESTS/blockdev.elf beyond >"$TMP/out"
}

t_block_missing() {
    # The manifest needs disk0: refuse to start without it.
    $LIGHTVM run $TGUESTS/blockdev.elf 2>"$TMP/err"
    [ $? -eq 125 ] && contains "$TMP/err" "needs block device disk0" &&
        [ "$(wc -l <"$TMP/err")" -eq 1 ]
}

t_block_partial() {
    # A file that ends in part of a block is refused (the guest would not
    # see its tail), read-only or not; padded, it runs.
    truncate -s 4K "$TMP/odd.img" && printf 'tail' >>"$TMP/odd.img"
    $LIGHTVM run -b disk0="$TMP/odd.img:ro" $TGUESTS/blockdev.elf 2>"$TMP/err"
    [ $? -eq 125 ] && contains "$TMP/err" "is 4100 bytes, not a whole number" &&
        [ "$(wc -l <"$TMP/err")" -eq 1 ] || return 1
    truncate -s %512 "$TMP/odd.img" &&
        $LIGHTVM run -b disk0="$TMP/odd.img" $TGUESTS/blockdev.elf >"$TMP/out"
}

t_block_unknown() {
    truncate -s 4K "$TMP/x.img"
    $LIGHTVM run -b nope="$TMP/x.img" $EXAMPLES/hello/hello.elf 2>"$TMP/err"
    [ $? -eq 125 ] && contains "$TMP/err" "no block device named nope"
}

t_inspect() {
    $LIGHTVM inspect $TGUESTS/blockdev.elf >"$TMP/out" || return 1
    contains "$TMP/out" "block  disk0" && contains "$TMP/out" "r-x 0x40" &&
        $LIGHTVM inspect --json $TGUESTS/blockdev.elf >"$TMP/json" &&
        contains "$TMP/json" '"name": "disk0"' &&
        contains "$TMP/json" '"entry":'
}

t_cli_errors() {
    expect_status 2 $LIGHTVM run 2>/dev/null &&
        expect_status 2 $LIGHTVM run --mem 12Q $EXAMPLES/noop/noop.elf 2>/dev/null &&
        expect_status 2 $LIGHTVM frobnicate 2>/dev/null &&
        expect_status 125 $LIGHTVM run /nonexistent.elf 2>"$TMP/err" &&
        contains "$TMP/err" "/nonexistent.elf: No such file or directory" &&
        expect_status 2 $LIGHTVM run -m 256K $EXAMPLES/noop/noop.elf 2>"$TMP/err" &&
        contains "$TMP/err" "mem: a proc guest needs at least 1 MiB, not 256 KiB" &&
        expect_status 2 $LIGHTVM run --no-daemon --monitor xen $EXAMPLES/noop/noop.elf 2>"$TMP/err" &&
        contains "$TMP/err" "unknown monitor 'xen' (available: proc, kvm, qemu, auto)" &&
        expect_status 2 $LIGHTVM run --name 'a b' $EXAMPLES/noop/noop.elf 2>"$TMP/err" &&
        contains "$TMP/err" "--name: character 2 (byte 0x20) is not allowed" &&
        expect_status 2 $LIGHTVM run --console-limit 2G $EXAMPLES/noop/noop.elf 2>"$TMP/err" &&
        contains "$TMP/err" "--console-limit: '2G' is not a size up to 1G" &&
        expect_status 0 $LIGHTVM run --help >/dev/null &&
        expect_status 0 $LIGHTVM --help >/dev/null
}

# refused WANT ARGS...: `lightvm run ARGS` exits 2 (a bad command line)
# with one line WANT.
refused() {
    local want=$1
    shift
    expect_status 2 $LIGHTVM run "$@" 2>"$TMP/refused" || return 1
    cat "$TMP/refused"
    [ "$(wc -l <"$TMP/refused")" -eq 1 ] && contains "$TMP/refused" "$want"
}

t_flag_refusals() {
    # A flag that does not apply to the monitor, named with the monitor
    # (test_daemon.sh checks the same lines through lightvmd).
    refused "lightvm: --publish is not supported for the proc monitor" \
        -p 0:80 $EXAMPLES/noop/noop.elf &&
        refused "lightvm: --publish is not supported for the kvm monitor" \
            --monitor kvm -p 0:80 $EXAMPLES/noop/noop.elf &&
        refused "lightvm: --accel is not supported for the proc monitor" \
            --accel tcg $EXAMPLES/noop/noop.elf &&
        refused "lightvm: --watchdog needs lightvmd for the proc monitor" \
            --watchdog 100 $EXAMPLES/noop/noop.elf &&
        refused "(available: proc, kvm, qemu, auto)" \
            --monitor xen $EXAMPLES/noop/noop.elf &&
        refused "noop.elf is not a Tinyx image directory" \
            --monitor qemu $EXAMPLES/noop/noop.elf &&
        refused "lightvm: --ip: '10.0.0.2/24': the bridge's subnet sets the prefix" \
            --net --ip 10.0.0.2/24 $EXAMPLES/noop/noop.elf
}

t_no_leftovers() {
    no_new_leftovers
}

check hello t_hello
check noop t_noop
check primes t_primes
check idle_poweroff t_idle_poweroff
check exit_status t_exit_status
check exit_message t_exit_message
check console_file t_console_file
check console_limit t_console_limit
check libc t_libc
check name t_name
check block_rw t_block_rw
check block_readonly t_block_readonly
check block_beyond t_block_beyond
check block_missing t_block_missing
check block_partial t_block_partial
check block_unknown t_block_unknown
check inspect t_inspect
check cli_errors t_cli_errors
check flag_refusals t_flag_refusals
check no_leftovers t_no_leftovers
finish
