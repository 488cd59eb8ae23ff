#!/bin/bash
# test_net_scale.sh: 100 network guests at once on one bridge, each
# answering daytime; once they are stopped, no tap, address, lease,
# filter entry, neighbour entry or route of theirs is left.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
. tests/net/netlib.sh

N=${NET_SCALE_GUESTS:-100}
DAYTIME=$EXAMPLES/daytime/daytime.elf

net_setup || { echo "cannot create a network namespace"; exit 1; }

state() {
    {
        nsx ip -o link show | awk '{print $2}'
        nsx ip -o addr show | awk '{print $2, $4}'
        nsx ip route show | sed "s/ linkdown//"
        nsx ip neigh show | grep -v FAILED
        nsx nft list table bridge lightvm | grep elements
        find "$LIGHTVM_RUN_DIR/net" -type f
    } 2>/dev/null | sort
}

PIDS=()
IPS=()

test_start_all() {
    for i in $(seq 1 "$N"); do
        start_guest "s$$-$i" "$DAYTIME" --net || { echo "guest $i did not start"; return 1; }
        PIDS+=("$GUEST_PID")
        IPS+=("$GUEST_IP")
    done
    local taps
    taps=$(nsx ip -o link show master lvm0 | grep -c ' lvt')
    [ "$taps" -eq "$N" ] || { echo "$taps taps on the bridge, want $N"; return 1; }
    # Every address distinct.
    [ "$(printf '%s\n' "${IPS[@]}" | sort -u | wc -l)" -eq "$N" ]
}

test_all_answer() {
    local ip bad=0
    for ip in "${IPS[@]}"; do
        nsx "$NETC" daytime "$ip" 5000 >/dev/null || { echo "no answer from $ip"; bad=1; }
    done
    return $bad
}

test_all_filtered() {
    # One port, one MAC and one address entry per guest.
    local n
    n=$(nsx nft -j list set bridge lightvm guest_ip | grep -o '"concat"' | wc -l)
    [ "$n" -eq "$N" ] || { echo "$n guest_ip entries, want $N"; return 1; }
}

# Frames each tap has passed to its guest (a tap's transmit side).
tap_tx_all() {
    nsx cat /proc/net/dev | awk '$1 ~ /^lvt/ {print $1, $11}' | sort
}

# The host asks for one guest's MAC: that ARP broadcast must reach that
# guest only, not wake the other 99 (the filter's to_guests chain). A
# guest outside the filter (--net-no-filter) shows the broadcast is there.
test_arp_reaches_only_its_guest() {
    start_guest "s$$-open" "$DAYTIME" --net --net-no-filter || return 1
    PIDS+=("$GUEST_PID")
    local open_tap=$GUEST_TAP target=${IPS[0]} before after
    nsx ip neigh flush dev lvm0
    before=$(tap_tx_all)
    nsx "$NETC" daytime "$target" 5000 >/dev/null || return 1
    after=$(tap_tx_all)
    local changed
    changed=$(diff <(echo "$before") <(echo "$after") | grep -c '^>')
    # The target's tap and the unfiltered guest's tap, nothing else.
    if [ "$changed" -ne 2 ]; then
        echo "$changed taps passed frames, want 2 (target and unfiltered):"
        diff <(echo "$before") <(echo "$after")
        return 1
    fi
    diff <(echo "$before") <(echo "$after") | grep -q "^> $open_tap: " ||
        { echo "the unfiltered guest saw no broadcast"; return 1; }
}

test_stop_all_clean() {
    local p bad=0
    for p in "${PIDS[@]}"; do kill -INT "$p"; done
    for p in "${PIDS[@]}"; do
        "$NETC" wait-pid "$p" 20000 || { echo "guest $p did not stop"; bad=1; }
        wait "$p"
    done
    [ $bad -eq 0 ] || return 1
    local after
    after=$(state)
    if [ "$BEFORE" != "$after" ]; then
        diff <(echo "$BEFORE") <(echo "$after") | head -20
        return 1
    fi
    ! nsx ip -o link show | grep -q ' lvt'
}

nsx "$LIGHTVM" net up >/dev/null || exit 1
BEFORE=$(state)
check net_scale_start_"$N" test_start_all
check net_scale_all_answer test_all_answer
check net_scale_all_filtered test_all_filtered
check net_scale_arp_only_to_its_guest test_arp_reaches_only_its_guest
check net_scale_nothing_left test_stop_all_clean
finish
