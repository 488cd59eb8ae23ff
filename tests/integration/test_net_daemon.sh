#!/bin/bash
# test_net_daemon.sh: network guests through lightvmd. The pool's network
# class makes taps ahead of time; a guest's address, MAC and counters show
# in list and stats; destroy removes its tap, lease and filter entry; a
# guest outlives a kill -9 of the daemon and the next daemon still cleans
# up after it. Everything inside a network namespace made for the test.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
. tests/net/netlib.sh

DAYTIME=$EXAMPLES/daytime/daytime.elf
API=$BUILD/tests/tools/apiclient
export LIGHTVM_SOCKET=$TMP/run/lightvmd.sock
LIGHTVMD="nsenter --net=/run/netns/$NS $BUILD/bin/lightvmd"
trap 'daemon_stop; net_cleanup' EXIT

net_setup || { echo "cannot create a network namespace"; exit 1; }

# NIC of guest ID as "ip mac tap", from list --json.
nic_of() {
    $LIGHTVM list --json "$1" |
        sed -n 's/.*"net":\[{"dev":"[^"]*","mac":"\([^"]*\)","bridge":"[^"]*","tap":"\([^"]*\)","ip":"\([^"]*\)".*/\3 \1 \2/p'
}

# Nothing of guest IP/TAP is left: no tap, no lease file, no filter entry.
gone() { # TAP IP
    ! nsx ip link show "$1" >/dev/null 2>&1 || { echo "tap $1 left"; return 1; }
    ! find "$LIGHTVM_RUN_DIR/net" -type f -name "$2" 2>/dev/null | grep -q . ||
        { echo "lease of $2 left"; return 1; }
    ! nsx nft list set bridge lightvm guest_port 2>/dev/null | grep -q "$1" ||
        { echo "filter entry of $1 left"; return 1; }
}

pool_net_ready() {
    $API "$LIGHTVM_SOCKET" '{"op":"pool"}' |
        grep -oE '"ready":[0-9]+,"preparing":[0-9]+,"net":true' |
        sed 's/"ready":\([0-9]*\).*/\1/'
}

t_pool_makes_taps() {
    # The network class's shells each have a tap on lvm0 already.
    local deadline=$((SECONDS + 30))
    until [ "$(pool_net_ready)" = 4 ]; do
        [ $SECONDS -lt $deadline ] || { $API "$LIGHTVM_SOCKET" '{"op":"pool"}'; return 1; }
        read -rt 0.05 <> <(:) 2>/dev/null || true
    done
    [ "$(nsx ip -o link show master lvm0 | grep -c ' lvt')" -ge 4 ]
}

t_daytime_pooled() {
    local taken id ip mac tap
    taken=$(pool_counter taken)
    id=$($LIGHTVM create --net "$DAYTIME") || return 1
    read -r ip mac tap <<<"$(nic_of "$id")"
    [ -n "$ip" ] || { $LIGHTVM list --json "$id"; return 1; }
    [ "$(pool_counter taken)" -eq $((taken + 1)) ] || { echo "not pooled"; return 1; }
    $LIGHTVM list --json "$id" | grep -q '"pooled":true' || return 1
    nsx "$NETC" daytime "$ip" || return 1
    # list shows the address; stats the MAC and what the guest sent.
    $LIGHTVM list | grep -q "^$id .* $ip " || { $LIGHTVM list; return 1; }
    $LIGHTVM stats "$id" | grep -q "$mac" || { $LIGHTVM stats; return 1; }
    local tx
    tx=$($LIGHTVM stats --json "$id" | sed -n 's/.*"tx_packets":\([0-9]*\).*/\1/p')
    [ "${tx:-0}" -gt 0 ] || { echo "no packets counted"; $LIGHTVM stats --json; return 1; }
    $LIGHTVM destroy "$id" >/dev/null || return 1
    gone "$tap" "$ip"
}

t_options_through_daemon() {
    local id ip mac tap
    id=$($LIGHTVM create --net --ip 10.213.99.9 "$DAYTIME") || return 1
    read -r ip mac tap <<<"$(nic_of "$id")"
    [ "$ip" = 10.213.99.9 ] || { echo "got $ip"; return 1; }
    nsx "$NETC" daytime 10.213.99.9 || return 1
    # The address is taken: a second guest is refused, in one line.
    ! $LIGHTVM create --net --ip 10.213.99.9 "$DAYTIME" 2>"$TMP/taken.err" || return 1
    contains "$TMP/taken.err" "in use" || return 1
    [ "$(wc -l <"$TMP/taken.err")" -eq 1 ] || return 1
    # A subnet that contradicts the existing bridge's.
    ! $LIGHTVM create --net --net-subnet 10.99.0.1/24 "$DAYTIME" 2>"$TMP/subnet.err" || return 1
    grep -qE "another subnet|already has address" "$TMP/subnet.err" ||
        { cat "$TMP/subnet.err"; return 1; }
    $LIGHTVM destroy "$id" >/dev/null || return 1
    gone "$tap" "$ip"
}

t_needs_net() {
    ! $LIGHTVM create "$DAYTIME" 2>"$TMP/nonet.err" || return 1
    contains "$TMP/nonet.err" "needs network device net0"
}

t_run_through_daemon() {
    local taken
    taken=$(pool_counter taken)
    nsenter --net=/run/netns/"$NS" "$LIGHTVM" run --name rd1 --net "$DAYTIME" \
        >"$TMP/rd1.out" 2>"$TMP/rd1.err" &
    local pid=$!
    GUEST_NAMES+=(rd1)
    local line ip
    line=$("$NETC" wait-ip "$TMP/rd1.err" 10000 "$pid") || { cat "$TMP/rd1.err"; return 1; }
    read -r ip _ <<<"$line"
    nsx "$NETC" daytime "$ip" || return 1
    [ "$(pool_counter taken)" -gt "$taken" ] || { echo "the pool was not used"; return 1; }
    stop_guest "$pid" || return 1
    [ -z "$($LIGHTVM list -q)" ]
}

t_restart_keeps_and_cleans() {
    local id ip mac tap
    id=$($LIGHTVM create --net "$DAYTIME") || return 1
    read -r ip mac tap <<<"$(nic_of "$id")"
    kill -9 "$DAEMON_PID"
    wait "$DAEMON_PID" 2>/dev/null
    DAEMON_PID=
    nsx "$NETC" daytime "$ip" || { echo "guest died with the daemon"; return 1; }
    daemon_start --pool 16M+net=4,16M=2 || return 1
    [ "$(nic_of "$id")" = "$ip $mac $tap" ] || { $LIGHTVM list --json; return 1; }
    nsx "$NETC" daytime "$ip" || return 1
    $LIGHTVM destroy "$id" >/dev/null || return 1
    gone "$tap" "$ip"
}

t_no_leftovers() {
    daemon_stop
    # The stopped daemon's pooled taps went with it.
    [ "$(nsx ip -o link show master lvm0 2>/dev/null | grep -c ' lvt')" -eq 0 ] ||
        { nsx ip -o link show master lvm0; return 1; }
    no_new_leftovers
}

daemon_start --pool 16M+net=4,16M=2 || { echo "0 passed, 1 failed"; exit 1; }
check pool_makes_taps t_pool_makes_taps
check daytime_pooled t_daytime_pooled
check options_through_daemon t_options_through_daemon
check needs_net t_needs_net
check run_through_daemon t_run_through_daemon
check restart_keeps_and_cleans t_restart_keeps_and_cleans
check no_leftovers t_no_leftovers
finish
