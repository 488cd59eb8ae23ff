#!/bin/bash
# bench/faas.sh: the function service (docs/faas.md) under rising offered
# load, against its peers in the same run: the same gateway (HTTP, queue,
# limits) running each invocation in a fresh lightvm guest, in a plain
# `lua5.4` process, and in `lua5.4` in a fresh crun container
# (fn serve --runner guest|process|crun). The load is open loop
# (bench/faas_load.c): requests go out on schedule whether or not answers
# come back, so past capacity the queue fills, the gateway sheds (503)
# and goodput shows what is still served. The load comes from one
# address, so the per-client limit is off (--max-per-client 0). Then memory: a warm function
# guest (Lua loaded, the function run, kept alive) against a warm lua5.4
# process. Writes bench/results/faas.{md,csv,png}.
#
#   bench/faas.sh                         # RATES="25 50 ... 800" SECS=4
#   RATES="50 200" SECS=2 bench/faas.sh   # a quicker run
#   PAGE_ONLY=1 bench/faas.sh             # the page and plot again, from faas.csv
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
[ -n "${PAGE_ONLY:-}" ] || {
    scripts/deps.sh # the build's packages, the peers (lua5.4, crun), gnuplot
    make -s BUILD="$BUILD" all "$BUILD/bench/faas_load" >/dev/null
}
L=$PWD/$BUILD/bin/lightvm
LOAD=$PWD/$BUILD/bench/faas_load
RATES=${RATES:-25 50 100 150 200 300 400 600 800}
SECS=${SECS:-4}
RUNNING=${RUNNING:-4} # guests (processes, containers) at once
QUEUE=${QUEUE:-64}    # invocations waiting beyond those; 503 past it
WARM_N=${WARM_N:-20}  # warm guests for the memory figure
OUT=${OUT:-bench/results}
mkdir -p "$OUT"
W=$(mktemp -d /tmp/lightvm-faas.XXXXXX)
chmod 755 "$W"
export LIGHTVM_FN_DIR=$W/fn LIGHTVM_CGROUP_PARENT=lightvm-faas-bench-$$
export LIGHTVM_NO_DAEMON=1
GPID=
HOLD_PIDS=()
cleanup() {
    [ -n "$GPID" ] && kill "$GPID" 2>/dev/null && wait "$GPID" 2>/dev/null
    local p
    for p in "${HOLD_PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    rmdir /sys/fs/cgroup/*/"$LIGHTVM_CGROUP_PARENT" 2>/dev/null || true
    rm -rf "$W"
}
trap cleanup EXIT

# The function: a little work that depends on its input.
cat >"$W/square.lua" <<'EOF'
function handler(body)
  local n = tonumber(body)
  return string.format("%d:%s", n * n, body:reverse())
end
EOF
"$L" fn deploy square "$W/square.lua" >/dev/null

CSV=$OUT/faas.csv
if [ -z "${PAGE_ONLY:-}" ]; then
echo "runner,rate,sent,ok,shed,errors,dropped,lost,goodput,p50_ms,p90_ms,p99_ms" >"$CSV"

# gateway RUNNER: start fn serve with RUNNER; sets GPID and PORT.
gateway() {
    local cmd="exec $L fn serve --runner $1 --listen 127.0.0.1:0 \
--max-running $RUNNING --queue $QUEUE --pool 8 --cpu-time 5 --timeout 30 \
--max-per-client 0 --max-conns-per-client 0"
    if [ "$1" = crun ]; then
        # crun refuses a hybrid cgroup host: hide cgroup v2's mount from
        # it in a mount namespace of its own (as bench/density.sh does).
        unshare -m --propagation private sh -c \
            "umount /sys/fs/cgroup/unified 2>/dev/null; $cmd" >"$W/gw.out" 2>"$W/gw.err" &
    else
        sh -c "$cmd" >"$W/gw.out" 2>"$W/gw.err" &
    fi
    GPID=$!
    local i=0
    until grep -q '^listening on' "$W/gw.out" 2>/dev/null; do
        kill -0 "$GPID" 2>/dev/null || { cat "$W/gw.err" >&2; exit 1; }
        i=$((i + 1))
        [ $i -lt 3000 ] || { echo "faas: the $1 gateway did not start" >&2; exit 1; }
        read -rt 0.01 <> <(:) || true
    done
    PORT=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$W/gw.out")
    # Check an answer before measuring anything.
    [ "$(curl -s -X POST -d 12 "http://127.0.0.1:$PORT/fn/square")" = "144:21" ] ||
        { echo "faas: the $1 gateway answers wrongly" >&2; exit 1; }
}

stop_gateway() {
    kill "$GPID" && wait "$GPID" || true
    GPID=
}

for runner in guest process crun; do
    echo "faas: $runner, rates $RATES, ${SECS}s each" >&2
    gateway $runner
    "$LOAD" 127.0.0.1 "$PORT" /fn/square 12 20 1 >/dev/null # warm-up
    for rate in $RATES; do
        echo "$runner,$("$LOAD" 127.0.0.1 "$PORT" /fn/square 12 "$rate" "$SECS")" >>"$CSV"
    done
    stop_gateway
done

# ---- Memory of a warm function guest --------------------------------------
# WARM_N guests each load Lua, run the function and stay (the guest's
# hold mode); their own pages (Private_Clean + Private_Dirty: not shared
# with the image's copy-on-write pages or anything else) and PSS, from
# smaps_rollup. Against it: warm lua5.4 processes that ran the same
# function and wait on a pipe.
echo "faas: memory of $WARM_N warm guests and lua5.4 processes" >&2
mkdir -p "$W/tree/fn"
cp "$W/square.lua" "$W/tree/fn/handler.lua"
echo -n 12 >"$W/tree/fn/body"
tar cf "$W/files.tar" -C "$W/tree" fn
avail0=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)
for i in $(seq 1 "$WARM_N"); do
    truncate -s 64K "$W/result.$i"
    "$L" run -m 64M --block files="$W/files.tar" --block result="$W/result.$i" \
        "$BUILD/bin/lightvm-fn-guest.elf" 33554432 hold >/dev/null 2>&1 &
    HOLD_PIDS+=($!)
