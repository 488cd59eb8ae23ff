#!/bin/bash
# test_net_subnet.sh: a new bridge given no subnet gets a free one, from
# the command line (`lightvm net up BRIDGE`, `--net NAME=BRIDGE`): never
# lvm0's 10.213.0.0/16, never another bridge's, the same one again for a
# bridge that exists, a one-line refusal (and no bridge made) when no
# subnet of the range is free, and a two-NIC guest on lvm0 and such a
# bridge answering on both; routes of other tables and lightvmd's
# configured networks are in use too; a user's lock on the namespace
# stalls nothing. Races between processes are
# tests/unit/test_net_subnet.c's.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
. tests/net/netlib.sh

MULTI=$NET_GUESTS/net_multi.elf
DAYTIME=$EXAMPLES/daytime/daytime.elf

# second_octet: X of a `net up` line "BR 10.X.0.1/16 ..." on stdin.
second_octet() { sed -n 's/^[^ ]* 10\.\([0-9]*\)\.0\.1\/16.*/\1/p'; }

test_lvm0_default() {
    net_setup || return 1
    local out
    out=$(nsx "$LIGHTVM" net up) || return 1
    echo "$out"
    [ "$out" = "lvm0 10.213.0.1/16 (created)" ]
}

test_two_new_bridges() {
    local a b
    nsx "$LIGHTVM" net up nmsa >"$TMP/a" || return 1
    nsx "$LIGHTVM" net up nmsb >"$TMP/b" || return 1
    cat "$TMP/a" "$TMP/b"
    contains "$TMP/a" "(created)" && contains "$TMP/b" "(created)" || return 1
    a=$(second_octet <"$TMP/a")
    b=$(second_octet <"$TMP/b")
    [ -n "$a" ] && [ -n "$b" ] && [ "$a" != "$b" ] || return 1
    [ "$a" -ge 214 ] && [ "$a" -le 255 ] && [ "$b" -ge 214 ] &&
        [ "$b" -le 255 ] || return 1
    # The kernel's view: each bridge has its own, lvm0 still 10.213.
    nsx ip -4 -o addr show dev nmsa | grep -q " 10\.$a\.0\.1/16 " || return 1
    nsx ip -4 -o addr show dev nmsb | grep -q " 10\.$b\.0\.1/16 " || return 1
    nsx ip -4 -o addr show dev lvm0 | grep -q " 10\.213\.0\.1/16 "
}

test_existing_keeps() {
    local out
    out=$(nsx "$LIGHTVM" net up nmsa) || return 1
    [ "$out" = "$(sed 's/ (created)//' "$TMP/a")" ]
}

# A subnet used elsewhere in the namespace (a route here) is not taken.
test_route_respected() {
    local c
    nsx ip route add blackhole 10.214.0.0/15 || return 1
    nsx ip route add blackhole 10.216.0.0/13 || return 1
    nsx "$LIGHTVM" net up nmsc >"$TMP/c" || return 1
    c=$(second_octet <"$TMP/c")
    cat "$TMP/c"
    [ -n "$c" ] && [ "$c" -ge 224 ] || return 1
    [ "$c" != "$(second_octet <"$TMP/a")" ] &&
        [ "$c" != "$(second_octet <"$TMP/b")" ]
}

# Nothing free: one line naming the way out, non-zero, no bridge made.
test_none_free() {
    nsx ip route add blackhole 10.224.0.0/11 || return 1
    ! nsx "$LIGHTVM" net up nmsd 2>"$TMP/err" || return 1
    cat "$TMP/err"
    [ "$(wc -l <"$TMP/err")" -eq 1 ] || return 1
    contains "$TMP/err" "subnet=CIDR" || return 1
    ! nsx ip link show nmsd >/dev/null 2>&1 || return 1
    nsx ip route del blackhole 10.224.0.0/11 &&
        nsx ip route del blackhole 10.216.0.0/13 &&
        nsx ip route del blackhole 10.214.0.0/15
}

# A guest with net0 on lvm0 and net1 on a bridge made now without a
# subnet: net1's address is in that bridge's new subnet, and the guest
# echoes on both (the namespace routes to each subnet by its bridge).
test_guest_two_bridges() {
    start_guest nmg "$MULTI" --net "--net=net1=nmse" || return 1
    local ip0=$GUEST_IP ip1 sub
    ip1=$(sed -n 's/.* net1: ip \([0-9.]*\)\/16 .* bridge nmse .*/\1/p' \
        "$TMP/nmg.err")
    sub=$(nsx ip -4 -o addr show dev nmse |
        sed -n 's/.* inet 10\.\([0-9]*\)\.0\.1\/16 .*/\1/p')
    echo "net0 $ip0 net1 $ip1 nmse 10.$sub.0.1/16"
    [[ $ip0 == 10.213.* ]] || return 1
    [ -n "$sub" ] && [[ $ip1 == 10.$sub.* ]] || return 1
    "$NETC" wait-text "$TMP/nmg.out" serving 10000 "$GUEST_PID" >/dev/null ||
        return 1
    nsx "$NETC" echo-tcp "$ip0" 7 10000 >/dev/null || return 1
    nsx "$NETC" echo-tcp "$ip1" 7 10000 >/dev/null || return 1
    stop_guest "$GUEST_PID"
}

