#!/bin/bash
# bench/snapshot.sh: save, restore and clone of the daytime guest through
# lightvmd, in one run, against a bare posix_spawn of static no-ops and
# CRIU dumping and restoring a static process that pauses: ROUNDS rounds
# (each of every kind, interleaved) with 0, 100 and 1000 other idle guests
# running (LEVELS); then the memory of MEM_N clones of one snapshot
# against MEM_N freshly created guests. Writes bench/results/snapshot.md
# and snapshot.png (medians against the number of guests running).
#
#   bench/snapshot.sh          # ROUNDS=40 LEVELS="0 100 1000" MEM_N=100
#
# BUILD (default build) is the build tree; CRIU a criu binary to use
# (default: Debian's, installed if missing; skipped, with its reason, if
# `criu check` fails on this kernel). Guests run in a network namespace
# of the run's own, with their bridge; lightvmd uses its own run
# directory (LIGHTVM_RUN_DIR, default a tmpfs of the run's) and cgroup
# parent (LIGHTVM_CGROUP_PARENT, default lightvm-snapbench).
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
ROUNDS=${ROUNDS:-40}
LEVELS=${LEVELS:-0 100 1000}
MEM_N=${MEM_N:-100}
QEMU_ROUNDS=${QEMU_ROUNDS:-10}
OUT=bench/results
scripts/deps.sh # the build's packages, criu, gnuplot
make -s BUILD="$BUILD" bench-tools >/dev/null
B=$PWD/$BUILD/bench
L=$PWD/$BUILD/bin/lightvm
DAYTIME=$PWD/$BUILD/examples/daytime/daytime.elf
IDLE=$PWD/$BUILD/examples/idle/idle.elf
mkdir -p "$OUT"
W=$(mktemp -d /tmp/lightvm-snap.XXXXXX)
chmod 755 "$W"
NS=lvmsnap$$
export LIGHTVM_CGROUP_PARENT=${LIGHTVM_CGROUP_PARENT:-lightvm-snapbench}
OWN_RUN=
if [ -z "${LIGHTVM_RUN_DIR:-}" ]; then
    # On a tmpfs, as /run is on a standard Debian host.
    LIGHTVM_RUN_DIR=$W/run
    mkdir -p "$LIGHTVM_RUN_DIR"
    mount -t tmpfs -o size=4g,mode=0755 lightvm-snapbench "$LIGHTVM_RUN_DIR"
    OWN_RUN=1
fi
export LIGHTVM_RUN_DIR LIGHTVM_SOCKET=$LIGHTVM_RUN_DIR/lightvmd.sock
DPID=
HPID=
cleanup() {
    set +e
    if [ -n "$HPID" ]; then
        kill "$HPID" 2>/dev/null
        wait "$HPID" 2>/dev/null
    fi
    if [ -n "$DPID" ]; then
        "$L" destroy $("$L" list -q 2>/dev/null) >/dev/null 2>&1
        kill "$DPID" 2>/dev/null
        wait "$DPID" 2>/dev/null
    fi
    ip netns del "$NS" 2>/dev/null
    if [ -n "$OWN_RUN" ]; then umount -l "$LIGHTVM_RUN_DIR"; fi
    if mountpoint -q "$W/tmpfs"; then umount -l "$W/tmpfs"; fi
    rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# CRIU, where it works on this kernel.
CRIU=${CRIU:-$(command -v criu || true)}
CRIU_NOTE=
if [ -z "$CRIU" ]; then
    CRIU_NOTE="criu is not installed"
elif ! "$CRIU" check >"$W/criu-check.txt" 2>&1; then
    CRIU_NOTE="\`$CRIU check\` ($("$CRIU" --version | sed -n 's/^Version: //p')) fails on this kernel: $(grep -v 'util.c' "$W/criu-check.txt" | grep -m1 -o 'Error ([^)]*): .*' | sed 's/^Error ([^)]*): //')"
    CRIU=
fi
GNUPLOT=$(command -v gnuplot || command -v gnuplot-nox || true)

ip netns add "$NS"
nsx() { nsenter --net=/run/netns/"$NS" "$@"; }
nsx ip link set lo up
nsx "$L" net up >/dev/null
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
# Not through the function nsx: $! must be lightvmd's pid (nsenter execs it).
nsenter --net=/run/netns/"$NS" "$PWD/$BUILD/bin/lightvmd" --quiet \
    --pool 16M+net=32,4M=64 --pool-rate 2000 >"$W/lightvmd.log" 2>&1 &
DPID=$!
until "$L" list >/dev/null 2>&1; do
    kill -0 "$DPID" || { cat "$W/lightvmd.log"; exit 1; }
    read -rt 0.05 <> <(:) || true
done
pool_full() {
    until "$PWD/$BUILD/tests/tools/apiclient" "$LIGHTVM_SOCKET" '{"op":"pool"}' |
        grep -qE '"target":([0-9]+),"ready":\1,"preparing":0.*"target":([0-9]+),"ready":\2,"preparing":0'; do
        read -rt 0.1 <> <(:) || true
    done
}

# ---- latencies, at each number of idle guests running ----------------------
mkdir -p "$W/state" "$W/tmpfs"
mount -t tmpfs -o size=64m,mode=0755 lightvm-snapstate "$W/tmpfs"
running=0
for level in $LEVELS; do
    while [ "$running" -lt "$level" ]; do
        "$L" create -q -m 4M -n "idle-$running" "$IDLE"
        running=$((running + 1))
    done
    pool_full
    echo "snapshot.sh: $ROUNDS rounds with $running idle guests running" >&2
    # In the background: a signal to this script is then acted on at once.
    "$B/bench_snapshot" lat -r "$ROUNDS" -g "$running" -s "$B/noop" \
        -s "$B/noop-glibc" -l "$L" ${CRIU:+-c "$CRIU" -p "$B/pause"} -i "$IDLE" -t "$W/tmpfs" \
        "$LIGHTVM_SOCKET" "$DAYTIME" "$W/state" >>"$W/lat.csv" &
    HPID=$!
    wait "$HPID"
    HPID=
done
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)
"$L" destroy $("$L" list -q) >/dev/null 2>&1 || true

