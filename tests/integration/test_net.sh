#!/bin/bash
# test_net.sh: the network examples answer a host client over a lightvm
# bridge; guests as clients (static address, DHCP, NAT); everything a
# guest had is gone after it stops, even after its toolstack was killed.
# All inside a network namespace made for the test.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
. tests/net/netlib.sh

DAYTIME=$EXAMPLES/daytime/daytime.elf
ECHO=$EXAMPLES/echo/echo.elf
HTTP=$EXAMPLES/http/http.elf
CLIENT=$NET_GUESTS/net_client.elf

net_setup || { echo "cannot create a network namespace"; exit 1; }

# What the namespace holds when no guest runs, to compare with later.
snapshot() {
    {
        nsx ip -o link show | awk '{print $2}'
        nsx ip -o addr show | awk '{print $2, $4}'
        nsx ip route show | sed "s/ linkdown//"
        nsx ip neigh show | grep -v FAILED
        nsx nft list set bridge lightvm guest_port 2>/dev/null | grep -c elements
        find "$LIGHTVM_RUN_DIR/net" -type f 2>/dev/null
    } | sort
}

test_daytime() {
    start_guest nd1 "$DAYTIME" --net || return 1
    local pid=$GUEST_PID
    nsx "$NETC" daytime "$GUEST_IP" || return 1
    nsx "$NETC" daytime "$GUEST_IP" || return 1 # a second client
    stop_guest "$pid"
}

test_prints_ip_and_mac() {
    start_guest nd2 "$DAYTIME" --net || return 1
    local pid=$GUEST_PID
    contains "$TMP/nd2.err" "net0: ip $GUEST_IP/16 mac $GUEST_MAC bridge lvm0" ||
        return 1
    # Locally administered, unicast: second-lowest bit set, lowest clear.
    local first=$((16#${GUEST_MAC%%:*}))
    [ $((first & 3)) -eq 2 ] || { echo "MAC $GUEST_MAC not local unicast"; return 1; }
    case $GUEST_IP in 10.213.*) ;; *) echo "address $GUEST_IP outside 10.213/16"; return 1 ;; esac
    # The tap carries the address the toolstack leased, and its guest's MAC.
    nsx ip link show "$GUEST_TAP" | grep -q "master lvm0" || return 1
    stop_guest "$pid"
}

test_echo_tcp_udp() {
    start_guest ne1 "$ECHO" --net || return 1
    local pid=$GUEST_PID
    nsx "$NETC" echo-tcp "$GUEST_IP" 7 1 || return 1
    nsx "$NETC" echo-tcp "$GUEST_IP" 7 300000 || return 1
    nsx "$NETC" echo-udp "$GUEST_IP" 7 50 || return 1
    stop_guest "$pid"
}

test_echo_other_port() {
    start_guest ne2 "$ECHO" --net -- 9007 || return 1
    local pid=$GUEST_PID
    nsx "$NETC" echo-tcp "$GUEST_IP" 9007 1000 || return 1
    nsx "$NETC" echo-udp "$GUEST_IP" 9007 7 || return 1
    stop_guest "$pid"
}

test_http_keepalive() {
    start_guest nh1 "$HTTP" --net || return 1
    local pid=$GUEST_PID
    nsx "$NETC" http "$GUEST_IP" 80 || return 1
    # And an ordinary client: two URLs, one connection.
    nsx curl -sS --max-time 5 -o /dev/null -o /dev/null -w '%{http_code} %{num_connects}\n' \
        "http://$GUEST_IP/" "http://$GUEST_IP/" >"$TMP/curl.txt" || return 1
    contains "$TMP/curl.txt" "200 1" || return 1
    contains "$TMP/curl.txt" "200 0" || return 1
    stop_guest "$pid"
}

test_fixed_address() {
    start_guest nf1 "$DAYTIME" --net --ip 10.213.77.77 || return 1
    local pid=$GUEST_PID
    [ "$GUEST_IP" = 10.213.77.77 ] || return 1
    # The address is taken now: a second guest may not have it.
    expect_status 125 nsx "$LIGHTVM" run --net --ip 10.213.77.77 "$DAYTIME" \
        >"$TMP/nf2.log" 2>&1 || return 1
    contains "$TMP/nf2.log" "in use" || return 1
    nsx "$NETC" daytime 10.213.77.77 || return 1
    stop_guest "$pid"
}

