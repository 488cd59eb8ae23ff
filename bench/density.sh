#!/bin/bash
# bench/density.sh: the paper's density figure on this machine. lightvmd
# creates noop guests that stay running (idle, 4 MiB), up to N, with its
# pool and then without; crun and bwrap start as many idle containers as
# they manage (PEERS_N). Creation time against the number running, memory
# per instance, idle CPU. Writes bench/results/density.{md,csv,png}.
#
#   bench/density.sh                      # N=10000 PEERS_N=1000 RATE=200
#   N=2000 PEERS_N=200 bench/density.sh   # a quicker run
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh # the build's packages, the peers (crun, bwrap), gnuplot
make -s bench-tools >/dev/null
B=build/bench
N=${N:-10000}
PEERS_N=${PEERS_N:-1000}
RATE=${RATE:-200}
OUT=bench/results
mkdir -p "$OUT"
W=$(mktemp -d /tmp/lightvm-density.XXXXXX)
chmod 755 "$W"
DPID=
cleanup() {
    [ -n "$DPID" ] && kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
    umount -l "$W/run" 2>/dev/null
    rm -rf "$W"
}
trap cleanup EXIT
# The run directory on a tmpfs, as /run is on a standard Debian host.
mkdir -p "$W/run"
mount -t tmpfs -o size=4g,mode=0755 lightvm-bench "$W/run"

mkdir -p "$W/rootfs"
cp $B/noop $B/pause "$W/rootfs/"
mkdir -p "$W/bundle"
(cd "$W/bundle" && crun spec)
sed -i -e 's|"sh"|"/pause"|' -e 's|"terminal": true|"terminal": false|' \
    -e 's|"readonly": false|"readonly": true|' "$W/bundle/config.json"
ln -s "$W/rootfs" "$W/bundle/rootfs"

CSV=$OUT/density.csv
: >"$CSV"
daemon() { # POOL: start a lightvmd of our own
    LIGHTVM_RUN_DIR=$W/run build/bin/lightvmd --quiet --pool "$1" \
        --pool-rate 2000 >>"$W/lightvmd.log" 2>&1 &
    DPID=$!
    until LIGHTVM_SOCKET=$W/run/lightvmd.sock build/bin/lightvm list >/dev/null 2>&1; do
        read -rt 0.05 <> <(:) || true
    done
    # Measure from a full pool.
    [ "$1" = 0 ] && return
    until build/tests/tools/apiclient "$W/run/lightvmd.sock" '{"op":"pool"}' |
        grep -qE '"target":([0-9]+),"ready":\1,"preparing":0'; do
        read -rt 0.1 <> <(:) || true
    done
}
stop_daemon() {
    kill "$DPID"
    wait "$DPID" 2>/dev/null || true
    DPID=
}

echo "density: lightvm with its pool, $N guests" >&2
daemon 4M=64
$B/bench_density lightvm "$W/run/lightvmd.sock" "$W/run" "$PWD/build/examples/idle/idle.elf" \
    "$N" "$RATE" | sed 's/^\([a-z]*\),lightvm,/\1,lightvm-pool,/' >>"$CSV"
stop_daemon
echo "density: lightvm without a pool, $N guests" >&2
daemon 0
$B/bench_density lightvm "$W/run/lightvmd.sock" "$W/run" "$PWD/build/examples/idle/idle.elf" \
    "$N" "$RATE" | sed 's/^\([a-z]*\),lightvm,/\1,lightvm-nopool,/' >>"$CSV"
stop_daemon
echo "density: crun, $PEERS_N containers" >&2
unshare -m --propagation private sh -c \
    "umount /sys/fs/cgroup/unified 2>/dev/null; $B/bench_density crun $W/bundle $PEERS_N $RATE" >>"$CSV"
echo "density: bwrap, $PEERS_N sandboxes" >&2
$B/bench_density bwrap "$W/rootfs" "$PEERS_N" "$RATE" >>"$CSV"