done
# Warm: each has written its answer.
for i in $(seq 1 "$WARM_N"); do
    n=0
    until head -c 12 "$W/result.$i" | grep -q 'LVMFN1 ok'; do
        n=$((n + 1))
        [ $n -lt 6000 ] || { echo "faas: warm guest $i never answered" >&2; exit 1; }
        read -rt 0.01 <> <(:) || true
    done
done
avail1=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)
# The guests: the processes in this run's guest cgroups.
gpids=$(cat /sys/fs/cgroup/*/"$LIGHTVM_CGROUP_PARENT"/*/cgroup.procs 2>/dev/null | sort -u)
# own KIND PIDS...: the mean of Private_* and Pss over PIDS, in KiB.
own() {
    local kind=$1
    shift
    local p
    for p in "$@"; do cat "/proc/$p/smaps_rollup" 2>/dev/null; done |
        awk -v k="$kind" -v n=$# '/^Private_(Clean|Dirty):/ {own += $2} /^Pss:/ {pss += $2}
            END {printf "%s,%d,%.0f,%.0f\n", k, n, own / n, pss / n}'
}
# shellcheck disable=SC2086
GUEST_MEM=$(own guest $gpids)
GUEST_AVAIL=$(((avail0 - avail1) / WARM_N))
for p in "${HOLD_PIDS[@]}"; do kill -INT "$p" 2>/dev/null; done
for p in "${HOLD_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
HOLD_PIDS=()
# Warm lua5.4 processes: the function run, then blocked reading a pipe.
mkfifo "$W/hold"
exec 9<>"$W/hold"
LPIDS=()
for i in $(seq 1 "$WARM_N"); do
    lua5.4 -e "dofile('$W/square.lua'); io.stdout:write(handler('12')); io.stdout:flush(); io.read('l')" \
        <"$W/hold" >"$W/lua.$i" &
    LPIDS+=($!)
done
for i in $(seq 1 "$WARM_N"); do
    until [ -s "$W/lua.$i" ]; do read -rt 0.01 <> <(:) || true; done
done
PROC_MEM=$(own process "${LPIDS[@]}")
for p in "${LPIDS[@]}"; do kill "$p" 2>/dev/null; done
exec 9>&-
echo "mem,$GUEST_MEM,$GUEST_AVAIL" >>"$CSV"
echo "mem,$PROC_MEM," >>"$CSV"
fi
# What the page says comes from the CSV alone (PAGE_ONLY redraws it).
RATES=$(awk -F, '$1=="guest" {printf "%s ", $2}' "$CSV")
RATES=${RATES% }
WARM_N=$(awk -F, '$1=="mem" && $2=="guest" {print $3}' "$CSV")

