#!/bin/bash
# test_firewall.sh: guests with two NICs on two bridges, the bridge
# filter's forwarding mode, and examples/firewall end to end. A user
# namespace (a veth on the users' bridge, default route via the firewall's
# user0) and an upstream namespace (a veth on the upstream bridge, a route
# to the users via the firewall's up0) talk only through the firewall
# guest: the bridges' namespace does not forward IPv4. Checked both ways:
# what the rules allow arrives, what they deny does not (a denied datagram
# is sent before an allowed "done", and the frames of one direction pass
# the firewall in order), the rate limit, a rule file with an error, a
# normal NIC still dropping forwarded frames, and floods on either NIC.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
. tests/net/netlib.sh

FW=$EXAMPLES/firewall/firewall.elf
FWB=$EXAMPLES/firewall/firewall-blk.elf
PROBE=tests/net/tools/fwprobe.py
UNS=${NS}u # the first user
VNS=${NS}v # the second user
PNS=${NS}p # upstream
V=nf$$     # veth names (made in the root namespace first)

fw_cleanup() {
    ip netns del "$UNS" 2>/dev/null
    ip netns del "$VNS" 2>/dev/null
    ip netns del "$PNS" 2>/dev/null
    net_cleanup
}
trap fw_cleanup EXIT

inu() { nsenter --net=/run/netns/"$UNS" "$@"; }
inv() { nsenter --net=/run/netns/"$VNS" "$@"; }
inp() { nsenter --net=/run/netns/"$PNS" "$@"; }

setup() {
    net_setup || return 1
    ip netns add "$UNS" && ip netns add "$VNS" && ip netns add "$PNS" ||
        return 1
    inu ip link set lo up && inv ip link set lo up && inp ip link set lo up ||
        return 1
    # The bridges' namespace must not route between them itself (a new
    # namespace may inherit forwarding from the host's).
    nsx sysctl -qw net.ipv4.ip_forward=0 || return 1
    nsx "$LIGHTVM" net up --subnet 10.77.0.1/16 fwu >/dev/null || return 1
    nsx "$LIGHTVM" net up --subnet 10.78.0.1/16 fwp >/dev/null || return 1
    veth "${V}u" "$UNS" fwu 10.77.1.10/16 || return 1
    veth "${V}p" "$PNS" fwp 10.78.1.10/16 || return 1
    inu ip route add default via 10.77.0.2 || return 1
    inp ip route add 10.77.0.0/16 via 10.78.0.2
}

# rules_file NAME TEXT...: a rule file, padded to whole 512-byte blocks
# for a block device.
rules_file() {
    local f=$TMP/$1.rules
    shift
    printf '%s\n' "$@" >"$f"
    truncate -s %512 "$f"
    echo "$f"
}

# start_fw NAME USER0_IP UP0_IP RULEFILE [USER0 OPTIONS]: a firewall from
# the block-device image; sets FW_PID. Both spellings of --net's value:
# the issue's `--net up0=...` as a word of its own, and `--net=user0=...`.
start_fw() {
    local name=$1 uip=$2 pip=$3 rules=$4 uopt=${5-,forward}
    start_guest "$name" "$FWB" --block "rules=$rules:ro" \
        "--net=user0=fwu,ip=$uip$uopt" --net "up0=fwp,ip=$pip,forward" ||
        return 1
    FW_PID=$GUEST_PID
    "$NETC" wait-text "$TMP/$name.out" "firewall:" 5000 "$FW_PID" >/dev/null
}

# listen NSCMD PORT UNTIL OUT: a datagram listener in the background.
listen_bg() {
    local ns=$1 port=$2 until=$3 out=$4
    : >"$out"
    nsenter --net=/run/netns/"$ns" python3 "$PROBE" listen "$port" "$until" \
        10000 >"$out" &
    LISTENER=$!
    "$NETC" wait-text "$out" listening 5000 "$LISTENER" >/dev/null
}

