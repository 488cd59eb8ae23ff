#!/bin/bash
# test_tenant_net.sh: the operator's network policy (issue 11 items 1 and
# 5; docs/security.md "The API: networks and ports"). One lightvmd with a
# test config, in a network namespace of the test's own, serves root, a
# member of its --group (a user made for the test) and a member of the
# config's admin group. Each field a member may not set is refused with
# its one-line error and leaves the namespace's links, addresses, routes,
# forwarding and nftables exactly as they were; the member's default
# network works; root and the admin group may still do each; a member's
# privileged or wildcard port forward is refused before QEMU would start;
# a malformed config stops lightvmd at start with one line.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
. tests/net/netlib.sh

DAYTIME=$EXAMPLES/daytime/daytime.elf
API=$BUILD/tests/tools/apiclient
LIGHTVMD="nsenter --net=/run/netns/$NS $BUILD/bin/lightvmd"
# Names of our own: users, groups and bridges no other suite uses.
GRP=lvmtg$$
ADM=lvmta$$
MEMBER=lvmtu$$
ADMIN=lvmtv$$

tenant_cleanup() {
    daemon_stop
    userdel "$MEMBER" 2>/dev/null
    userdel "$ADMIN" 2>/dev/null
    groupdel "$GRP" 2>/dev/null
    groupdel "$ADM" 2>/dev/null
    net_cleanup
}
trap tenant_cleanup EXIT

net_setup || { echo "cannot create a network namespace"; exit 1; }
# A new namespace inherits the host's forwarding setting (devconf_inherit_init_net
# 0): start from off, so that turning it on is seen.
nsx sysctl -qw net.ipv4.ip_forward=0
groupadd "$GRP" && groupadd "$ADM" &&
    useradd -M -N -s /usr/sbin/nologin -g "$GRP" "$MEMBER" &&
    useradd -M -N -s /usr/sbin/nologin -g "$GRP" -G "$ADM" "$ADMIN" ||
    { echo "cannot make the test users"; exit 1; }
as_member() { setpriv --reuid "$MEMBER" --regid "$GRP" --init-groups "$@"; }
as_admin() { setpriv --reuid "$ADMIN" --regid "$GRP" --init-groups "$@"; }

# A host route members must not take over: a "LAN" on an uplink (a
# veth: this kernel has no dummy devices).
nsx ip link add uplink type veth peer name uplinkp && nsx ip addr add 10.240.0.1/16 dev uplink &&
    nsx ip link set uplink up || { echo "cannot make the uplink"; exit 1; }

CONF=$TMP/lightvmd.conf
cat >"$CONF" <<EOF
# test_tenant_net.sh: members get lvmt1; lvmt3 is a NAT network they may
# name, lvmt4 one without NAT; ports 20000-20099 on 127.0.0.1.
{
  "admin_group": "$ADM",
  "networks": [
    {"bridge": "lvmt1", "subnet": "10.231.0.1/24", "default": true},
    {"bridge": "lvmt3", "subnet": "10.233.0.1/24", "nat": true},
    {"bridge": "lvmt4", "subnet": "10.236.0.1/24"}
  ],
  "ports": {"ranges": ["20000-20099"], "addresses": ["127.0.0.1"]}
}
EOF

# Everything of the namespace a request could change.
host_state() {
    nsx ip -o link show
    nsx ip -o addr show
    nsx ip route show table all
    nsx sysctl -n net.ipv4.ip_forward
    nsx nft list ruleset
}

# refused WHO FIELD WHY REQUEST: the reply is "denied" with the message
# "field FIELD: WHY...", and nothing changed on the host.
refused() {
    local who=$1 field=$2 why=$3 req=$4 before after out
    before=$(host_state 2>&1)
    out=$($who "$API" "$LIGHTVM_SOCKET" "$req")
    after=$(host_state 2>&1)
    echo "$out" | grep -qF '"code":"denied"' || { echo "not denied: $out"; return 1; }
    echo "$out" | grep -qF "\"message\":\"field $field: $why" ||
        { echo "wrong message: $out"; return 1; }
    [ "$before" = "$after" ] || { echo "the host changed:"; diff <(echo "$before") <(echo "$after"); return 1; }
    [ -z "$($LIGHTVM list -q)" ] || { echo "a guest was made"; $LIGHTVM list; return 1; }
}

create_net() { # NET-JSON
    printf '{"op":"create","image":"%s","net":%s}' "$DAYTIME" "$1"
}

# NIC of guest ID as "ip bridge tap", from list --json.
nic_of() {
    $LIGHTVM list --json "$1" |
        sed -n 's/.*"net":\[{"dev":"[^"]*","mac":"[^"]*","bridge":"\([^"]*\)","tap":"\([^"]*\)","ip":"\([^"]*\)".*/\3 \1 \2/p'
}

