#!/bin/bash
# bench/flood.sh: root's creates while an API group member floods lightvmd.
# Root's create latency is measured unloaded, then while one member holds
# connections up to its cap (and tries for more) and sends list requests
# as fast as the daemon answers on the rest; the issue's target is root's
# create median within 2x of its unloaded value. Measured two ways: from a
# client that keeps its connection (bench_density), and `lightvm create`
# from a shell (bench_create). Writes bench/results/flood.md.
#
#   bench/flood.sh              # ROUNDS=300 (per case) REPEATS=3 SPAM_CONNS=4
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh # what the build needs, if missing
make -s bench-tools >/dev/null
B=build/bench
FLOOD=build/tests/tools/flood
ROUNDS=${ROUNDS:-300}
SPAM_CONNS=${SPAM_CONNS:-4}
REPEATS=${REPEATS:-3}
OUT=bench/results
W=$(mktemp -d /tmp/lightvm-fbench.XXXXXX)
chmod 755 "$W"
GRP=lvmbf$$
MEMBER=lvmbm$$
groupadd "$GRP"
useradd -M -N -g "$GRP" -s /usr/sbin/nologin "$MEMBER"
mkdir -p "$W/run"
mount -t tmpfs -o size=1g,mode=0755 lightvm-bench "$W/run"
LIGHTVM_RUN_DIR=$W/run build/bin/lightvmd --group "$GRP" --pool 16M=64,4M=64 \
    --pool-rate 2000 >"$W/lightvmd.log" 2>&1 &
DPID=$!
HOLD=
cleanup() {
    [ -n "$HOLD" ] && kill "$HOLD" 2>/dev/null
    kill $DPID 2>/dev/null
    wait $DPID 2>/dev/null
    umount -l "$W/run"
    rm -rf "$W"
    userdel "$MEMBER"
    groupdel "$GRP"
}
trap cleanup EXIT
export LIGHTVM_SOCKET=$W/run/lightvmd.sock
until build/bin/lightvm list >/dev/null 2>&1; do read -rt 0.05 <> <(:) || true; done
# Not a function: started in the background, its pid must be the tool's.
AS_MEMBER=(setpriv --reuid "$MEMBER" --regid "$GRP" --clear-groups)
pool_full() {
    until [ "$(build/tests/tools/apiclient "$LIGHTVM_SOCKET" '{"op":"pool"}' |
        grep -o '"target":64,"ready":64,"preparing":0' | wc -l)" = 2 ]; do
        read -rt 0.1 <> <(:) || true
    done
}
daemon_cpu() { awk '{print $14 + $15}' /proc/$DPID/stat; }
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
per_user=$(sed -n 's/.*connections: [0-9]* for members (\([0-9]*\) each).*/\1/p' "$W/lightvmd.log")