# ---- The page ----------------------------------------------------------------
col() { # RUNNER RATE FIELD
    awk -F, -v r="$1" -v x="$2" -v f="$3" '$1==r && $2==x {print $f}' "$CSV"
}
capacity() { # RUNNER: the highest goodput over the rates
    awk -F, -v r="$1" '$1==r && $9+0 > m {m = $9+0} END {printf "%.0f", m}' "$CSV"
}
cg=$(capacity guest)
cp=$(capacity process)
cc=$(capacity crun)
{
    echo "# FaaS: a fresh guest per invocation, against a process and a container"
    echo
    echo "Produced by \`bench/faas.sh\` (RATES=\"$RATES\" SECS=$SECS RUNNING=$RUNNING"
    echo "QUEUE=$QUEUE) on $(nproc) CPUs, $(date -u +%Y-%m-%d). The machine is shared:"
    echo "figures move between runs; the runners are compared within one run."
    echo "The same gateway (\`lightvm fn serve\`, its HTTP, queue of $QUEUE and"
    echo "$RUNNING at once) runs each invocation of a small Lua function"
    echo "(\`square\`) in a fresh lightvm guest (proc monitor, from the gateway's"
    echo "pool of prepared shells), in a fresh \`lua5.4\` process, or in \`lua5.4\`"
    echo "in a fresh crun container. Load is open loop (\`bench/faas_load.c\`)"
    echo "for ${SECS}s per rate; latency runs from the scheduled send to the"
    echo "answer's last byte. Past capacity the queue fills and the gateway"
    echo "answers 503 at once: goodput (200 answers a second) stays near"
    echo "capacity instead of collapsing, and the latency of what is served is"
    echo "bounded by the queue ($QUEUE deep). Goodput still sags somewhat past"
    echo "capacity: the gateway, its 503s and the load generator share the same"
    echo "CPUs as the guests."
    echo
    top=${RATES##* }
    echo "At the highest offered rate ($top/s) goodput is $(col guest "$top" 9)/s"
    echo "for guests, $(col process "$top" 9)/s for processes, $(col crun "$top" 9)/s for crun."
    echo
    echo "**Capacity** (best goodput): guest $cg/s, lua5.4 process $cp/s, crun $cc/s;"
    echo "guest / process = $(awk -v a="$cg" -v b="$cp" 'BEGIN {printf "%.2f", b ? a / b : 0}'),"
    echo "guest / crun = $(awk -v a="$cg" -v b="$cc" 'BEGIN {printf "%.2f", b ? a / b : 0}')."
    echo
    echo "![goodput and latency against offered load](faas.png)"
    echo
    echo "## Goodput (answers/s) and shed requests"
    echo
    echo "| offered/s | guest | process | crun | guest 503s | process 503s | crun 503s |"
    echo "|---:|---:|---:|---:|---:|---:|---:|"
    for r in $RATES; do
        echo "| $r | $(col guest "$r" 9) | $(col process "$r" 9) | $(col crun "$r" 9) | $(col guest "$r" 5) | $(col process "$r" 5) | $(col crun "$r" 5) |"
    done
    echo
    echo "## Latency of served invocations (ms): median / p90 / p99"
    echo
    echo "| offered/s | guest | process | crun |"
    echo "|---:|---:|---:|---:|"
    for r in $RATES; do
        row="| $r"
        for k in guest process crun; do
            row="$row | $(col $k "$r" 10) / $(col $k "$r" 11) / $(col $k "$r" 12)"
        done
        echo "$row |"
    done
    echo
    echo "## Memory of a warm function (KiB each, $WARM_N of them)"
    echo
    echo "A warm guest has loaded Lua, run the function and stays (the guest's"
    echo "\`hold\` mode, -m 64M); a warm process has done the same in \`lua5.4\`."
    echo "Own pages: Private_Clean + Private_Dirty of its process (not shared"
    echo "with the image's copy-on-write pages or other guests). The"
    echo "MemAvailable drop is the whole cost per guest as the host sees it:"
    echo "its pages, the kernel's (page tables, namespaces, cgroup) and the"
    echo "\`lightvm run\` process that supervises each warm guest here (the"
    echo "gateway supervises all of its guests from one process)."
    echo
    echo "| warm function | own pages | PSS | MemAvailable drop |"
    echo "|---|---:|---:|---:|"
    awk -F, '$1=="mem" {printf "| %s | %s | %s | %s |\n", $2, $4, $5, ($6 == "" ? "-" : $6)}' "$CSV"
    echo
    echo "Raw figures: [faas.csv](faas.csv) (rate rows: runner, offered rate, sent,"
    echo "ok, shed, errors, dropped, lost, goodput, p50, p90, p99 ms)."
} >"$OUT/faas.md"

gnuplot <<GP
set terminal png size 1100,500
set output "$OUT/faas.png"
set datafile separator ","
set multiplot layout 1,2 title "Lua function per invocation: guest, process, container ($(nproc) CPUs)"
set xlabel "offered load (invocations/s)"
set ylabel "goodput (answers/s)"
set key top left
plot "< awk -F, '\$1==\"guest\"' $CSV" using 2:9 with linespoints pt 7 title "lightvm guest", \
     "< awk -F, '\$1==\"process\"' $CSV" using 2:9 with linespoints pt 5 title "lua5.4 process", \
     "< awk -F, '\$1==\"crun\"' $CSV" using 2:9 with linespoints pt 9 title "crun + lua5.4", \
     x with lines dt 2 lc rgb "gray" title "offered"
set ylabel "median latency of served (ms)"
set logscale y
plot "< awk -F, '\$1==\"guest\"' $CSV" using 2:10 with linespoints pt 7 title "lightvm guest", \
     "< awk -F, '\$1==\"process\"' $CSV" using 2:10 with linespoints pt 5 title "lua5.4 process", \
     "< awk -F, '\$1==\"crun\"' $CSV" using 2:10 with linespoints pt 9 title "crun + lua5.4"
unset multiplot
GP
cat "$OUT/faas.md"
