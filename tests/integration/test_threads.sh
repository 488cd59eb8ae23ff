#!/bin/bash
# test_threads.sh: pthreads in a proc guest (the kvm suite runs the same
# guest under kvm): a ring of threads passing a token with a mutex and a
# condition variable, joins, thread-local storage, detached threads,
# pthread_exit, timed waits and sleeping threads (tests/guests/threads.c
# checks each and says which failed). One guest stays one process.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
export LIGHTVM_NO_DAEMON=1

THREADS=$TGUESTS/threads.elf

# ring N ROUNDS
ring() {
    $LIGHTVM run $THREADS "$1" "$2" >"$TMP/ring.out" 2>"$TMP/ring.err"
    local rc=$?
    cat "$TMP/ring.out" "$TMP/ring.err"
    [ $rc -eq 0 ] && contains "$TMP/ring.out" "threads: ring of $1 threads, $2 rounds: ok" &&
        contains "$TMP/ring.out" "threads: ok"
}

# Threads are the SDK's, not the host's: the guest's process has one task.
t_one_process() {
    $LIGHTVM run $TGUESTS/threads.elf 4 200000 >"$TMP/one.out" 2>&1 &
    local cli=$!
    local pid= i=0
    while [ -z "$pid" ] && [ $i -lt 500 ]; do
        pid=$(pgrep -P $cli | head -1)
        i=$((i + 1))
        read -rt 0.01 <> <(:) 2>/dev/null || true
    done
    local r=1
    if [ -n "$pid" ] && [ -d /proc/$pid/task ]; then
        local tasks
        tasks=$(ls /proc/$pid/task | wc -l)
        [ "$tasks" -eq 1 ] && r=0 || echo "$tasks tasks"
    fi
    wait $cli
    contains "$TMP/one.out" "threads: ok" && return $r
}

# A poweroff (Ctrl-C) reaches a guest whose threads all wait: one of
# them is interrupted, and the guest exits 0 as any guest does.
t_poweroff() {
    $LIGHTVM run $TGUESTS/snapcount.elf 64 10 threads >"$TMP/po.out" 2>&1 &
    local cli=$!
    wait_for_file_text "$TMP/po.out" "tick 5 " || { kill -9 $cli; return 1; }
    kill -INT $cli
    wait $cli
    local rc=$?
    cat "$TMP/po.out"
    [ $rc -eq 0 ] && ! grep -q "threads stopped\|aborted" "$TMP/po.out"
}

check ring_1 ring 1 10
check ring_8 ring 8 100
check ring_64 ring 64 50
check one_process t_one_process
check poweroff t_poweroff
finish
