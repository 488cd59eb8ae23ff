#!/bin/bash
# test_qemu_net.sh: qemu guests with a NIC on a lightvm bridge, through
# lightvmd (`lightvm create --monitor qemu --net`): the same tap, lease,
# MAC and anti-spoofing filter entry as proc guests (toolstack/nic.c). A
# Tinyx redis guest answers PING on its leased address from the host; its
# NIC shows in list/stats like a proc guest's; QEMU gets the tap by fd
# with the leased MAC (the filter drops any other, so the PING proves the
# MAC too); the filter holds its tap, MAC and address; a kill -9 of the
# daemon keeps it answering and the next daemon releases tap, lease and
# filter entry on destroy, and for a guest that died while no daemon ran.
# Everything inside a network namespace of the test's own.
#
# Waits are on events: the daemon's replies, the guest's ready flag, a
# TCP answer, QEMU's exit. TCG or KVM as test_daemon_qemu.sh.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
. tests/net/netlib.sh

KERNEL=${TINYX_TEST_KERNEL:-auto}
BOOT_TIMEOUT=${TINYX_TEST_BOOT_TIMEOUT:-180}
API=$BUILD/tests/tools/apiclient
QEMU_PIDS=$TMP/qemu.pids # every QEMU this suite started, for the end
export LIGHTVM_SOCKET=$TMP/run/lightvmd.sock
LIGHTVMD="nsenter --net=/run/netns/$NS $BUILD/bin/lightvmd"
trap 'daemon_stop; kill_qemus; net_cleanup' EXIT

kill_qemus() {
    local pid
    for pid in $(cat "$QEMU_PIDS" 2>/dev/null); do
        kill -9 "$pid" 2>/dev/null
    done
}

net_setup || { echo "cannot create a network namespace"; exit 1; }

# NIC of GUEST as "ip mac tap bridge", from list --json.
nic_of() {
    guest_json "$1" |
        sed -n 's/.*"net":\[{"dev":"net0","mac":"\([^"]*\)","bridge":"\([^"]*\)","tap":"\([^"]*\)","ip":"\([^"]*\)".*/\4 \1 \3 \2/p'
}

