#!/bin/bash
# test_qemu_nics.sh: a qemu (Tinyx) guest with two NICs on two bridges,
# through lightvmd (`lightvm create --monitor qemu --net
# --net=net1=BRIDGE`): each NIC its own tap, MAC, lease and filter entry
# (toolstack/nic.c, as a proc guest's), QEMU a virtio-net device per tap
# with its MAC, and the Tinyx init configuring each NIC it is told about
# by MAC (tinyx.mac=, tinyx.nic=MAC,ADDR/PREFIX). A redis guest answers
# PING on both addresses, each from the host side of its own bridge. One
# guest boot (TCG is slow); a member's policy on the NICs of a qemu guest
# is checked with requests that are refused before anything boots.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
. tests/net/netlib.sh

KERNEL=${TINYX_TEST_KERNEL:-auto}
API=$BUILD/tests/tools/apiclient
QEMU_PIDS=$TMP/qemu.pids
export LIGHTVM_SOCKET=$TMP/run/lightvmd.sock
LIGHTVMD="nsenter --net=/run/netns/$NS $BUILD/bin/lightvmd"
GRP=nmqg$$
MEMBER=nmqu$$
BR1=nmq1 # the operator's default network (members')
BR2=nmq2 # another network members may use
nics_cleanup() {
    daemon_stop
    local pid
    for pid in $(cat "$QEMU_PIDS" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
    userdel "$MEMBER" 2>/dev/null
    groupdel "$GRP" 2>/dev/null
    net_cleanup
}
trap nics_cleanup EXIT

net_setup || { echo "cannot create a network namespace"; exit 1; }
groupadd "$GRP" && useradd -M -N -s /usr/sbin/nologin -g "$GRP" "$MEMBER" ||
    { echo "cannot make the test user"; exit 1; }
as_member() { setpriv --reuid "$MEMBER" --regid "$GRP" --init-groups "$@"; }

CONF=$TMP/lightvmd.conf
cat >"$CONF" <<EOF2
{
  "networks": [
    {"bridge": "$BR1", "subnet": "10.234.0.1/24", "default": true},
    {"bridge": "$BR2", "subnet": "10.235.0.1/24"}
  ]
}
EOF2

ping_redis() { # IP: +PONG from redis at IP:6379, from the bridges' side
    local reply
    reply=$(nsx timeout 15 bash -c 'exec 3<>"/dev/tcp/$0/6379" || exit 1
        printf "PING\r\n" >&3; read -r -t 10 r <&3; echo "$r"' "$1")
    echo "PING $1: $reply"
    [[ $reply == "+PONG"* ]]
}

# NIC DEV of guest NAME as "ip mac tap bridge", from list --json.
nic_of() {
    guest_json "$1" | grep -o '{"dev":"'"$2"'","mac":"[^"]*","bridge":"[^"]*","tap":"[^"]*","ip":"[^"]*"' |
        sed 's/.*"mac":"\([^"]*\)","bridge":"\([^"]*\)","tap":"\([^"]*\)","ip":"\([^"]*\)"/\4 \1 \3 \2/'
}

t_build_image() {
    "$LIGHTVM" tinyx build -q --kernel "$KERNEL" -z gzip:1 redis-server \
        -o "$TMP/redis" && chmod -R a+rX "$TMP/redis"
}

IP0= MAC0= TAP0= IP1= MAC1= TAP1=
t_create_two_nics() {
    local id b0 b1
    id=$($LIGHTVM create --monitor qemu --net --name rq \
        "--net=net1=$BR2" "$TMP/redis") || return 1
    field "$id" pid >>"$QEMU_PIDS"
    read -r IP0 MAC0 TAP0 b0 <<<"$(nic_of rq net0)"
    read -r IP1 MAC1 TAP1 b1 <<<"$(nic_of rq net1)"
    echo "net0 $IP0 $MAC0 $TAP0 $b0; net1 $IP1 $MAC1 $TAP1 $b1"
    [ "$b0" = $BR1 ] && [ "$b1" = $BR2 ] || { guest_json rq; return 1; }
    [[ $IP0 == 10.234.0.* ]] && [[ $IP1 == 10.235.0.* ]] || return 1
    [ "$MAC0" != "$MAC1" ] && [ "$TAP0" != "$TAP1" ] || return 1
    wait_ready rq
}

t_qemu_gets_both_taps() {
    local pid
    pid=$(field rq pid)
    tr '\0' ' ' <"/proc/$pid/cmdline" >"$TMP/cmdline"
    cat "$TMP/cmdline"
    echo
    contains "$TMP/cmdline" "virtio-net-device,netdev=n0,mac=$MAC0" &&
        contains "$TMP/cmdline" "-netdev tap,id=n1,fd=" &&
        contains "$TMP/cmdline" "virtio-net-device,netdev=n1,mac=$MAC1" &&
        contains "$TMP/cmdline" "tinyx.ip=$IP0/24 tinyx.gw=10.234.0.1" &&
        contains "$TMP/cmdline" "tinyx.mac=$MAC0" &&
        contains "$TMP/cmdline" "tinyx.nic=$MAC1,$IP1/24" || return 1
    nsx ip -o link show master $BR1 | grep -q " $TAP0[:@]" &&
        nsx ip -o link show master $BR2 | grep -q " $TAP1[:@]" ||
        { nsx ip -o link show; return 1; }
}

# Each NIC answers from the host side of its own bridge: the namespace
# reaches 10.235.0.0/24 only through nmq2, hence only through net1.
t_answers_on_both() {
    nsx ip route get "$IP1" | grep -q "dev $BR2" || return 1
    ping_redis "$IP0" || return 1
    ping_redis "$IP1"
}

# Both taps are held to their own MAC and address.
t_filter_entries() {
    nsx nft list set bridge lightvm guest_mac >"$TMP/mac" &&
        nsx nft list set bridge lightvm guest_ip >"$TMP/ip" || return 1
    contains "$TMP/mac" "\"$TAP0\" . $MAC0" &&
        contains "$TMP/mac" "\"$TAP1\" . $MAC1" &&
        contains "$TMP/ip" "\"$TAP0\" . $IP0" &&
        contains "$TMP/ip" "\"$TAP1\" . $IP1" || { cat "$TMP/mac" "$TMP/ip"; return 1; }
}

# A member's qemu guest may put a NIC only on the operator's networks,
# never in forwarding mode, never with an address of its choosing: each
# refused with "denied", before any QEMU starts or any link is made.
t_member_policy() {
    local req out before after
    before=$(nsx ip -o link show)
    for req in '["net1=nmq9"]' '["net1='$BR2',forward"]' '["net1='$BR2',ip=10.235.0.99"]'; do
        out=$(as_member "$API" "$LIGHTVM_SOCKET" \
            '{"op":"create","monitor":"qemu","image":"'"$TMP/redis"'","net":{"nics":'"$req"'}}')
        echo "$req: $out"
        echo "$out" | grep -qF '"code":"denied"' || return 1
        echo "$out" | grep -qF '"message":"field net.nics' || return 1
    done
    after=$(nsx ip -o link show)
    [ "$before" = "$after" ] || { diff <(echo "$before") <(echo "$after"); return 1; }
    [ "$($LIGHTVM list -q | wc -l)" -eq 1 ]
}

# Five NICs are one too many: refused before any NIC is attached, so the
# bridges the extra NICs name are never made.
t_too_many_nics() {
    local out before after
    before=$(nsx ip -o link show)
    out=$($LIGHTVM create --monitor qemu --net --name rq5 --net=n1=nmqx1 \
        --net=n2=nmqx2 --net=n3=nmqx3 --net=n4=nmqx4 "$TMP/redis" 2>&1) &&
        { echo "created: $out"; return 1; }
    echo "$out"
    [[ $out == *"at most 4 NICs"* ]] || return 1
    after=$(nsx ip -o link show)
    [ "$before" = "$after" ] || { diff <(echo "$before") <(echo "$after"); return 1; }
    [ "$($LIGHTVM list -q | wc -l)" -eq 1 ]
}

t_destroy_releases() {
    $LIGHTVM destroy rq >/dev/null || return 1
    ! nsx ip link show "$TAP0" >/dev/null 2>&1 &&
        ! nsx ip link show "$TAP1" >/dev/null 2>&1 || return 1
    [ -z "$(find "$LIGHTVM_RUN_DIR/net" -type f 2>/dev/null)" ] ||
        { find "$LIGHTVM_RUN_DIR/net" -type f; return 1; }
    ! nsx nft list set bridge lightvm guest_port | grep -q "lvt"
}

: >"$QEMU_PIDS"
daemon_start --pool 0 --group "$GRP" --config "$CONF" ||
    { echo "0 passed, 1 failed"; exit 1; }
check build_image t_build_image
check create_two_nics t_create_two_nics
check qemu_gets_both_taps t_qemu_gets_both_taps
check answers_on_both t_answers_on_both
check filter_entries t_filter_entries
check member_policy t_member_policy
check too_many_nics t_too_many_nics
check destroy_releases t_destroy_releases
finish
