#!/bin/bash
# tests/kvm/test_kvm.sh: the kvm monitor's suite (part of `make test`).
#
# Same guest, same output: every guest in $BUILD/examples and
# $BUILD/tests/guests, and the suite's libc and block guests, runs under
# proc and under kvm with the same arguments and devices. Its console
# output (with decimal fractions masked: guests print timings), its exit
# status and the toolstack's verdict line must match; the proc run is the
# reference, nothing is hard-coded. Guests that take an action as their
# argument run once per action: the escape battery's attempts and the
# crash guest's kinds, read from their sources.
#
# Stopped and reported: the faults guest misbehaves in every way listed in
# FAULTS below (privileged and invalid instructions, memory outside its
# RAM, its read-only pages, wild port I/O, forbidden system calls). Both
# monitors must stop it alike, and the kvm monitor must say what happened
# (the pattern after each action) and show the registers.
#
# Also: a guest with two NICs on two bridges (kvm_two_nics); --monitor
# auto and a missing /dev/kvm; kvm_lifecycle (lockdown,
# pause and unpause, poweroff); timeouts and the memory limit.
#
# Where: directly when /dev/kvm opens. Otherwise, or with
# LIGHTVM_KVM_TEST=nested, the whole suite runs inside QEMU on an emulated
# AMD CPU with SVM, where KVM works (tests/kvm/nested/run.sh); its verdict
# lines come back over the serial console. LIGHTVM_KVM_TEST=direct insists
# on /dev/kvm here.
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh

mode=${LIGHTVM_KVM_TEST:-auto}
dev=${LIGHTVM_KVM_DEVICE:-/dev/kvm}
if [ "$mode" = auto ]; then
    if [ -r "$dev" ] && [ -w "$dev" ]; then mode=direct; else mode=nested; fi
fi
case $mode in
nested) exec tests/kvm/nested/run.sh ;;
direct) echo "kvm suite: direct, on $dev" ;;
*)
    echo "LIGHTVM_KVM_TEST=$mode: expected auto, direct or nested"
    exit 2
    ;;
esac

# Seconds a guest may run before it counts as hung (slower when nested).
T=${LIGHTVM_KVM_TEST_TIMEOUT:-30}
KVMT=$BUILD/tests/kvm
# The cold path: a running lightvmd (without kvm, perhaps) is not ours.
export LIGHTVM_NO_DAEMON=1

# run MONITOR NAME [lightvm run options...] -- GUEST [ARGS...]: run a guest,
# leaving $TMP/NAME.MONITOR.{out,err,rc}.
run() {
    local mon=$1 name=$2
    shift 2
    local opts=()
    while [ "$1" != -- ]; do
        opts+=("$1")
        shift
    done
    shift
    "$LIGHTVM" run --monitor "$mon" --timeout "$T" "${opts[@]}" "$@" \
        >"$TMP/$name.$mon.out" 2>"$TMP/$name.$mon.err" </dev/null
    echo $? >"$TMP/$name.$mon.rc"
}

# The verdict line, without its details: a kvm crash names the exception
# where proc can only name the signal, and registers follow on their own
# lines ("lightvm:   rip ...").
verdict() {
    grep -m1 '^lightvm: guest ' "$1" |
        sed -E 's/^lightvm: guest [^ ]+ //; s/^(crashed: SIG[A-Z]+).*/\1/'
}

# same NAME: the proc and kvm runs of NAME agree.
same() {
    local n=$1 ok=0
    local pv kv
    pv=$(verdict "$TMP/$n.proc.err")
    kv=$(verdict "$TMP/$n.kvm.err")
    # Without kernel audit records proc cannot name a forbidden call.
    case $pv in *"which one is unknown"*) kv=$(echo "$kv" |
        sed -E 's/^killed: forbidden .*/killed: forbidden system call/')
        pv="killed: forbidden system call" ;;
    esac
    if ! cmp -s "$TMP/$n.proc.rc" "$TMP/$n.kvm.rc"; then
        echo "exit status: proc $(cat "$TMP/$n.proc.rc"), kvm $(cat "$TMP/$n.kvm.rc")"
        ok=1
    fi
    if [ "$pv" != "$kv" ]; then
        echo "verdict: proc '$pv', kvm '$kv'"
        ok=1
    fi
    sed -E 's/[0-9]+\.[0-9]+/N.N/g' "$TMP/$n.proc.out" >"$TMP/$n.proc.norm"
    sed -E 's/[0-9]+\.[0-9]+/N.N/g' "$TMP/$n.kvm.out" >"$TMP/$n.kvm.norm"
    if ! diff -au "$TMP/$n.proc.norm" "$TMP/$n.kvm.norm"; then
        echo "console output differs (above: proc, then kvm)"
        ok=1
    fi
    if [ $ok != 0 ]; then
        echo "--- proc stderr:"
        cat "$TMP/$n.proc.err"
        echo "--- kvm stderr:"
        cat "$TMP/$n.kvm.err"
    fi
    return $ok
}

# A fresh disk for each run (guests may write): 64 KiB, a known pattern.
disk() {
    awk 'BEGIN { for (i = 0; i < 2048; i++) printf "lightvm-disk-%04d-abcdefghijklm\n", i % 10000 }' |
        head -c 65536 >"$1"
}