RULES_A=
test_start() {
    setup || return 1
    RULES_A=$(rules_file a "# user a" "default deny" \
        "allow out tcp to any port 80" "allow in tcp from any port 80" \
        "allow udp from any port 6000 to any port 7000")
    start_fw fwa 10.77.0.2 10.78.0.2 "$RULES_A" || return 1
    FWA_PID=$FW_PID
    contains "$TMP/fwa.err" "user0: ip 10.77.0.2/16" || return 1
    contains "$TMP/fwa.err" "bridge fwu" || return 1
    contains "$TMP/fwa.err" "up0: ip 10.78.0.2/16" || return 1
    contains "$TMP/fwa.err" "bridge fwp" || return 1
    local tu tp
    tu=$(sed -n 's/.* user0: .* tap \(lvt[0-9a-fn]*\).*/\1/p' "$TMP/fwa.err")
    tp=$(sed -n 's/.* up0: .* tap \(lvt[0-9a-fn]*\).*/\1/p' "$TMP/fwa.err")
    # Each tap a port of its own bridge, both in forwarding mode.
    nsx ip -o link show "$tu" | grep -q "master fwu" || return 1
    nsx ip -o link show "$tp" | grep -q "master fwp" || return 1
    nsx nft list set bridge lightvm fwd_port >"$TMP/fwd.txt" || return 1
    contains "$TMP/fwd.txt" "$tu" && contains "$TMP/fwd.txt" "$tp"
}

# One direction: a denied datagram (source port 6001), then an allowed
# "done" (6000); only "done" may arrive.
udp_way() {
    local from=$1 to=$2 dst=$3 out=$4
    listen_bg "$to" 7000 done "$out" || return 1
    nsenter --net=/run/netns/"$from" python3 "$PROBE" send "$dst" 7000 6001 \
        denied || return 1
    nsenter --net=/run/netns/"$from" python3 "$PROBE" send "$dst" 7000 6000 \
        done || return 1
    wait "$LISTENER" || { cat "$out"; return 1; }
    if grep -q denied "$out"; then
        echo "a denied datagram passed:"
        cat "$out"
        return 1
    fi
    contains "$out" "done from $5"
}

test_udp_out() {
    # The source address is the user's own: the firewall routes, no NAT.
    udp_way "$UNS" "$PNS" 10.78.1.10 "$TMP/out.txt" 10.77.1.10
}

test_udp_in() {
    udp_way "$PNS" "$UNS" 10.77.1.10 "$TMP/in.txt" 10.78.1.10
}

test_tcp_allowed() {
    serve_bg "$PNS" 80 1 "$TMP/serve.txt" || return 1
    inu python3 "$PROBE" tcp 10.78.1.10 80 hello 5000 >"$TMP/tcp.txt" ||
        return 1
    wait "$SERVER_PID"
    contains "$TMP/tcp.txt" "re:hello" && contains "$TMP/serve.txt" \
        "peer 10.77.1.10"
}

# A second user with its own rules: UDP to port 7000 from any port, no
# TCP. The first user's rule (source port 6000) does not apply to it.
test_second_user() {
    local rb
    rb=$(rules_file b "default deny" "allow udp to any port 7000" \
        "allow udp from any port 7000")
    start_fw fwb 10.77.0.3 10.78.0.3 "$rb" || return 1
    FWB_PID=$FW_PID
    veth "${V}v" "$VNS" fwu 10.77.2.10/16 || return 1
    inv ip route add default via 10.77.0.3 || return 1
    inp ip route add 10.77.2.10/32 via 10.78.0.3 || return 1
    listen_bg "$PNS" 7000 done "$TMP/b.txt" || return 1
    inv python3 "$PROBE" send 10.78.1.10 7000 6001 b-anyport || return 1
    inv python3 "$PROBE" send 10.78.1.10 7000 6001 done || return 1
    wait "$LISTENER" || { cat "$TMP/b.txt"; return 1; }
    contains "$TMP/b.txt" "b-anyport from 10.77.2.10"
}

