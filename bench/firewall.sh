#!/bin/bash
# firewall.sh: per-user firewalls (examples/firewall) against Linux's own
# nftables forwarding between the same two bridges, in one run.
#
#   sudo bench/firewall.sh [USERS...]     (default: 1 10 100 1000)
#   make bench-firewall                   (builds bench/fwbench.c first)
#
# The largest number of firewall guests, and one more for a probe user,
# is started through lightvmd (examples/firewall/per-user.sh), each user
# with its own rules: UDP from its own address to the sink's ports
# allowed, at most 10 Mbit/s each way (the paper's cap), the rest denied.
# Then, for each number K of active users:
#   - throughput: one sender (a packet socket in the users' namespace)
#     sends 1000-byte UDP datagrams for BLAST_MS, round robin over the K
#     users, each frame to that user's firewall (its user0 MAC) with the
#     user's own source address; a sink upstream counts what arrives.
#     nftables: the same frames to the bridges' namespace (the router),
#     which forwards them with one rule per user (ip saddr, udp dport)
#     and the same 10 Mbit/s limit in a forward chain whose policy drops.
#   - latency: UDP round trips of the probe user (through its own
#     firewall both ways, or through nftables) to an echo server
#     upstream, idle and while the K users' load runs; median and p90.
# Writes bench/results/firewall.md (RESULTS=path to change) and its plot.
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
LIGHTVM=$BUILD/bin/lightvm
FWB=$BUILD/bench/fwbench
USERS_LIST=${*:-1 10 100 1000}
MAXU=0
for k in $USERS_LIST; do [ "$k" -gt "$MAXU" ] && MAXU=$k; done
P=$((MAXU + 1)) # the probe user
BLAST_MS=${BLAST_MS:-2000}
RTTS=${RTTS:-2000}
OUT=${RESULTS:-bench/results/firewall.md}
T=$(mktemp -d /tmp/fwbench.XXXXXX)
chmod 755 "$T"
H=fwb$$h U=fwb$$u S=fwb$$s
export LIGHTVM_RUN_DIR=$T/run LIGHTVM_SOCKET=$T/run/lightvmd.sock
export LIGHTVM_CGROUP_PARENT=fwbench-$$
mkdir -p "$LIGHTVM_RUN_DIR"