# Options that attach every block device the guest's manifest names.
block_opts() {
    local elf=$1 mon=$2 name=$3
    "$LIGHTVM" inspect "$elf" 2>/dev/null | awk '$1 == "block" { print $2 }' |
        while read -r dev; do
            disk "$TMP/$name.$mon.$dev.img"
            echo "--block $dev=$TMP/$name.$mon.$dev.img"
        done
}

# compare NAME [OPTIONS...] -- ELF [ARGS...]: the guest gives the same
# results under both.
compare() {
    local name=$1 opts=() elf
    shift
    while [ "$1" != -- ]; do
        opts+=("$1")
        shift
    done
    shift
    elf=$1
    shift
    for mon in proc kvm; do
        # shellcheck disable=SC2046
        run "$mon" "$name" "${opts[@]}" $(block_opts "$elf" "$mon" "$name") \
            -- "$elf" "$@"
    done
    same "$name"
}

# The actions a guest's source compares its argument (variable VAR) with.
actions() {
    grep -o "strcmp($2, \"[a-z0-9_-]*\")" "$1" | sed 's/.*"\(.*\)")/\1/'
}

# idle waits for a poweroff: ask for one once it says it is waiting.
compare_idle() {
    local elf=$1
    for mon in proc kvm; do
        local out=$TMP/idle.$mon
        rm -f "$out.fifo"
        mkfifo "$out.fifo"
        "$LIGHTVM" run --monitor "$mon" --timeout "$T" "$elf" \
            >"$out.fifo" 2>"$out.err" </dev/null &
        local pid=$!
        # The first line arrives only once the guest runs; then poweroff.
        { IFS= read -r line && echo "$line" && kill -INT $pid && cat; } \
            <"$out.fifo" >"$out.out"
        wait $pid
        echo $? >"$out.rc"
    done
    same idle
}

# ---- Monitor selection ------------------------------------------------------

auto_picks_kvm() {
    "$LIGHTVM" run --monitor auto "$EXAMPLES/noop/noop.elf" 2>"$TMP/auto.err" &&
        contains "$TMP/auto.err" "using the kvm monitor"
}

auto_without_kvm() {
    LIGHTVM_KVM_DEVICE=/nonexistent "$LIGHTVM" run --monitor auto \
        "$EXAMPLES/noop/noop.elf" 2>"$TMP/noauto.err" &&
        contains "$TMP/noauto.err" "using the proc monitor"
}

kvm_without_kvm() {
    LIGHTVM_KVM_DEVICE=/nonexistent expect_status 125 "$LIGHTVM" run \
        --monitor kvm "$EXAMPLES/noop/noop.elf" 2>"$TMP/nokvm.err"
    local r=$?
    cat "$TMP/nokvm.err"
    [ $r = 0 ] && contains "$TMP/nokvm.err" "cannot open /nonexistent"
}

# kvm_forbidden ELF ATTEMPT: killed under kvm as a forbidden call.
kvm_forbidden() {
    "$LIGHTVM" run --monitor kvm "$1" "$2" >"$TMP/kf.out" 2>"$TMP/kf.err"
    local r=$?
    cat "$TMP/kf.out" "$TMP/kf.err"
    ! grep -q ESCAPED "$TMP/kf.out" && [ $r = 159 ] &&
        contains "$TMP/kf.err" "forbidden system call"
}

check auto_picks_kvm auto_picks_kvm
check auto_without_kvm auto_without_kvm
check kvm_without_kvm kvm_without_kvm

# ---- Same guest, same results ------------------------------------------------