# 1 Mbit/s with a 16 KiB bucket: of 4 MB sent at once, a small part
# arrives (a byte count far below what was sent; not a timing check).
test_rate_limit() {
    local rl got n bytes
    rl=$(rules_file rl "default allow" "limit 1mbit burst 16k")
    start_fw fwr 10.77.0.4 10.78.0.4 "$rl" || return 1
    local pid=$FW_PID
    inu ip route add 10.78.1.10/32 via 10.77.0.4 src 10.77.1.10 || return 1
    inp ip route add 10.77.1.10/32 via 10.78.0.4 || return 1
    : >"$TMP/count.txt"
    inp python3 "$PROBE" count 7100 1000 20000 >"$TMP/count.txt" &
    local cnt=$!
    "$NETC" wait-text "$TMP/count.txt" listening 5000 "$cnt" >/dev/null ||
        return 1
    inu python3 "$PROBE" send 10.78.1.10 7100 6100 x 4000 1000 || return 1
    wait "$cnt" || return 1
    inu ip route del 10.78.1.10/32 via 10.77.0.4
    inp ip route del 10.77.1.10/32 via 10.78.0.4
    read -r n bytes < <(tail -n 1 "$TMP/count.txt")
    echo "received $n datagrams, $bytes bytes of 4000000"
    stop_guest "$pid" || return 1
    contains "$TMP/fwr.out" "limited" || return 1
    # Something passes (the limit is not a deny), most does not.
    [ "$n" -gt 0 ] && [ "$bytes" -lt 1000000 ]
}

# A rule file with an error: refused with its line, before any traffic.
test_rule_error() {
    local bad
    bad=$(rules_file bad "default deny" "allow tcp to any port 80" \
        "allow tcp from 10.0.0.0/33")
    nsx "$LIGHTVM" run --name fwbad --block "rules=$bad:ro" \
        --net=user0=fwu --net=up0=fwp "$FWB" >"$TMP/bad.out" \
        2>"$TMP/bad.err"
    local rc=$?
    cat "$TMP/bad.out" "$TMP/bad.err"
    [ "$rc" -eq 2 ] || { echo "exit status $rc, not 2"; return 1; }
    contains "$TMP/bad.out" "firewall: rules:3: '10.0.0.0/33' is not an address"
    # The same line from the host's checker, named after the file.
    "$BUILD/bin/firewall-check" "$bad" 2>"$TMP/check.err"
    [ $? -eq 1 ] && contains "$TMP/check.err" "$bad:3: '10.0.0.0/33'"
}

# The image's own file tree: the rules built into firewall.elf.
test_file_tree_rules() {
    nsx "$LIGHTVM" run --name fwtree --net=user0=fwu --net=up0=fwp "$FW" \
        -- /etc/nope.rules >"$TMP/tree1.out" 2>&1
    [ $? -eq 2 ] && contains "$TMP/tree1.out" "cannot open /etc/nope.rules" ||
        return 1
    start_guest fwt "$FW" --net=user0=fwu,ip=10.77.0.5,forward \
        --net=up0=fwp,ip=10.78.0.5,forward || return 1
    local pid=$GUEST_PID
    "$NETC" wait-text "$TMP/fwt.out" "firewall: 5 rules, default deny" 5000 \
        "$pid" >/dev/null || { cat "$TMP/fwt.out"; return 1; }
    stop_guest "$pid"
}

# user0 in normal mode: the firewall forwards the upstream's datagram, but
# the bridge filter drops it (its source address is not the guest's),
# while user -> upstream still works through up0's forwarding mode.
test_normal_nic_drops_forwarded() {
    local r
    r=$(rules_file nf "default allow")
    start_fw fwn 10.77.0.6 10.78.0.6 "$r" "" || return 1
    local pid=$FW_PID
    inu ip route add 10.78.1.10/32 via 10.77.0.6 src 10.77.1.10 || return 1
    inp ip route add 10.77.1.10/32 via 10.78.0.6 || return 1
    listen_bg "$PNS" 7200 done "$TMP/nf-out.txt" || return 1
    inu python3 "$PROBE" send 10.78.1.10 7200 6200 done || return 1
    wait "$LISTENER" || { echo "user -> upstream failed"; return 1; }
    : >"$TMP/nf-in.txt"
    # A bounded wait for what must not come.
    inu python3 "$PROBE" listen 7201 done 2000 >"$TMP/nf-in.txt" &
    local l=$!
    "$NETC" wait-text "$TMP/nf-in.txt" listening 5000 "$l" >/dev/null ||
        return 1
    inp python3 "$PROBE" send 10.77.1.10 7201 6201 done 5 || return 1
    local got=0
    wait "$l" && got=1
    inu ip route del 10.78.1.10/32 via 10.77.0.6
    inp ip route del 10.77.1.10/32 via 10.78.0.6
    stop_guest "$pid" || return 1
    # The guest did forward it (its counter), the bridge dropped it.
    contains "$TMP/fwn.out" "forwarded 1 out 5 in" || return 1
    [ "$got" -eq 0 ] || { echo "a forwarded frame left a normal NIC"; return 1; }
}

