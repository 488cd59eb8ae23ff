#!/bin/bash
# test_tenant_flood.sh: a hostile member of the API group cannot starve
# lightvmd. Two unprivileged users in the daemon's --group; one holds
# connections up to its caps: its extra connections are refused with the
# reason, the other member and root are still served, and the daemon does
# not spin. Idle connections are closed (those waiting for a guest are
# not), clients that do not read are dropped, and a daemon out of fds
# neither spins nor stays stuck. (bench/flood.sh measures root's creates
# while a member floods.)
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
FLOOD=$BUILD/tests/tools/flood
GRP=lvmfl$$
UA=lvmfa$$
UB=lvmfb$$
declare -A HOLD_FD HOLD_PID

cleanup() {
    local n
    for n in "${!HOLD_FD[@]}"; do hold_stop "$n"; done
    daemon_stop
    userdel "$UA" 2>/dev/null
    userdel "$UB" 2>/dev/null
    groupdel "$GRP" 2>/dev/null
    lib_cleanup
}
trap cleanup EXIT
trap 'exit 143' TERM INT # cleanup still runs: the users and group go

groupadd "$GRP" || exit 1
useradd -M -N -g "$GRP" -s /usr/sbin/nologin "$UA" || exit 1
useradd -M -N -g "$GRP" -s /usr/sbin/nologin "$UB" || exit 1
UIDA=$(id -u "$UA")
as() { # as USER CMD...: run CMD as USER, whose primary group is the API group
    local u=$1
    shift
    setpriv --reuid "$u" --regid "$GRP" --clear-groups "$@"
}

# hold_start NAME USER N: USER holds up to N connections until hold_stop
# NAME; its report (admitted, refused, message) is in $TMP/NAME.out.
hold_start() {
    local fd
    rm -f "$TMP/$1.fifo" "$TMP/$1.out"
    mkfifo "$TMP/$1.fifo"
    as "$2" $FLOOD "$LIGHTVM_SOCKET" hold "$3" <"$TMP/$1.fifo" >"$TMP/$1.out" 2>&1 &
    HOLD_PID[$1]=$!
    exec {fd}>"$TMP/$1.fifo"
    HOLD_FD[$1]=$fd
    wait_for_file_text "$TMP/$1.out" holding 20 || { cat "$TMP/$1.out"; return 1; }
}
hold_stop() {
    [ -n "${HOLD_FD[$1]:-}" ] || return 0
    eval "exec ${HOLD_FD[$1]}>&-"
    wait "${HOLD_PID[$1]}" 2>/dev/null
    unset "HOLD_FD[$1]" "HOLD_PID[$1]"
}
held() { sed -n "s/^$2 //p" "$TMP/$1.out"; } # held NAME admitted|refused|message

daemon_cpu() { awk '{print $14 + $15}' /proc/$DAEMON_PID/stat; }
# cpu_over SECONDS: clock ticks the daemon used while SECONDS passed (a
# bounded wait on a read that never comes, not a synchronisation).
cpu_over() {
    local a b
    a=$(daemon_cpu)
    read -rt "$1" <> <(:)
    b=$(daemon_cpu)
    echo $((b - a))
}

CAPS=(--group "$GRP" --max-connections 12 --max-connections-per-user 8
    --max-connections-root 4 --idle-timeout 30)

t_member_capped() {
    # A takes its 8 and no more; the refusal says why, to the CLI too.
    hold_start a "$UA" 20 || return 1
    [ "$(held a admitted)" = 8 ] && [ "$(held a refused)" = 12 ] &&
        [ "$(held a failed)" = 0 ] ||
        { cat "$TMP/a.out"; return 1; }
    held a message | grep -qF "\"code\":\"busy\",\"message\":\"too many connections for uid $UIDA (limit 8)\"" ||
        { cat "$TMP/a.out"; return 1; }
    ! as "$UA" $LIGHTVM list 2>"$TMP/a.cli" || { echo "A's 9th connection served"; return 1; }
    contains "$TMP/a.cli" "too many connections for uid $UIDA (limit 8)" || return 1
    contains "$TMP/lightvmd.log" "refused a connection: too many connections for uid $UIDA"
}

t_others_served() {
    # With A at its cap: B, and root, are served; root creates and destroys.
    local r=0 id
    as "$UB" $LIGHTVM list >/dev/null || { echo "B refused"; r=1; }
    as "$UB" $LIGHTVM create --name bguest $EXAMPLES/idle/idle.elf >/dev/null || { echo "B's create"; r=1; }
    as "$UB" $LIGHTVM destroy bguest >/dev/null || { echo "B's destroy"; r=1; }
    # B takes what members have left (4 of 12): now only root is served.
    hold_start b "$UB" 6 || return 1
    [ "$(held b admitted)" = 4 ] || { cat "$TMP/b.out"; r=1; }
    held b message | grep -qF "too many connections from API group members (limit 12)" ||
        { cat "$TMP/b.out"; r=1; }
    $LIGHTVM list >/dev/null || { echo "root's list"; r=1; }
    id=$($LIGHTVM create $EXAMPLES/idle/idle.elf) || { echo "root's create"; r=1; }
    $LIGHTVM list | grep -q "^$id .*running" || { echo "root's guest not running"; r=1; }
    $LIGHTVM destroy "$id" >/dev/null || { echo "root's destroy"; r=1; }
    hold_stop b
    as "$UB" $LIGHTVM list >/dev/null || { echo "B refused once its holds were gone"; r=1; }
    return $r
}

