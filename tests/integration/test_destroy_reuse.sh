#!/bin/bash
# test_destroy_reuse.sh: what a destroy guarantees, quickly and across a
# daemon restart (docs/daemon.md). A destroyed guest's name and network
# lease are free for the next create at once, and no listing shows it;
# destroyed guests do not come back when lightvmd restarts, while a guest
# that exited on its own keeps its exit record across the restart (lightvmd
# writes exit.json only for guests that are kept). And several destroys at
# once, the way `lightvm serve` now sends them, each answer for their own
# guest. No sleeps: every wait polls with a deadline.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
. tests/net/netlib.sh
NS=dreuse$$ # the netns, and the bridge inside it, are this suite's alone
LIGHTVMD="nsenter --net=/run/netns/$NS $BUILD/bin/lightvmd"
IDLE=$EXAMPLES/idle/idle.elf
NOOP=$EXAMPLES/noop/noop.elf
ECHO=$EXAMPLES/echo/echo.elf
trap 'daemon_stop; net_cleanup' EXIT

net_setup || { echo "cannot create a network namespace"; echo "0 passed, 1 failed"; exit 1; }
daemon_start --pool 16M+net=8 || { echo "0 passed, 1 failed"; exit 1; }

# ip_of GUEST: its first NIC's address.
ip_of() { $LIGHTVM inspect "$1" | sed -n 's/.*"ip": "\([0-9.]*\)".*/\1/p' | head -n 1; }

# The same name, again and again: each create right after the destroy of
# the one before; the old id is gone from every listing, the name and the
# lease are the new guest's.
t_same_name_at_once() {
    local i id old="" ip
    for i in $(seq 10); do
        id=$($LIGHTVM create --name again --net "$ECHO") || { echo "create $i failed"; return 1; }
        ip=$(ip_of again)
        [ -n "$ip" ] || { echo "no address for $id"; return 1; }
        [ "$($LIGHTVM list -q | grep -c .)" = 1 ] || { $LIGHTVM list; return 1; }
        [ -z "$old" ] || ! $LIGHTVM list -a | grep -q "$old" || { echo "$old still listed"; return 1; }
        $LIGHTVM destroy again >/dev/null || return 1
        ! $LIGHTVM list -a | grep -q "$id" || { echo "$id listed after destroy"; return 1; }
        [ ! -e "$LIGHTVM_RUN_DIR/guests/$id" ] || { echo "$id's record left"; return 1; }
        old=$id
    done
}

# Eight destroys in flight at once: every guest goes, every lease is
# released (eight new guests get leases on a pool of eight network shells).
t_destroys_at_once() {
    local ids=() i p pids=() bad=0
    for i in $(seq 8); do ids+=("$($LIGHTVM create --net "$ECHO")") || return 1; done
    for i in "${ids[@]}"; do
        $LIGHTVM destroy "$i" >"$TMP/d.$i" 2>&1 &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || bad=1; done
    [ $bad = 0 ] || { cat "$TMP"/d.*; return 1; }
    for i in "${ids[@]}"; do
        [ ! -s "$TMP/d.$i" ] || { echo "destroy $i said:"; cat "$TMP/d.$i"; return 1; }
    done
    [ -z "$($LIGHTVM list -aq)" ] || { $LIGHTVM list -a; return 1; }
    ids=()
    for i in $(seq 8); do ids+=("$($LIGHTVM create --net "$ECHO")") || return 1; done
    [ "$(for i in "${ids[@]}"; do ip_of "$i"; done | sort -u | grep -c .)" = 8 ] || return 1
    $LIGHTVM destroy "${ids[@]}" >/dev/null
}

# Destroyed, then lightvmd restarts: the guest stays gone (no record, no
# cgroup), the one left running is adopted, and one that exited on its own
# still says how it ended.
t_destroy_then_restart() {
    local keep gone ended
    keep=$($LIGHTVM create --name keep "$IDLE") || return 1
    gone=$($LIGHTVM create --name gone "$IDLE") || return 1
    ended=$($LIGHTVM create --name ended "$NOOP") || return 1
    $LIGHTVM wait ended >/dev/null
    $LIGHTVM destroy gone >/dev/null || return 1
    daemon_stop
    daemon_start --pool 16M+net=8 || return 1
    $LIGHTVM list -a >"$TMP/after"
    ! grep -q "$gone" "$TMP/after" || { echo "destroyed guest back:"; cat "$TMP/after"; return 1; }
    grep -q "$keep" "$TMP/after" && grep -q "$ended" "$TMP/after" || { cat "$TMP/after"; return 1; }
    [ -z "$(suite_cgroups | grep "$gone")" ] || { echo "cgroup of $gone left"; return 1; }
    $LIGHTVM inspect ended | grep -q '"code": 0' || { $LIGHTVM inspect ended; return 1; }
    # Its name is free for a new guest after the restart as well.
    $LIGHTVM create --name gone "$IDLE" >/dev/null || return 1
    $LIGHTVM destroy keep gone ended >/dev/null
}

check destroy_same_name_at_once t_same_name_at_once
check destroy_several_at_once t_destroys_at_once
check destroy_then_restart t_destroy_then_restart
daemon_stop # its pool goes with it: what is left is a leak
check destroy_no_leftovers no_new_leftovers
finish