# Floods on either NIC (broadcast storms, garbage and bad IPv4 unicast to
# the firewall's MAC): it keeps forwarding, and so does the second user's.
test_floods() {
    local macu macp
    macu=$(sed -n 's/.* user0: .* mac \([0-9a-f:]*\) .*/\1/p' "$TMP/fwa.err")
    macp=$(sed -n 's/.* up0: .* mac \([0-9a-f:]*\) .*/\1/p' "$TMP/fwa.err")
    inu "$NETC" inject "${V}u" storm 50000 >/dev/null || return 1
    inp "$NETC" inject "${V}p" storm 50000 >/dev/null || return 1
    inu "$NETC" inject "${V}u" garbage 20000 "$macu" 10.77.0.2 >/dev/null ||
        return 1
    inp "$NETC" inject "${V}p" ipbad 20000 "$macp" 10.78.0.2 >/dev/null ||
        return 1
    inu "$NETC" inject "${V}u" truncated 20000 "$macu" 10.77.0.2 >/dev/null ||
        return 1
    kill -0 "$FWB_PID" && kill -0 "$FWA_PID" || return 1
    udp_way "$UNS" "$PNS" 10.78.1.10 "$TMP/out2.txt" 10.77.1.10 || return 1
    udp_way "$PNS" "$UNS" 10.77.1.10 "$TMP/in2.txt" 10.78.1.10 || return 1
    listen_bg "$PNS" 7000 done "$TMP/b2.txt" || return 1
    inv python3 "$PROBE" send 10.78.1.10 7000 6001 done || return 1
    wait "$LISTENER" && contains "$TMP/b2.txt" "done from 10.77.2.10"
}

test_bad_net_args() {
    local bad
    for bad in "--net=user0=" "--net==fwu" "--net=user0=fwu,bogus" \
        "--net=user0=fwu,subnet=10.1.2.3/40" "--net=user0=fwu,ip=1.2.3"; do
        nsx "$LIGHTVM" run "$bad" "$FW" >"$TMP/arg.out" 2>&1
        [ $? -eq 2 ] || { echo "$bad: not refused"; cat "$TMP/arg.out"; return 1; }
        [ "$(wc -l <"$TMP/arg.out")" -eq 1 ] || { cat "$TMP/arg.out"; return 1; }
    done
    nsx "$LIGHTVM" run --net=user0=fwu --net=user0=fwp "$FW" >"$TMP/arg.out" 2>&1
    contains "$TMP/arg.out" "NIC user0 named twice" || return 1
    # A NIC the manifest does not declare: refused before anything is made.
    nsx "$LIGHTVM" run --net=user0=fwu --net=up0=fwp --net=eth9=fwp "$FW" \
        >"$TMP/arg.out" 2>&1
    [ $? -ne 0 ] && contains "$TMP/arg.out" "no network device named eth9"
}

test_stop_releases() {
    stop_guest "$FWA_PID" || return 1
    stop_guest "$FWB_PID" || return 1
    local n
    n=$(nsx nft list set bridge lightvm fwd_port | grep -c lvt)
    [ "$n" -eq 0 ] || { nsx nft list set bridge lightvm fwd_port; return 1; }
    [ -z "$(nsx ip -o link show type tun)" ]
}

check firewall_two_bridges test_start
check firewall_udp_out test_udp_out
check firewall_udp_in test_udp_in
check firewall_tcp_allowed test_tcp_allowed
check firewall_second_user test_second_user
check firewall_rate_limit test_rate_limit
check firewall_rule_error test_rule_error
check firewall_file_tree_rules test_file_tree_rules
check firewall_normal_nic_drops_forwarded test_normal_nic_drops_forwarded
check firewall_floods test_floods
check firewall_bad_net_args test_bad_net_args
check firewall_stop_releases test_stop_releases
finish