for elf in "$EXAMPLES"/*/*.elf "$TGUESTS"/*.elf "$KVMT/libc.elf" \
    "$KVMT/block.elf"; do
    [ -e "$elf" ] || continue
    name=$(basename "$elf" .elf)
    case $elf in "$KVMT"/*) name=kvm_$name ;; esac
    case $name in
    idle) check "same_$name" compare_idle "$elf" ;;
    # It ticks until powered off, printing random numbers: the snapshot
    # tests below run it under both monitors.
    snapcount) continue ;;
    hello) check "same_$name" compare "$name" -- "$elf" one "two words" 3 ;;
    primes) check "same_$name" compare "$name" -- "$elf" 1000000 ;;
    spin) check "same_$name" compare "$name" --timeout 1 -- "$elf" ;;
    exitcode) check "same_$name" compare "$name" -- "$elf" 42 ;;
    chatty) check "same_$name" compare "$name" -- "$elf" 64 ;;
    blockdev)
        check "same_$name" compare "$name" -- "$elf"
        check "same_${name}_beyond" compare "${name}_beyond" -- "$elf" beyond
        ;;
    sweep)
        # Every trapped call (served or refused alike), then fatal calls
        # of each kind: an attack, a gap in the table, beyond it, abort().
        check "same_$name" compare "$name" -- "$elf"
        for a in "call 59" "call 101" "call 165" "call 321" "call 400" \
            "call 468" abort; do
            # shellcheck disable=SC2086
            check "same_${name}_${a// /_}" compare "${name}_${a// /_}" -- "$elf" $a
        done
        ;;
    sweep_strict)
        check "same_$name" compare "$name" -- "$elf"
        check "same_${name}_pipe" compare "${name}_pipe" -- "$elf" call 22
        ;;
    escape | crash)
        var=what
        [ $name = crash ] && var=k
        acts=$(actions "tests/guests/$name.c" $var)
        [ -n "$acts" ] || check "same_${name}_actions" false
        for a in $acts; do
            case $a in
            uretprobe | uprobe)
                # The host kernel serves these for a proc guest whatever
                # its filter (docs/security.md); under kvm they are a
                # guest's forbidden calls like any other.
                check "kvm_${name}_$a" kvm_forbidden "$elf" "$a"
                continue
                ;;
            esac
            check "same_${name}_$a" compare "${name}_$a" -- "$elf" "$a"
        done
        ;;
    *) check "same_$name" compare "$name" -- "$elf" ;;
    esac
done

# ---- Stopped and reported ----------------------------------------------------

# ACTION|what the kvm monitor must report (an extended regular expression)
FAULTS=(
    "hlt|general protection fault \(#GP\)"
    "cli|general protection fault \(#GP\)"
    "rdmsr|general protection fault \(#GP\)"
    "lidt|general protection fault \(#GP\)"
    "cr3|general protection fault \(#GP\)"
    "ud2|crashed: SIGILL .*invalid opcode \(#UD\)"
    "int3|crashed: SIGTRAP .*breakpoint"
    "div0|crashed: SIGFPE .*divide error"
    "int80|forbidden 32-bit system call \(int 0x80, i386 number 5\)"
    "int41|int \\\$0x41|general protection fault"
    "port80|general protection fault \(#GP\)"
    "port_in|general protection fault \(#GP\)"
    "hc_in|port I/O outside the hypercalls: in of 4 bytes from port 0x501"
    "hc_badnr|port I/O outside the hypercalls: out of 1 byte to port 0x50c"
    "hc_badblock|hypercall 2 with its argument block at 0x[0-9a-f]+, outside"
    "past_ram|page fault \(#PF\): read from 0x41000000 \(not mapped"
    "high|page fault \(#PF\): read from 0xc0000000 \(not mapped"
    "null|page fault \(#PF\): read from 0 \(not mapped"
    "devpage_write|page fault \(#PF\): write to 0x3ff01000 \(not permitted"
    "bootinfo_write|page fault \(#PF\): write to 0x3ff00000 \(not permitted"
    "monitor_read|page fault \(#PF\): read from 0x3ff04000 \(not permitted"
    "text_write|page fault \(#PF\): write to 0x4[0-9a-f]+ \(not permitted"
    "stack_exec|page fault \(#PF\): instruction fetch from 0x4[0-9a-f]+ \(not permitted"
    "overflow|page fault \(#PF\): write to 0x4[0-9a-f]+ \(not mapped"
    "read_fd5|killed: forbidden system call read \(0\)"
    "write_fd3|killed: forbidden system call write \(1\)"
    "mmap_exec|killed: forbidden system call mmap \(9\)"
    "abort|aborted: abort\(\)"
)

# fault ACTION PATTERN: both monitors stop the guest alike; kvm says PATTERN.
fault() {
    local act=$1 want=$2 n=fault_$1
    for mon in proc kvm; do
        run "$mon" "$n" -- "$KVMT/faults.elf" "$act"
    done
    same "$n" || return 1
    if grep -q '^survived' "$TMP/$n.kvm.out" || [ "$(cat "$TMP/$n.kvm.rc")" = 0 ]; then
        echo "the guest was not stopped"
        return 1
    fi
    if ! grep -Eq "$want" "$TMP/$n.kvm.err"; then
        echo "kvm report lacks /$want/:"
        cat "$TMP/$n.kvm.err"
        return 1
    fi
    # A crash comes with the guest's registers.
    if grep -q 'crashed:' "$TMP/$n.kvm.err" &&
        ! grep -Eq '^lightvm:   rip [0-9a-f]{16} rsp' "$TMP/$n.kvm.err"; then
        echo "no registers after the crash report"
        return 1
    fi
}

for f in "${FAULTS[@]}"; do
    check "fault_${f%%|*}" fault "${f%%|*}" "${f#*|}"
done

# Harmless calls the SDK refuses (docs/sdk.md): the same errno and warning
# under both, and the guest goes on.
for a in pipe socket fork; do
    check "refused_$a" compare "faults_$a" -- "$KVMT/faults.elf" "$a"
done

# Pointers the guest does not own make hypercalls fail, not the monitor.
check bad_buffers compare badbuf -- "$KVMT/faults.elf" badbuf

# ---- Two NICs -----------------------------------------------------------------

# A kvm guest with two NICs on two bridges uses both: the net suite's
# net_multi guest serves TCP echo on net0 and net1, each a port of its own
# bridge, in a network namespace of the check's own. The namespace
# reaches 10.92.0.0/24 only through kvb1, so an answer there came through
# net1. No anti-spoofing filter (--net-no-filter; so the bridges are made
# by the run, not by `lightvm net up`, which sets up the filter table):
# the nested VM's kernel has tun and bridge loaded, not nf_tables; the
# filter is the same code for every monitor (test_net_multi.sh,
# test_firewall.sh check it).
kvm_two_nics() {
    local elf=$BUILD/tests/net/guests/net_multi.elf
    local netc=$BUILD/tests/net/tools/netc
    [ -e "$elf" ] && [ -x "$netc" ] || {
        echo "missing $elf or $netc (make tests)"
        return 1
    }
    unshare --net bash -c '
        L=$1 elf=$2 netc=$3 ms=$4 out=$5
        "$L" run --monitor kvm --name kn --net-no-filter \
            --net=net0=kvb0,subnet=10.91.0.1/24,ip=10.91.0.2 \
            --net=net1=kvb1,subnet=10.92.0.1/24,ip=10.92.0.2 \
            "$elf" >"$out.out" 2>"$out.err" &
        pid=$!
        "$netc" wait-text "$out.out" serving "$ms" "$pid" >/dev/null ||
            { cat "$out.out" "$out.err"; kill -KILL "$pid"; exit 1; }
        cat "$out.err"
        grep -q "net1: ip 10.92.0.2" "$out.out" || exit 1
        r=0
        "$netc" echo-tcp 10.91.0.2 7 20000 >/dev/null || r=1
        "$netc" echo-tcp 10.92.0.2 7 20000 >/dev/null || r=1
        kill -INT "$pid"
        "$netc" wait-pid "$pid" "$ms" || { kill -KILL "$pid"; r=1; }
        exit $r
    ' _ "$LIGHTVM" "$elf" "$netc" "$((T * 1000))" "$TMP/kn"
}
check kvm_two_nics kvm_two_nics

# ---- Lifecycle, limits -------------------------------------------------------

export LIGHTVM_SHELL=${LIGHTVM_SHELL:-$PWD/$BUILD/bin/lightvm-shell}
check lifecycle_kvm "$KVMT/kvm_lifecycle" kvm "$KVMT/ticker.elf"
check lifecycle_proc "$KVMT/kvm_lifecycle" proc "$KVMT/ticker.elf"

# The OCI runtime's gate under kvm (docs/oci.md): create leaves the
# guest's VM before its first instruction, start runs it, and the
# pid-file process (a subreaper's, by then) exits with the guest's status.
oci_kvm() {
    local b=$TMP/oci-bundle rt=$PWD/$BUILD/bin/lightvm-runtime
    mkdir -p "$b/rootfs/bin" && cp "$BUILD/examples/hello/hello.elf" "$b/rootfs/bin/hello" &&
        cp "$BUILD/tests/guests/exitcode.elf" "$b/rootfs/bin/exitcode" || return 1
    local args
    for args in '"hello", "kvm-arg"' '"exitcode", "7"'; do
        cat >"$b/config.json" <<JSON
{"ociVersion": "1.0.2", "root": {"path": "rootfs"},
 "process": {"args": [$args], "cwd": "/", "env": ["PATH=/bin"]},
 "annotations": {"org.lightvm.monitor": "kvm"},
 "linux": {"cgroupsPath": "/$LIGHTVM_CGROUP_PARENT/oci-kvm"}}
JSON
        rm -f "$TMP/oci.out"
        $BUILD/tests/tools/subreaper bash -c "'$rt' --root '$TMP/oci-root' create \
            -b '$b' --pid-file '$TMP/oci.pid' k1 >'$TMP/oci.out' && \
            '$rt' --root '$TMP/oci-root' state k1 >'$TMP/oci.state' && \
            [ ! -s '$TMP/oci.out' ] && '$rt' --root '$TMP/oci-root' start k1" \
            >"$TMP/oci.reaped" || { cat "$TMP/oci.reaped" "$TMP/oci.out"; return 1; }
        cat "$TMP/oci.reaped" "$TMP/oci.out"
        grep -q '"status": "created"' "$TMP/oci.state" || return 1
        "$rt" --root "$TMP/oci-root" delete k1 || return 1
        case $args in
        *hello*) grep -q "argv\[1\] = kvm-arg" "$TMP/oci.out" &&
            grep -q "reaped $(cat "$TMP/oci.pid") exited 0" "$TMP/oci.reaped" || return 1 ;;
        *) grep -q "reaped $(cat "$TMP/oci.pid") exited 7" "$TMP/oci.reaped" || return 1 ;;
        esac
    done
}
check oci_kvm oci_kvm

timeout_same() {
    for mon in proc kvm; do
        "$LIGHTVM" run --monitor "$mon" --timeout 0.5 "$KVMT/ticker.elf" \
            >/dev/null 2>"$TMP/to.$mon.err"
        echo $? >"$TMP/to.$mon.rc"
    done
    grep -q '^124$' "$TMP/to.kvm.rc" && same to
}

oom_same() {
    for mon in proc kvm; do
        run "$mon" oom --mem 64M --mem-limit 24M -- \
            "$EXAMPLES/primes/primes.elf" 40000000
    done
    grep -q '^137$' "$TMP/oom.kvm.rc" && same oom
}

check timeout timeout_same
check memory_limit oom_same

# ---- Through lightvmd: pooled kvm shells -------------------------------------

# lightvmd keeps kvm shells in its pool (each with its VM, memory slot and
# vCPU made at PREPARE): a kvm create of that size takes one, the guest runs
# under kvm (its process holds a KVM vCPU) and obeys pause, unpause and
# poweroff; a proc create does not take a kvm shell.
daemon_pool() {
    local r=0 json id pid
    daemon_start --pool 4M+kvm=2,4M=1 || return 1
    pool_settle || r=1
    json=$(env -u LIGHTVM_NO_DAEMON "$LIGHTVM" create --json --monitor kvm \
        -m 4M "$EXAMPLES/idle/idle.elf") || r=1
    id=$(echo "$json" | sed -n 's/.*"id":"\([0-9a-f]*\)".*/\1/p')
    pid=$(echo "$json" | sed -n 's/.*"pid":\([0-9]*\).*/\1/p')
    echo "$json" | grep -q '"monitor":"kvm"' && echo "$json" | grep -q '"pooled":true' ||
        { echo "not a pooled kvm guest: $json"; r=1; }
    ls -l "/proc/$pid/fd" 2>/dev/null | grep -q 'kvm-vcpu' ||
        { echo "guest $pid holds no KVM vCPU"; r=1; }
    [ "$(pool_counter taken)" = 1 ] || { echo "taken: $(pool_counter taken)"; r=1; }
    $LIGHTVM pause "$id" && wait_state "$id" paused &&
        $LIGHTVM unpause "$id" && wait_state "$id" running &&
        $LIGHTVM poweroff "$id" && wait_state "$id" exited || r=1
    $LIGHTVM destroy "$id" >/dev/null || r=1
    # A proc guest of the same size takes the proc shell, not a kvm one.
    json=$(env -u LIGHTVM_NO_DAEMON "$LIGHTVM" create --json --monitor proc \
        -m 4M "$EXAMPLES/idle/idle.elf") || r=1
    echo "$json" | grep -q '"monitor":"proc"' && echo "$json" | grep -q '"pooled":true' ||
        { echo "proc create: $json"; r=1; }
    ls -l "/proc/$(echo "$json" | sed -n 's/.*"pid":\([0-9]*\).*/\1/p')/fd" 2>/dev/null |
        grep -q 'kvm-vcpu' && { echo "a proc guest got a kvm shell"; r=1; }
    $LIGHTVM destroy "$(echo "$json" | sed -n 's/.*"id":"\([0-9a-f]*\)".*/\1/p')" >/dev/null || r=1
    daemon_stop
    return $r
}
# Without a usable /dev/kvm a kvm pool class stops the daemon at start,
# saying why, instead of failing to prepare shells forever.
daemon_pool_no_kvm() {
    local rc
    LIGHTVM_KVM_DEVICE=/nonexistent LIGHTVM_RUN_DIR="$TMP/nokvm-run" \
        timeout 20 "$BUILD/bin/lightvmd" --pool 4M+kvm=1 2>"$TMP/nokvm.log"
    rc=$?
    cat "$TMP/nokvm.log"
    [ $rc = 1 ] && grep -q 'kvm class.*/nonexistent' "$TMP/nokvm.log"
}
trap 'declare -F mig_b_stop >/dev/null && mig_b_stop; daemon_stop; lib_cleanup' EXIT
check daemon_pool daemon_pool
check daemon_pool_no_kvm daemon_pool_no_kvm