# Options after the bridge's name, as docs/network.md writes them; a
# name outside letters, digits, '-', '_' and '.' is refused, unmade.
test_names_and_order() {
    nsx "$LIGHTVM" net up nmsf --subnet 10.91.0.1/16 || return 1
    nsx ip -4 -o addr show dev nmsf | grep -qF "10.91.0.1/16" || return 1
    nsx "$LIGHTVM" net down nmsf || return 1
    ! nsx "$LIGHTVM" net up 'nms!x' 2>"$TMP/err" || return 1
    cat "$TMP/err"
    [ "$(wc -l <"$TMP/err")" -eq 1 ] && contains "$TMP/err" "bad bridge name" ||
        return 1
    ! nsx ip link show 'nms!x' >/dev/null 2>&1
}

# A route in a table of its own (a VPN's, a policy route's) is in use
# too: the subnet a bridge would get is not taken once such a route
# covers it.
test_policy_table() {
    local p q
    nsx "$LIGHTVM" net up nmsp >"$TMP/p" || return 1
    p=$(second_octet <"$TMP/p")
    nsx "$LIGHTVM" net down nmsp || return 1
    nsx ip route add blackhole "10.$p.0.0/16" table 100 || return 1
    nsx "$LIGHTVM" net up nmsp >"$TMP/p2" || return 1
    q=$(second_octet <"$TMP/p2")
    cat "$TMP/p" "$TMP/p2"
    nsx ip route del blackhole "10.$p.0.0/16" table 100
    nsx "$LIGHTVM" net down nmsp
    [ -n "$q" ] && [ "$q" != "$p" ]
}

# A user who holds a lock on the namespace's nsfs file (anyone may open
# it) does not stall a bridge being made; the lock lightvm takes is a
# file a user cannot open.
test_lock_not_users() {
    local holder line rc
    mkfifo "$TMP/held"
    nsx setpriv --reuid 65534 --regid 65534 --clear-groups \
        flock /proc/self/ns/net sh -c 'echo held; exec sleep 300' >"$TMP/held" &
    holder=$!
    read -r line <"$TMP/held"
    [ "$line" = held ] || { kill $holder; return 1; }
    nsx timeout 60 "$LIGHTVM" net up nmsq >/dev/null
    rc=$?
    kill $holder 2>/dev/null
    wait $holder 2>/dev/null
    [ $rc = 0 ] || { echo "net up: exit $rc"; return 1; }
    nsx "$LIGHTVM" net down nmsq
    ! setpriv --reuid 65534 --regid 65534 --clear-groups \
        flock -n /run/lightvm-netsubnet.lock true 2>/dev/null
}

# An operator network of lightvmd's configuration that is no bridge yet
# is not picked for another bridge made through lightvmd.
test_operator_network_reserved() {
    local x y id
    nsx "$LIGHTVM" net up nmsr >"$TMP/r" || return 1
    x=$(second_octet <"$TMP/r")
    nsx "$LIGHTVM" net down nmsr || return 1
    printf '{"networks": [{"bridge": "nmso", "subnet": "10.%s.0.1/16", "default": true}]}\n' \
        "$x" >"$TMP/op.conf"
    LIGHTVMD="nsenter --net=/run/netns/$NS $BUILD/bin/lightvmd"
    daemon_start --pool 0 --config "$TMP/op.conf" || return 1
    id=$($LIGHTVM create --net=nmsr "$DAYTIME")
    local rc=$?
    [ $rc = 0 ] && $LIGHTVM destroy "$id" >/dev/null
    daemon_stop
    [ $rc = 0 ] || return 1
    y=$(nsx ip -4 -o addr show dev nmsr | sed -n 's/.* inet 10\.\([0-9]*\)\.0\.1\/16 .*/\1/p')
    echo "nmsr alone: 10.$x; with nmso configured at 10.$x: 10.$y"
    nsx "$LIGHTVM" net down nmsr
    [ -n "$y" ] && [ "$y" != "$x" ]
}

check net_subnet_lvm0_default test_lvm0_default
check net_subnet_two_new_bridges test_two_new_bridges
check net_subnet_existing_keeps test_existing_keeps
check net_subnet_route_respected test_route_respected
check net_subnet_none_free test_none_free
check net_subnet_guest_two_bridges test_guest_two_bridges
check net_subnet_names_and_order test_names_and_order
check net_subnet_policy_table test_policy_table
check net_subnet_lock_not_users test_lock_not_users
check net_subnet_operator_network_reserved test_operator_network_reserved
finish
