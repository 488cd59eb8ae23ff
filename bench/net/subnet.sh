#!/bin/bash
# subnet.sh: what picking a free subnet costs a new bridge (issue: a new
# bridge given no subnet gets a free /16, toolstack/netsubnet.c). Times
# `lightvm net up BRIDGE` (lightvm-net: create, address, up, the filter
# table) with an explicit --subnet (explicit) and without (picked: a
# flock on the namespace, a dump of its addresses and routes, the pick),
# alternating, ROUNDS rounds of RUNS each, every bridge deleted again, in
# a network namespace of its own with BRIDGES other bridges present (so
# the dump has something to read). Writes bench/results/net-subnet.md.
#
#   RUNS=20 ROUNDS=3 BRIDGES=8 BUILD=build bench/net/subnet.sh
set -eu
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
RUNS=${RUNS:-20}
ROUNDS=${ROUNDS:-3}
BRIDGES=${BRIDGES:-8}
LIGHTVM=$BUILD/bin/lightvm
OUT=${OUT:-bench/results/net-subnet.md}
NS=lvmbs$$
TMPD=$(mktemp -d)
chmod 755 "$TMPD" # the run directory must be searchable (guests)
export LIGHTVM_RUN_DIR=$TMPD/run
trap 'ip netns del $NS 2>/dev/null; rm -rf "$TMPD"' EXIT
ip netns add $NS
nsx() { nsenter --net=/run/netns/$NS "$@"; }
nsx ip link set lo up
load=$(cut -d' ' -f1-3 /proc/loadavg)
for i in $(seq 1 "$BRIDGES"); do
    nsx "$LIGHTVM" net up "bso$i" >/dev/null
done

# one KIND: microseconds of one `net up`, the bridge deleted after.
one() {
    local t0 t1
    if [ "$1" = explicit ]; then
        t0=$(date +%s%N)
        nsx "$LIGHTVM" net up --subnet 10.60.0.1/16 bsx >/dev/null
        t1=$(date +%s%N)
        nsx "$LIGHTVM" net down bsx >/dev/null
    else
        t0=$(date +%s%N)
        nsx "$LIGHTVM" net up bsp >/dev/null
        t1=$(date +%s%N)
        nsx "$LIGHTVM" net down bsp >/dev/null
    fi
    echo $(((t1 - t0) / 1000))
}
for _ in $(seq 1 "$ROUNDS"); do
    for kind in explicit picked; do
        for _ in $(seq 1 "$RUNS"); do one $kind >>"$TMPD/$kind"; done
    done
done

# stat FILE: "median p90 n" in ms.
stat() {
    sort -n "$1" | awk '{v[NR] = $1} END {
        m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        p = v[int(NR * 0.9 + 0.999)]
        printf "%.2f %.2f %d\n", m / 1000, p / 1000, NR }'
}
read -r em ep en <<<"$(stat "$TMPD/explicit")"
read -r pm pp pn <<<"$(stat "$TMPD/picked")"
ratio=$(awk -v a="$pm" -v b="$em" 'BEGIN { printf "%.2f", a / b }')

cat >"$OUT" <<PAGE
# A new bridge's subnet: explicit or picked

What does a new bridge given no subnet pay for getting a free one
([network.md](../../docs/network.md#several-nics): a flock on the network
namespace, a dump of its IPv4 addresses and main-table routes, the pick)?
Wall time of \`lightvm net up BRIDGE\` (the CLI execs lightvm-net, which
creates the bridge, gives it its address, brings it up and makes sure of
the filter table) with \`--subnet 10.60.0.1/16\` (explicit) and without
(picked), alternating, $ROUNDS rounds of $RUNS each, each bridge deleted
again, in a network namespace of its own holding $BRIDGES other bridges.

<!-- plot table=1 cols=2,3 title="lightvm net up of a new bridge" ylabel="ms" -->
| subnet | median (ms) | p90 (ms) | runs |
|---|---|---|---|
| explicit | $em | $ep | $en |
| picked | $pm | $pp | $pn |

Ratio picked / explicit (medians): **$ratio**. Machine: 2 CPUs shared
with other work (load before: $load). Most of either is the process start
of two CLIs and the netlink and nftables set-up; only the ratio of the two,
measured alike in the same run, says anything.

Command: \`RUNS=$RUNS ROUNDS=$ROUNDS BRIDGES=$BRIDGES BUILD=$BUILD bench/net/subnet.sh\`.

![lightvm net up of a new bridge](net-subnet.png)
PAGE
cat "$OUT"