test_needs_net_option() {
    expect_status 125 "$LIGHTVM" run "$DAYTIME" >"$TMP/nonet.log" 2>&1 || return 1
    contains "$TMP/nonet.log" "needs network device net0: attach it with --net"
}

test_guest_is_client() {
    serve_bg "$NS" 7070 1 "$TMP/serve.txt" || return 1
    local server=$SERVER_PID
    nsx "$LIGHTVM" run --name nc1 --net "$CLIENT" tcp 10.213.0.1 7070 hello \
        >"$TMP/nc1.out" 2>"$TMP/nc1.err" || { cat "$TMP/nc1.out" "$TMP/nc1.err"; return 1; }
    wait "$server" || return 1
    contains "$TMP/nc1.out" "reply: re:hello" || return 1
    # UDP: the echo guest answers another guest across the bridge.
    start_guest ne3 "$ECHO" --net || return 1
    local pid=$GUEST_PID
    nsx "$LIGHTVM" run --name nc2 --net "$CLIENT" udp "$GUEST_IP" 7 ping-udp \
        >"$TMP/nc2.out" 2>&1 || { cat "$TMP/nc2.out"; return 1; }
    contains "$TMP/nc2.out" "reply: ping-udp" || return 1
    stop_guest "$pid"
}

test_dhcp() {
    command -v dnsmasq >/dev/null || { echo "dnsmasq missing"; return 1; }
    nsx "$LIGHTVM" net up lvm0 >/dev/null || return 1
    nsenter --net=/run/netns/"$NS" dnsmasq --keep-in-foreground --no-resolv --no-hosts --port=0 \
        --interface=lvm0 --bind-interfaces --dhcp-range=10.213.200.10,10.213.200.50,1h \
        --dhcp-leasefile="$TMP/dnsmasq.leases" --pid-file="$TMP/dnsmasq.pid" \
        --log-facility="$TMP/dnsmasq.log" &
    local dns=$!
    "$NETC" wait-text "$TMP/dnsmasq.log" "DHCP, IP range" 10000 "$dns" >/dev/null || return 1
    serve_bg "$NS" 7071 1 "$TMP/serve2.txt" || return 1
    local server=$SERVER_PID
    nsx "$LIGHTVM" run --name nd3 --net --net-dhcp "$CLIENT" tcp 10.213.0.1 7071 dhcp-hi \
        >"$TMP/nd3.out" 2>"$TMP/nd3.err"
    local rc=$?
    kill "$dns"
    wait "$dns"
    wait "$server"
    [ $rc -eq 0 ] || { cat "$TMP/nd3.out" "$TMP/nd3.err"; return 1; }
    contains "$TMP/nd3.err" "ip by DHCP" || return 1
    contains "$TMP/nd3.out" "net up: ip 10.213.200." || return 1
    contains "$TMP/nd3.out" "(dhcp)" || return 1
    contains "$TMP/nd3.out" "reply: re:dhcp-hi"
}

# NAT: a second namespace plays the outside world behind an uplink.
test_nat() {
    local out=lvmo$$
    ip netns add "$out" || return 1
    ip link add "vu$$" netns "$NS" type veth peer name "vo$$" netns "$out" || return 1
    nsx ip addr add 198.51.100.2/24 dev "vu$$"
    nsx ip link set "vu$$" up
    nsx ip route add default via 198.51.100.1
    ip -n "$out" addr add 198.51.100.1/24 dev "vo$$"
    ip -n "$out" link set "vo$$" up
    ip -n "$out" link set lo up
    serve_bg "$out" 7072 1 "$TMP/outside.txt" || return 1
    local server=$SERVER_PID
    nsx "$LIGHTVM" run --name nn1 --net --net-nat "$CLIENT" tcp 198.51.100.1 7072 nat-hi \
        >"$TMP/nn1.out" 2>"$TMP/nn1.err"
    local rc=$?
    wait "$server"
    ip netns del "$out"
    [ $rc -eq 0 ] || { cat "$TMP/nn1.out" "$TMP/nn1.err"; return 1; }
    contains "$TMP/nn1.out" "reply: re:nat-hi" || return 1
    # The outside saw the uplink's address, not the guest's.
    contains "$TMP/outside.txt" "peer 198.51.100.2" || return 1
    nsx nft list table ip lightvm_nat | grep -q masquerade
}