# ---- memory: MEM_N clones of one snapshot against MEM_N fresh guests ---------
echo "snapshot.sh: memory, $MEM_N fresh guests then $MEM_N clones" >&2
pool_full
"$L" create -q --net -n memsrc "$DAYTIME"
sleep 1
"$L" save --json memsrc "$W/mem.lvms" >"$W/mem-save.json"
mem_of() { # PREFIX: after the guests settled, "GUESTS,PSS_KIB,CGROUP_KIB"
    sleep 3
    "$B/bench_snapshot" mem "$LIGHTVM_SOCKET" "$1"
}
for i in $(seq "$MEM_N"); do
    "$L" create -q --net -n "memfresh-$i" "$DAYTIME"
done
IFS=, read -r fresh_n fresh_pss fresh_cg <<<"$(mem_of memfresh-)"
"$L" destroy $("$L" list -q) >/dev/null
pool_full
"$L" clone -q -n "$MEM_N" --name memclone "$W/mem.lvms"
IFS=, read -r clone_n clone_pss clone_cg <<<"$(mem_of memclone-)"
"$L" destroy $("$L" list -q) >/dev/null

# ---- QEMU's own migration to a file: lightvmd's qemu monitor -------------------
# A Tinyx image of the same static process (Debian's kernel, TCG where
# there is no /dev/kvm), saved through the same API (QMP migrate to a
# file); after each save it is unpaused. Its restore is tried once.
QEMU_NOTE=
QEMU_SKIP=
if [ "$QEMU_ROUNDS" -gt 0 ] &&
    ! "$L" tinyx build "$B/pause" --health "cmd:$B/noop" --kernel stock -q \
        -o "$W/qpause.img" 2>"$W/tinyx.err"; then
    QEMU_SKIP="no Tinyx image: $(head -1 "$W/tinyx.err")"
    QEMU_ROUNDS=0