t_no_spin_while_flooded() {
    # A's 8 held connections and its refused extras cost the daemon
    # nothing while they sit idle (spinning would be ~200 ticks).
    pool_settle || return 1
    local used
    as "$UA" $FLOOD "$LIGHTVM_SOCKET" hold 50 </dev/null >/dev/null # refused, gone
    used=$(cpu_over 2)
    echo "daemon CPU over 2 s with A at its cap: $used ticks"
    [ "$used" -le 10 ] || return 1
    hold_stop a
}

t_slow_readers_dropped() {
    # A member that sends without reading is dropped at 4 MiB of replies
    # on one connection, and its connections together at 16 MiB; root is
    # served meanwhile.
    local out=$TMP/noread.out each
    as "$UA" $FLOOD "$LIGHTVM_SOCKET" noread 1 >"$out" || { cat "$out"; return 1; }
    cat "$out"
    each=$(sed -n 's/.*: \([0-9]*\) reply bytes each/\1/p' "$out")
    [ "$each" -ge $((4 << 20)) ] || return 1
    as "$UA" $FLOOD "$LIGHTVM_SOCKET" noread 6 >"$out" || { cat "$out"; return 1; }
    cat "$out"
    each=$(sed -n 's/.*: \([0-9]*\) reply bytes each/\1/p' "$out")
    # 16 MiB over 6 connections, each well short of its own 4 MiB.
    [ "$each" -lt $((7 << 19)) ] || return 1
    contains "$TMP/lightvmd.log" "dropping a client (uid $UIDA) that does not read" || return 1
    $LIGHTVM list >/dev/null
}

t_idle_closed() {
    # A silent connection is closed after the idle timeout (2 s here),
    # with the reason; one waiting for a guest is not; and `lightvm run`,
    # whose first connection is silent while its guest runs, still kills
    # and removes the guest through it (liblightvm connects again).
    daemon_stop
    daemon_start --group "$GRP" --pool 16M=2 --idle-timeout 2 || return 1
    local out=$TMP/idle.out r=0 waiter
    timeout 20 setpriv --reuid "$UA" --regid "$GRP" --clear-groups \
        $FLOOD "$LIGHTVM_SOCKET" idle 2 >"$out" || { cat "$out"; return 1; }
    cat "$out"
    [ "$(grep -c '"code":"idle","message":"closed after 2 s without a request"' "$out")" = 2 ] || r=1
    awk '/^closed after/ {if ($3 < 1.9 || $3 > 10) bad=1; n++} END {exit bad || n != 2}' "$out" || r=1
    $LIGHTVM create --name waited $EXAMPLES/idle/idle.elf >/dev/null || return 1
    $LIGHTVM wait waited >"$TMP/wait.out" 2>&1 &
    waiter=$!
    read -rt 4 <> <(:) # twice the timeout, and more
    kill -0 $waiter 2>/dev/null || { echo "the wait ended early:"; cat "$TMP/wait.out"; r=1; }
    $LIGHTVM poweroff waited || r=1
    wait $waiter
    contains "$TMP/wait.out" "exited with status 0" || r=1
    $LIGHTVM destroy waited >/dev/null
    expect_status 124 timeout 30 $LIGHTVM run -q -t 4 --name runner $EXAMPLES/idle/idle.elf || r=1
    ! $LIGHTVM list | grep -q runner || { echo "run left its guest"; $LIGHTVM list; r=1; }
    return $r
}

t_emfile_no_spin() {
    # Caps above what 1024 fds allow: accepts fail with EMFILE.
    # Connections past it are answered and closed (the spare fd), the
    # daemon does not spin, and once they go root is served again.
    daemon_stop
    LIGHTVMD="prlimit --nofile=1024:1024 $BUILD/bin/lightvmd" daemon_start \
        --group "$GRP" --pool 0 --max-connections 2000 \
        --max-connections-per-user 2000 --max-connections-root 2000 \
        --idle-timeout 0 || return 1
    contains "$TMP/lightvmd.log" "accepts may fail with EMFILE" || return 1
    local r=0 used id
    hold_start f "$UA" 1100 || return 1
    cat "$TMP/f.out"
    [ "$(held f refused)" -gt 0 ] && [ "$(held f admitted)" -lt 1100 ] &&
        [ "$(held f failed)" = 0 ] || r=1
    held f message | grep -qF '"code":"busy","message":"lightvmd is out of file descriptors"' || r=1
    # (A daemon that stops accepting would leave the CLI waiting: bounded.)
    ! timeout 10 $LIGHTVM list 2>"$TMP/f.cli" || { echo "served with no fd left?"; r=1; }
    contains "$TMP/f.cli" "out of file descriptors" || r=1
    used=$(cpu_over 2)
    echo "daemon CPU over 2 s out of fds: $used ticks"
    [ "$used" -le 10 ] || r=1
    hold_stop f
    timeout 10 $LIGHTVM list >/dev/null || { echo "not served after the flood"; r=1; }
    id=$($LIGHTVM create $EXAMPLES/idle/idle.elf) || r=1
    $LIGHTVM destroy "$id" >/dev/null || r=1
    daemon_stop
    return $r
}

daemon_start "${CAPS[@]}" --pool 16M=2 || exit 1
check member_capped t_member_capped
check others_served t_others_served
check no_spin_while_flooded t_no_spin_while_flooded
check slow_readers_dropped t_slow_readers_dropped
check idle_closed t_idle_closed
check emfile_no_spin t_emfile_no_spin
check no_leftovers no_new_leftovers
finish