# ---- Snapshots through lightvmd: save, restore, clone -------------------------

# snapcount (tests/guests/snapcount.c) prints "tick N hash H resumed R
# cloned C rand X" every 50 ms and aborts if the hash of its 256 KiB of
# random heap ever changes. A guest made under one monitor is paused,
# saved (which destroys it) and restored under the same or the other
# monitor (then, across monitors, saved and restored once more); each
# restored guest must run under the monitor asked for, continue at the next tick (no
# reboot: no "start" line), with the same memory (same hash, no abort),
# resumed once more than before and not a clone. Each mode parks another
# way: sleep inside a served nanosleep (the call gives way to the
# snapshot and is made again after the restore), yield between calls.
# Clones of a running kvm guest say they are clones and each has random
# numbers of its own; the original goes on. (proc to proc, and the
# refusals: tests/integration/test_snapshot.sh.)
SNAP_ELF=$TGUESTS/snapcount.elf
# Seconds to wait for a few ticks or a guest's end: T, but at most 60 (a
# hung guest must not eat the nested run's whole time).
ST=$((T < 60 ? T : 60))

# ticks FILE: the tick lines of a snapcount console, as "N R C X H".
ticks() {
    sed -nE 's/^tick ([0-9]+) hash ([0-9a-f]+) resumed ([0-9]+) cloned ([0-9]+) rand ([0-9a-f]+)$/\1 \3 \4 \5 \2/p' "$1"
}

