#!/bin/bash
# bench/net/multi.sh: does serving several NICs cost a single-NIC guest
# anything? Create request to first daytime answer (bench/net/
# daytime_latency) of examples/daytime built with this SDK, against the
# same example built with an SDK from before (BASE_ELF), both started by
# this build's toolstack, in alternating rounds so that load drifts hit
# both alike. Writes bench/results/net-multi.md. Run as root after
# `make all tests`.
#
#   BASE_ELF=path   daytime.elf built from the commit before (required)
#   RUNS=20         runs per round; ROUNDS=3
set -eu
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
LIGHTVM=$PWD/$BUILD/bin/lightvm
TOOLS=$PWD/$BUILD/bench/net
NEW_ELF=$PWD/$BUILD/examples/daytime/daytime.elf
BASE_ELF=${BASE_ELF:?BASE_ELF=daytime.elf of the SDK before}
RUNS=${RUNS:-20}
ROUNDS=${ROUNDS:-3}
OUT=bench/results/net-multi.md
NS=lvmm$$
TMP=$(mktemp -d /tmp/lvm-bench-multi.XXXXXX)
chmod 755 "$TMP"
export LIGHTVM_RUN_DIR=$TMP/run
export LIGHTVM_CGROUP_PARENT=lightvm-bench-$$
cleanup() {
    ip netns del "$NS" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
nsx() { nsenter --net=/run/netns/"$NS" "$@"; }

ip netns add "$NS"
nsx ip link set lo up
nsx "$LIGHTVM" net up lvm0 >/dev/null

# run ELF FILE: one round of RUNS, the per-run totals appended to FILE.
run() {
    nsx "$TOOLS/daytime_latency" -n "$RUNS" -o "$TMP/one.txt" -- \
        "$LIGHTVM" run --net "$1" >/dev/null 2>&1
    awk '{print $2}' "$TMP/one.txt" >>"$2"
}

: >"$TMP/base.txt"
: >"$TMP/new.txt"
load=$(cut -d' ' -f1-3 /proc/loadavg)
for _ in $(seq "$ROUNDS"); do
    run "$BASE_ELF" "$TMP/base.txt"
    run "$NEW_ELF" "$TMP/new.txt"
done

# stats FILE: "median p90 n" in ms.
stats() {
    sort -n "$1" | awk '{v[NR] = $1} END {
        m = v[int((NR + 1) / 2)]; p = v[int(NR * 0.9 + 0.5)]
        printf "%.2f %.2f %d", m / 1000, p / 1000, NR }'
}
read -r bm bp bn <<<"$(stats "$TMP/base.txt")"
read -r nm np nn <<<"$(stats "$TMP/new.txt")"
ratio=$(awk -v a="$nm" -v b="$bm" 'BEGIN {printf "%.2f", a / b}')

cat >"$OUT" <<EOF
# lwIP on several NICs: the single-NIC guest's cost

Does the SDK's stack serving several NICs (issue 16: one netif per NIC,
\`LWIP_SINGLE_NETIF 0\`, the event loop over every NIC) slow down a guest
that serves one? Create request to first correct daytime answer over TCP
(\`bench/net/daytime_latency\`, as in [net.md](net.md)) of
\`examples/daytime\` built with the SDK before (base) and after (multi),
both started by the same toolstack (\`lightvm run --net\`), $ROUNDS
alternating rounds of $RUNS runs each.

<!-- plot table=1 cols=2,3 title="Create to first daytime answer" ylabel="ms" -->
| SDK | median (ms) | p90 (ms) | runs |
|---|---|---|---|
| base | $bm | $bp | $bn |
| multi | $nm | $np | $nn |

Ratio multi / base (medians): **$ratio**. Machine: $(nproc) CPUs shared
with other work (load before: $load), proc monitor. Under load the
absolute figures are far above net.md's (a quiet machine); only the
ratio of two builds measured alike in the same run says anything.

Command: \`BASE_ELF=.../daytime.elf RUNS=$RUNS ROUNDS=$ROUNDS BUILD=$BUILD
bench/net/multi.sh\` (BASE_ELF: \`make examples\` of the commit before).

![Create to first daytime answer](net-multi.png)
EOF
cat "$OUT"
