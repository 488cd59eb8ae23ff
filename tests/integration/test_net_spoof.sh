#!/bin/bash
# test_net_spoof.sh: a guest cannot send from a MAC or an IPv4 address
# other than its own onto the bridge. A raw-frame guest sends UDP
# datagrams to the host from its own MAC and address, from another
# address and from another MAC, and ARP claiming another address: only
# the honest ones may arrive. The same guest with the filter turned off
# (--net-no-filter) shows the test would catch a missing filter.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
. tests/net/netlib.sh

SPOOF=$NET_GUESTS/net_spoof.elf
net_setup || { echo "cannot create a network namespace"; exit 1; }
nsx "$LIGHTVM" net up >/dev/null || exit 1

# run_spoofer NAME PORT [LIGHTVM OPTIONS]: the guest's datagrams, as the
# host received them, in $TMP/NAME.udp; sets SPOOF_IP.
run_spoofer() {
    local name=$1 port=$2
    shift 2
    : >"$TMP/$name.udp"
    nsenter --net=/run/netns/"$NS" "$NETC" udp-listen "$port" done 10000 \
        >"$TMP/$name.udp" &
    local listener=$!
    "$NETC" wait-text "$TMP/$name.udp" listening 5000 "$listener" >/dev/null || return 1
    start_guest "$name" "$SPOOF" --net "$@" -- "$port" || return 1
    SPOOF_IP=$GUEST_IP
    SPOOF_PID=$GUEST_PID
    wait "$listener" || { cat "$TMP/$name.out" "$TMP/$name.udp"; return 1; }
    "$NETC" wait-text "$TMP/$name.out" sent 5000 "$SPOOF_PID" >/dev/null
}

# The address one above the guest's, the one the spoofer claims.
other_of() {
    local a b c d
    IFS=. read -r a b c d <<<"$1"
    echo "$a.$b.$c.$((d ^ 1))"
}

test_filtered() {
    run_spoofer sp1 7101 || return 1
    local other
    other=$(other_of "$SPOOF_IP")
    contains "$TMP/sp1.udp" "ok from $SPOOF_IP" || return 1
    contains "$TMP/sp1.udp" "done from $SPOOF_IP" || return 1
    if grep -q spoof "$TMP/sp1.udp"; then
        echo "a spoofed datagram reached the host:"
        cat "$TMP/sp1.udp"
        return 1
    fi
    # The ARP claim did not teach the host a neighbour for the other address.
    if nsx ip neigh show "$other" | grep -q lladdr; then
        echo "the host believes the guest's ARP claim:"
        nsx ip neigh show "$other"
        return 1
    fi
    stop_guest "$SPOOF_PID"
}

test_unfiltered_control() {
    run_spoofer sp2 7102 --net-no-filter || return 1
    local other
    other=$(other_of "$SPOOF_IP")
    contains "$TMP/sp2.udp" "ip-spoof from $other" || return 1
    contains "$TMP/sp2.udp" "mac-spoof from $SPOOF_IP" || return 1
    nsx ip neigh show "$other" | grep -q lladdr || { echo "ARP claim not seen"; return 1; }
    stop_guest "$SPOOF_PID"
}

# IPv6 and other EtherTypes from a guest are dropped too: the rules end in
# a drop for anything but IPv4 and ARP. Checked on the rule set itself.
test_rules_shape() {
    nsx nft list chain bridge lightvm guests >"$TMP/rules.txt" || return 1
    contains "$TMP/rules.txt" "iif != @guest_port return" || return 1
    contains "$TMP/rules.txt" "iif . ether saddr != @guest_mac drop" || return 1
    contains "$TMP/rules.txt" "iif . ip saddr @guest_ip accept" || return 1
    [ "$(tail -n 3 "$TMP/rules.txt" | grep -c '^[[:space:]]*drop$')" -eq 1 ]
}

check net_spoof_filtered test_filtered
check net_spoof_unfiltered_control test_unfiltered_control
check net_spoof_rules_shape test_rules_shape
finish