# measure NAME: root's creates, from a kept connection then the CLI;
# their times (ms) are added to $W/NAME.kept and $W/NAME.cli.
measure() {
    pool_full
    $B/bench_density lightvm "$W/run/lightvmd.sock" "$W/run" \
        "$PWD/build/examples/idle/idle.elf" "$PER" 100 |
        awk -F, '$1=="create" {print $5}' >>"$W/$1.kept"
    pool_full
    $B/bench_create -r "$PER" -c "$W/cli.csv" \
        "cli=$PWD/build/bin/lightvm create -q -m 16M $PWD/build/examples/noop/noop.elf" >/dev/null
    awk -F, 'NR > 1 {print $3}' "$W/cli.csv" >>"$W/$1.cli"
    build/bin/lightvm destroy $(build/bin/lightvm list -q) >/dev/null 2>&1 || true
}
# The flood: the member's connections up to its cap, less the spam's,
# held idle; 10 more tried (and refused); on the spam's connections,
# requests as fast as the daemon answers them.
flood_on() {
    rm -f "$W/hold.fifo" "$W/hold.out"
    mkfifo "$W/hold.fifo"
    "${AS_MEMBER[@]}" $FLOOD "$LIGHTVM_SOCKET" hold $((per_user - SPAM_CONNS)) \
        <"$W/hold.fifo" >"$W/hold.out" &
    HOLD=$!
    exec 3>"$W/hold.fifo"
    until grep -q holding "$W/hold.out" 2>/dev/null; do read -rt 0.05 <> <(:) || true; done
    "${AS_MEMBER[@]}" $FLOOD "$LIGHTVM_SOCKET" spam "$SPAM_CONNS" 600 >"$W/spam.cur" &
    SPAM=$!
    until grep -q spamming "$W/spam.cur" 2>/dev/null; do
        kill -0 $SPAM || { cat "$W/spam.cur"; exit 1; }
        read -rt 0.05 <> <(:) || true
    done
    "${AS_MEMBER[@]}" $FLOOD "$LIGHTVM_SOCKET" hold 10 </dev/null >"$W/extra.out"
    cpu0=$(daemon_cpu)
    t0=$(date +%s.%N)
}
flood_off() {
    flooded_cpu=$((flooded_cpu + $(daemon_cpu) - cpu0))
    flooded_s=$(awk -v s=$flooded_s -v a=$t0 -v b="$(date +%s.%N)" 'BEGIN {print s + b - a}')
    kill -INT $SPAM 2>/dev/null ||
        { echo "the spam ended early:"; cat "$W/spam.cur"; tail "$W/lightvmd.log"; exit 1; }
    wait $SPAM || true
    grep -v spamming "$W/spam.cur" >>"$W/spam.out"
    exec 3>&-
    wait $HOLD || true
    HOLD=
}
# stats FILE: median and p90
stats() { sort -n "$1" | awk '{a[NR]=$1} END {printf "%.3f %.3f %d", a[int((NR+1)/2)], a[int(NR*0.9+0.5)], NR}'; }

# Unloaded and flooded in turns, so that load from elsewhere on the host
# falls on both alike.
PER=$((ROUNDS / REPEATS))
flooded_cpu=0
flooded_s=0
for i in $(seq "$REPEATS"); do
    measure unloaded
    flood_on
    measure flooded
    flood_off
done

{
echo "# Root's creates while a member floods lightvmd"
echo
echo "Produced by \`ROUNDS=$ROUNDS REPEATS=$REPEATS SPAM_CONNS=$SPAM_CONNS bench/flood.sh\` on $(date -u +%Y-%m-%d)."
echo "Machine: $(nproc) CPUs, kernel $(uname -r), load before: $LOAD0."
echo "lightvmd with its default caps ($(sed -n 's/.*lightvmd: connections: //p' "$W/lightvmd.log"))"
echo "and a pool of 64 shells per size; root's creates paced at 100 a second"
echo "(kept connection) or back to back (\`lightvm create\`), $PER of each per turn,"
echo "$REPEATS turns unloaded and flooded in alternation."
echo
echo "The flood: one member (not root) holds $((per_user - SPAM_CONNS)) connections idle, and on its"
echo "last $SPAM_CONNS of $per_user sends \`list\` requests, 8 in flight on each, as fast as"
echo "the daemon answers them; 10 more connections it tries are refused"
echo "($(sed -n 's/^refused //p' "$W/extra.out") of 10: $(sed -n 's/^message //p' "$W/extra.out" | sed 's/.*"message":"\([^"]*\)".*/\1/'))."
echo
echo "| root's create | unloaded median ms | p90 | flooded median ms | p90 | median ratio | p90 ratio |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for what in kept cli; do
    label="kept connection, request to reply"
    [ "$what" = cli ] && label="\`lightvm create\` from a shell"
    read -r um up un <<<"$(stats "$W/unloaded.$what")"
    read -r fm fp fn <<<"$(stats "$W/flooded.$what")"
    awk -v l="$label" -v um=$um -v up=$up -v fm=$fm -v fp=$fp \
        'BEGIN {printf "| %s | %.3f | %.3f | %.3f | %.3f | %.2f | %.2f |\n", l, um, up, fm, fp, fm/um, fp/up}'
done
echo
echo "Meanwhile the member's spam was answered (per turn):"
sed 's/^/- /' "$W/spam.out"
awk -v c=$flooded_cpu -v s=$flooded_s -v hz="$(getconf CLK_TCK)" \
    'BEGIN {printf "\nThe daemon used %.0f%% of a CPU while flooded (%.1f s in all).\n", 100 * c / hz / s, s}'
} | tee "$OUT/flood.md"
