#!/bin/bash
# test_firewall_scale.sh: 1,000 firewall guests (two NICs each) running at
# once through lightvmd, started by examples/firewall/per-user.sh, each
# with its own user's rules: user i may send UDP from source port 20000+i
# only. With all 1,000 running, a sample of users is checked end to end:
# a datagram from another user's port is dropped and the user's own passes
# (the denied one is sent first, so it would arrive first). lightvmd is
# restarted and adopts them; then they all stop and leave no tap, lease
# (in either bridge's directory) or filter element. FW_SCALE_N sets the
# number (default 1000).
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
. tests/net/netlib.sh

N=${FW_SCALE_N:-1000}
PROBE=tests/net/tools/fwprobe.py
CNS=${NS}c # one user's namespace, re-pointed at each sampled firewall
PNS=${NS}p # upstream
V=ns$$
LIGHTVMD="nsenter --net=/run/netns/$NS ${LIGHTVMD:-$BUILD/bin/lightvmd}"

scale_cleanup() {
    daemon_stop
    ip netns del "$CNS" 2>/dev/null
    ip netns del "$PNS" 2>/dev/null
    net_cleanup
}
trap scale_cleanup EXIT

inc() { nsenter --net=/run/netns/"$CNS" "$@"; }
inp() { nsenter --net=/run/netns/"$PNS" "$@"; }

# User i's addresses: user0 10.80.A.B, up0 10.81.A.B (i = 256 A + B, from 1).
uaddr() { echo "10.$1.$((($2 + 256) / 256)).$((($2 + 256) % 256))"; }

setup() {
    net_setup || return 1
    ip netns add "$CNS" && ip netns add "$PNS" || return 1
    inc ip link set lo up && inp ip link set lo up || return 1
    nsx sysctl -qw net.ipv4.ip_forward=0 || return 1
    nsx "$LIGHTVM" net up --subnet 10.80.0.1/16 fsu >/dev/null || return 1
    nsx "$LIGHTVM" net up --subnet 10.81.0.1/16 fsp >/dev/null || return 1
    ip link add "${V}c" type veth peer name "${V}cb" netns "$NS" &&
        ip link set "${V}c" netns "$CNS" || return 1
    ip link add "${V}p" type veth peer name "${V}pb" netns "$NS" &&
        ip link set "${V}p" netns "$PNS" || return 1
    nsx ip link set "${V}cb" master fsu up && nsx ip link set "${V}pb" master fsp up ||
        return 1
    inc ip addr add 10.80.250.10/16 dev "${V}c" && inc ip link set "${V}c" up ||
        return 1
    inp ip addr add 10.81.250.10/16 dev "${V}p" && inp ip link set "${V}p" up ||
        return 1
    mkdir -p "$TMP/users" "$TMP/fwrun"
    local i
    for i in $(seq 1 "$N"); do
        printf 'default deny\nallow udp from any port %d to any port 7000\n' \
            $((20000 + i)) >"$TMP/users/u$i.rules"
        echo "u$i $(uaddr 80 "$i") $(uaddr 81 "$i")"
    done >"$TMP/users/users"
    daemon_start
}

test_start_all() {
    setup || return 1
    LIGHTVM=$LIGHTVM FIREWALL_ELF=$EXAMPLES/firewall/firewall-blk.elf \
        FIREWALL_RUN_DIR=$TMP/fwrun USERS_BRIDGE=fsu UP_BRIDGE=fsp \
        examples/firewall/per-user.sh "$TMP/users" --mem 2M \
        >"$TMP/created.txt" || return 1
    local running
    running=$("$LIGHTVM" list | grep -c ' running ')
    echo "$running running"
    [ "$running" -eq "$N" ] || { "$LIGHTVM" list | grep -v ' running ' | head; return 1; }
    # Two forwarding taps per guest.
    [ "$(nsx nft list set bridge lightvm fwd_port | grep -o lvt | wc -l)" -eq \
        $((2 * N)) ]
}

# check_user I OTHER: with all running, user I's firewall drops what comes
# from user OTHER's port and passes I's own.
check_user() {
    local i=$1 j=$2 u p
    u=$(uaddr 80 "$i")
    p=$(uaddr 81 "$i")
    inc ip route replace default via "$u" || return 1
    inp ip route replace 10.80.250.10/32 via "$p" || return 1
    : >"$TMP/l$i.txt"
    inp python3 "$PROBE" listen 7000 done 10000 >"$TMP/l$i.txt" &
    local l=$!
    "$NETC" wait-text "$TMP/l$i.txt" listening 5000 "$l" >/dev/null || return 1
    inc python3 "$PROBE" send 10.81.250.10 7000 $((20000 + j)) denied &&
        inc python3 "$PROBE" send 10.81.250.10 7000 $((20000 + i)) done ||
        return 1
    wait "$l" || { echo "user $i: nothing arrived"; return 1; }
    if grep -q denied "$TMP/l$i.txt"; then
        echo "user $i passed user $j's datagram"
        return 1
    fi
    contains "$TMP/l$i.txt" "done from 10.80.250.10"
}

test_sample() {
    local i
    for i in 1 2 3 $((N / 3)) $((N / 2)) $((N - 1)) "$N"; do
        check_user "$i" $((i % N + 1)) || return 1
    done
    # All of them still running after the traffic.
    [ "$("$LIGHTVM" list | grep -c ' running ')" -eq "$N" ]
}

test_stop_all() {
    local ids
    ids=$("$LIGHTVM" list -q) || return 1
    # shellcheck disable=SC2086
    # A guest whose 2 taps wait behind 2,000 others' removal may still be
    # dying when destroy returns ("it will be removed when it does"):
    # then wait for the list to empty, with a deadline.
    if ! "$LIGHTVM" destroy $ids >"$TMP/destroy.txt" 2>&1 &&
        grep -v "is still dying" "$TMP/destroy.txt" | grep -q lightvm:; then
        cat "$TMP/destroy.txt"
        return 1
    fi
    local deadline=$((SECONDS + 120))
    until [ -z "$("$LIGHTVM" list -aq)" ]; do
        [ $SECONDS -lt $deadline ] || { "$LIGHTVM" list -a | head; return 1; }
        read -rt 0.1 <> <(:) 2>/dev/null || true
    done
    [ "$(nsx nft list set bridge lightvm fwd_port | grep -c lvt)" -eq 0 ] ||
        return 1
    [ -z "$(nsx ip -o link show type tun)" ] || return 1
    [ -z "$(find "$TMP/run/net" -type f 2>/dev/null)" ]
}

# A restarted lightvmd adopts them all with both NICs (their leases are
# in two bridges' directories): the stop below must release both.
test_daemon_restart() {
    daemon_stop
    daemon_start || return 1
    [ "$("$LIGHTVM" list | grep -c ' running ')" -eq "$N" ] || return 1
    "$LIGHTVM" list --json | jq -e 'all(.[]; (.net | length) == 2)' >/dev/null
}

check firewall_scale_start_all test_start_all
check firewall_scale_sample_users test_sample
check firewall_scale_daemon_restart test_daemon_restart
check firewall_scale_stop_all test_stop_all
finish
