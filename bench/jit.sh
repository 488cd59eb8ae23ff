#!/bin/bash
# bench/jit.sh: just-in-time service instantiation (issue 15; the paper's
# JIT use case: a guest boots when a client's first packet arrives, 13 ms
# median and 20 ms p90 first-answer round trip with a new client every
# 25 ms). Open-loop arrivals (tests/net/tools/jitc: client i starts at
# i x INTERVAL whatever the others do), each client from its own address,
# sends one line and waits for its echo: the first answer. Four servers
# in the same run, each at a new client every 25 ms and every 10 ms:
#
#   serve          lightvm serve --per-client: a guest (examples/echo)
#                  created through lightvmd when the client connects, from
#                  its pool of network shells; destroyed after 2 s idle
#   serve-spare    the same with --spare 8: guests made ahead (and
#                  reached once), so the client's guest is already up
#   socket-process systemd-socket-activate --inetd --accept: fork+exec of
#                  a static echo process per client (bench/echo_stdio.c)
#   crun           the same, each process in a new crun container
#
# A client not answered within 30 s is a drop. Results:
# bench/results/jit.md (+ jit.png via bench/plot-pages.sh).
#
#   bench/jit.sh                     # N=1000 clients per rate
#   N=200 BUILD=build/jit bench/jit.sh
#   SERIES="serve serve-spare" bench/jit.sh
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
N=${N:-1000}
SERIES=${SERIES:-serve serve-spare socket-process crun}
RATES="25000 10000"
make -s BUILD="$BUILD" all "$BUILD/tests/net/tools/jitc" \
    "$BUILD/bench/echo_stdio" >/dev/null
JITC=$PWD/$BUILD/tests/net/tools/jitc
W=$(mktemp -d /tmp/lightvm-bench-jit.XXXXXX)
chmod 755 "$W"
NS=jitb$$
DPID=
SPID=
export LIGHTVM_RUN_DIR=$W/run LIGHTVM_SOCKET=$W/run/lightvmd.sock
export LIGHTVM_CGROUP_PARENT=lightvm-bench-jit-$$
cleanup() {
    [ -z "$SPID" ] || { kill "$SPID"; wait "$SPID"; } 2>/dev/null || true
    [ -z "$DPID" ] || { kill "$DPID"; wait "$DPID"; } 2>/dev/null || true
    local c
    for c in $(crun list -q 2>/dev/null | grep "^jitb" || true); do
        crun delete -f "$c" >/dev/null 2>&1 || true
    done
    ip netns del "$NS" 2>/dev/null || true
    local d
    for d in $(find /sys/fs/cgroup -maxdepth 2 -name "$LIGHTVM_CGROUP_PARENT"); do
        rmdir "$d" 2>/dev/null || true # empty once lightvmd's pool is gone
    done
    rm -rf "$W"
}
trap cleanup EXIT
trap "exit 1" INT TERM
ip netns add "$NS"
nsx() { nsenter --net=/run/netns/"$NS" "$@"; }
nsx ip link set lo up

mkdir -p "$W/run"
# In the background through nsenter itself (it execs): $! is the server,
# not a subshell, for kill and wait.
NSENTER="nsenter --net=/run/netns/$NS"
$NSENTER "$BUILD/bin/lightvmd" --pool 16M+net=64 >"$W/lightvmd.log" 2>&1 &
DPID=$!
until "$BUILD/bin/lightvm" list >/dev/null 2>&1; do sleep 0.1; done

# The container: the static echo, stdio being the client's socket.
mkdir -p "$W/bundle/rootfs"
cp "$BUILD/bench/echo_stdio" "$W/bundle/rootfs/"
(cd "$W/bundle" && crun spec)
python3 - "$W/bundle/config.json" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"]["terminal"] = False
c["process"]["args"] = ["/echo_stdio"]
c["root"]["readonly"] = True
json.dump(c, open(sys.argv[1], "w"))
EOF
# A container id per client: $$ of the shell that execs crun.
cat >"$W/crun-one.sh" <<EOF
#!/bin/sh
exec crun run --bundle $W/bundle "jitb\$\$"
EOF
chmod +x "$W/crun-one.sh"

# server_start NAME PORT: the server of series NAME on 127.0.0.1:PORT.
server_start() {
    local log=$W/$1.log
    case $1 in
    serve | serve-spare)
        local spare=0
        [ "$1" = serve ] || spare=8
        $NSENTER "$BUILD/bin/lightvm" serve -l "127.0.0.1:$2" --guest-port 7 \
            --per-client --max-guests 1024 --spare $spare \
            "$BUILD/examples/echo/echo.elf" >"$log" 2>&1 &
        SPID=$!
        until grep -q "listening on" "$log"; do sleep 0.05; done
        ;;
    socket-process)
        $NSENTER systemd-socket-activate --inetd -a -l "127.0.0.1:$2" \
            "$PWD/$BUILD/bench/echo_stdio" >"$log" 2>&1 &
        SPID=$!
        until grep -q "Listening on" "$log"; do sleep 0.05; done
        ;;
    crun) # crun 1.8 refuses this hybrid cgroup host with the v2 mount
        $NSENTER unshare -m sh -c "umount /sys/fs/cgroup/unified 2>/dev/null; \
            exec systemd-socket-activate --inetd -a -l 127.0.0.1:$2 \
            $W/crun-one.sh" >"$log" 2>&1 &
        SPID=$!
        until grep -q "Listening on" "$log"; do sleep 0.05; done
        ;;
    esac
    # A warm-up client, not counted.
    nsx "$JITC" --src 127.9.0.1 --timeout-ms 30000 127.0.0.1 "$2" 1 >/dev/null
}