test_nothing_left() {
    nsx "$LIGHTVM" net up lvm0 >/dev/null || return 1
    local before after
    before=$(snapshot)
    start_guest nl1 "$DAYTIME" --net || return 1
    local pid=$GUEST_PID ip=$GUEST_IP tap=$GUEST_TAP
    nsx "$NETC" daytime "$ip" >/dev/null || return 1
    nsx ip neigh show "$ip" | grep -q lladdr || { echo "no ARP entry while running"; return 1; }
    ls "$LIGHTVM_RUN_DIR"/net/*/"$ip" >/dev/null || return 1
    stop_guest "$pid"
    after=$(snapshot)
    if [ "$before" != "$after" ]; then
        diff <(echo "$before") <(echo "$after")
        return 1
    fi
    ! nsx ip link show "$tap" 2>/dev/null
}

# The toolstack dies; its guest runs on, then dies too. The tap goes
# with the guest (the kernel's doing); the lease and filter entries stay
# until a sweep (or until the address is needed again).
test_sweep_after_crash() {
    start_guest ncr "$DAYTIME" --net || return 1
    local ip=$GUEST_IP tap=$GUEST_TAP
    kill -KILL "$GUEST_PID"
    wait "$GUEST_PID" 2>/dev/null
    nsx "$NETC" daytime "$ip" >/dev/null || { echo "guest died with its toolstack"; return 1; }
    local g
    g=$(guest_pids_by_name ncr)
    [ -n "$g" ] || return 1
    kill -KILL $g
    "$NETC" wait-pid "$g" 10000 || return 1
    ! nsx ip link show "$tap" 2>/dev/null || { echo "tap outlived its guest"; return 1; }
    ls "$LIGHTVM_RUN_DIR"/net/*/"$ip" >/dev/null || { echo "no stale lease to sweep"; return 1; }
    nsx "$LIGHTVM" net sweep >"$TMP/sweep.txt" || return 1
    contains "$TMP/sweep.txt" "removed 1 stale lease and 3 filter entries" || return 1
    ! ls "$LIGHTVM_RUN_DIR"/net/*/"$ip" 2>/dev/null
}

test_net_ls_counts() {
    start_guest nls "$ECHO" --net || return 1
    local pid=$GUEST_PID
    nsx "$NETC" echo-tcp "$GUEST_IP" 7 10000 >/dev/null || return 1
    nsx "$LIGHTVM" net ls >"$TMP/ls.txt" || return 1
    local line
    line=$(grep "^$GUEST_TAP " "$TMP/ls.txt") || { cat "$TMP/ls.txt"; return 1; }
    # RX bytes (what the guest received) at least the 10000 sent.
    [ "$(echo "$line" | awk '{print $6}')" -ge 10000 ] || { echo "$line"; return 1; }
    [ "$(echo "$line" | awk '{print $8}')" -ge 10000 ] || { echo "$line"; return 1; }
    stop_guest "$pid"
}

check net_daytime test_daytime
check net_prints_ip_and_mac test_prints_ip_and_mac
check net_echo_tcp_udp test_echo_tcp_udp
check net_echo_other_port test_echo_other_port
check net_http_keepalive test_http_keepalive
check net_fixed_address test_fixed_address
check net_needs_net_option test_needs_net_option
check net_guest_is_client test_guest_is_client
check net_dhcp test_dhcp
check net_nat test_nat
check net_nothing_left test_nothing_left
check net_sweep_after_crash test_sweep_after_crash
check net_ls_counts test_net_ls_counts
finish
