#!/bin/bash
# bench/tls_timeouts.sh: what the proxy's timeouts cost on the request
# path (docs/tls.md, "Timeouts and a full connection table"). Two P-256
# tls-proxy guests on one bridge in front of one backend (nginx, plain
# HTTP, in crun): "timeouts", the proxy of this tree (default timeouts:
# its loop is lvm_net_poll() to the next deadline, its callbacks stamp
# activity with lvm_net_now()), and "before", the proxy of commit $BASE (lvm_net_run(), no
# timeouts), both built with this tree's SDK. Keep-alive requests/s (wrk),
# rounds alternating between the two. Writes bench/results/tls-timeouts.md
# (raw output in bench/results/tls-timeouts-data/); run as root after
# `make all tests`.
#
#   SECONDS_EACH=10 ROUNDS=5 CONNS=16 BASE=3d4b316 bench/tls_timeouts.sh
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
LIGHTVM=$PWD/$BUILD/bin/lightvm
NETC=$PWD/$BUILD/tests/net/tools/netc
CC_GUEST=$PWD/$BUILD/sdk/bin/lightvm-cc
SECONDS_EACH=${SECONDS_EACH:-10}
ROUNDS=${ROUNDS:-5}
CONNS=${CONNS:-16}
BASE=${BASE:-3d4b316}
OUT=bench/results/tls-timeouts.md
DATA=bench/results/tls-timeouts-data
NS=lvmtt$$  # the bridge, the guests, wrk
BNS=lvmtu$$ # the backend at 10.213.250.250
BACKEND=10.213.250.250
TMP=$(mktemp -d /tmp/lvm-bench-tlsto.XXXXXX)
chmod 755 "$TMP"
export LIGHTVM_RUN_DIR=$TMP/run
export LIGHTVM_CGROUP_PARENT=lightvm-bench-tlsto-$$
mkdir -p "$DATA"
PIDS=()

nsx() { nsenter --net=/run/netns/"$NS" "$@"; }
crunx() { # crun outside the hybrid cgroup v2 part (as bench/tls.sh)
    unshare -m --propagation private sh -c \
        "umount /sys/fs/cgroup/unified 2>/dev/null; crun $*"
}
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -INT "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do "$NETC" wait-pid "$p" 20000 || kill -KILL "$p"; done
    crunx delete -f lvmtu$$ >/dev/null 2>&1
    ip netns del "$NS" 2>/dev/null
    ip netns del "$BNS" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
