#!/bin/bash
# test_limits.sh: a guest that allocates past its memory or spins forever
# is stopped by its limit or a --timeout, and other guests carry on.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
# The cold path: this suite is about lightvm on its own.
export LIGHTVM_NO_DAEMON=1

t_ram_exhausted() {
    # malloc fails at the guest's RAM size; the guest itself survives.
    $LIGHTVM run -m 32M $TGUESTS/memhog.elf >"$TMP/out" || return 1
    local mib
    mib=$(sed -n 's/memhog: \([0-9]*\) MiB.*/\1/p' "$TMP/out")
    echo "allocated $mib MiB in a 32 MiB guest"
    [ -n "$mib" ] && [ "$mib" -ge 24 ] && [ "$mib" -lt 32 ]
}

t_oom_killed() {
    # RAM larger than the host limit: the kernel's OOM killer stops it.
    $LIGHTVM run -m 256M --mem-limit 24M $TGUESTS/memhog.elf >"$TMP/out" 2>"$TMP/err"
    local rc=$?
    cat "$TMP/out" "$TMP/err"
    [ $rc -eq 137 ] && contains "$TMP/err" "killed: out of memory" &&
        ! grep -q "MiB allocated" "$TMP/out"
}

t_timeout() {
    $LIGHTVM run --timeout 0.5 $TGUESTS/spin.elf >"$TMP/out" 2>"$TMP/err"
    local rc=$?
    cat "$TMP/err"
    [ $rc -eq 124 ] && contains "$TMP/err" "killed: timeout"
}

t_cpu_quota() {
    # The quota is in the guest's cgroup while it runs.
    $LIGHTVM run --cpu-quota 0.25 --timeout 20 $TGUESTS/spin.elf >"$TMP/spin.out" 2>&1 &
    local pid=$!
    wait_for_file_text "$TMP/spin.out" "spin: spinning" || return 1
    # The guest (the CLI's child) and its own cgroup.
    local guest cg q
    guest=$(pgrep -P $pid)
    cg=$(awk -F: '$2 == "cpu" || $2 == "cpu,cpuacct" {print $3}' /proc/$guest/cgroup)
    if [ -n "$cg" ]; then
        q=$(cat "/sys/fs/cgroup/cpu$cg/cpu.cfs_quota_us")
    else
        cg=$(sed -n 's/^0::\(.*\)/\1/p' /proc/$guest/cgroup)
        q=$(cat "/sys/fs/cgroup$cg/cpu.max")
    fi
    kill -INT $pid
    kill -INT $pid
    wait $pid
    echo "quota: $q"
    [ "$q" = 25000 ] || [ "$q" = "25000 100000" ]
}

t_stack_overflow() {
    $LIGHTVM run $TGUESTS/crash.elf stack 2>"$TMP/err"
    [ $? -eq 139 ] && contains "$TMP/err" "crashed: SIGSEGV"
}

t_others_unharmed() {
    # An idle guest and a computing guest live through a guest being
    # OOM-killed and another timing out next to them.
    $LIGHTVM run $EXAMPLES/idle/idle.elf >"$TMP/idle.out" 2>&1 &
    local idle=$!
    wait_for_file_text "$TMP/idle.out" "waiting for poweroff" || return 1
    $LIGHTVM run -m 256M --mem-limit 24M $TGUESTS/memhog.elf >/dev/null 2>&1 &
    local hog=$!
    $LIGHTVM run --timeout 1 $TGUESTS/spin.elf >/dev/null 2>&1 &
    local spin=$!
    $LIGHTVM run -m 64M $EXAMPLES/primes/primes.elf 1000000 >"$TMP/primes.out" || return 1
    wait $hog
    local hog_rc=$?
    wait $spin
    local spin_rc=$?
    kill -0 $idle || { echo "idle guest died"; return 1; }
    kill -INT $idle
    wait $idle
    local idle_rc=$?
    echo "hog $hog_rc spin $spin_rc idle $idle_rc"
    [ $hog_rc -eq 137 ] && [ $spin_rc -eq 124 ] && [ $idle_rc -eq 0 ] &&
        contains "$TMP/primes.out" "primes below 1000000: 78498"
}

check ram_exhausted t_ram_exhausted
check oom_killed t_oom_killed
check timeout t_timeout
check cpu_quota t_cpu_quota
check stack_overflow t_stack_overflow
check others_unharmed t_others_unharmed
finish