# ping_redis IP: PING redis at IP:6379 from the host side of the bridge;
# fails unless +PONG comes back within 10 s.
ping_redis() {
    local reply
    reply=$(nsx timeout 15 bash -c 'exec 3<>"/dev/tcp/$0/6379" || exit 1
        printf "PING\r\n" >&3; read -r -t 10 r <&3; echo "$r"' "$1")
    echo "PING $1: $reply"
    [[ $reply == "+PONG"* ]]
}

create_net() { # NAME [OPTIONS...]: a redis guest with --net; id on stdout
    local name=$1 id
    shift
    id=$($LIGHTVM create --monitor qemu --net --name "$name" "$@" \
        "$TMP/redis") || return 1
    field "$id" pid >>"$QEMU_PIDS"
    echo "$id"
}

# Nothing of TAP/IP is left: no tap, no lease file, no filter entry.
gone() { # TAP IP
    [ -n "$1" ] && [ -n "$2" ] || { echo "no tap or address to check"; return 1; }
    ! nsx ip link show "$1" >/dev/null 2>&1 || { echo "tap $1 left"; return 1; }
    ! find "$LIGHTVM_RUN_DIR/net" -type f -name "$2" 2>/dev/null | grep -q . ||
        { echo "lease of $2 left"; return 1; }
    local set
    for set in guest_port guest_mac guest_ip; do
        ! nsx nft list set bridge lightvm $set 2>/dev/null | grep -q "$1" ||
            { echo "filter entry of $1 left in $set"; return 1; }
    done
}

alive() { # PID: a process that has not exited
    local st
    st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
    [[ $st != Z* ]]
}

# ---- tests ----------------------------------------------------------

t_build_image() {
    "$LIGHTVM" tinyx build -q --kernel "$KERNEL" -z gzip:1 redis-server \
        -o "$TMP/redis"
}

IP1= MAC1= TAP1=
t_create_answers() {
    local id bridge
    id=$(create_net rn1) || return 1
    echo "created $id"
    read -r IP1 MAC1 TAP1 bridge <<<"$(nic_of rn1)"
    [ -n "$IP1" ] || { guest_json rn1; return 1; }
    echo "rn1: ip $IP1 mac $MAC1 tap $TAP1 bridge $bridge"
    [[ $IP1 == 10.213.* ]] && [ "$bridge" = lvm0 ] || return 1
    # No user-mode networking: no forwarded ports.
    guest_json rn1 | grep -q '"ports":\[\]' || return 1
    wait_ready rn1 || return 1
    ping_redis "$IP1"
}

t_qemu_gets_the_tap() {
    # QEMU has the tap by fd as virtio-net with the leased MAC, and the
    # init the address, prefix and gateway; the tap is a port of lvm0.
    local pid
    pid=$(field rn1 pid)
    tr '\0' ' ' <"/proc/$pid/cmdline" >"$TMP/cmdline"
    cat "$TMP/cmdline"
    echo
    contains "$TMP/cmdline" "-netdev tap,id=n0,fd=" &&
        contains "$TMP/cmdline" "virtio-net-device,netdev=n0,mac=$MAC1" &&
        contains "$TMP/cmdline" "tinyx.ip=$IP1/16 tinyx.gw=10.213.0.1" || return 1
    ! grep -q "user,id=n0" "$TMP/cmdline" || return 1
    nsx ip -o link show master lvm0 | grep -q " $TAP1[:@]" ||
        { nsx ip -o link show master lvm0; return 1; }
    # The tap's fd is all QEMU has of the network: its own network
    # namespace holds nothing but loopback (docs/security.md).
    [ "$(readlink "/proc/$pid/ns/net")" != "$(readlink "/proc/$DAEMON_PID/ns/net")" ] ||
        { echo "QEMU is in the daemon's network namespace"; return 1; }
    nsenter -t "$pid" -n ip -o link | tee "$TMP/qemu-links"
    [ "$(wc -l <"$TMP/qemu-links")" -eq 1 ] && grep -q ": lo:" "$TMP/qemu-links"
}

t_list_and_stats() {
    local id tx
    id=$(field rn1 id)
    $LIGHTVM list | grep -q "^$id .* $IP1 " || { $LIGHTVM list; return 1; }
    $LIGHTVM stats rn1 | grep -q "$MAC1" || { $LIGHTVM stats; return 1; }
    tx=$($LIGHTVM stats --json rn1 | sed -n 's/.*"tx_packets":\([0-9]*\).*/\1/p')
    [ "${tx:-0}" -gt 0 ] || { echo "no packets counted"; $LIGHTVM stats --json rn1; return 1; }
}

t_filter_entry() {
    # The guest's tap is held to its MAC and address, as a proc guest's.
    nsx nft list set bridge lightvm guest_port | tee "$TMP/port" &&
        nsx nft list set bridge lightvm guest_mac | tee "$TMP/mac" &&
        nsx nft list set bridge lightvm guest_ip | tee "$TMP/ip" || return 1
    contains "$TMP/port" "$TAP1" &&
        contains "$TMP/mac" "\"$TAP1\" . $MAC1" &&
        contains "$TMP/ip" "\"$TAP1\" . $IP1"
}

# rn2 is on a bridge of its own, which the daemon's sweep at start does
# not cover: only the daemon's record of rn2 can release its lease.
BR2=lvmq1
t_other_bridge_and_refusals() {
    local ip bridge
    create_net rn2 --net=$BR2 --net-subnet 10.232.0.1/24 --ip 10.232.0.77 \
        >/dev/null || return 1
    read -r ip _ _ bridge <<<"$(nic_of rn2)"
    [ "$ip $bridge" = "10.232.0.77 $BR2" ] || { guest_json rn2; return 1; }
    # The prefix is the bridge's.
    tr '\0' ' ' <"/proc/$(field rn2 pid)/cmdline" |
        grep -q "tinyx.ip=10.232.0.77/24 tinyx.gw=10.232.0.1" || return 1
    # The address is taken: refused in one line, nothing made.
    ! $LIGHTVM create --monitor qemu --net=$BR2 --ip 10.232.0.77 "$TMP/redis" \
        2>"$TMP/taken.err" || return 1
    cat "$TMP/taken.err"
    contains "$TMP/taken.err" "in use" && [ "$(wc -l <"$TMP/taken.err")" -eq 1 ] ||
        return 1
    # Ports are user-mode networking's: not with --net.
    ! $LIGHTVM create --monitor qemu --net -p 0:6379 "$TMP/redis" \
        2>"$TMP/ports.err" || return 1
    cat "$TMP/ports.err"
    contains "$TMP/ports.err" "exclude each other" &&
        [ "$(wc -l <"$TMP/ports.err")" -eq 1 ] || return 1
    $API "$LIGHTVM_SOCKET" \
        '{"op":"create","monitor":"qemu","image":"'"$TMP/redis"'","net":{"dhcp":true}}' \
        >"$TMP/api.out"
    cat "$TMP/api.out"
    [ "$(grep -c '"ok":false' "$TMP/api.out")" -eq 1 ] &&
        contains "$TMP/api.out" "DHCP is not supported for qemu guests" || return 1
    # A guest with a NIC on a bridge could not be restored (QEMU restores
    # the NIC, a restore gets no tap): it is not saved, nor destroyed.
    ! $LIGHTVM save rn2 "$TMP/rn2.state" 2>"$TMP/save.err" || return 1
    cat "$TMP/save.err"
    contains "$TMP/save.err" "has a NIC on a bridge" &&
        [ "$(wc -l <"$TMP/save.err")" -eq 1 ] && [ ! -e "$TMP/rn2.state" ] &&
        [ "$(field rn2 state)" = running ] || return 1
    [ "$($LIGHTVM list -q | wc -l)" -eq 2 ] || { $LIGHTVM list; return 1; }
    # Only the two guests' taps and leases exist.
    [ "$(nsx ip -o link show master lvm0 | grep -c ' lvt')" -eq 1 ] &&
        [ "$(nsx ip -o link show master $BR2 | grep -c ' lvt')" -eq 1 ] ||
        { nsx ip -o link show; return 1; }
    [ "$(find "$LIGHTVM_RUN_DIR/net" -type f | wc -l)" -eq 2 ] ||
        { find "$LIGHTVM_RUN_DIR/net" -type f; return 1; }
}

t_restart_kill9() {
    # The daemon dies; QEMU keeps the tap and the guest keeps answering;
    # the next daemon adopts it with its NIC.
    kill -9 "$DAEMON_PID"
    wait "$DAEMON_PID" 2>/dev/null
    DAEMON_PID=
    ping_redis "$IP1" || { echo "guest died with the daemon"; return 1; }
    daemon_start --pool 0 || return 1
    guest_json rn1 | grep -q '"state":"running".*"adopted":true' ||
        { guest_json rn1; return 1; }
    [ "$(nic_of rn1)" = "$IP1 $MAC1 $TAP1 lvm0" ] || { guest_json rn1; return 1; }
    ping_redis "$IP1"
}

t_destroy_releases() {
    # An adopted guest's tap, lease and filter entry go with it.
    local pid
    pid=$(field rn1 pid)
    $LIGHTVM destroy rn1 >/dev/null || return 1
    alive "$pid" && { echo "QEMU $pid still runs"; return 1; }
    gone "$TAP1" "$IP1"
}

t_died_while_down() {
    # rn2's QEMU dies while no daemon runs: the next daemon releases its
    # lease and filter entry (its tap went with QEMU), from its record
    # alone (the start-up sweep covers only lvm0). Found gone, or adopted
    # and seen exiting where PID 1 leaves the zombie unreaped.
    local ip tap pid
    read -r ip _ tap _ <<<"$(nic_of rn2)"
    pid=$(field rn2 pid)
    [ -n "$pid" ] && [ -n "$tap" ] || return 1
    kill -9 "$DAEMON_PID"
    wait "$DAEMON_PID" 2>/dev/null
    DAEMON_PID=
    kill -9 "$pid"
    "$NETC" wait-pid "$pid" 10000 || { echo "QEMU $pid did not die"; return 1; }
    # Still there before the daemon comes back (so the test can fail).
    find "$LIGHTVM_RUN_DIR/net" -type f -name "$ip" | grep -q . ||
        { echo "no lease to release"; return 1; }
    daemon_start --pool 0 || return 1
    [ "$(field rn2 state)" = exited ] || { guest_json rn2; return 1; }
    gone "$tap" "$ip" || return 1
    $LIGHTVM destroy rn2 >/dev/null
}

t_no_leftovers() {
    daemon_stop
    [ -z "$(ls "$LIGHTVM_RUN_DIR/guests")" ] || { ls "$LIGHTVM_RUN_DIR/guests"; return 1; }
    [ "$(nsx ip -o link show 2>/dev/null | grep -c ' lvt')" -eq 0 ] ||
        { nsx ip -o link show; return 1; }
    [ -z "$(find "$LIGHTVM_RUN_DIR/net" -type f 2>/dev/null)" ] ||
        { find "$LIGHTVM_RUN_DIR/net" -type f; return 1; }
    [ -z "$(nsx nft list set bridge lightvm guest_port | grep elements)" ] ||
        { nsx nft list set bridge lightvm guest_port; return 1; }
    local pid
    for pid in $(cat "$QEMU_PIDS"); do
        alive "$pid" && { echo "QEMU $pid still runs"; return 1; }
    done
    no_new_leftovers
}

: >"$QEMU_PIDS"
daemon_start --pool 0 || { echo "0 passed, 1 failed"; exit 1; }
check build_image t_build_image
check create_answers t_create_answers
check qemu_gets_the_tap t_qemu_gets_the_tap
check list_and_stats t_list_and_stats
check filter_entry t_filter_entry
check other_bridge_and_refusals t_other_bridge_and_refusals
check restart_kill9 t_restart_kill9
check destroy_releases t_destroy_releases
check died_while_down t_died_while_down
check no_leftovers t_no_leftovers
finish
