#!/bin/bash
# bench/fn_hard.sh: the function gateway (lightvm fn serve, docs/faas.md)
# against clients that do not behave, measured from a well-behaved one.
#
#  1. Slow clients: SLOW connections that sent half a request head (a
#     slowloris, bench/fn_slowloris.c) are held while a normal client
#     invokes at NORMAL_RATE a second (bench/faas_load.c, open loop):
#     its latency against the same run without them. Then the header
#     timeout clears them (408 each), counted.
#  2. One client floods: client A (127.0.0.1) offers FLOOD_RATE a second,
#     more than the gateway's capacity; client B (127.0.0.2) offers
#     NORMAL_RATE a second at the same time. What B gets, without a
#     per-client limit (--max-per-client 0) and with the default one.
# Writes bench/results/fn-hard.md (its plot: bench/plot-pages.sh).
#
#   bench/fn_hard.sh                     # SLOW=2000 FLOOD_RATE=400 SECS=8
#   SLOW=500 SECS=4 bench/fn_hard.sh     # a quicker run
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
make -s BUILD="$BUILD" all "$BUILD/bench/faas_load" "$BUILD/bench/fn_slowloris" >/dev/null
L=$PWD/$BUILD/bin/lightvm
LOAD=$PWD/$BUILD/bench/faas_load
SLOWC=$PWD/$BUILD/bench/fn_slowloris
SLOW=${SLOW:-2000}
SECS=${SECS:-8}
NORMAL_RATE=${NORMAL_RATE:-20}
FLOOD_RATE=${FLOOD_RATE:-400}
RUNNING=${RUNNING:-4}
QUEUE=${QUEUE:-64}
OUT=${OUT:-bench/results}
mkdir -p "$OUT"
W=$(mktemp -d /tmp/lightvm-fnhard.XXXXXX)
chmod 755 "$W"
export LIGHTVM_FN_DIR=$W/fn LIGHTVM_CGROUP_PARENT=lightvm-fnhard-bench-$$
export LIGHTVM_NO_DAEMON=1
GPID=
SPID=
cleanup() {
    local p
    for p in $SPID $GPID; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    rmdir /sys/fs/cgroup/*/"$LIGHTVM_CGROUP_PARENT" 2>/dev/null || true
    rm -rf "$W"
}
trap cleanup EXIT

cat >"$W/square.lua" <<'EOF'
function handler(body)
  local n = tonumber(body)
  return string.format("%d:%s", n * n, body:reverse())
end
EOF
"$L" fn deploy square "$W/square.lua" >/dev/null

# gateway OPTIONS...: start fn serve; sets GPID and PORT.
gateway() {
    "$L" fn serve --listen 127.0.0.1:0 --max-running "$RUNNING" --queue "$QUEUE" \
        --pool 8 --cpu-time 5 --timeout 30 --max-conns-per-client 0 "$@" >"$W/gw.out" 2>"$W/gw.err" &
    GPID=$!
    local i=0
    until grep -q '^listening on' "$W/gw.out" 2>/dev/null; do
        kill -0 "$GPID" 2>/dev/null || { cat "$W/gw.err" >&2; exit 1; }
        i=$((i + 1))
        [ $i -lt 3000 ] || { echo "fn_hard: the gateway did not start" >&2; exit 1; }
        read -rt 0.01 <> <(:) || true
    done
    PORT=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$W/gw.out")
    [ "$(curl -s -X POST -d 12 "http://127.0.0.1:$PORT/fn/square")" = "144:21" ] ||
        { echo "fn_hard: the gateway answers wrongly" >&2; exit 1; }
    "$LOAD" 127.0.0.1 "$PORT" /fn/square 12 20 1 >/dev/null # warm-up
}
stop_gateway() {
    kill "$GPID" && wait "$GPID" || true
    GPID=
}
# field CSV N: the Nth field of faas_load's line
# (rate,sent,ok,shed,errors,dropped,lost,goodput,p50_ms,p90_ms,p99_ms).
field() { echo "$1" | cut -d, -f"$2"; }

LOADAVG=$(cut -d' ' -f1 /proc/loadavg)

# ---- 1. Slow clients ----------------------------------------------------------
echo "fn_hard: $SLOW slow clients, a normal one at $NORMAL_RATE/s for ${SECS}s" >&2
# The header timeout outlasts the measurement: the slow clients are all
# there while the normal one is measured; then they are timed out.
HT=$((SECS + 20))
gateway --header-timeout "$HT"
BASE=$("$LOAD" 127.0.0.1 "$PORT" /fn/square 12 "$NORMAL_RATE" "$SECS")
"$SLOWC" 127.0.0.1 "$PORT" "$SLOW" >"$W/slow.out" &
SPID=$!
until grep -q '^open' "$W/slow.out" 2>/dev/null; do
    kill -0 "$SPID" 2>/dev/null || { echo "fn_hard: fn_slowloris failed" >&2; exit 1; }
    read -rt 0.05 <> <(:) || true
done
CONNS=$(curl -s "http://127.0.0.1:$PORT/stats" | sed -n 's/.*"connections":\([0-9]*\).*/\1/p')
WITH=$("$LOAD" 127.0.0.1 "$PORT" /fn/square 12 "$NORMAL_RATE" "$SECS")
# The slow clients end when the gateway has closed them all (408 each).
wait "$SPID"
SPID=
SLOW_END=$(cat "$W/slow.out" | tail -n 1)
stop_gateway

# ---- 2. One client floods ---------------------------------------------------
declare -A A B
for limit in 0 default; do
    echo "fn_hard: A floods at $FLOOD_RATE/s, B at $NORMAL_RATE/s, --max-per-client $limit" >&2
    if [ $limit = 0 ]; then gateway --max-per-client 0; else gateway; fi
    "$LOAD" 127.0.0.1 "$PORT" /fn/square 12 "$FLOOD_RATE" "$SECS" >"$W/a.csv" &
    APID=$!
    B[$limit]=$(FAAS_LOAD_SRC=127.0.0.2 "$LOAD" 127.0.0.1 "$PORT" /fn/square 12 "$NORMAL_RATE" "$SECS")
    wait "$APID"
    A[$limit]=$(cat "$W/a.csv")
    stop_gateway
done

# ---- The page -------------------------------------------------------------
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f%%", b ? 100 * a / b : 0 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b ? a / b : 0 }'; }
{
    echo "# The function gateway against misbehaving clients"
    echo
    echo "\`bench/fn_hard.sh\` (SLOW=$SLOW SECS=$SECS NORMAL_RATE=$NORMAL_RATE"
    echo "FLOOD_RATE=$FLOOD_RATE RUNNING=$RUNNING QUEUE=$QUEUE), on $(nproc) cores, $(date -u +%Y-%m-%d),"
    echo "load average $LOADAVG at the start (a host shared with other work: one run)."
    echo "\`lightvm fn serve\` (docs/faas.md), each invocation in a fresh proc guest, the"
    echo "function \`square\`; load from \`bench/faas_load.c\` (open loop: requests go out on"
    echo "schedule), latency from the scheduled send to the answer's last byte."
    echo
    echo "## Slow clients (slowloris)"
    echo
    echo "$SLOW connections each sent half a request head and then nothing"
    echo "(\`bench/fn_slowloris.c\`); the gateway held $CONNS connections while a normal"
    echo "client invoked at $NORMAL_RATE/s for ${SECS}s. Same gateway, same run."
    echo
    echo "| normal client | sent | ok | p50 (ms) | p90 (ms) | p99 (ms) |"
    echo "|---|---:|---:|---:|---:|---:|"
    echo "| alone | $(field "$BASE" 2) | $(field "$BASE" 3) | $(field "$BASE" 9) | $(field "$BASE" 10) | $(field "$BASE" 11) |"
    echo "| with $SLOW slow clients | $(field "$WITH" 2) | $(field "$WITH" 3) | $(field "$WITH" 9) | $(field "$WITH" 10) | $(field "$WITH" 11) |"
    echo
    echo "Median with the slow clients / alone: $(ratio "$(field "$WITH" 9)" "$(field "$BASE" 9)"); p90:"
    echo "$(ratio "$(field "$WITH" 10)" "$(field "$BASE" 10)"). The slow clients cost buffers, not guests:"
    echo "a guest starts for a complete request only. After \`--header-timeout\` (${HT}s"
    echo "here, 10 s by default) the gateway answered them 408 and closed them:"
    echo "\`$SLOW_END\`."
    echo
    echo "## One client floods"
    echo
    echo "Client A (127.0.0.1) offers $FLOOD_RATE invocations a second, past the"
    echo "gateway's capacity ($RUNNING guests at once, a queue of $QUEUE); client B"
    echo "(127.0.0.2) offers $NORMAL_RATE a second at the same time, for ${SECS}s."
    echo "Without a per-client limit A's requests fill the queue and B's are shed"
    echo "(503) with A's; with the default limit (half of running + queue: $(((RUNNING + QUEUE) / 2))) A gets"
    echo "429 past its share and B finds room. B's latency still includes A's"
    echo "queued share ahead of it: the queue is one FIFO, not fair-queued per client."
    echo
    echo "| --max-per-client | B sent | B ok | B ok share | B p50 (ms) | B p90 (ms) | A sent | A ok | A refused (429/503) |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    for limit in 0 default; do
        local_b=${B[$limit]} local_a=${A[$limit]}
        echo "| $limit | $(field "$local_b" 2) | $(field "$local_b" 3) | $(pct "$(field "$local_b" 3)" "$(field "$local_b" 2)") | $(field "$local_b" 9) | $(field "$local_b" 10) | $(field "$local_a" 2) | $(field "$local_a" 3) | $(($(field "$local_a" 4) + $(field "$local_a" 5))) |"
    done
    echo
    echo "<!-- plot-data title=\"B's invocations answered 200 while A floods (%)\" ylabel=\"% of B's answered\""
    printf 'limit\tB ok %%\n'
    for limit in 0 default; do
        printf '%s\t%s\n' "$([ $limit = 0 ] && echo none || echo default)" "$(pct "$(field "${B[$limit]}" 3)" "$(field "${B[$limit]}" 2)" | tr -d %)"
    done
    echo "-->"
    echo
    echo "![B's invocations answered 200 while A floods (%)](fn-hard.png)"
    echo
    echo "Raw lines (faas_load: rate,sent,ok,shed,errors,dropped,lost,goodput,p50,p90,p99):"
    echo
    echo "    slow: alone  $BASE"
    echo "    slow: with   $WITH"
    for limit in 0 default; do
        echo "    flood $limit: A ${A[$limit]}"
        echo "    flood $limit: B ${B[$limit]}"
    done
} >"$OUT/fn-hard.md"
# Its plot, drawn from the page as plot-pages.sh draws every page (in a
# directory of its own: the other pages' plots are left as they are).
mkdir -p "$W/plots/bench/results"
cp bench/plot-pages.sh "$W/plots/bench/"
cp "$OUT/fn-hard.md" "$W/plots/bench/results/"
"$W/plots/bench/plot-pages.sh" "$W/plots/out" >/dev/null
cp "$W/plots/out/fn-hard.png" "$OUT/fn-hard.png"
echo "fn_hard: wrote $OUT/fn-hard.md and fn-hard.png" >&2
