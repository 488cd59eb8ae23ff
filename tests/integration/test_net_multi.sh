#!/bin/bash
# test_net_multi.sh: one guest's lwIP stack serving two NICs at once. The
# guest (tests/net/guests/net_multi.c) brings net0 and net1 up, each a
# port of its own bridge, and echoes TCP and UDP on port 7. Each bridge
# has a namespace of its own (a veth on that bridge only, no route to the
# other subnet), so an answer in namespace B came through net1: the suite
# fails if the second NIC is not served. Also: per-NIC info and counters,
# frame-level access to a NIC the stack serves refused, a storm on one NIC
# while the other carries TCP, and a NIC of a single-NIC guest unchanged.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
. tests/net/netlib.sh

MULTI=$NET_GUESTS/net_multi.elf
ANS=${NS}a # a client on bridge lma
BNS=${NS}b # a client on bridge lmb
V=lm$$     # veth names (made in the root namespace first)

LIGHTVMD="nsenter --net=/run/netns/$NS $BUILD/bin/lightvmd"

multi_cleanup() {
    daemon_stop
    ip netns del "$ANS" 2>/dev/null
    ip netns del "$BNS" 2>/dev/null
    net_cleanup
}
trap multi_cleanup EXIT

ina() { nsenter --net=/run/netns/"$ANS" "$@"; }
inb() { nsenter --net=/run/netns/"$BNS" "$@"; }

# udp_ask NSCMD IP PORT: send one datagram, print the answer.
udp_ask() {
    local ns=$1
    shift
    $ns python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.sendto(b"?", (sys.argv[1], int(sys.argv[2])))
print(s.recv(200).decode().strip())' "$@"
}

setup() {
    net_setup || return 1
    ip netns add "$ANS" && ip netns add "$BNS" || return 1
    ina ip link set lo up && inb ip link set lo up || return 1
    # The bridges' namespace must not route between the subnets itself.
    nsx sysctl -qw net.ipv4.ip_forward=0 || return 1
    nsx "$LIGHTVM" net up --subnet 10.81.0.1/16 lma >/dev/null || return 1
    nsx "$LIGHTVM" net up --subnet 10.82.0.1/16 lmb >/dev/null || return 1
    veth "${V}a" "$ANS" lma 10.81.1.10/16 || return 1
    veth "${V}b" "$BNS" lmb 10.82.1.10/16
}

test_start() {
    setup || return 1
    start_guest nm "$MULTI" "--net=net0=lma,ip=10.81.0.2" \
        "--net=net1=lmb,ip=10.82.0.2" || return 1
    PID=$GUEST_PID
    "$NETC" wait-text "$TMP/nm.out" serving 10000 "$PID" >/dev/null || {
        cat "$TMP/nm.out" "$TMP/nm.err"
        return 1
    }
    TAPB=$(sed -n 's/.* net1: .* tap \(lvt[0-9a-fn]*\).*/\1/p' "$TMP/nm.err")
    [ -n "$TAPB" ] || { cat "$TMP/nm.err"; return 1; }
}

# What the SDK reports: each NIC's own address, net1 absent before its
# lvm_net_up(), the first NIC the default, a second up of net1 a no-op,
# an unknown NIC refused, and frames of a NIC the stack serves refused
# (LVM_EBUSY, -16) both ways.
test_info() {
    contains "$TMP/nm.out" "net0: ip 10.81.0.2 mtu 1500" || return 1
    contains "$TMP/nm.out" "net1: ip 10.82.0.2 mtu 1500" || return 1
    [ "$(grep -c "net1: not up" "$TMP/nm.out")" -eq 1 ] || return 1
    contains "$TMP/nm.out" "default: 10.81.0.2" || return 1
    contains "$TMP/nm.out" "again: 0, unknown: no such network device" ||
        return 1
    contains "$TMP/nm.out" "frame read: -16, write: -16"
}

test_echo_first() {
    ina "$NETC" echo-tcp 10.81.0.2 7 100000 >/dev/null || return 1
    ina "$NETC" echo-udp 10.81.0.2 7 20 >/dev/null
}

# Through net1 only: namespace B has no route to 10.81.0.0/16.
test_echo_second() {
    inb "$NETC" echo-tcp 10.82.0.2 7 100000 >/dev/null || return 1
    inb "$NETC" echo-udp 10.82.0.2 7 20 >/dev/null || return 1
    ! inb ip route get 10.81.0.2 >/dev/null 2>&1
}

# Each NIC counts its own frames: the answer to B went out through net1,
# and both NICs took frames in.
test_counters() {
    local line
    line=$(udp_ask inb 10.82.0.2 9) || return 1
    echo "$line"
    read -r _ arx atx _ brx btx <<<"$(echo "$line" |
        sed 's/net0 rx \([0-9]*\) tx \([0-9]*\) net1 rx \([0-9]*\) tx \([0-9]*\)/x \1 \2 x \3 \4/')"
    [ "${arx:-0}" -gt 20 ] && [ "${atx:-0}" -gt 20 ] || return 1
    [ "${brx:-0}" -gt 20 ] && [ "${btx:-0}" -gt 20 ]
}