# The guest id in a create reply.
id_of() { sed -n 's/.*"guest":{"id":"\([0-9a-f]*\)".*/\1/p'; }

ONLY="only root or the admin group may"

t_bad_config() {
    # Malformed files: lightvmd stops at start with one line naming the
    # line (bad JSON) or the field (a bad value), and serves nothing.
    local f=$TMP/bad.conf r=0
    printf '{\n  "networks": [\n    {"bridge": "lvmt1" "subnet": "10.231.0.1/24"}\n  ]\n}\n' >"$f"
    expect_status 2 $BUILD/bin/lightvmd --run-dir "$TMP/badrun" --config "$f" 2>"$TMP/bad.err" || r=1
    [ "$(wc -l <"$TMP/bad.err")" -eq 1 ] && contains "$TMP/bad.err" "lightvmd: $f:3:" || r=1
    printf '{"ports": {"ranges": ["80-90"]}}\n' >"$f"
    expect_status 2 $BUILD/bin/lightvmd --run-dir "$TMP/badrun" --config "$f" 2>"$TMP/bad.err" || r=1
    [ "$(wc -l <"$TMP/bad.err")" -eq 1 ] &&
        contains "$TMP/bad.err" "field ports.ranges[0]: 80-90 reaches below 1024" || r=1
    printf '{"netwroks": []}\n' >"$f"
    expect_status 2 $BUILD/bin/lightvmd --run-dir "$TMP/badrun" --config "$f" 2>"$TMP/bad.err" || r=1
    contains "$TMP/bad.err" "field netwroks: unknown field" || r=1
    # A file others may write would let them grant themselves anything.
    cp "$CONF" "$f" && chmod 664 "$f"
    expect_status 2 $BUILD/bin/lightvmd --run-dir "$TMP/badrun" --config "$f" 2>"$TMP/bad.err" || r=1
    contains "$TMP/bad.err" "writable by root alone" || r=1
    expect_status 2 $BUILD/bin/lightvmd --run-dir "$TMP/badrun" --config "$TMP/none.conf" 2>"$TMP/bad.err" || r=1
    contains "$TMP/bad.err" "No such file" || r=1
    [ ! -e "$TMP/badrun/lightvmd.sock" ] || { echo "it served"; r=1; }
    return $r
}

t_member_refused() {
    local r=0
    # A bridge of its own over the host's LAN: the issue's first report.
    refused as_member net.bridge "'lvmtx' is not a network members may use (lvmt1, lvmt3, lvmt4); $ONLY use other bridges" \
        "$(create_net '{"bridge":"lvmtx","subnet":"10.240.5.1/24"}')" || r=1
    refused as_member net.subnet "$ONLY choose a subnet (lvmt1 has 10.231.0.1/24)" \
        "$(create_net '{"subnet":"10.240.5.1/24"}')" || r=1
    refused as_member net.nat "$ONLY change NAT\"" "$(create_net '{"nat":true}')" || r=1
    refused as_member net.filter "$ONLY turn off the anti-spoofing filter" \
        "$(create_net '{"filter":false}')" || r=1
    refused as_member net.dhcp "$ONLY use DHCP" "$(create_net '{"dhcp":true}')" || r=1
    refused as_member net.ip "$ONLY choose a guest's address" \
        "$(create_net '{"ip":"10.231.0.9"}')" || r=1
    # A host bridge lightvm did not make (down, no address).
    nsx ip link add fbr0 type bridge || return 1
    refused as_member net.bridge "'fbr0' is not a network members may use" \
        "$(create_net '{"bridge":"fbr0"}')" || r=1
    # The CLI shows the one line.
    ! as_member $LIGHTVM create --net --net-nat "$DAYTIME" 2>"$TMP/cli.err" || r=1
    [ "$(wc -l <"$TMP/cli.err")" -eq 1 ] || r=1
    contains "$TMP/cli.err" "field net.nat: only root or the admin group may change NAT" || r=1
    return $r
}

t_member_ports_refused() {
    # Root's QEMU must not bind for a member what it could not bind
    # itself: refused before the image is even read, so before QEMU.
    local r=0 q='{"op":"create","monitor":"qemu","image":"/nonexistent","ports":["%s"]}'
    refused as_member ports "'0.0.0.0:81:22': members may bind only 127.0.0.1" \
        "$(printf "$q" 0.0.0.0:81:22)" || r=1
    refused as_member ports "'81:22': host port 81 is outside the ports members may publish (20000-20099)" \
        "$(printf "$q" 81:22)" || r=1
    refused as_member ports "'127.0.0.1:30000:22': host port 30000 is outside" \
        "$(printf "$q" 127.0.0.1:30000:22)" || r=1
    [ -z "$(nsx ss -Hltn 'sport = :81')" ] || { echo "something listens on 81"; r=1; }
    [ -z "$(ls "$LIGHTVM_RUN_DIR/guests")" ] || { ls "$LIGHTVM_RUN_DIR/guests"; r=1; }
    ! pgrep -f "qemu-system.*$LIGHTVM_RUN_DIR" >/dev/null || { echo "QEMU ran"; r=1; }
    # Within the policy (and port 0, picked in range): on to the image.
    local out
    out=$(as_member "$API" "$LIGHTVM_SOCKET" "$(printf "$q" 20042:22)" \
        "$(printf "$q" 0:22)")
    [ "$(echo "$out" | grep -c 'not a Tinyx image')" -eq 2 ] || { echo "$out"; r=1; }
    return $r
}

