#!/bin/bash
# test_daemon.sh: lightvmd. The lifecycle of many guests with nothing left
# behind, restarts (kill -9 during a burst of creates), the control device
# and watchdog, bad API input from misbehaving clients, access control,
# churn, and `lightvm run` through the daemon.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
API=$BUILD/tests/tools/apiclient
N=${LIFECYCLE_GUESTS:-1000}
trap 'daemon_stop; umount -l "$TMP/run" 2>/dev/null; lib_cleanup' EXIT

daemon_fds() { ls /proc/$DAEMON_PID/fd | wc -l; }
daemon_rss_kb() { awk '/^VmRSS/ {print $2}' /proc/$DAEMON_PID/status; }
guest_dirs() { ls "$LIGHTVM_RUN_DIR/guests" | wc -l; }

t_create_list_destroy() {
    local id
    id=$($LIGHTVM create --name first $EXAMPLES/idle/idle.elf) || return 1
    [ ${#id} -eq 16 ] || { echo "bad id '$id'"; return 1; }
    $LIGHTVM list | grep -q "first .*running" || return 1
    wait_for_file_text "$LIGHTVM_RUN_DIR/guests/$id/console.log" "waiting for poweroff" || return 1
    $LIGHTVM console first | grep -q "idle: waiting for poweroff" || return 1
    # docker rm -f's spelling kills a running guest too; -f is destroy's
    # alone.
    ! $LIGHTVM pause -f first 2>/dev/null || return 1
    $LIGHTVM rm -f first >/dev/null || return 1
    ! $LIGHTVM list | grep -q first && [ ! -e "$LIGHTVM_RUN_DIR/guests/$id" ]
}

t_pooled() {
    # Creation takes a prepared shell from the pool when one is ready.
    pool_settle || return 1
    local taken
    taken=$(pool_counter taken)
    local json id pid
    json=$($LIGHTVM create --json $EXAMPLES/idle/idle.elf) || return 1
    id=$(echo "$json" | sed 's/.*"id":"\([0-9a-f]*\)".*/\1/')
    pid=$(echo "$json" | sed 's/.*"pid":\([0-9]*\).*/\1/')
    local cls shell_cls dir mounts root
    cls=$(ps -o cls=,ni= -p "$pid" | awk '{print $1 ($2 == 0 ? "" : " " $2)}')
    # Cloned from the daemon's template mount namespace: one mount, the
    # read-only empty root, as a cold run's shell makes it.
    mounts=$(cat /proc/$pid/mountinfo)
    root=$(ls -A /proc/$pid/root/ 2>&1)
    for dir in "$LIGHTVM_RUN_DIR"/guests/*; do # a shell still in the pool
        [ -e "$dir/config.json" ] && continue
        [ -s "$dir/shell.pid" ] || continue # still being prepared
        shell_cls=$(ps -o cls=,ni= -p "$(cut -d' ' -f1 "$dir/shell.pid")" | awk '{print $1, $2}')
        break
    done
    $LIGHTVM destroy "$id" >/dev/null
    echo "$json" | grep -q '"pooled":true' &&
        [ "$(pool_counter taken)" -eq $((taken + 1)) ] || return 1
    # Shells wait as SCHED_BATCH (B) at nice 10; the guest runs as an
    # ordinary task (TS) at nice 0.
    [ "$cls" = TS ] && [ "$shell_cls" = "B 10" ] ||
        { echo "guest class $cls, pooled shell class $shell_cls"; return 1; }
    [ "$(echo "$mounts" | wc -l)" -eq 1 ] &&
        echo "$mounts" | awk '{print $5, $6}' | grep -qE '^/ ro,nosuid,nodev,noexec' &&
        [ -z "$root" ] || { echo "mounts: $mounts; root: $root"; return 1; }
    ! grep -q "make their empty root themselves" "$TMP/lightvmd.log" ||
        { echo "the daemon made no template mount namespace"; return 1; }
}

t_pool_without_cap_sys_nice() {
    # A daemon that could not raise a shell back to nice 0 (no
    # CAP_SYS_NICE) prepares its shells at the normal priority and says so:
    # a guest never runs at the pool's lower one.
    daemon_stop
    LIGHTVMD="setpriv --bounding-set -sys_nice $BUILD/bin/lightvmd" \
        daemon_start --pool 16M=2 || return 1
    pool_settle || return 1
    local json pid cls r=0
    json=$($LIGHTVM create --json $EXAMPLES/idle/idle.elf) || r=1
    pid=$(echo "$json" | sed -n 's/.*"pid":\([0-9]*\).*/\1/p')
    cls=$(ps -o cls=,ni= -p "$pid" | awk '{print $1, $2}')
    echo "$json" | grep -q '"pooled":true' || { echo "not pooled: $json"; r=1; }
    [ "$cls" = "TS 0" ] || { echo "guest class $cls"; r=1; }
    grep -q "no CAP_SYS_NICE" "$TMP/lightvmd.log" || { echo "not reported"; r=1; }
    $LIGHTVM destroy "$(echo "$json" | sed -n 's/.*"id":"\([0-9a-f]*\)".*/\1/p')" >/dev/null
    daemon_stop
    daemon_start --pool 16M=16 || return 1
    return $r
}

t_cpu_quota_pooled() {
    # Pooled shells have no cpu cgroup (a scheduler task group each); a
    # quota gives the guest one, with the guest in it.
    local json id pid
    json=$($LIGHTVM create --json --cpus 0.5 $EXAMPLES/idle/idle.elf) || return 1
    id=$(echo "$json" | sed 's/.*"id":"\([0-9a-f]*\)".*/\1/')
    pid=$(echo "$json" | sed 's/.*"pid":\([0-9]*\).*/\1/')
    local r=0 q cg
    echo "$json" | grep -q '"pooled":true' || { echo "not pooled"; r=1; }
    if [ "$(cgroup_version)" = 1 ]; then
        cg=$(awk -F: '$2 == "cpu" || $2 == "cpu,cpuacct" {print $3}' /proc/$pid/cgroup)
        [ "$cg" = "/$LIGHTVM_CGROUP_PARENT/$id" ] || { cat /proc/$pid/cgroup; r=1; }
        q=$(cat "/sys/fs/cgroup/cpu$cg/cpu.cfs_quota_us" 2>/dev/null)
        [ "$q" = 50000 ] || { echo "quota '$q'"; r=1; }
    fi
    $LIGHTVM destroy "$id" >/dev/null
    return $r
}

t_lifecycle_many() {
    local fds0 dirs0
    pool_settle || return 1
    fds0=$(daemon_fds)
    dirs0=$(guest_dirs)
    for i in $(seq $N); do
        $LIGHTVM create -q -m 4M $EXAMPLES/idle/idle.elf || { echo "create $i failed"; return 1; }
    done
    local ids
    ids=$($LIGHTVM list -q)
    [ "$(echo "$ids" | wc -l)" -eq $N ] || { echo "list shows $(echo "$ids" | wc -l)"; return 1; }
    [ "$($LIGHTVM list | grep -c ' running ')" -eq $N ] || return 1
    # One pidfd per guest in the daemon, and the image's template and
    # file while guests use it (they may be warm from an earlier test
    # already), nothing more (the 4M guests do not come from the 16M
    # pool, which refills to the same size).
    pool_settle || return 1
    local fds1
    fds1=$(daemon_fds)
    [ "$fds1" -eq $((fds0 + N)) ] || [ "$fds1" -eq $((fds0 + N + 2)) ] ||
        { echo "fds $fds0 -> $fds1"; return 1; }
    $LIGHTVM pause $ids || return 1
    [ "$($LIGHTVM list | grep -c ' paused ')" -eq $N ] || return 1
    $LIGHTVM unpause $ids || return 1
    [ "$($LIGHTVM list | grep -c ' running ')" -eq $N ] || return 1
    $LIGHTVM destroy $ids >/dev/null || return 1
    [ -z "$($LIGHTVM list -q)" ] || return 1
    pool_settle || return 1
    # All back, but the template, which a guest started from: kept warm.
    [ "$(daemon_fds)" -eq $((fds1 - N)) ] || { echo "fds $fds1 -> $(daemon_fds)"; return 1; }
    [ "$(guest_dirs)" -eq "$dirs0" ] || { echo "run dirs $dirs0 -> $(guest_dirs)"; return 1; }
}

t_control_device() {
    $LIGHTVM create --name ctl $EXAMPLES/idle/idle.elf >/dev/null || return 1
    $LIGHTVM suspend ctl || return 1
    local deadline=$((SECONDS + 10))
    until $LIGHTVM list --json | grep -q '"name":"ctl"[^}]*"suspended":true'; do
        [ $SECONDS -lt $deadline ] || { echo "never suspended"; return 1; }
    done
    $LIGHTVM resume ctl || return 1
    until $LIGHTVM list --json | grep -q '"name":"ctl"[^}]*"suspended":false'; do
        [ $SECONDS -lt $deadline ] || { echo "never resumed"; return 1; }
    done
    $LIGHTVM poweroff ctl || return 1
    [ "$($LIGHTVM wait ctl)" = "exited with status 0" ] || return 1
    $LIGHTVM destroy ctl >/dev/null
}

# first_insn_ns of guest $1 as the API reports it (empty if absent).
first_insn() {
    $API "$LIGHTVM_SOCKET" "{\"op\":\"info\",\"id\":\"$1\"}" |
        sed -n 's/.*"first_insn_ns":\([0-9]*\).*/\1/p'
}

t_first_insn() {
    # Set when the guest runs; a restored guest's is 0 until it runs
    # again, then later than the saved guest's.
    local f0 f1 deadline=$((SECONDS + 10))
    $LIGHTVM create --name fi $EXAMPLES/idle/idle.elf >/dev/null || return 1
    until f0=$(first_insn fi) && [ "${f0:-0}" -gt 0 ]; do
        [ $SECONDS -lt $deadline ] || { echo "no first_insn_ns: '$f0'"; return 1; }
    done
    $LIGHTVM save fi "$TMP/fi.lvms" >/dev/null || return 1
    $LIGHTVM restore -q "$TMP/fi.lvms" || return 1
    until f1=$(first_insn fi) && [ "${f1:-0}" -gt 0 ]; do
        [ $SECONDS -lt $deadline ] || { echo "restored: no first_insn_ns: '$f1'"; return 1; }
    done
    [ "$f1" -gt "$f0" ] || { echo "restored $f1, saved $f0"; return 1; }
    $LIGHTVM destroy fi >/dev/null
}

t_watchdog() {
    # A spinning guest stops pinging and is killed; an idle one (the SDK
    # pings while it yields) outlives it.
    $LIGHTVM create --name wd-idle --watchdog 300 $EXAMPLES/idle/idle.elf >/dev/null &&
        $LIGHTVM create --name wd-spin --watchdog 300 $TGUESTS/spin.elf >/dev/null || return 1
    local msg
    msg=$($LIGHTVM wait wd-spin)
    echo "$msg"
    [ "$msg" = "killed: watchdog expired (no ping for 300 ms)" ] || return 1
    $LIGHTVM list | grep -q "wd-idle .*running" || return 1
    $LIGHTVM destroy wd-idle wd-spin >/dev/null
}

# spin_out NAME: run a spinning guest with a 300 ms watchdog until it is
# killed: a clock that has certainly passed one watchdog period.
spin_out() {
    $LIGHTVM create --name "$1" --watchdog 300 $TGUESTS/spin.elf >/dev/null &&
        [ "$($LIGHTVM wait "$1")" = "killed: watchdog expired (no ping for 300 ms)" ] &&
        $LIGHTVM destroy "$1" >/dev/null
}

t_watchdog_parked() {
    local rc=0
    watchdog_parked || rc=1
    $LIGHTVM destroy wd-susp wd-frozen >/dev/null 2>&1
    return $rc
}

watchdog_parked() {
    # A suspended guest is parked, not hung: the SDK keeps pinging. A
    # paused (frozen) one cannot ping; unpausing gives it a full period.
    $LIGHTVM create --name wd-susp --watchdog 300 $EXAMPLES/idle/idle.elf >/dev/null &&
        $LIGHTVM create --name wd-frozen --watchdog 300 $EXAMPLES/idle/idle.elf >/dev/null || return 1
    $LIGHTVM suspend wd-susp && $LIGHTVM pause wd-frozen || return 1
    local deadline=$((SECONDS + 10))
    until $LIGHTVM list --json | grep -q '"name":"wd-susp"[^}]*"suspended":true'; do
        [ $SECONDS -lt $deadline ] || { echo "never suspended"; return 1; }
    done
    spin_out wd-clock1 || return 1
    $LIGHTVM unpause wd-frozen || return 1
    spin_out wd-clock2 || return 1
    $LIGHTVM list | grep -q "wd-susp .*running" &&
        $LIGHTVM list | grep -q "wd-frozen .*running" || { $LIGHTVM list; return 1; }
    $LIGHTVM resume wd-susp
}

t_exit_kinds() {
    $LIGHTVM create --name k-esc $TGUESTS/escape.elf ptrace >/dev/null &&
        $LIGHTVM create --name k-crash $TGUESTS/crash.elf null >/dev/null &&
        $LIGHTVM create --name k-exit $TGUESTS/exitcode.elf 9 >/dev/null || return 1
    [ "$($LIGHTVM wait k-esc)" = "killed: forbidden system call ptrace (101)" ] &&
        [ "$($LIGHTVM wait k-crash)" = "crashed: SIGSEGV (invalid memory access)" ] &&
        [ "$($LIGHTVM wait k-exit)" = "exited with status 9" ] || return 1
    $LIGHTVM wait k-exit >/dev/null
    [ $? -eq 9 ] && $LIGHTVM destroy k-esc k-crash k-exit >/dev/null
}

t_bad_api_input() {
    local out=$TMP/api.out
    $API "$LIGHTVM_SOCKET" \
        '{"op":"create",' \
        '[1,2,3]' \
        '{"op":"frobnicate"}' \
        '{"tag":1}' \
        '{"op":"list","bogus":true}' \
        '{"op":"create","image":42}' \
        '{"op":"create","image":"/x","mem":"big"}' \
        '{"op":"create","image":"/x","mem":-1}' \
        '{"op":"create","image":"/x","args":[1]}' \
        '{"op":"create","image":"/x","env":["NOEQUALS"]}' \
        '{"op":"create","image":"/nonexistent.elf"}' \
        '{"op":"create","image":"/x","op":"list"}' \
        '{"op":"info"}' \
        '{"op":"info","id":"nosuchguest"}' \
        '{"op":"destroy","id":7}' \
        '@big:70000' \
        '{"op":"version","tag":99}' >"$out" || return 1
    cat "$out"
    local want=(bad_request bad_request unknown_op bad_request unknown_field
        bad_request bad_request bad_request bad_request bad_request invalid
        bad_request bad_request not_found bad_request too_large)
    local i=1
    for code in "${want[@]}"; do
        sed -n "${i}p" "$out" | grep -q "\"code\":\"$code\"" ||
            { echo "line $i: expected $code"; return 1; }
        i=$((i + 1))
    done
    # The daemon still answers, tags intact.
    sed -n "${i}p" "$out" | grep -q '"tag":99,"ok":true'
}

t_misbehaving_clients() {
    # A client gone mid-request and one that never reads its replies must
    # not stop the daemon from serving others.
    $API "$LIGHTVM_SOCKET" --close '{"op":"list"}' || return 1
    local msgs=()
    for i in $(seq 3000); do msgs+=('{"op":"list","limit":200}'); done
    $API "$LIGHTVM_SOCKET" --no-read "${msgs[@]}" &
    local slow=$!
    for i in $(seq 20); do
        $LIGHTVM list >/dev/null || { kill $slow; return 1; }
    done
    $LIGHTVM create --name alive $EXAMPLES/noop/noop.elf >/dev/null || { kill $slow; return 1; }
    [ "$($LIGHTVM wait alive)" = "exited with status 0" ]
    local r=$?
    kill $slow 2>/dev/null
    wait $slow 2>/dev/null
    $LIGHTVM destroy alive >/dev/null
    kill -0 $DAEMON_PID && return $r
}

t_access_control() {
    # Anyone but root (or the --group) is refused.
    command -v setpriv >/dev/null || { echo "no setpriv"; return 1; }
    ! setpriv --reuid 65534 --regid 65534 --clear-groups $LIGHTVM list 2>"$TMP/denied" &&
        grep -q "cannot reach lightvmd\|closed the connection" "$TMP/denied"
}

as_nobody() { setpriv --reuid 65534 --regid 65534 --clear-groups "$@"; }

t_group_members() {
    # A member of the API group is not root through the daemon: files it
    # names are opened as it, and it sees and manages only its own guests.
    daemon_stop
    daemon_start --group nogroup --pool 16M=4 || return 1
    local r=0
    as_nobody $LIGHTVM list >/dev/null || { echo "member refused"; r=1; }
    $LIGHTVM create --name rootguest $EXAMPLES/idle/idle.elf >/dev/null || r=1
    as_nobody $LIGHTVM list | grep -q rootguest && { echo "sees root's guest"; r=1; }
    as_nobody $LIGHTVM destroy rootguest 2>/dev/null && { echo "destroyed root's guest"; r=1; }
    $LIGHTVM list | grep -q "rootguest .*running" || { echo "root's guest gone"; r=1; }
    # No reading a file it cannot read itself, no writing one either.
    as_nobody $LIGHTVM run -b disk0=/etc/shadow:ro $TGUESTS/blockdev.elf \
        >"$TMP/shadow.out" 2>&1 && { echo "read /etc/shadow"; r=1; }
    grep -q "Permission denied" "$TMP/shadow.out" || { cat "$TMP/shadow.out"; r=1; }
    ! grep -q "root:" "$TMP/shadow.out" || r=1
    head -c 4096 /dev/zero >"$TMP/rootonly.img" && chmod 600 "$TMP/rootonly.img"
    local before
    before=$(md5sum <"$TMP/rootonly.img")
    as_nobody $LIGHTVM run -b disk0="$TMP/rootonly.img" $TGUESTS/blockdev.elf \
        >/dev/null 2>&1 && { echo "wrote a root-only file"; r=1; }
    [ "$(md5sum <"$TMP/rootonly.img")" = "$before" ] || r=1
    # Its own files work, and its guest is its own.
    head -c 4096 /dev/zero >"$TMP/mine.img" && chown 65534:65534 "$TMP/mine.img"
    as_nobody $LIGHTVM run -b disk0="$TMP/mine.img" $TGUESTS/blockdev.elf \
        >"$TMP/mine.out" 2>&1 || { cat "$TMP/mine.out"; r=1; }
    as_nobody $LIGHTVM create --name nobodyguest $EXAMPLES/idle/idle.elf >/dev/null || r=1
    as_nobody $LIGHTVM destroy nobodyguest >/dev/null || r=1
    $LIGHTVM destroy rootguest >/dev/null
    daemon_stop
    daemon_start --pool 16M=16 || return 1
    return $r
}

t_hostile_paths() {
    # Images and block devices that are not regular files are refused at
    # once; a FIFO must not hang the daemon.
    mkfifo "$TMP/fifo.elf"
    $LIGHTVM create "$TMP/fifo.elf" 2>"$TMP/err" && return 1
    grep -q "not a regular file" "$TMP/err" || { cat "$TMP/err"; return 1; }
    $LIGHTVM create -b disk0="$TMP/fifo.elf" $TGUESTS/blockdev.elf 2>"$TMP/err" && return 1
    grep -q "not a regular file" "$TMP/err" || { cat "$TMP/err"; return 1; }
    $LIGHTVM create $TMP 2>/dev/null && return 1
    $LIGHTVM list >/dev/null
}

t_dead_pool_shells() {
    # Pooled shells killed from outside are dropped, not handed out.
    pool_settle || return 1
    local dir
    for dir in "$LIGHTVM_RUN_DIR"/guests/*; do
        [ -e "$dir/config.json" ] || kill -9 "$(cut -d' ' -f1 "$dir/shell.pid")" 2>/dev/null
    done
    local id
    id=$($LIGHTVM create $EXAMPLES/idle/idle.elf) || return 1
    $LIGHTVM destroy "$id" >/dev/null && pool_settle
}

t_destroy_unkillable() {
    # A guest that cannot die yet (frozen behind the daemon's back: v1
    # frozen tasks ignore SIGKILL, as tasks in uninterruptible sleep do)
    # must not hold the daemon: other requests are answered meanwhile, the
    # destroy gives up after 10 s, and the record goes once it dies.
    local state=/sys/fs/cgroup/freezer/$LIGHTVM_CGROUP_PARENT
    [ -d $state ] || { echo "SKIP: no v1 freezer"; return 0; }
    local id
    id=$($LIGHTVM create --name stuck $EXAMPLES/idle/idle.elf) || return 1
    echo FROZEN >$state/$id/freezer.state || return 1
    $LIGHTVM destroy stuck >"$TMP/destroy.out" 2>&1 &
    local destroyer=$!
    # The daemon answers meanwhile, and says what is happening.
    wait_state stuck dying 5 || { echo "daemon blocked"; return 1; }
    ! $LIGHTVM pause stuck 2>"$TMP/pause.err" || return 1
    contains "$TMP/pause.err" "is being killed" || return 1
    wait $destroyer
    [ $? -ne 0 ] && contains "$TMP/destroy.out" "still dying 10 s after SIGKILL" || return 1
    echo THAWED >$state/$id/freezer.state
    local deadline=$((SECONDS + 10))
    while $LIGHTVM list -q | grep -q "^$id$"; do
        [ $SECONDS -lt $deadline ] || { echo "never removed"; return 1; }
        read -rt 0.02 <> <(:) 2>/dev/null || true
    done
    [ ! -e "$LIGHTVM_RUN_DIR/guests/$id" ]
}

t_console_log_limit() {
    # A console log is page cache on /run's tmpfs: by default it stops at
    # 1 MiB (the guest sees EFBIG and goes on), and that MiB is part of
    # the guest's memory limit, so a chatty 8 MiB guest is not OOM-killed.
    local id
    id=$($LIGHTVM create -m 8M $TGUESTS/chatty.elf 8192) || return 1
    [ "$($LIGHTVM wait "$id")" = "exited with status 0" ] || { $LIGHTVM wait "$id"; return 1; }
    local size
    size=$(stat -c %s "$LIGHTVM_RUN_DIR/guests/$id/console.log")
    $LIGHTVM destroy "$id" >/dev/null
    [ "$size" -eq 1048576 ] || { echo "console.log is $size bytes"; return 1; }
    # A limit the request asks for, and the memory to go with it.
    id=$($LIGHTVM create -m 8M --console-limit 12M $TGUESTS/chatty.elf 16384) || return 1
    [ "$($LIGHTVM wait "$id")" = "exited with status 0" ] || { $LIGHTVM wait "$id"; return 1; }
    size=$(stat -c %s "$LIGHTVM_RUN_DIR/guests/$id/console.log")
    $LIGHTVM destroy "$id" >/dev/null
    [ "$size" -eq $((12 << 20)) ] || { echo "console.log is $size bytes"; return 1; }
}

t_guest_signals() {
    # This daemon was started as a background job (SIGINT and SIGQUIT
    # ignored): its guests ignore only what the shell sets, SIGPIPE and
    # SIGXFSZ, and block nothing.
    local id pid
    id=$($LIGHTVM create $EXAMPLES/idle/idle.elf) || return 1
    pid=$($LIGHTVM list | awk -v id="$id" '$1 == id {print $4}')
    grep -E '^Sig(Ign|Blk)' /proc/$pid/status
    local r=0
    grep -q '^SigIgn:[[:space:]]*0000000001001000$' /proc/$pid/status || r=1
    grep -q '^SigBlk:[[:space:]]*0000000000000000$' /proc/$pid/status || r=1
    $LIGHTVM destroy "$id" >/dev/null
    return $r
}

t_run_through_daemon() {
    local taken
    taken=$(pool_counter taken)
    $LIGHTVM run $EXAMPLES/hello/hello.elf through the daemon >"$TMP/out" || return 1
    contains "$TMP/out" "argv[3] = daemon" || return 1
    [ "$(pool_counter taken)" -gt "$taken" ] || { echo "the pool was not used"; return 1; }
    expect_status 7 $LIGHTVM run -q $TGUESTS/exitcode.elf 7 || return 1
    $LIGHTVM run $TGUESTS/escape.elf socket-raw 2>"$TMP/err"
    [ $? -eq 159 ] && contains "$TMP/err" "forbidden system call socket" || return 1
    $LIGHTVM run --timeout 0.3 $TGUESTS/spin.elf 2>"$TMP/err"
    [ $? -eq 124 ] && contains "$TMP/err" "killed: timeout" || return 1
    # run removes its guest when done
    [ -z "$($LIGHTVM list -q)" ]
}

t_run_timing_through_daemon() {
    # LIGHTVM_TIMING=1 prints how long lightvmd took, as it does cold.
    LIGHTVM_TIMING=1 $LIGHTVM run $EXAMPLES/noop/noop.elf 2>"$TMP/err" ||
        return 1
    cat "$TMP/err"
    grep -qE '^lightvm: timing \(us\): create [0-9]+ in lightvmd \(in a (pooled|new) shell\), [0-9]+ with the request$' \
        "$TMP/err" || return 1
    $LIGHTVM run $EXAMPLES/noop/noop.elf 2>"$TMP/err" && [ ! -s "$TMP/err" ]
}

# same_refusal WANT ARGS...: `lightvm run ARGS` refuses with one line
# holding WANT, exit 2 (a bad command line), and the very same line through lightvmd and
# without it; no guest is left.
same_refusal() {
    local want=$1
    shift
    expect_status 2 $LIGHTVM run "$@" 2>"$TMP/refused.daemon" || return 1
    expect_status 2 $LIGHTVM run --no-daemon "$@" 2>"$TMP/refused.cold" ||
        return 1
    cat "$TMP/refused.daemon"
    [ "$(wc -l <"$TMP/refused.daemon")" -eq 1 ] &&
        contains "$TMP/refused.daemon" "$want" &&
        cmp "$TMP/refused.daemon" "$TMP/refused.cold" &&
        [ -z "$($LIGHTVM list -q)" ]
}

t_run_refuses_flags() {
    # A flag that does not apply to the monitor, named with the monitor.
    same_refusal "lightvm: --publish is not supported for the proc monitor" \
        -p 0:80 $EXAMPLES/noop/noop.elf &&
        same_refusal "lightvm: --publish is not supported for the kvm monitor" \
            --monitor kvm --publish 0:80 $EXAMPLES/noop/noop.elf &&
        same_refusal "--publish is not supported for the proc and kvm monitors" \
            --monitor auto -p 0:80 $EXAMPLES/noop/noop.elf &&
        same_refusal "lightvm: --monitor: unknown monitor 'xen' (available: proc, kvm, qemu, auto)" \
            --monitor xen $EXAMPLES/noop/noop.elf &&
        same_refusal "lightvm: $EXAMPLES/noop/noop.elf is not a Tinyx image directory" \
            --monitor qemu $EXAMPLES/noop/noop.elf || return 1
    # create takes the same table.
    expect_status 2 $LIGHTVM create -p 0:80 $EXAMPLES/noop/noop.elf \
        2>"$TMP/err" && [ "$(wc -l <"$TMP/err")" -eq 1 ] &&
        contains "$TMP/err" "lightvm: --publish is not supported for the proc monitor"
}

t_churn() {
    local fds0 rss0
    # Warm up as long as the run measured: allocator caches (and, in the
    # sanitizer build, ASan's quarantine) fill, so growth after is leaks.
    $BUILD/tests/tools/churn "$LIGHTVM_SOCKET" $EXAMPLES/noop/noop.elf ${CHURN:-2000} >/dev/null || return 1
    pool_settle || return 1
    fds0=$(daemon_fds)
    rss0=$(daemon_rss_kb)
    $BUILD/tests/tools/churn "$LIGHTVM_SOCKET" $EXAMPLES/noop/noop.elf ${CHURN:-2000} || return 1
    local fds1 rss1
    pool_settle || return 1
    fds1=$(daemon_fds)
    rss1=$(daemon_rss_kb)
    echo "daemon fds $fds0 -> $fds1, RSS $rss0 -> $rss1 KiB"
    [ "$fds1" -eq "$fds0" ] && [ "$rss1" -le $((rss0 + 1024)) ]
}

t_restart_kill9_burst() {
    # Creates race a kill -9 of the daemon; afterwards every guest that
    # was reported created runs and answers, and nothing half-made is left.
    : >"$TMP/reported"
    (for i in $(seq 150); do
        id=$($LIGHTVM create -m 4M $EXAMPLES/idle/idle.elf 2>/dev/null) &&
            echo "$id" >>"$TMP/reported"
    done) &
    local burst=$!
    local deadline=$((SECONDS + 60))
    until [ "$(wc -l <"$TMP/reported")" -ge 40 ]; do
        [ $SECONDS -lt $deadline ] || { kill $burst; return 1; }
        read -rt 0.01 <> <(:) 2>/dev/null || true
    done
    kill -9 $DAEMON_PID
    wait $DAEMON_PID 2>/dev/null
    wait $burst
    local reported
    reported=$(sort -u "$TMP/reported")
    echo "$(echo "$reported" | wc -l) guests reported before the kill"
    [ "$(echo "$reported" | grep -cE '^[0-9a-f]{16}$')" -ge 40 ] ||
        { echo "the burst did not report guest ids"; return 1; }
    # Guests outlive their daemon.
    for id in $reported; do
        pid=$(sed -n 's/.*"pid":\([0-9]*\).*/\1/p' "$LIGHTVM_RUN_DIR/guests/$id/config.json")
        kill -0 "$pid" || { echo "guest $id died with the daemon"; return 1; }
    done
    daemon_start --pool 16M=8 || return 1
    for id in $reported; do
        $LIGHTVM list | grep -q "^$id .* running " || { echo "$id not running"; return 1; }
    done
    # Every run directory is a guest's (config.json) or the new pool's.
    pool_settle || return 1
    local pool_dirs=0 stray=0
    for dir in "$LIGHTVM_RUN_DIR"/guests/*; do
        [ -e "$dir/config.json" ] && continue
        if [ -e "$dir/shell.pid" ] && kill -0 "$(cut -d' ' -f1 "$dir/shell.pid")" 2>/dev/null; then
            pool_dirs=$((pool_dirs + 1))
        else
            echo "stray directory $dir"
            stray=1
        fi
    done
    [ $stray -eq 0 ] || return 1
    # No guest runs that the daemon does not know of: every cgroup of this
    # suite is a known guest's or the pool's.
    local known cg
    known=$({ $LIGHTVM list -q; ls "$LIGHTVM_RUN_DIR/guests"; } | sort -u)
    for cg in $(suite_cgroups | grep '/pids/'); do
        echo "$known" | grep -qx "$(basename "$cg")" && continue
        echo "unknown cgroup $cg, processes: $(cat "$cg/cgroup.procs" | tr '\n' ' ')"
        stray=1
    done
    [ $stray -eq 0 ] || return 1
    # And they are manageable: power them off and collect their status.
    for id in $reported; do $LIGHTVM poweroff "$id" || return 1; done
    for id in $reported; do
        [ "$($LIGHTVM wait "$id")" = "exited with status 0" ] || { echo "$id: $($LIGHTVM wait "$id")"; return 1; }
    done
    $LIGHTVM destroy $($LIGHTVM list -q) >/dev/null
}

# one_line FILE TEXT: FILE is one line, "lightvm: ...", containing TEXT.
one_line() {
    [ "$(wc -l <"$1")" -eq 1 ] && grep -q '^lightvm: ' "$1" ||
        { echo "expected one line:"; cat "$1"; return 1; }
    contains "$1" "$2"
}

t_guest_policy() {
    # Defaults and limits as docs/cli.md's table says (guest_policy.c):
    # 16M of RAM, a limit of RAM + 4M + the 1M console log.
    local id lim
    id=$($LIGHTVM create $EXAMPLES/idle/idle.elf) || return 1
    $LIGHTVM list --json "$id" | grep -q "\"mem\":$((16 << 20))," || return 1
    lim=$($LIGHTVM stats --json "$id" | sed -n 's/.*"memory_limit":\([0-9]*\).*/\1/p')
    [ "$lim" = $(((16 + 4 + 1) << 20)) ] || { echo "memory limit $lim"; return 1; }
    $LIGHTVM destroy "$id" >/dev/null || return 1
    # Bad input: one line naming the rule.
    expect_status 2 $LIGHTVM create -m 512K $EXAMPLES/idle/idle.elf 2>"$TMP/e" &&
        one_line "$TMP/e" "mem: a proc guest needs at least 1 MiB, not 512 KiB" || return 1
    expect_status 2 $LIGHTVM create --monitor xen $EXAMPLES/idle/idle.elf 2>"$TMP/e" &&
        one_line "$TMP/e" "unknown monitor 'xen' (available: proc, kvm, qemu, auto)" || return 1
    expect_status 2 $LIGHTVM create -p 0:80 $EXAMPLES/idle/idle.elf 2>"$TMP/e" &&
        one_line "$TMP/e" "--publish is not supported for the proc monitor (its guests get addresses of their own with --net)" || return 1
    expect_status 2 $LIGHTVM create --name=-rf $EXAMPLES/idle/idle.elf 2>"$TMP/e" &&
        one_line "$TMP/e" "--name: character 1 ('-') is not allowed" || return 1
    [ -z "$($LIGHTVM list -q)" ]
}

t_no_leftovers() {
    daemon_stop
    no_new_leftovers || return 1
    [ -z "$(ls "$LIGHTVM_RUN_DIR/guests")" ] || { ls "$LIGHTVM_RUN_DIR/guests"; return 1; }
}

# The run directory on a tmpfs, as /run is: console logs are memory.
mkdir -p "$TMP/run" && mount -t tmpfs -o size=512m,mode=0755 lightvm-test "$TMP/run" ||
    { echo "0 passed, 1 failed"; exit 1; }
daemon_start --pool 16M=16 || { echo "0 passed, 1 failed"; exit 1; }
check create_list_destroy t_create_list_destroy
check pooled t_pooled
check pool_without_cap_sys_nice t_pool_without_cap_sys_nice
check cpu_quota_pooled t_cpu_quota_pooled
check lifecycle_many t_lifecycle_many
check control_device t_control_device
check first_insn t_first_insn
check watchdog t_watchdog
check watchdog_parked t_watchdog_parked
check exit_kinds t_exit_kinds
check bad_api_input t_bad_api_input
check misbehaving_clients t_misbehaving_clients
check access_control t_access_control
check group_members t_group_members
check hostile_paths t_hostile_paths
check dead_pool_shells t_dead_pool_shells
check guest_signals t_guest_signals
check console_log_limit t_console_log_limit
check destroy_unkillable t_destroy_unkillable
check run_through_daemon t_run_through_daemon
check run_timing_through_daemon t_run_timing_through_daemon
check run_refuses_flags t_run_refuses_flags
check churn t_churn
check restart_kill9_burst t_restart_kill9_burst
check guest_policy t_guest_policy
check no_leftovers t_no_leftovers
finish