# A storm into net1's tap while TCP runs through net0: the flood costs
# net1's budget, not net0's connection; both still answer afterwards.
test_storm_one_nic() {
    nsx "$NETC" inject "$TAPB" storm 50000 >/dev/null &
    local storm=$!
    ina "$NETC" echo-tcp 10.81.0.2 7 200000 >/dev/null || return 1
    wait "$storm" || return 1
    kill -0 "$PID" || return 1
    ina "$NETC" echo-tcp 10.81.0.2 7 1000 >/dev/null || return 1
    inb "$NETC" echo-tcp 10.82.0.2 7 1000 >/dev/null
}

# The same guest serving only its first NIC (lvm_net_up(NULL) alone), as
# before several NICs were served: net1 stays the app's at frame level
# (a write goes out), and namespace B gets no answer.
test_single_unchanged() {
    start_guest ns1 "$MULTI" "--net=net0=lma,ip=10.81.0.3" \
        "--net=net1=lmb,ip=10.82.0.3" -- one || return 1
    local pid=$GUEST_PID
    "$NETC" wait-text "$TMP/ns1.out" serving 10000 "$pid" >/dev/null ||
        return 1
    contains "$TMP/ns1.out" "write: 64" || return 1
    [ "$(grep -c "net1: not up" "$TMP/ns1.out")" -eq 2 ] || return 1
    ina "$NETC" echo-tcp 10.81.0.3 7 1000 >/dev/null || return 1
    ! udp_ask inb 10.82.0.3 7 >/dev/null 2>&1 || return 1
    stop_guest "$pid"
}

test_stop() {
    stop_guest "$PID"
}

# Through lightvmd: save and restore the two-NIC guest (the SDK finds both
# NICs again), then a clone, whose NICs get addresses of their own. Each
# answers through both bridges.
both_answer() {
    ina "$NETC" echo-tcp "$1" 7 20000 >/dev/null || return 1
    inb "$NETC" echo-tcp "$2" 7 20000 >/dev/null
}

# nic_ips GUEST: its NICs' addresses, in order, on one line.
nic_ips() {
    guest_json "$1" | grep -o '"ip":"[0-9.]*"' | cut -d'"' -f4 | tr '\n' ' '
}

test_snapshot() {
    daemon_start || return 1
    $LIGHTVM create --name nmd "--net=net0=lma,ip=10.81.0.5" \
        "--net=net1=lmb,ip=10.82.0.5" "$MULTI" >/dev/null || return 1
    both_answer 10.81.0.5 10.82.0.5 || return 1
    $LIGHTVM save nmd "$TMP/nmd.state" || return 1
    $LIGHTVM restore "$TMP/nmd.state" >/dev/null || return 1
    both_answer 10.81.0.5 10.82.0.5
}

# A second NIC with a leased address: after a restore it may have another
# MAC and address (only the first NIC keeps its own); the SDK takes the
# device page's, and the NIC answers on whatever the toolstack says.
test_snapshot_leased() {
    $LIGHTVM create --name nml "--net=net0=lma,ip=10.81.0.6" "--net=net1=lmb" \
        "$MULTI" >/dev/null || return 1
    local a b
    read -r a b <<<"$(nic_ips nml)"
    both_answer "$a" "$b" || return 1
    $LIGHTVM save nml "$TMP/nml.state" || return 1
    # Another guest takes the lease the saved one had, so the restored
    # guest's net1 cannot get it back.
    $LIGHTVM create --name nmx "--net=net0=lma" "--net=net1=lmb" \
        "$MULTI" >/dev/null || return 1
    $LIGHTVM restore "$TMP/nml.state" >/dev/null || return 1
    read -r a b <<<"$(nic_ips nml)"
    [ "$a" = 10.81.0.6 ] || { guest_json nml; return 1; }
    both_answer "$a" "$b" || { guest_json nml; return 1; }
    $LIGHTVM destroy nml nmx >/dev/null
}

test_clone() {
    $LIGHTVM clone -n 1 nmd >/dev/null || return 1
    local ips a b
    ips=$(nic_ips nmd-1)
    read -r a b <<<"$ips"
    case "$a $b" in "10.81."*" 10.82."*) ;; *)
        echo "the clone's NICs: $ips"
        guest_json nmd-1
        return 1
        ;;
    esac
    [ "$a" != 10.81.0.5 ] && [ "$b" != 10.82.0.5 ] || return 1
    both_answer "$a" "$b" || return 1
    both_answer 10.81.0.5 10.82.0.5 || return 1
    $LIGHTVM destroy nmd nmd-1 >/dev/null
}

check net_multi_start test_start
check net_multi_info test_info
check net_multi_echo_first_nic test_echo_first
check net_multi_echo_second_nic test_echo_second
check net_multi_counters test_counters
check net_multi_storm_one_nic test_storm_one_nic
check net_multi_single_nic_guest test_single_unchanged
check net_multi_stop test_stop
check net_multi_snapshot_restore test_snapshot
check net_multi_snapshot_leased test_snapshot_leased
check net_multi_clone test_clone
finish