t_member_default_net() {
    # The operator's default network: a leased address that answers.
    local id ip br tap
    id=$(as_member $LIGHTVM create --net "$DAYTIME") || return 1
    read -r ip br tap <<<"$(nic_of "$id")"
    [ "$br" = lvmt1 ] || { $LIGHTVM list --json "$id"; return 1; }
    [[ $ip == 10.231.0.* ]] || { echo "address $ip"; return 1; }
    nsx ip -o -4 addr show dev lvmt1 | grep -q ' 10.231.0.1/24 ' || return 1
    nsx "$NETC" daytime "$ip" || return 1
    # Filtered: its tap is in the guard's port set.
    nsx nft list set bridge lightvm guest_port | grep -q "$tap" || { echo "not filtered"; return 1; }
    # Naming its own network, and its subnet, is no change: accepted.
    local out id2
    out=$(as_member "$API" "$LIGHTVM_SOCKET" \
        "$(create_net '{"bridge":"lvmt1","subnet":"10.231.0.1/24"}')")
    id2=$(echo "$out" | id_of)
    [ -n "$id2" ] || { echo "$out"; return 1; }
    as_member $LIGHTVM destroy "$id2" >/dev/null || return 1
    as_member $LIGHTVM destroy "$id" >/dev/null || return 1
    # Not the fbr0 bridge: never touched.
    [ -z "$(nsx ip -o -4 addr show dev fbr0)" ] || { echo "fbr0 was addressed"; return 1; }
}

# root_may REQUEST: a guest is made (prints its id).
root_may() {
    local who=${2:-} out id
    out=$($who "$API" "$LIGHTVM_SOCKET" "$1")
    id=$(echo "$out" | id_of)
    [ -n "$id" ] || { echo "refused: $out" >&2; return 1; }
    echo "$id"
}

t_root_may() {
    local id ip br tap r=0
    # A bridge and subnet of its own.
    id=$(root_may "$(create_net '{"bridge":"lvmtr","subnet":"10.234.0.1/24"}')") || return 1
    read -r ip br tap <<<"$(nic_of "$id")"
    [ "$br" = lvmtr ] && [[ $ip == 10.234.0.* ]] || { echo "$ip $br"; r=1; }
    nsx "$NETC" daytime "$ip" || r=1
    $LIGHTVM destroy "$id" >/dev/null || r=1
    # NAT: forwarding on and the masquerade chain made.
    [ "$(nsx sysctl -n net.ipv4.ip_forward)" = 0 ] || { echo "forwarding was on already"; r=1; }
    id=$(root_may "$(create_net '{"nat":true}')") || return 1
    [ "$(nsx sysctl -n net.ipv4.ip_forward)" = 1 ] || { echo "no forwarding"; r=1; }
    nsx nft list chain ip lightvm_nat post-lvmt1 >/dev/null || r=1
    $LIGHTVM destroy "$id" >/dev/null || r=1
    # The filter off: its tap is not in the guard's port set.
    id=$(root_may "$(create_net '{"filter":false}')") || return 1
    read -r ip br tap <<<"$(nic_of "$id")"
    ! nsx nft list set bridge lightvm guest_port | grep -q "$tap" || { echo "filtered"; r=1; }
    $LIGHTVM destroy "$id" >/dev/null || r=1
    # Ports anywhere: past the policy, on to the image.
    $API "$LIGHTVM_SOCKET" '{"op":"create","monitor":"qemu","image":"/nonexistent","ports":["0.0.0.0:81:22"]}' |
        grep -q 'not a Tinyx image' || r=1
    return $r
}