server_stop() {
    kill -TERM "$SPID" 2>/dev/null || true
    wait "$SPID" 2>/dev/null || true
    SPID=
}

# stats FILE: "median p90 p99 drops" in ms from a jitc --out file.
stats() {
    awk '$3 == "ok" {print $2} $3 != "ok" {d++} END {print "drops", d + 0}' "$1" |
        sort -n | awk '
        /^drops/ {drops = $2; next}
        {v[n++] = $1}
        END {
            if (!n) { printf "- - - %d\n", drops; exit }
            printf "%.2f %.2f %.2f %d\n", v[int(n * 0.5)] / 1000,
                v[int(n * 0.9)] / 1000, v[int(n * 0.99)] / 1000, drops
        }'
}
# pct FILE P: the Pth percentile in ms (the plot's points).
pct() {
    awk '$3 == "ok" {print $2}' "$1" | sort -n |
        awk -v p="$2" '{v[n++] = $1} END {if (n) printf "%.2f", v[int(n * p / 100)] / 1000; else printf "NaN"}'
}

port=7100
for s in $SERIES; do
    for r in $RATES; do
        port=$((port + 1))
        server_start "$s" $port
        echo "$s, a client every $((r / 1000)) ms: $N clients" >&2
        # Client i from 127.1.x.y: a new client to serve each time.
        nsx "$JITC" --interval-us "$r" --src 127.1.0.1 --timeout-ms 30000 \
            --out "$W/$s-$r.out" 127.0.0.1 $port "$N" >"$W/$s-$r.jitc" 2>&1 || true
        server_stop
        # Every guest serve made is gone once it has stopped.
        [ -z "$("$BUILD/bin/lightvm" list -q)" ] || { echo "guests left after $s" >&2; exit 1; }
    done
done

OUT=bench/results/jit.md
mkdir -p bench/results
{
    echo "# Just-in-time service instantiation: first-answer round trip"
    echo
    echo "![first answer at a new client every 25 ms: percentiles, ms](jit.png)"
    echo "<!-- plot-data title=\"first answer, a new client every 25 ms: percentiles (a CDF on its side)\" ylabel=\"ms\" log"
    printf "percentile"
    for s in $SERIES; do printf "\t%s" "$s"; done
    echo
    for p in 10 25 50 75 90 95 99; do
        printf "p%s" $p
        for s in $SERIES; do printf "\t%s" "$(pct "$W/$s-25000.out" $p)"; done
        echo
    done
    echo "-->"
    echo
    echo "Produced by \`N=$N bench/jit.sh\` on $(date -u +%Y-%m-%d)."
    echo "Machine: $(nproc) CPUs, kernel $(uname -r), load before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "(a shared machine: other work ran meanwhile). crun $(crun --version | awk 'NR==1 {print $3}'),"
    echo "$(systemd-socket-activate --version 2>/dev/null | head -n1 || echo systemd)."
    echo
    echo "Each client connects from its own address (open loop: client i starts"
    echo "at i x the interval whatever the others do), sends one line and waits"
    echo "for its echo; the time from its connect to the echo's last byte is its"
    echo "first-answer round trip. A client not answered within 30 s is a drop."
    echo "\`serve\` is \`lightvm serve --per-client\` with the echo guest: lightvmd"
    echo "(pool \`16M+net=64\`) creates the client's guest when it connects, serve"
    echo "splices the connection to the guest's address, and the guest goes after"
    echo "2 s idle. \`serve-spare\` adds \`--spare 8\`: guests made ahead, each"
    echo "reached once, so a client's guest is up before it comes. The peers are"
    echo "systemd-socket-activate (\`--inetd --accept\`) forking and execing a"
    echo "static echo process per client, and the same starting the process in a"
    echo "new crun container (through a two-line sh wrapper that names it)."
    echo
    echo "| server | a client every | clients | median ms | p90 ms | p99 ms | drops |"
    echo "|---|---|---|---|---|---|---|"
    echo "| paper (LightVM on Xen) | 25 ms | - | 13 | 20 | - | - |"
    echo "| paper (LightVM on Xen) | 10 ms | - | - | - | - | the Linux bridge dropped packets |"
    for s in $SERIES; do
        for r in $RATES; do
            read -r med p90 p99 drops <<<"$(stats "$W/$s-$r.out")"
            echo "| $s | $((r / 1000)) ms | $N | $med | $p90 | $p99 | $drops |"
        done
    done
    echo
    echo "Ratios, median at 25 ms arrivals:"
    base=$(stats "$W/serve-25000.out" | awk '{print $1}')
    for s in $SERIES; do
        m=$(stats "$W/$s-25000.out" | awk '{print $1}')
        awk -v s="$s" -v m="$m" -v b="$base" 'BEGIN {if (b > 0 && m != "-") printf "- %s: %.2fx serve'"'"'s\n", s, m / b}'
    done
} >"$OUT"
cat "$OUT"
bench/plot-pages.sh >/dev/null 2>&1 || echo "plot-pages.sh failed (gnuplot?)" >&2