# follow GUEST NAME: GUEST's whole console into $TMP/NAME.con, by a
# `lightvm console -f`, which ends when the guest does.
follow() {
    "$LIGHTVM" console -f "$1" >"$TMP/$2.con" 2>&1 &
    echo $! >"$TMP/$2.fpid"
}

# wait_ticks NAME N: until NAME's console has N tick lines; fails at once
# if the guest ends first.
wait_ticks() {
    local deadline=$((SECONDS + ST)) pid
    pid=$(cat "$TMP/$1.fpid")
    until [ "$(ticks "$TMP/$1.con" | wc -l)" -ge "$2" ]; do
        if ! kill -0 "$pid" 2>/dev/null &&
            [ "$(ticks "$TMP/$1.con" | wc -l)" -lt "$2" ]; then
            echo "$1: the guest ended before tick $2:"
            cat "$TMP/$1.con"
            guest_json "$(cat "$TMP/$1.id")"
            return 1
        fi
        [ $SECONDS -lt $deadline ] ||
            { echo "$1: not $2 ticks in $ST s:"; cat "$TMP/$1.con"; return 1; }
        read -rt 0.02 <> <(:) 2>/dev/null || true
    done
}

# follow_end NAME: until NAME's guest has gone and its console is whole.
follow_end() {
    local deadline=$((SECONDS + ST)) pid
    pid=$(cat "$TMP/$1.fpid")
    while kill -0 "$pid" 2>/dev/null; do
        [ $SECONDS -lt $deadline ] || { echo "$1: its guest never ended"; return 1; }
        read -rt 0.02 <> <(:) 2>/dev/null || true
    done
}

