#!/bin/bash
# test_net_badframes.sh: frames a guest's stack must survive. Garbage,
# headers cut short, frames over the NIC's limit, broken IPv4/TCP/UDP and
# a broadcast storm go straight into an echo guest's tap; the guest must
# still be running and answering afterwards (not crashed, not wedged).
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
. tests/net/netlib.sh

ECHO=$EXAMPLES/echo/echo.elf
net_setup || { echo "cannot create a network namespace"; exit 1; }

start_guest nbf "$ECHO" --net || { echo "echo guest did not start"; exit 1; }
PID=$GUEST_PID

still_answers() {
    kill -0 "$PID" || { echo "lightvm (and its guest) exited:"; cat "$TMP/nbf.err"; return 1; }
    nsx "$NETC" echo-tcp "$GUEST_IP" 7 20000 >/dev/null || return 1
    nsx "$NETC" echo-udp "$GUEST_IP" 7 7 >/dev/null
}

# Frames the tap queued for its guest, or dropped because its queue was
# full (/proc/net/dev: the tap's transmit side is the guest's receive).
tap_tx() {
    nsx cat /proc/net/dev | awk -v t="$GUEST_TAP:" '$1 == t {print $11 + $13}'
}

inject() {
    local before after
    before=$(tap_tx)
    nsx "$NETC" inject "$GUEST_TAP" "$1" "$2" "$GUEST_MAC" "$GUEST_IP" || return 1
    after=$(tap_tx)
    [ $((after - before)) -ge "$2" ] || { echo "only $((after - before)) of $2 frames reached the tap"; return 1; }
    # The tap is a queue: an answer now means every frame before it was
    # taken in.
    still_answers
}

test_garbage() { inject garbage 20000; }
test_truncated() { inject truncated 20000; }
test_ipbad() { inject ipbad 20000; }
test_storm() { inject storm 100000; }

# Frames over LVM_NET_FRAME_MAX reach the guest only if the tap's MTU lets
# them: raise it for this test (the guest's side stays at 1500).
test_oversized() {
    nsx ip link set "$GUEST_TAP" mtu 9000 || return 1
    inject oversized 5000 || return 1
    nsx ip link set "$GUEST_TAP" mtu 1500
}

# A storm through the bridge, from another port, while TCP runs.
test_storm_via_bridge() {
    nsx ip link add "vb$$" type veth peer name "vp$$" || return 1
    nsx ip link set "vb$$" master lvm0 up || return 1
    nsx ip link set "vp$$" up || return 1
    nsx "$NETC" inject "vp$$" storm 50000 >/dev/null &
    local storm=$!
    nsx "$NETC" echo-tcp "$GUEST_IP" 7 200000 >/dev/null || return 1
    wait "$storm" || return 1
    nsx ip link del "vb$$"
    still_answers
}

check net_bad_garbage test_garbage
check net_bad_truncated test_truncated
check net_bad_ipbad test_ipbad
check net_bad_oversized test_oversized
check net_bad_storm test_storm
check net_bad_storm_via_bridge test_storm_via_bridge
check net_bad_clean_stop stop_guest "$PID"
finish