t_root_foreign_bridge() {
    # Root may use a bridge lightvm did not make, but only as it is:
    # never given an address, never brought up.
    local out id ip br tap
    out=$($API "$LIGHTVM_SOCKET" "$(create_net '{"bridge":"fbr0","subnet":"10.235.0.1/24"}')")
    echo "$out" | grep -qF 'bridge fbr0 was not made by lightvm and has no IPv4 address' ||
        { echo "$out"; return 1; }
    [ -z "$(nsx ip -o -4 addr show dev fbr0)" ] || { echo "fbr0 was addressed"; return 1; }
    nsx ip addr add 10.235.0.1/24 dev fbr0 || return 1
    out=$($API "$LIGHTVM_SOCKET" "$(create_net '{"bridge":"fbr0"}')")
    echo "$out" | grep -qF 'bridge fbr0 was not made by lightvm and is down' ||
        { echo "$out"; return 1; }
    nsx ip -o link show fbr0 | grep -q '[<,]UP[,>]' && { echo "fbr0 was brought up"; return 1; }
    nsx ip link set fbr0 up || return 1
    id=$(root_may "$(create_net '{"bridge":"fbr0"}')") || return 1
    read -r ip br tap <<<"$(nic_of "$id")"
    [[ $ip == 10.235.0.* ]] || { echo "address $ip"; return 1; }
    nsx "$NETC" daytime "$ip" || return 1
    $LIGHTVM destroy "$id" >/dev/null
}

t_admin_group_may() {
    # A member of the admin group is treated like root for networks and
    # ports; the same user without the group would be refused.
    local id
    id=$(root_may "$(create_net '{"bridge":"lvmtr","filter":false}')" as_admin) || return 1
    as_admin $LIGHTVM destroy "$id" >/dev/null || return 1
    as_admin "$API" "$LIGHTVM_SOCKET" '{"op":"create","monitor":"qemu","image":"/nonexistent","ports":["0.0.0.0:81:22"]}' |
        grep -q 'not a Tinyx image'
}

t_member_nat_network() {
    # An operator's NAT network: a member may name it (and say "nat").
    local id ip br tap
    id=$(root_may "$(create_net '{"bridge":"lvmt3","nat":true}')" as_member) || return 1
    read -r ip br tap <<<"$(nic_of "$id")"
    [[ $ip == 10.233.0.* ]] || { echo "address $ip"; return 1; }
    nsx "$NETC" daytime "$ip" || return 1
    nsx nft list chain ip lightvm_nat post-lvmt3 >/dev/null || return 1
    as_member $LIGHTVM destroy "$id" >/dev/null
}

t_member_nics_nat() {
    # A member's first NIC on the NAT network lvmt3 and its second on
    # lvmt4: NAT is each network's own, so lvmt4 is not masqueraded (it
    # was, for everyone's guests on it).
    local id out
    out=$(as_member "$API" "$LIGHTVM_SOCKET" "$(printf '{"op":"create","image":"%s","net":{"bridge":"lvmt3","nics":["up0=lvmt4"]}}' "$EXAMPLES/firewall/firewall.elf")")
    id=$(echo "$out" | id_of)
    [ -n "$id" ] || { echo "refused: $out"; return 1; }
    nsx nft list chain ip lightvm_nat post-lvmt3 >/dev/null || { echo "lvmt3 not masqueraded"; return 1; }
    ! nsx nft list chain ip lightvm_nat post-lvmt4 >/dev/null 2>&1 || { echo "lvmt4 masqueraded"; return 1; }
    as_member $LIGHTVM destroy "$id" >/dev/null
}

t_clone_nics() {
    # A clone's NICs go where the original's are, each on its own bridge.
    local id out clone bridges
    out=$("$API" "$LIGHTVM_SOCKET" "$(printf '{"op":"create","image":"%s","net":{"bridge":"lvmt1","nics":["up0=lvmt4"]}}' "$EXAMPLES/firewall/firewall.elf")")
    id=$(echo "$out" | id_of)
    [ -n "$id" ] || { echo "refused: $out"; return 1; }
    clone=$($LIGHTVM clone "$id") || { $LIGHTVM destroy "$id" >/dev/null; return 1; }
    bridges=$($LIGHTVM list --json "$clone" | python3 -c 'import json,sys; print(" ".join(n["dev"] + "=" + n["bridge"] for n in json.load(sys.stdin)[0]["net"]))')
    $LIGHTVM destroy "$id" "$clone" >/dev/null
    [ "$bridges" = "user0=lvmt1 up0=lvmt4" ] || { echo "clone's NICs: $bridges"; return 1; }
}

t_no_leftovers() {
    daemon_stop
    no_new_leftovers
}

check bad_config t_bad_config
daemon_start --group "$GRP" --config "$CONF" --pool 0 || { echo "0 passed, 1 failed"; exit 1; }
check member_refused t_member_refused
check member_ports_refused t_member_ports_refused
check member_default_net t_member_default_net
check root_may t_root_may
check root_foreign_bridge t_root_foreign_bridge
check admin_group_may t_admin_group_may
check member_nat_network t_member_nat_network
check member_nics_nat t_member_nics_nat
check clone_nics t_clone_nics
check no_leftovers t_no_leftovers
finish