say() { echo "$*" | tee -a "$OUT"; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
guest_pid() { # the process of guest NAME (comm "lvm-NAME", cut to 15)
    local want="lvm-$1" p
    want=${want:0:15}
    for p in /proc/[0-9]*; do
        [ "$(cat "$p/comm" 2>/dev/null)" = "$want" ] && { echo "${p#/proc/}"; return; }
    done
}

# ---- The two proxies, a P-256 certificate ----------------------------------
mkdir -p "$TMP/pki"
(
    cd "$TMP/pki" || exit 1
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj /CN=proxy.test -addext subjectAltName=DNS:proxy.test \
        -keyout ec.key -out ec.pem &&
        cat ec.pem ec.key >ec.bundle && truncate -s %4096 ec.bundle
) >"$TMP/pki.log" 2>&1 || { cat "$TMP/pki.log"; exit 1; }
git show "$BASE:examples/tls-proxy/tls-proxy.c" >"$TMP/before.c" || exit 1
for v in before:"$TMP/before.c" timeouts:examples/tls-proxy/tls-proxy.c; do
    "$CC_GUEST" --tls -DTLS_PROXY_BLOCK -std=c11 -O2 -g -o "$TMP/${v%%:*}.elf" "${v#*:}" ||
        exit 1
done

: >"$OUT"
say "# What the TLS proxy's timeouts cost per request"
say ""
say "Machine: $(nproc) CPUs, kernel $(uname -r); $(date -u '+%F %H:%M UTC'). Load before: $(load) (the machine is shared: the per-CPU-second figures are the ones to compare)."
say ""

ip netns add "$NS" && nsx ip link set lo up || exit 1
declare -A IP
# "mem": the timeouts proxy again, for the memory figures only (a fresh
# guest: the runs' connections would leave it pages to reuse).
cp "$TMP/timeouts.elf" "$TMP/mem.elf"
for v in before timeouts mem; do
    nsenter --net=/run/netns/"$NS" "$LIGHTVM" run --name "tt-$v$$" --net \
        --block "certs=$TMP/pki/ec.bundle:ro" "$TMP/$v.elf" "$BACKEND:80" \
        >"$TMP/$v.out" 2>"$TMP/$v.err" &
    PIDS+=($!)
    read -r IP[$v] _ <<<"$("$NETC" wait-ip "$TMP/$v.err" 10000 "${PIDS[-1]}")"
    [ -n "${IP[$v]}" ] || { cat "$TMP/$v.err"; exit 1; }
    "$NETC" wait-text "$TMP/$v.out" listening 20000 >/dev/null ||
        { cat "$TMP/$v.out" "$TMP/$v.err"; exit 1; }
done
ip netns add "$BNS"
ip link add "vu$$" netns "$NS" type veth peer name eth0 netns "$BNS"
nsx ip link set "vu$$" master lvm0 up
ip -n "$BNS" addr add "$BACKEND/16" dev eth0
ip -n "$BNS" link set eth0 up
ip -n "$BNS" link set lo up
head -c 612 /dev/zero | tr '\0' 'x' >"$TMP/page.html"
bench/net/nginx-bundle.sh "$TMP/backend" "$BNS" "$TMP/page.html" >/dev/null
crunx run -d --bundle "$TMP/backend" lvmtu$$ || exit 1
nsx curl -s --retry 20 --retry-connrefused --retry-delay 0 -o /dev/null "http://$BACKEND/" ||
    exit 1
for v in before timeouts; do
    nsx curl -sS --cacert "$TMP/pki/ec.pem" --resolve "proxy.test:443:${IP[$v]}" \
        https://proxy.test/ | cmp -s - "$TMP/page.html" ||
        { echo "no page through $v"; exit 1; }
done

# ---- Keep-alive requests, rounds alternating --------------------------------
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
: >"$DATA/runs.txt"
for r in $(seq 1 "$ROUNDS"); do
    for v in before timeouts; do
        pid=$(guest_pid "tt-$v$$")
        f="$DATA/wrk-$v-$r.txt"
        c0=$(cpu_ticks "$pid")
        nsx wrk -t1 -c"$CONNS" -d"${SECONDS_EACH}s" --latency "https://${IP[$v]}/" >"$f" 2>&1
        c1=$(cpu_ticks "$pid")
        rps=$(awk '/Requests\/sec/ {print $2}' "$f")
        p50=$(awk '/^ +50%/ {print $2}' "$f")
        p90=$(awk '/^ +90%/ {print $2}' "$f")
        n=$(awk '/requests in/ {print $1}' "$f")
        percpu=$(awk -v n="$n" -v t=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" \
            'BEGIN { if (t > 0) printf "%.1f", n / (t / hz); else print 0 }')
        echo "$v $r $rps $p50 $p90 $percpu" >>"$DATA/runs.txt"
    done
done


# ---- What a slot costs: the fresh "mem" proxy's memory, idle, then with 16
# clients stalled in their handshake, then with 20 more established and
# idle (every slot the proxy keeps). The clients wait for a file, not for
# a time; the guest's RSS and PSS are read at each stage.
rss_kb() { awk '/^Rss:/ {print $2}' "/proc/$1/smaps_rollup" 2>/dev/null; }
pss_kb() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup" 2>/dev/null; }
GP=$(guest_pid "tt-mem$$")
m_idle="$(rss_kb "$GP") $(pss_kb "$GP")"
nsx python3 - "${IP[mem]}" "$TMP/pki/ec.pem" "$TMP/hold" <<'EOF' &
import os, socket, ssl, sys, time
ip, ca, base = sys.argv[1:4]
ctx = ssl.create_default_context(cafile=ca)
held = []
def stage(name):
    open(base + "." + name, "w").write("ready %d\n" % len(held))
    deadline = time.time() + 120
    while not os.path.exists(base + "." + name + ".read") and time.time() < deadline:
        time.sleep(0.05)  # holding the connections while memory is read
for i in range(16):
    s = socket.create_connection((ip, 443), timeout=10)
    s.sendall(bytes.fromhex("16030100800100007c0303"))  # half a ClientHello
    held.append(s)
stage("half")
for i in range(20):
    s = socket.create_connection((ip, 443), timeout=10)
    held.append(ctx.wrap_socket(s, server_hostname="proxy.test"))
stage("established")
EOF
HOLDER=$!
"$NETC" wait-text "$TMP/hold.half" ready 30000 >/dev/null || exit 1
m_half="$(rss_kb "$GP") $(pss_kb "$GP")"
touch "$TMP/hold.half.read"
"$NETC" wait-text "$TMP/hold.established" ready 60000 >/dev/null || exit 1
m_est="$(rss_kb "$GP") $(pss_kb "$GP")"
touch "$TMP/hold.established.read"
wait "$HOLDER"
read -r r0 p0 <<<"$m_idle"
read -r r1 p1 <<<"$m_half"
read -r r2 p2 <<<"$m_est"

median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
cell() { median $(awk -v v="$1" -v f="$2" '$1==v {print $f}' "$DATA/runs.txt"); }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
say "## Keep-alive requests through the proxy (P-256, TLS 1.3)"
say ""
say "<!-- plot table=1 cols=2,3 title=\"TLS proxy requests, before and with timeouts (higher is better)\" ylabel=\"requests\" -->"
say "![TLS proxy requests, before and with timeouts](tls-timeouts.png)"
say ""
say "| proxy | requests/s | requests/CPU-s | p50 | p90 |"
say "|---|---:|---:|---:|---:|"
for v in before timeouts; do
    say "| $v | $(cell $v 3) | $(cell $v 6) | $(cell $v 4) | $(cell $v 5) |"
done
say ""
say "Ratios, timeouts / before: requests/s $(ratio "$(cell timeouts 3)" "$(cell before 3)"), requests per CPU-second $(ratio "$(cell timeouts 6)" "$(cell before 6)")."
say "Round by round, requests per CPU-second timeouts / before: $(awk '$1=="before" {b[$2]=$6} $1=="timeouts" && b[$2] > 0 {r=$6/b[$2]; if (!n++ || r<lo) lo=r; if (n==1 || r>hi) hi=r} END {printf "%.2f to %.2f", lo, hi}' "$DATA/runs.txt") (the spread the machine's other load gives)."
say ""
say "## What a slot costs (a fresh timeouts proxy's memory)"
say ""
say "| state | RSS KiB | PSS KiB |"
say "|---|---:|---:|"
say "| started, no client yet | $r0 | $p0 |"
say "| + 16 clients stalled in their handshake | $r1 | $p1 |"
say "| + 20 established idle clients (every slot taken) | $r2 | $p2 |"
say ""
say "Per stalled handshake: $(( (p1 - p0) / 16 )) KiB PSS; per established pair (client TLS + backend TCP): $(( (p2 - p1) / 20 )) KiB PSS. A fresh guest (not the one the requests went through), so no freed memory is reused."
say ""
cat >>"$OUT" <<EOF
Command, in the namespace of the bridge: \`wrk -t1 -c$CONNS -d${SECONDS_EACH}s
--latency https://GUEST/\`, $ROUNDS rounds alternating between the proxies,
medians of the rounds (raw output in tls-timeouts-data/). requests/CPU-s:
requests divided by the CPU time the guest process itself used (utime +
stime), so the machine's other load does not count. Both proxies are
tls-proxy-blk.elf built with this tree's SDK, proc monitor: "before" is
examples/tls-proxy/tls-proxy.c of commit $BASE (lvm_net_run(), no
timeouts), "timeouts" is this tree's (default timeouts: 10 s handshake,
300 s idle; the loop and the callbacks take the time from lvm_net_now(),
no clock read of their own). The backend is nginx (one worker, plain
HTTP, a $(stat -c %s "$TMP/page.html")-byte page) in crun on the bridge.
Load after: $(load).
EOF
# The plot (bench/plot-pages.sh draws every page's; only this one is kept).
bench/plot-pages.sh "$TMP/plots" >/dev/null 2>&1 &&
    cp "$TMP/plots/tls-timeouts.png" bench/results/ ||
    echo "bench/plot-pages.sh failed: no plot"