# Summary table: medians and p90 of creation, first and last thousand.
summary() { # KIND FIELD FROM TO
    awk -F, -v k="$1" -v f="$2" -v lo="$3" -v hi="$4" \
        '$1=="create" && $2==k && $3>lo && $3<=hi {print $f}' "$CSV" | sort -n |
        awk '{a[NR]=$1} END {if (NR) printf "%.3f | %.3f", a[int((NR+1)/2)], a[int(NR*0.9+0.5)]; else printf "- | -"}'
}
{
    echo "# Density: creation time as instances accumulate"
    echo
    echo "Produced by \`N=$N PEERS_N=$PEERS_N RATE=$RATE bench/density.sh\` on $(date -u +%Y-%m-%d)."
    echo "Machine: $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r)."
    echo "Creations are paced at $RATE per second; guests are \`idle\` with 4 MiB of RAM,"
    echo "created over one persistent connection to lightvmd (pool: 64 prepared shells)."
    echo "Raw data: \`density.csv\`; plot: \`density.png\`."
    echo
    echo "## Creation time (ms): request to the daemon's reply, and to the guest's first instruction"
    echo
    echo "| instances | range | reply median | reply p90 | first insn median | first insn p90 |"
    echo "|---|---|---:|---:|---:|---:|"
    for k in lightvm-pool lightvm-nopool; do
        last=$(awk -F, -v k=$k '$1=="create" && $2==k {n=$3} END {print n+0}' "$CSV")
        lo=$((last > 1000 ? last - 1000 : 0))
        echo "| $k | first 1000 | $(summary $k 5 0 1000) | $(summary $k 6 0 1000) |"
        echo "| $k | last 1000 (to $last) | $(summary $k 5 $lo $last) | $(summary $k 6 $lo $last) |"
    done
    for k in crun bwrap; do
        last=$(awk -F, -v k=$k '$1=="create" && $2==k {n=$3} END {print n+0}' "$CSV")
        lo=$((last > 100 ? last - 100 : 0))
        echo "| $k | first 100 | $(summary $k 5 0 100) | - | - |"
        echo "| $k | last 100 (to $last) | $(summary $k 5 $lo $last) | - | - |"
    done
    echo
    echo "## Memory per instance (KiB) and idle CPU"
    echo
    echo "| instances | running | PSS | kernel growth | PSS + kernel | MemAvailable drop | idle CPU % (all) |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    for k in lightvm-pool lightvm-nopool crun bwrap; do
        awk -F, -v k=$k '$1=="mem" && $2==k {r=$3; a=$4; kk=$5; p=$6} $1=="cpu" && $2==k {c=$4}
            END {if (r) printf "| %s | %d | %.0f | %.0f | %.0f | %.0f | %.3f |\n", k, r, p, kk/r, p+kk/r, a/r, c}' "$CSV"
    done
} >"$OUT/density.md"

gnuplot <<GP
set terminal png size 1100,650
set output "$OUT/density.png"
set datafile separator ","
set title "Creation time as instances accumulate ($(nproc) CPUs)"
set xlabel "instances already running"
set ylabel "creation time (ms)"
set logscale y
set key top left
plot "< awk -F, '\$1==\"create\" && \$2==\"lightvm-pool\"' $CSV" using 4:5 with points pt 7 ps 0.3 title "lightvm, pool (reply)", \
     "< awk -F, '\$1==\"create\" && \$2==\"lightvm-nopool\"' $CSV" using 4:5 with points pt 7 ps 0.3 title "lightvm, no pool", \
     "< awk -F, '\$1==\"create\" && \$2==\"crun\"' $CSV" using 4:5 with points pt 7 ps 0.3 title "crun run -d", \
     "< awk -F, '\$1==\"create\" && \$2==\"bwrap\"' $CSV" using 4:5 with points pt 7 ps 0.3 title "bwrap"
GP
cat "$OUT/density.md"