cleanup() {
    [ -n "${ECHO_PID:-}" ] && kill "$ECHO_PID" 2>/dev/null
    [ -n "${SINK2_PID:-}" ] && kill "$SINK2_PID" 2>/dev/null
    if [ -n "${DPID:-}" ]; then
        # shellcheck disable=SC2046
        $LIGHTVM destroy $($LIGHTVM list -q) >/dev/null 2>&1
        kill -TERM "$DPID" 2>/dev/null
        wait "$DPID" 2>/dev/null
    fi
    ip netns del "$U" 2>/dev/null
    ip netns del "$S" 2>/dev/null
    ip netns del "$H" 2>/dev/null
    local d
    for d in /sys/fs/cgroup/"$LIGHTVM_CGROUP_PARENT" /sys/fs/cgroup/*/"$LIGHTVM_CGROUP_PARENT"; do
        [ -d "$d" ] && rmdir "$d"/* "$d" 2>/dev/null
    done
    rm -rf "$T"
}
trap cleanup EXIT

h() { nsenter --net=/run/netns/"$H" "$@"; }
u() { nsenter --net=/run/netns/"$U" "$@"; }
s() { nsenter --net=/run/netns/"$S" "$@"; }
# User i (from 1): its address, its firewall's two addresses.
uip() { echo "10.90.$((100 + $1 / 256)).$(($1 % 256))"; }
fwip() { echo "10.$1.$((($2 + 256) / 256)).$((($2 + 256) % 256))"; }

ip netns add "$H" && ip netns add "$U" && ip netns add "$S" || exit 1
for n in "$H" "$U" "$S"; do
    nsenter --net=/run/netns/"$n" ip link set lo up
    nsenter --net=/run/netns/"$n" sysctl -qw net.ipv4.conf.all.rp_filter=0 \
        net.ipv4.conf.default.rp_filter=0 net.ipv4.ip_forward=0
done
# Bridged frames must not pass the IP forward hook (br_netfilter): the
# nftables peer's rules are for routed frames only.
h sysctl -qw net.bridge.bridge-nf-call-iptables=0 2>/dev/null
h "$LIGHTVM" net up --subnet 10.90.0.1/16 fbu >/dev/null || exit 1
h "$LIGHTVM" net up --subnet 10.91.0.1/16 fbp >/dev/null || exit 1
ip link add fbu$$ type veth peer name fbu$$b netns "$H" && ip link set fbu$$ netns "$U"
ip link add fbs$$ type veth peer name fbs$$b netns "$H" && ip link set fbs$$ netns "$S"
h ip link set fbu$$b master fbu up && h ip link set fbs$$b master fbp up
u ip addr add 10.90.250.10/16 dev fbu$$ && u ip link set fbu$$ up
s ip addr add 10.91.250.10/16 dev fbs$$ && s ip link set fbs$$ up
for i in $(seq 1 "$P"); do u ip addr add "$(uip "$i")/32" dev fbu$$; done

# The firewalls, through lightvmd in the bridges' namespace.
nsenter --net=/run/netns/"$H" "$BUILD/bin/lightvmd" >"$T/lightvmd.log" 2>&1 &
DPID=$!
until $LIGHTVM list >/dev/null 2>&1; do
    kill -0 "$DPID" || { cat "$T/lightvmd.log"; exit 1; }
    read -rt 0.05 <> <(:) 2>/dev/null || true
done
mkdir -p "$T/users"
for i in $(seq 1 "$P"); do
    printf 'default deny\nlimit 10mbit\nallow udp from %s to any port 9000-9002\nallow udp from any port 9001 to %s\n' \
        "$(uip "$i")" "$(uip "$i")" >"$T/users/u$i.rules"
    echo "u$i $(fwip 90 "$i") $(fwip 91 "$i")"
done >"$T/users/users"
t0=$(date +%s.%N)
LIGHTVM=$LIGHTVM FIREWALL_ELF=$BUILD/examples/firewall/firewall-blk.elf \
    FIREWALL_RUN_DIR=$T/fwrun USERS_BRIDGE=fbu UP_BRIDGE=fbp \
    examples/firewall/per-user.sh "$T/users" --mem 2M >/dev/null || exit 1
t1=$(date +%s.%N)
RUNNING=$($LIGHTVM list | grep -c ' running ')
echo "firewalls running: $RUNNING (started in $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}') s)"
# Each firewall's user0 MAC, by name.
$LIGHTVM list --json | jq -r '.[] | .name as $n | .net[] | select(.dev == "user0") | "\($n) \(.mac)"' \
    | sort >"$T/macs"
for i in $(seq 1 "$MAXU"); do
    echo "$(awk -v n="fw-u$i" '$1 == n {print $2}' "$T/macs") $(uip "$i")"
done >"$T/fw-users"
grep -c : "$T/fw-users" | grep -qx "$MAXU" || { echo "MACs missing"; exit 1; }
BRMAC=$(h ip -o link show fbu | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
for i in $(seq 1 "$MAXU"); do echo "$BRMAC $(uip "$i")"; done >"$T/nft-users"

# nftables: one rule per user, forward policy drop; only on while measured.
{
    echo "table ip fwbench {"
    echo "  chain users {"
    echo "    type filter hook forward priority 0; policy drop;"
    for i in $(seq 1 "$P"); do
        echo "    ip saddr $(uip "$i") udp dport 9000-9002 limit rate 1250 kbytes/second burst 12500 bytes accept"
        echo "    ip daddr $(uip "$i") udp sport 9001 limit rate 1250 kbytes/second burst 12500 bytes accept"
    done
    echo "  }"
    echo "}"
} >"$T/nft.conf"
h nft -f "$T/nft.conf" || exit 1

nsenter --net=/run/netns/"$S" "$FWB" echo 9001 &
ECHO_PID=$!
# Takes the load while latency is measured.
nsenter --net=/run/netns/"$S" "$FWB" sink 9002 600000 >/dev/null &
SINK2_PID=$!

# route MODE: user 1's and the sink's routes through its firewall or
# through the host (nftables).
route() {
    if [ "$1" = fw ]; then
        h sysctl -qw net.ipv4.ip_forward=0
        u ip route replace 10.91.0.0/16 via "$(fwip 90 "$P")" src "$(uip "$P")"
        s ip route replace 10.90.0.0/16 via "$(fwip 91 "$P")"
    else
        h sysctl -qw net.ipv4.ip_forward=1
        u ip route replace 10.91.0.0/16 via 10.90.0.1 src "$(uip "$P")"
        s ip route replace 10.90.0.0/16 via 10.91.0.1
    fi
}

# throughput MODE K: "MBIT SENT_FPS"
throughput() {
    local mode=$1 k=$2
    # Each firewall answers an ARP request first, so the bridge knows
    # its port (as it does once a user's host has asked for its gateway).
    [ "$mode" = fw ] && for i in $(seq 1 "$k"); do fwip 90 "$i"; done |
        u "$FWB" arp fbu$$ 10.90.250.10 >/dev/null
    # A warm-up to a port nobody counts: each firewall resolves the
    # sink's MAC (ARP) before the measured run, as it would have for a
    # user that was already active.
    u "$FWB" blast fbu$$ 300 "$k" 10.91.250.10 9002 1000 \
        < <(head -n "$k" "$T/$mode-users") >/dev/null
    : >"$T/sink"
    s "$FWB" sink 9000 500 >"$T/sink" &
    local sp=$!
    until grep -q listening "$T/sink"; do read -rt 0.01 <> <(:) 2>/dev/null || true; done
    u "$FWB" blast fbu$$ "$BLAST_MS" "$k" 10.91.250.10 9000 1000 \
        < <(head -n "$k" "$T/$mode-users") >"$T/blast"
    wait "$sp"
    local sent ms n bytes
    read -r _ sent ms <"$T/blast"
    read -r _ n bytes _ < <(tail -n 1 "$T/sink")
    echo "$(awk -v b="${bytes:-0}" -v m="$ms" 'BEGIN {printf "%.1f", b * 8 / m / 1000}') $((sent * 1000 / ms)) $((n * 100 / (sent > 0 ? sent : 1)))"
}

# latency MODE K: "P50 P90" in microseconds, with K users' load running
# (K = 0: idle).
latency() {
    local mode=$1 k=$2 bp=
    if [ "$k" -gt 0 ]; then
        head -n "$k" "$T/$mode-users" >"$T/load"
        [ "$mode" = fw ] && for i in $(seq 1 "$k"); do fwip 90 "$i"; done |
            u "$FWB" arp fbu$$ 10.90.250.10 >/dev/null
        # nsenter execs the sender: $! is its pid.
        nsenter --net=/run/netns/"$U" "$FWB" blast fbu$$ 60000 "$k" \
            10.91.250.10 9002 1000 <"$T/load" >/dev/null &
        bp=$!
    fi
    u "$FWB" rtt 10.91.250.10 9001 "$RTTS" >"$T/rtt"
    [ -n "$bp" ] && kill "$bp" && wait "$bp" 2>/dev/null
    local p50 p90 lost
    read -r _ _ p50 _ p90 _ lost <"$T/rtt"
    echo "$p50 $p90 $lost"
}

declare -A TP LAT
for mode in fw nft; do
    route "$mode"
    LAT[$mode,0]=$(latency "$mode" 0)
    echo "$mode idle rtt: ${LAT[$mode,0]}"
    for k in $USERS_LIST; do
        TP[$mode,$k]=$(throughput "$mode" "$k")
        LAT[$mode,$k]=$(latency "$mode" "$k")
        echo "$mode $k users: throughput ${TP[$mode,$k]}; rtt ${LAT[$mode,$k]}"
    done
done
STILL=$($LIGHTVM list | grep -c ' running ')

commit=$(git rev-parse --short HEAD)
{
    echo "# Firewall: per-user firewall guests against nftables"
    echo
    echo "![Aggregate throughput against active users](firewall.png)"
    echo "<!-- plot table=1 cols=2,3 title=\"Aggregate throughput: firewall guests against nftables\" ylabel=\"Mbit/s\" -->"
    echo
    echo "Written by \`sudo bench/firewall.sh $USERS_LIST\` on $(date -u '+%Y-%m-%d %H:%M') UTC, commit"
    echo "$commit. Machine: $(nproc) vCPUs, $(free -g | awk '/Mem:/ {print $2}') GiB, kernel $(uname -r); itself a VM,"
    echo "shared with other work: load average $(cut -d' ' -f1-3 /proc/loadavg) at the end. One run;"
    echo "compare figures of the same run."
    echo
    echo "$RUNNING firewall guests ($MAXU users and a probe user) ran at once (started by per-user.sh through lightvmd"
    echo "in $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}') s; $STILL still running at the end), each"
    echo "with its own rules and a 10 Mbit/s limit each way. One sender sends"
    echo "1000-byte UDP datagrams for $BLAST_MS ms, as fast as it can, round robin over"
    echo "the active users; a sink upstream counts what arrives. nftables: the"
    echo "bridges' namespace routes the same frames, one rule per user and direction"
    echo "(addresses, port, the same limit) in a forward chain that drops the rest."
    echo
    echo "| active users | firewalls Mbit/s | nftables Mbit/s | firewalls/nftables | sender frames/s (fw, nft) | delivered % (fw, nft) |"
    echo "|---|---|---|---|---|---|"
    for k in $USERS_LIST; do
        read -r fm ff fd <<<"${TP[fw,$k]}"
        read -r nm nf nd <<<"${TP[nft,$k]}"
        ratio=$(awk -v f="$fm" -v n="$nm" 'BEGIN {printf "%.2f", f / (n + 0.0001)}')
        echo "| $k | $fm | $nm | $ratio | $ff, $nf | $fd, $nd |"
    done
    echo
    echo "Round trips (UDP, the probe user to an echo server upstream through its"
    echo "own firewall or through nftables, $RTTS one at a time), microseconds, idle"
    echo "and while the active users' load runs:"
    echo
    echo "| active users | firewall p50 | firewall p90 | nftables p50 | nftables p90 | added p90 (fw - nft) |"
    echo "|---|---|---|---|---|---|"
    for k in 0 $USERS_LIST; do
        read -r a b _ <<<"${LAT[fw,$k]}"
        read -r c d _ <<<"${LAT[nft,$k]}"
        echo "| $([ "$k" = 0 ] && echo "0 (idle)" || echo "$k") | $a | $b | $c | $d | $((b - d)) |"
    done
} >"$OUT"
echo "wrote $OUT"