fi
if [ "$QEMU_ROUNDS" -gt 0 ]; then
    echo "snapshot.sh: QEMU, $QEMU_ROUNDS saves of a Tinyx guest" >&2
    "$L" create -q -n qpause -m 128M "$W/qpause.img"
    t=0
    until "$L" list --json | grep -q '"name":"qpause".*"ready":true'; do
        t=$((t + 1))
        [ "$t" -lt 3000 ] || { echo "snapshot.sh: the qemu guest is not ready after 300 s" >&2; exit 1; }
        read -rt 0.1 <> <(:) || true
    done
    QEMU_ACCEL=$("$L" list --json | grep -o '"accel":"[a-z]*"' | cut -d'"' -f4)
    for i in $(seq "$QEMU_ROUNDS"); do
        rm -f "$W/qpause.state"
        t0=$(date +%s%N)
        r=$("$PWD/$BUILD/tests/tools/apiclient" "$LIGHTVM_SOCKET" \
            "{\"op\":\"save\",\"id\":\"qpause\",\"path\":\"$W/qpause.state\"}")
        t1=$(date +%s%N)
        grep -q '"ok":true' <<<"$r" || { echo "snapshot.sh: qemu save: $r" >&2; exit 1; }
        echo "qemu_save_api,0,$i,$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.4f", (b - a) / 1e6}')" >>"$W/qemu.csv"
        echo "qemu_save_daemon,0,$i,$(sed 's/.*"save_ms":\([0-9.]*\).*/\1/' <<<"$r")" >>"$W/qemu.csv"
        QEMU_BYTES=$(sed 's/.*"bytes":\([0-9]*\).*/\1/' <<<"$r")
        "$L" unpause qpause
    done
    r=$("$PWD/$BUILD/tests/tools/apiclient" "$LIGHTVM_SOCKET" \
        "{\"op\":\"restore\",\"path\":\"$W/qpause.state\",\"image\":\"$W/qpause.img\",\"mem\":134217728}")
    if grep -q '"ok":true' <<<"$r"; then
        QEMU_NOTE="a restore of it answered: $r (not timed here)"
    else
        QEMU_NOTE="its restore through lightvmd fails: \"$(sed -e "s|$W/||g" -e 's/.*"message":"\([^"]*\)".*/\1/' <<<"$r")\""
    fi
    "$L" destroy $("$L" list -q) >/dev/null
fi

# ---- the report ---------------------------------------------------------------
CSV=$W/lat.csv
stats() { # WHAT RUNNING: "median p90 n", or "- - 0"
    awk -F, -v w="$1" -v g="$2" '$1 == w && $2 == g {print $4}' "$CSV" | sort -g |
        awk '{a[NR]=$1} END {if (NR) printf "%.3f %.3f %d", a[int((NR+1)/2)], a[int(NR*0.9+0.5)], NR; else print "- - 0"}'
}
median() { stats "$1" "$2" | cut -d' ' -f1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b}'; }
# What each guest is timed doing (bench_snapshot.c), as rows of the tables.
GUEST_ROWS="save_keep_api|save --leave-running: request to reply
save_keep_daemon|save --leave-running: lightvmd's save_ms
save_keep_tmpfs_api|save --leave-running to a tmpfs: request to reply
save_keep_tmpfs_daemon|save --leave-running to a tmpfs: lightvmd's save_ms
save_api|save: request to reply (the guest is destroyed before it)
save_daemon|save: lightvmd's save_ms (park, capture, write)
save_park|save: of which waiting for the guest to park
save_capture|save: of which capturing the RAM
restore_reply|restore: request to reply
restore_first|restore: request to first instruction
clone_guest_reply|clone of the running guest: request to reply
clone_guest_first|clone of the running guest: request to first instruction
clone_file_reply|clone of the state file: request to reply
clone_file_first|clone of the state file: request to first instruction
create_reply|(for comparison) create: request to reply
create_first|(for comparison) create: request to first instruction
save_cli|\`lightvm save -f\` from a shell (then destroyed)
restore_cli|\`lightvm restore -q\` from a shell"
ROWS="spawn_noop|posix_spawn + wait: static no-op (musl)
spawn_noop-glibc|posix_spawn + wait: static no-op (glibc)
$(sed 's/|/|daytime: /' <<<"$GUEST_ROWS")
$(sed -e 's/^/idle_/' -e 's/|/|idle: /' <<<"$GUEST_ROWS")
criu_dump|\`criu dump\` (the process ends)
criu_restore|\`criu restore -d\` (the process runs again)"
levels=$(awk -F, '{print $2}' "$CSV" | sort -nu | tr '\n' ' ')
first_level=${levels%% *}
last_level=$(echo "$levels" | awk '{print $NF}')
{
echo "# Snapshots: save, restore and clone against a spawn and CRIU"
echo
echo "Produced by \`ROUNDS=$ROUNDS LEVELS=\"$LEVELS\" MEM_N=$MEM_N BUILD=$BUILD bench/snapshot.sh\` on $(date -u +%Y-%m-%d)"
echo "at commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!bench/results' 2>/dev/null || echo ' (with local changes)')."
echo "Machine: $(nproc) CPUs, kernel $(uname -r), load average $LOAD0 before the latencies, $LOAD1 after."
echo
echo "The guests: examples/daytime (16 MiB, one NIC on a bridge of the run's"
echo "own network namespace) and examples/idle (4 MiB, no NIC), through"
echo "lightvmd (pool: 32 16 MiB shells with a tap, 64 of 4 MiB without) from"
echo "a client that keeps its connection"
echo "(\`$BUILD/bench/bench_snapshot\`, liblightvm's raw calls). Each round, one after"
echo "another: the two spawns; for each guest, a save with the guest left"
echo "running, a clone of the running guest, a save (the guest is destroyed)"
echo "and a restore of that file, a clone of the file, the same save and"
echo "restore as \`lightvm\` commands, and for comparison a create of a fresh"
echo "guest of the same image; CRIU. Each clone is destroyed before the next step, and the"
echo "pool is let fill up before each round. The first instruction is the"
echo "guest's own clock in its status page (\`first_insn_ns\` in the API),"
echo "which a restored or cloned guest sets when it runs again; it may come"
echo "before the reply. State files are written to $(df --output=fstype "$W" | tail -1), which lightvmd fsyncs"
echo "(the file, then its directory) before it replies; the save left running is"
echo "also timed to a tmpfs, where fsync costs nothing."
echo "Other guests running: examples/idle, 4 MiB, made by \`lightvm create\`."
echo
echo "## Latency (ms; $ROUNDS rounds at each number of guests running)"
echo
printf "| what |"
for g in $levels; do printf " %s running: median | p90 |" "$g"; done
echo
printf "|---|"
for g in $levels; do printf -- "---:|---:|"; done
echo
while IFS='|' read -r key label; do
    [ "$(stats "$key" "$first_level" | cut -d' ' -f3)" = 0 ] && continue
    printf "| %s |" "$label"
    for g in $levels; do
        read -r m p n <<<"$(stats "$key" "$g")"
        printf " %s | %s |" "$m" "$p"
    done
    echo
done <<<"$ROWS"
[ -n "$CRIU_NOTE" ] && { echo; echo "CRIU: not measured: $CRIU_NOTE."; }
echo
echo "## Against the targets (medians)"
echo
printf "| what |"
for g in $levels; do printf " x musl spawn (%s) | x glibc spawn (%s) |" "$g" "$g"; done
echo " $last_level / $first_level running |"
printf "|---|"
for g in $levels; do printf -- "---:|---:|"; done
echo "---:|"
TARGET_KEYS="save_keep_api save_keep_tmpfs_api save_keep_tmpfs_daemon save_api
    save_daemon restore_reply restore_first
    clone_guest_first clone_file_first create_first save_cli restore_cli"
for key in $TARGET_KEYS $(sed 's/[a-z_]\+/idle_&/g' <<<"$TARGET_KEYS") criu_dump criu_restore; do
    [ "$(stats "$key" "$first_level" | cut -d' ' -f3)" = 0 ] && continue
    printf "| %s |" "$(grep "^$key|" <<<"$ROWS" | cut -d'|' -f2)"
    for g in $levels; do
        m=$(median "$key" "$g")
        printf " %s | %s |" "$(ratio "$m" "$(median spawn_noop "$g")")" \
            "$(ratio "$m" "$(median spawn_noop-glibc "$g")")"
    done
    echo " $(ratio "$(median "$key" "$last_level")" "$(median "$key" "$first_level")") |"
done
echo
echo "Targets from the issue: save under 5 ms, restore under 5 ms, clone to"
echo "first instruction at most half a bare spawn, all flat as guests grow."
echo
echo "## Memory: $MEM_N clones of one snapshot against $MEM_N fresh guests"
echo
echo "The same daytime guest (16 MiB, with its NIC), settled 3 s: $MEM_N made by"
echo "\`lightvm create --net\`, then $MEM_N by one \`lightvm clone -n $MEM_N\` of a state"
echo "file saved from another ($(sed 's/.*"bytes":\([0-9]*\),"pages":\([0-9]*\).*/\1 bytes, \2 RAM pages/' "$W/mem-save.json")). Pss: the sum over the"
echo "guests' processes of /proc/PID/smaps_rollup; cgroups: the sum of their"
echo "memory.current (memory.usage_in_bytes under cgroup v1), as lightvmd's"
echo "stats report it. Pages shared with others (the image's, the snapshot's)"
echo "are charged to the cgroup that touched them first."
echo
echo "| | guests | Pss KiB (sum) | per guest | cgroups KiB (sum) | per guest |"
echo "|---|---:|---:|---:|---:|---:|"
awk -v n="$fresh_n" -v p="$fresh_pss" -v c="$fresh_cg" 'BEGIN {printf "| fresh (create) | %d | %d | %.0f | %d | %.0f |\n", n, p, p/n, c, c/n}'
awk -v n="$clone_n" -v p="$clone_pss" -v c="$clone_cg" 'BEGIN {printf "| clones (clone -n) | %d | %d | %.0f | %d | %.0f |\n", n, p, p/n, c, c/n}'
awk -v a="$clone_pss" -v b="$fresh_pss" -v c="$clone_cg" -v d="$fresh_cg" 'BEGIN {printf "| clones / fresh | | %.2f | | %.2f | |\n", a/b, c/d}'
echo
if [ "$QEMU_ROUNDS" -gt 0 ]; then
    echo
    echo "## QEMU's own migration to a file"
    echo
    echo "The same static process as a Tinyx image (\`lightvm tinyx build\`, Debian's"
    echo "kernel, 128 MiB, accel $QEMU_ACCEL) under lightvmd's qemu monitor, whose \`save\` is"
    echo "QMP \`migrate\` to a file; $QEMU_ROUNDS saves, the guest unpaused after each, with no"
    echo "other guests running. State file: $QEMU_BYTES bytes."
    echo
    echo "| what | median ms | p90 ms | x glibc spawn (0 running) |"
    echo "|---|---:|---:|---:|"
    for key in qemu_save_api qemu_save_daemon; do
        read -r m p n <<<"$(CSV=$W/qemu.csv stats "$key" 0)"
        label="save: request to reply"
        [ "$key" = qemu_save_daemon ] && label="save: lightvmd's save_ms"
        echo "| $label | $m | $p | $(ratio "$m" "$(median spawn_noop-glibc "$first_level")") |"
    done
    echo
    echo "Restore: not measured: $QEMU_NOTE."
elif [ -n "$QEMU_SKIP" ]; then
    echo
    echo "QEMU's migration to a file: not measured: $QEMU_SKIP."
fi
echo
echo "![median latency against guests running](snapshot.png)"
} >"$OUT/snapshot.md"

# The plot: medians against the number of guests running, of what was
# measured.
PLOT=""
for key in spawn_noop spawn_noop-glibc save_keep_api save_keep_tmpfs_api \
    save_api restore_first clone_guest_first clone_file_first create_first idle_save_api \
    idle_restore_first idle_clone_file_first criu_dump criu_restore; do
    [ "$(stats "$key" "$first_level" | cut -d' ' -f3)" = 0 ] || PLOT="$PLOT $key"
done
{
    echo "running$PLOT"
    for g in $levels; do
        printf "%s" "$g"
        for key in $PLOT; do
            m=$(median "$key" "$g")
            printf " %s" "${m/#-/NaN}"
        done
        echo
    done
} >"$W/plot.dat"
ncol=$(($(wc -w <<<"$PLOT") + 1))
if [ -n "$GNUPLOT" ]; then
    "$GNUPLOT" <<GP
set terminal png size 1100,650 noenhanced
set output "$OUT/snapshot.png"
set title "Snapshot operations against guests running (medians, $ROUNDS rounds; $(nproc) CPUs)"
set xlabel "idle guests running"
set ylabel "ms"
set logscale y
set key outside right
set grid ytics
set style data linespoints
# The spawns in black and grey; the rest each a colour of its own.
set linetype 1 lc rgb "#000000" lw 2
set linetype 2 lc rgb "#888888" lw 2
colours = "#1f77b4 #17becf #d62728 #2ca02c #ff7f0e #9467bd #8c564b #e377c2 #bcbd22 #7f7f7f #aec7e8"
do for [i=1:words(colours)] { set linetype i+2 lc rgb word(colours, i) lw 2 }
plot for [c=2:$ncol] "$W/plot.dat" using c:xtic(1) title columnheader(c) lt c-1
GP
fi
cp "$CSV" "$OUT/snapshot.csv"
cat "$OUT/snapshot.md"