# snap_start NAME MONITOR MODE: a snapcount guest, followed as NAME (its
# id in $TMP/NAME.id), once it has ticked twice.
snap_start() {
    local id
    id=$("$LIGHTVM" create --monitor "$2" -m 8M "$SNAP_ELF" 256 50 "$3") ||
        { echo "create under $2 failed"; return 1; }
    echo "$id" >"$TMP/$1.id"
    follow "$id" "$1"
    wait_ticks "$1" 2
}

# snap_resumed NAME MONITOR FIRST HASH RESUMED CLONED: NAME's guest runs
# under MONITOR (a kvm one holds a vCPU, a proc one does not) and went on
# from a snapshot: its console starts at tick FIRST (empty: any), the ticks
# follow on, each with HASH, resumed RESUMED and cloned CLONED.
snap_resumed() {
    local n=$1 json mon pid vcpu=0
    json=$(guest_json "$(cat "$TMP/$n.id")")
    mon=$(echo "$json" | sed -n 's/.*"monitor":"\([a-z]*\)".*/\1/p')
    pid=$(echo "$json" | sed -n 's/.*"pid":\([0-9]*\).*/\1/p')
    [ "$mon" = "$2" ] || { echo "$n runs under '$mon', not $2"; return 1; }
    ls -l "/proc/$pid/fd" 2>/dev/null | grep -q kvm-vcpu && vcpu=1
    if [ $vcpu != "$([ "$2" = kvm ] && echo 1 || echo 0)" ]; then
        echo "$n: a $2 guest, but holding a KVM vCPU is $vcpu"
        return 1
    fi
    if ! head -n 1 "$TMP/$n.con" | grep -q '^tick '; then
        echo "$n did not continue where it was saved:"
        cat "$TMP/$n.con"
        return 1
    fi
    ticks "$TMP/$n.con" | awk -v first="$3" -v hash="$4" -v rs="$5" -v cl="$6" -v n="$n" '
        NR == 1 && first != "" && $1 != first { print n ": first tick " $1 ", want " first; bad = 1 }
        NR > 1 && $1 != prev + 1 { print n ": tick " $1 " after " prev; bad = 1 }
        $2 != rs || $3 != cl || $5 != hash {
            print n ": tick " $1 ": resumed " $2 " cloned " $3 " hash " $5 ", want " rs ", " cl ", " hash; bad = 1 }
        { prev = $1 }
        END { exit bad }' || { cat "$TMP/$n.con"; return 1; }
}

