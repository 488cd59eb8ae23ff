#!/bin/bash
# bench/net/run.sh: the guest networking benchmarks (docs/network.md).
# Writes bench/results/net.md (figures, the exact commands, the machine
# and its load) and the raw data under bench/results/net-data/. Run as
# root after `make all tests`; everything happens in network namespaces
# made here, which are removed at the end.
#
#   RUNS=50        daytime create-to-answer runs
#   ACCUM=1000     guests kept for the accumulation run
#   MEMN=100       guests for the memory figures
#   HTTP_SECONDS=10, HTTP_ROUNDS=3, HTTP_CONNS=16
#   DAYTIME_CREATE="cmd ..."  another create command for the daytime run
#       (e.g. the daemon's client once it exists); it must print lightvm's
#       "ip A.B.C.D" line and either keep running until SIGINT or exit.
set -u
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
LIGHTVM=$PWD/$BUILD/bin/lightvm
TOOLS=$PWD/$BUILD/bench/net
NETC=$PWD/$BUILD/tests/net/tools/netc
EX=$PWD/$BUILD/examples
RUNS=${RUNS:-50}
ACCUM=${ACCUM:-1000}
MEMN=${MEMN:-100}
HTTP_SECONDS=${HTTP_SECONDS:-10}
HTTP_ROUNDS=${HTTP_ROUNDS:-3}
HTTP_CONNS=${HTTP_CONNS:-16}
OUT=bench/results/net.md
DATA=bench/results/net-data
NS=lvmb$$
NGNS=lvmbn$$
TMP=$(mktemp -d /tmp/lvm-bench-net.XXXXXX)
chmod 755 "$TMP"
export LIGHTVM_RUN_DIR=$TMP/run
mkdir -p "$DATA"
PIDS=()
DPID=
: >"$DATA/daytime-daemon.txt"

nsx() { nsenter --net=/run/netns/"$NS" "$@"; }

cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -INT "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do "$NETC" wait-pid "$p" 20000 || kill -KILL "$p"; done
    unshare -m --propagation private sh -c \
        "umount /sys/fs/cgroup/unified 2>/dev/null; crun delete -f lvmbn$$" \
        >/dev/null 2>&1
    [ -n "${DPID:-}" ] && kill "$DPID" 2>/dev/null
    umount "$TMP/drun" 2>/dev/null
    ip netns del "$NS" 2>/dev/null
    ip netns del "$NGNS" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT

say() { echo "$*" | tee -a "$OUT"; }
code() { echo '```' >>"$OUT"; cat >>"$OUT"; echo '```' >>"$OUT"; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

ip netns add "$NS" && nsx ip link set lo up && nsx "$LIGHTVM" net up >/dev/null || exit 1

: >"$OUT"
cat >>"$OUT" <<EOF
# Guest networking benchmarks

Written by \`bench/net/run.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'), commit
$(git rev-parse --short HEAD 2>/dev/null). Machine: $(nproc) vCPUs,
$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), kernel
$(uname -r), $(. /etc/os-release; echo "$PRETTY_NAME"); itself a VM, shared
with other work: load average $(load) at the start. Every figure comes
from one run of this script; the machine is noisy, so compare figures of
the same run, not across runs.

EOF

# ---- 1. What attaching a NIC costs the toolstack -------------------------
say "## 1. Attaching a NIC, step by step (toolstack library, 200 guests)"
say ""
"$TOOLS/attach_cost" -n 200 >"$DATA/attach.txt" 2>&1
code <"$DATA/attach.txt"
cat >>"$OUT" <<EOF

Command: \`$BUILD/bench/net/attach_cost -n 200\` (its own network
namespace; leases on tmpfs). Teardown is dominated by the kernel's removal
of the tap (RCU grace periods), paid when a guest exits, not when one is
created. A daemon's pool makes the tap and the bridge port ahead of time.

EOF

# ---- 2. Create request to first daytime answer --------------------------
say "## 2. Create request to first correct daytime answer over TCP"
say ""
create=("$LIGHTVM" run --net "$EX/daytime/daytime.elf")
[ -n "${DAYTIME_CREATE:-}" ] && read -r -a create <<<"$DAYTIME_CREATE"
say "Load before: $(load)"
nsx "$TOOLS/daytime_latency" -n "$RUNS" -o "$DATA/daytime.txt" -- "${create[@]}" \
    >"$DATA/daytime-summary.txt" 2>&1
nsx "$TOOLS/daytime_latency" -x -n "$RUNS" -- "$LIGHTVM" run "$EX/noop/noop.elf" \
    >"$DATA/noop-summary.txt" 2>&1
{ cat "$DATA/daytime-summary.txt"; echo "baseline, a guest without a NIC (lightvm run noop.elf, spawn to exit):"; cat "$DATA/noop-summary.txt"; } | code
cat >>"$OUT" <<EOF

Commands (inside the benchmark's namespace, bridge already up):
\`$BUILD/bench/net/daytime_latency -n $RUNS -- ${create[*]#$PWD/}\` and
\`$BUILD/bench/net/daytime_latency -x -n $RUNS -- $BUILD/bin/lightvm run
$BUILD/examples/noop/noop.elf\`. The clock starts before \`posix_spawn\` of
the create command and stops when the answer has been read and checked
against the host's clock. Target: 5 ms median. The two parts: until
\`lightvm run\` prints the guest's address (the toolstack's work: process
start, image, cgroup, namespaces, NIC; the guest is running when the line
appears), and from there to the answer (the guest's own start-up, ARP and
the TCP exchange). A daemon's pool removes most of the first part; the
baseline shows what the same toolstack costs for a guest without a NIC.

EOF

# ---- 2b. The same through lightvmd, with and without its pool ------------
say "## 2b. The same through lightvmd: request to first daytime answer"
say ""
mkdir -p "$TMP/drun"
mount -t tmpfs -o mode=0755 lvm-bench "$TMP/drun" # as /run is
for pool in 16M+net=64 0; do
    # nsenter execs the daemon, so $! is the daemon (nsx, a function, would
    # run in a subshell whose death leaves the daemon running).
    nsenter --net=/run/netns/"$NS" env LIGHTVM_RUN_DIR="$TMP/drun" \
        "$PWD/$BUILD/bin/lightvmd" --quiet \
        --pool "$pool" --pool-rate 2000 >>"$TMP/lightvmd.log" 2>&1 &
    DPID=$!
    until "$PWD/$BUILD/tests/tools/apiclient" "$TMP/drun/lightvmd.sock" \
        '{"op":"pool"}' 2>/dev/null | grep -qE '"classes":\[\]|"target":([0-9]+),"ready":\1,'; do
        read -rt 0.1 <> <(:) || true
    done
    echo "pool $pool (load before: $(load)):" >>"$DATA/daytime-daemon.txt"
    nsx "$TOOLS/daytime_api" -n "$RUNS" "$TMP/drun/lightvmd.sock" \
        "$EX/daytime/daytime.elf" >>"$DATA/daytime-daemon.txt" 2>&1
    kill "$DPID"
    wait "$DPID" 2>/dev/null
done
umount "$TMP/drun"
code <"$DATA/daytime-daemon.txt"
cat >>"$OUT" <<EOF

Command: \`lightvmd --pool 16M+net=64\` (then \`--pool 0\`) in the
benchmark's namespace, run directory on a tmpfs, and
\`$BUILD/bench/net/daytime_api -n $RUNS SOCKET daytime.elf\`: a client that
keeps its connection to the daemon (as the paper measured its toolstack)
sends \`create\` with a NIC, connects to port 13 of the address in the
reply until the guest answers, checks the answer, destroys the guest.
With the pool the shell and its tap exist before the request. Target:
5 ms median.

EOF

# ---- 3. HTTP: the http guest against nginx in crun on the same bridge ----
say "## 3. HTTP requests per second: http guest vs nginx (crun), same bridge"
say ""
nsenter --net=/run/netns/"$NS" "$LIGHTVM" run --name hb$$ --net "$EX/http/http.elf" \
    >/dev/null 2>"$TMP/http.err" &
PIDS+=($!)
read -r GIP _ <<<"$("$NETC" wait-ip "$TMP/http.err" 10000 "${PIDS[-1]}")"
nsx curl -s -o "$TMP/page.html" "http://$GIP/" || exit 1
ip netns add "$NGNS"
ip link add "vb$$" netns "$NS" type veth peer name eth0 netns "$NGNS"
nsx ip link set "vb$$" master lvm0 up
ip -n "$NGNS" addr add 10.213.250.250/16 dev eth0
ip -n "$NGNS" link set eth0 up
ip -n "$NGNS" link set lo up
bench/net/nginx-bundle.sh "$TMP/nginx" "$NGNS" "$TMP/page.html"
# crun 1.8 refuses hybrid cgroup hosts: hide the v2 part in a private
# mount namespace (notes/machine-and-peers.md).
unshare -m --propagation private sh -c \
    "umount /sys/fs/cgroup/unified 2>/dev/null; crun run -d --bundle $TMP/nginx lvmbn$$" ||
    exit 1
nsx curl -s --retry 20 --retry-connrefused --retry-delay 0 -o /dev/null "http://10.213.250.250/"
wrk_one() { # wrk_one NAME URL ROUND
    nsx wrk -t1 -c"$HTTP_CONNS" -d"${HTTP_SECONDS}s" --latency "$2" \
        >"$DATA/wrk-$1-$3.txt" 2>&1
    local rps lat p50 p99
    rps=$(awk '/Requests\/sec/ {print $2}' "$DATA/wrk-$1-$3.txt")
    lat=$(awk '/^    Latency/ {print $2}' "$DATA/wrk-$1-$3.txt")
    p50=$(awk '/^ +50%/ {print $2}' "$DATA/wrk-$1-$3.txt")
    p99=$(awk '/^ +99%/ {print $2}' "$DATA/wrk-$1-$3.txt")
    echo "| $1 | $3 | $rps | $lat | $p50 | $p99 |" >>"$OUT"
}
say "Load before: $(load)"
say ""
echo "| server | round | requests/s | latency avg | p50 | p99 |" >>"$OUT"
echo "|---|---:|---:|---:|---:|---:|" >>"$OUT"
for r in $(seq 1 "$HTTP_ROUNDS"); do
    wrk_one guest "http://$GIP/" "$r"
    wrk_one nginx "http://10.213.250.250/" "$r"
done
GPID=$(for p in /proc/[0-9]*; do [ "$(cat "$p/comm" 2>/dev/null)" = "lvm-hb$$" ] && echo "${p#/proc/}"; done | head -1)
NPID=$(unshare -m --propagation private sh -c "umount /sys/fs/cgroup/unified 2>/dev/null; crun state lvmbn$$" | jq .pid)
cat >>"$OUT" <<EOF

Same page (the guest's, $(stat -c %s "$TMP/page.html") bytes, fetched from the
guest and served by nginx as a file). Command, from the host side of the
bridge: \`wrk -t1 -c$HTTP_CONNS -d${HTTP_SECONDS}s --latency URL\`, rounds
alternating. nginx 1.22 (Debian), one worker, no access log, in a crun
$(crun --version | head -1 | cut -d' ' -f3) container whose network
namespace has a veth port on the same bridge; the guest is the
\`examples/http\` unikernel under the proc monitor. Resident memory while
serving: guest $(awk '/^Rss/ {print $2}' "/proc/$GPID/smaps_rollup" 2>/dev/null) KiB RSS,
nginx $(awk '/^Rss/ {print $2}' "/proc/$NPID/smaps_rollup" 2>/dev/null) KiB RSS.

EOF
kill -INT "${PIDS[-1]}"
"$NETC" wait-pid "${PIDS[-1]}" 10000
unset 'PIDS[-1]'

# ---- 4. Memory per network guest ---------------------------------------
say "## 4. Memory per guest: $MEMN network guests vs $MEMN guests without a NIC"
say ""
meminfo() { awk -v k="$1" '$1 == k":" {print $2}' /proc/meminfo; }
kernel_kib() { echo $(( $(meminfo Slab) + $(meminfo KernelStack) + $(meminfo PageTables) )); }
mem_run() { # mem_run LABEL ELF [OPTIONS]
    local label=$1 elf=$2
    shift 2
    local avail0 kern0 i pids=() names=()
    avail0=$(meminfo MemAvailable)
    kern0=$(kernel_kib)
    for i in $(seq 1 "$MEMN"); do
        nsenter --net=/run/netns/"$NS" "$LIGHTVM" run --name "m$$$label$i" "$@" "$elf" \
            >/dev/null 2>"$TMP/m$i.err" &
        pids+=($!)
        names+=("lvm-m$$$label$i")
        # Started once lightvm's child carries the guest's name (polled:
        # a guest without a NIC prints nothing that could be waited for).
        local t=0 child
        until child=$(cat "/proc/$!/task/$!/children" 2>/dev/null) &&
            [ -n "$child" ] &&
            [ "$(cat "/proc/${child%% *}/comm" 2>/dev/null)" = "${names[-1]:0:15}" ]; do
            t=$((t + 1))
            [ $t -gt 5000 ] && { echo "guest $i did not start"; return 1; }
            sleep 0.002
        done
    done
    local avail1 kern1 pss=0 priv=0 rss=0 lv=0 n=0 p comm
    for p in /proc/[0-9]*; do
        comm=$(cat "$p/comm" 2>/dev/null) || continue
        case $comm in "lvm-m$$$label"*) ;; *) continue ;; esac
        read -r a b c <<<"$(awk '/^Pss:/ {p=$2} /^Anonymous:/ {v=$2} /^Rss:/ {r=$2} END {print p, v, r}' "$p/smaps_rollup")"
        pss=$((pss + a)); priv=$((priv + b)); rss=$((rss + c)); n=$((n + 1))
    done
    for p in "${pids[@]}"; do
        lv=$((lv + $(awk '/^Rss:/ {print $2}' "/proc/$p/smaps_rollup")))
    done
    avail1=$(meminfo MemAvailable)
    kern1=$(kernel_kib)
    echo "| $label | $n | $((pss / n)) | $((priv / n)) | $((rss / n)) | $(( (kern1 - kern0) / n )) | $(( (avail0 - avail1) / n )) | $((lv / MEMN)) |" >>"$OUT"
    for p in "${pids[@]}"; do kill -INT "$p"; done
    for p in "${pids[@]}"; do "$NETC" wait-pid "$p" 20000 || kill -KILL "$p"; done
}
say "Load before: $(load)"
say ""
echo "| guests | running | PSS KiB | own (anonymous) KiB | RSS KiB | kernel growth KiB | MemAvailable drop KiB | lightvm run RSS KiB |" >>"$OUT"
echo "|---|---:|---:|---:|---:|---:|---:|---:|" >>"$OUT"
mem_run net "$EX/daytime/daytime.elf" --net
mem_run idle "$EX/idle/idle.elf"
cat >>"$OUT" <<EOF

Per guest, averaged over $MEMN guests running at once (each started with
\`lightvm run [--net] ELF\` and answering, for the network guests, before the
next starts). From each guest process's \`smaps_rollup\`: PSS, RSS, and
its own pages ("Anonymous": heap, stack, the data and BSS pages it wrote,
its boot page): what a guest costs beyond the image pages. Under \`lightvm
run\` every guest has its own copy of the image (each run loads its own
template), so PSS and RSS include the whole image here; a daemon keeps one
template per image, whose pages its guests share. Kernel growth is Slab + KernelStack +
PageTables from \`/proc/meminfo\` (taps, sockets, namespaces, cgroups,
page tables). The last column is the foreground \`lightvm run\` process
each guest has here; a daemon replaces all of them with one. "idle" is
\`examples/idle\` (no NIC): the difference is what networking adds.

EOF

# ---- 5. Creation time as guests accumulate --------------------------------
say "## 5. Create-to-answer time as $ACCUM network guests accumulate"
say ""
say "Load before: $(load)"
nsx "$TOOLS/daytime_latency" -k -w 0 -n "$ACCUM" -o "$DATA/accumulate.txt" -- \
    "$LIGHTVM" run --net "$EX/daytime/daytime.elf" >"$DATA/accumulate-summary.txt" 2>&1
say ""
echo "| guests already running | median ms | p90 ms |" >>"$OUT"
echo "|---|---:|---:|" >>"$OUT"
step=$((ACCUM / 10))
[ "$step" -lt 1 ] && step=1
for lo in $(seq 0 "$step" $((ACCUM - 1))); do
    awk -v lo="$lo" -v hi=$((lo + step)) '$1 >= lo && $1 < hi {print $2}' "$DATA/accumulate.txt" |
        sort -n | awk -v lo="$lo" -v hi=$((lo + step - 1)) '
            {v[NR] = $1} END {if (NR) printf "| %d-%d | %.2f | %.2f |\n", lo, hi,
                v[int((NR + 1) / 2)] / 1000, v[int(NR * 0.9 + 0.5) ? int(NR * 0.9 + 0.5) : 1] / 1000}' >>"$OUT"
done
{ echo; cat "$DATA/accumulate-summary.txt"; } | code
cat >>"$OUT" <<EOF

Command: \`$BUILD/bench/net/daytime_latency -k -w 0 -n $ACCUM -- $BUILD/bin/lightvm
run --net $BUILD/examples/daytime/daytime.elf\`: every guest stays up until
the end; each row is the guests created while that many were running.
Load at the end: $(load).
EOF
echo "results in $OUT"
