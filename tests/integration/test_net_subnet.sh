#!/bin/bash
# test_net_subnet.sh: a new bridge given no subnet gets a free one, from
# the command line (`lightvm net up BRIDGE`, `--net NAME=BRIDGE`): never
# lvm0's 10.213.0.0/16, never another bridge's, the same one again for a
# bridge that exists, a one-line refusal (and no bridge made) when no
# subnet of the range is free, and a two-NIC guest on lvm0 and such a
# bridge answering on both. Races between processes are
# tests/unit/test_net_subnet.c's.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
. tests/net/netlib.sh

MULTI=$NET_GUESTS/net_multi.elf

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

check net_subnet_lvm0_default test_lvm0_default
check net_subnet_two_new_bridges test_two_new_bridges
check net_subnet_existing_keeps test_existing_keeps
check net_subnet_route_respected test_route_respected
check net_subnet_none_free test_none_free
check net_subnet_guest_two_bridges test_guest_two_bridges
check net_subnet_names_and_order test_names_and_order
finish