# snap_reset: no guest left in the suite's daemon, every follower ended.
snap_reset() {
    local id f
    for id in $("$LIGHTVM" list -q); do
        "$LIGHTVM" destroy "$id" >/dev/null
    done
    for f in "$TMP"/*.fpid; do
        [ -e "$f" ] || continue
        follow_end "$(basename "$f" .fpid)"
        rm -f "$f"
    done
}

# snap_trip MODE MONITOR0 MONITOR1...: a guest made under MONITOR0, then
# saved and restored under each next MONITOR in turn. With SNAP_POOLED=1
# each restore must take a shell from the daemon's pool.
snap_trip() {
    local mode=$1 n id last final hash k=0 r=0
    shift
    n=trip_$(echo "$*" | tr ' ' _)_$mode
    snap_start "$n.0" "$1" "$mode" || { snap_reset; return 1; }
    shift
    for mon in "$@"; do
        id=$(cat "$TMP/$n.$k.id")
        # Paused, it prints nothing; the save thaws it with the request
        # already posted, so it parks at its next wait.
        "$LIGHTVM" pause "$id" >/dev/null && wait_state "$id" paused || r=1
        "$LIGHTVM" console "$id" >"$TMP/$n.$k.paused"
        last=$(ticks "$TMP/$n.$k.paused" | tail -n 1 | cut -d' ' -f1)
        "$LIGHTVM" save "$id" "$TMP/$n.$k.state" || { snap_reset; return 1; }
        follow_end "$n.$k" || r=1
        # Its whole console: a guest frozen in the middle of a tick ends
        # that tick's line before it parks.
        final=$(ticks "$TMP/$n.$k.con" | tail -n 1 | cut -d' ' -f1)
        hash=$(ticks "$TMP/$n.$k.con" | tail -n 1 | cut -d' ' -f5)
        echo "guest $k: paused at tick $last, saved after tick $final"
        if [ -z "$last" ] || { [ "$final" != "$last" ] && [ "$final" != $((last + 1)) ]; }; then
            echo "guest $k went on after its pause"
            cat "$TMP/$n.$k.con"
            r=1
        fi
        if "$LIGHTVM" list -q | grep -qx "$id"; then
            echo "the save left guest $id"
            r=1
        fi
        [ "${SNAP_POOLED:-0}" = 0 ] || pool_settle || r=1
        k=$((k + 1))
        id=$("$LIGHTVM" restore --monitor "$mon" "$TMP/$n.$((k - 1)).state") ||
            { snap_reset; return 1; }
        echo "$id" >"$TMP/$n.$k.id"
        if [ "${SNAP_POOLED:-0}" = 1 ] && [ "$(field "$id" pooled)" != true ]; then
            echo "restore $k did not take a pooled $mon shell: $(guest_json "$id")"
            r=1
        fi
        follow "$id" "$n.$k"
        wait_ticks "$n.$k" 3 &&
            snap_resumed "$n.$k" "$mon" $((final + 1)) "$hash" $k 0 ||
            { snap_reset; return 1; }
    done
    snap_reset
    return $r
}

# snap_clone MONITOR: three clones of a running guest.
snap_clone() {
    local mon=$1 n=clone_$1 id ids c hash k=0 first rand srcrand rands='' r=0
    snap_start "$n.src" "$mon" yield || { snap_reset; return 1; }
    id=$(cat "$TMP/$n.src.id")
    hash=$(ticks "$TMP/$n.src.con" | tail -n 1 | cut -d' ' -f5)
    ids=$("$LIGHTVM" clone -n 3 "$id") || { snap_reset; return 1; }
    if [ "$(echo "$ids" | wc -l)" != 3 ]; then
        echo "clone -n 3 gave: $ids"
        snap_reset
        return 1
    fi
    for c in $ids; do
        k=$((k + 1))
        echo "$c" >"$TMP/$n.$k.id"
        follow "$c" "$n.$k"
    done
    for k in 1 2 3; do
        wait_ticks "$n.$k" 2 && snap_resumed "$n.$k" "$mon" "" "$hash" 1 1 || r=1
        first=$(ticks "$TMP/$n.$k.con" | head -n 1 | cut -d' ' -f1)
        rand=$(ticks "$TMP/$n.$k.con" | head -n 1 | cut -d' ' -f4)
        rands="$rands $rand"
        # The original goes on, never a clone, with numbers of its own.
        [ -n "$first" ] && wait_ticks "$n.src" "$first" || { r=1; continue; }
        srcrand=$(ticks "$TMP/$n.src.con" | awk -v t="$first" '$1 == t { print $4 }')
        if [ "$srcrand" = "$rand" ]; then
            echo "clone $k and the original both drew $rand at tick $first"
            r=1
        fi
    done
    echo "the clones' first random numbers:$rands"
    if [ "$(echo "$rands" | tr ' ' '\n' | grep -c .)" != 3 ] ||
        [ -n "$(echo "$rands" | tr ' ' '\n' | grep . | sort | uniq -d)" ]; then
        echo "the clones' random numbers are not three distinct ones"
        r=1
    fi
    ticks "$TMP/$n.src.con" | awk '$2 != 0 || $3 != 0 { bad = 1 } END { exit bad }' ||
        { echo "the original thinks it was resumed or cloned"; r=1; }
    snap_reset
    return $r
}

# Threads: parked inside their served calls, whose frames only the
# saving monitor type can return from. kvm to kvm goes on (the threads
# keep counting, or snapcount aborts); proc to kvm is refused at resume,
# with the reason (docs/sdk.md#threads).
snap_threads_cross() {
    local n=xthreads id how
    snap_start "$n" proc threads || { snap_reset; return 1; }
    id=$(cat "$TMP/$n.id")
    "$LIGHTVM" save "$id" "$TMP/$n.state" || { snap_reset; return 1; }
    follow_end "$n"
    id=$("$LIGHTVM" restore --monitor kvm "$TMP/$n.state") || { snap_reset; return 1; }
    how=$("$LIGHTVM" wait "$id")
    snap_reset
    echo "$how"
    echo "$how" | grep -q "aborted: resume: a guest with several threads cannot move to another monitor type"
}

check snap_daemon daemon_start --pool 0
check snap_kvm_kvm_threads snap_trip threads kvm kvm
check snap_proc_kvm_threads_refused snap_threads_cross
check snap_kvm_kvm_sleep snap_trip sleep kvm kvm
# Across monitors both ways in each mode, and saved again after a
# restore (its RAM then maps the first state's copy-on-write).
check snap_kvm_proc_kvm_sleep snap_trip sleep kvm proc kvm
check snap_proc_kvm_proc_yield snap_trip yield proc kvm proc
check snap_clone_kvm snap_clone kvm
daemon_stop
# Restored into a shell from the daemon's pool, its VM made beforehand.
check snap_daemon_pool daemon_start --pool 8M+kvm=1
SNAP_POOLED=1 check snap_kvm_kvm_yield_pooled snap_trip yield kvm kvm
daemon_stop

# ---- Live migration between two daemons (docs/migration.md) -------------------

# A kvm guest moves to a second daemon over its API socket (the memory as
# a memfd), then back over TCP (pre-copy): each time it goes on under kvm
# at the next tick with the same memory, resumed once more; the source
# keeps nothing. (proc, the refusals and the faults:
# tests/integration/test_migrate.sh.)
MIG_PORT=$((20000 + $$ % 20000))
MIG_B=$TMP/b/lightvmd.sock
mig_daemons() {
    ip link set lo up 2>/dev/null # the nested VM brings up no interface
    od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$TMP/token" && chmod 600 "$TMP/token"
    daemon_start --pool 0 --migrate-listen "127.0.0.1:$MIG_PORT" \
        --migrate-token "$TMP/token" || return 1
    mkdir -p "$TMP/b"
    LIGHTVM_RUN_DIR=$TMP/b LIGHTVM_CGROUP_PARENT=$LIGHTVM_CGROUP_PARENT-b \
        "$BUILD/bin/lightvmd" --pool 0 >>"$TMP/lightvmd-b.log" 2>&1 &
    MIG_B_PID=$!
    local deadline=$((SECONDS + 20))
    until LIGHTVM_SOCKET=$MIG_B "$LIGHTVM" list >/dev/null 2>&1; do
        kill -0 $MIG_B_PID 2>/dev/null || { cat "$TMP/lightvmd-b.log"; return 1; }
        [ $SECONDS -lt $deadline ] || return 1
        read -rt 0.02 <> <(:) 2>/dev/null || true
    done
}
mig_b_stop() {
    [ -n "${MIG_B_PID:-}" ] || return 0
    local id
    for id in $(LIGHTVM_SOCKET=$MIG_B "$LIGHTVM" list -q 2>/dev/null); do
        LIGHTVM_SOCKET=$MIG_B "$LIGHTVM" destroy "$id" >/dev/null
    done
    kill -TERM $MIG_B_PID 2>/dev/null
    wait $MIG_B_PID 2>/dev/null
    MIG_B_PID=
}

# mig_hop NAME K SOCKET DEST: guest NAME.K (on SOCKET) migrated to DEST
# (on the other daemon) becomes NAME.(K+1), which must go on from it.
mig_hop() {
    local n=$1 k=$2 id newid final hash
    id=$(cat "$TMP/$n.$k.id")
    newid=$(LIGHTVM_SOCKET=$3 "$LIGHTVM" migrate --token-file "$TMP/token" "$id" "$4") || return 1
    follow_end "$n.$k" || return 1
    final=$(ticks "$TMP/$n.$k.con" | tail -n 1 | cut -d' ' -f1)
    hash=$(ticks "$TMP/$n.$k.con" | tail -n 1 | cut -d' ' -f5)
    if LIGHTVM_SOCKET=$3 "$LIGHTVM" list -q | grep -qx "$id"; then
        echo "the migration left guest $id at its source"
        return 1
    fi
    echo "$newid" >"$TMP/$n.$((k + 1)).id"
    local other=$LIGHTVM_SOCKET
    [ "$3" = "$LIGHTVM_SOCKET" ] && other=$MIG_B
    LIGHTVM_SOCKET=$other follow "$newid" "$n.$((k + 1))"
    LIGHTVM_SOCKET=$other wait_ticks "$n.$((k + 1))" 3 &&
        LIGHTVM_SOCKET=$other snap_resumed "$n.$((k + 1))" kvm $((final + 1)) "$hash" $((k + 1)) 0
}

mig_kvm() {
    local n=mig r=0
    snap_start "$n.0" kvm yield || { snap_reset; return 1; }
    mig_hop $n 0 "$LIGHTVM_SOCKET" "$MIG_B" &&
        mig_hop $n 1 "$MIG_B" "tcp:127.0.0.1:$MIG_PORT" || r=1
    snap_reset
    mig_b_stop
    return $r
}

check mig_daemons mig_daemons
check mig_kvm_unix_then_tcp mig_kvm
mig_b_stop
daemon_stop


# ---- The compatibility suite under kvm (tests/compat) ------------------------

# Real programs' own tests, counted as under proc (test_compat.sh); each
# program's line is shown whatever the verdict.
compat_kvm() {
    LIGHTVM_TEST_ONLY= LIGHTVM_COMPAT_MONITORS=kvm LIGHTVM_COMPAT_TIMEOUT=$((T * 20)) \
        tests/compat/test_compat.sh
}
if ls "$BUILD"/compat/*/.built >/dev/null 2>&1; then
    check compat_kvm compat_kvm
    [ -e "$TMP/compat_kvm.log" ] && grep '^compat: ' "$TMP/compat_kvm.log"
else
    skip compat_kvm "$BUILD/compat is not built (make compat)"
fi

finish
