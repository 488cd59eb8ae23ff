#!/bin/bash
# bench/threads.sh: threads in a guest against the host's threads. One
# source, bench/threadbench.c, built as a guest (the SDK's green threads:
# a switch is a served futex wait, under proc a trapped system call) and
# as a static musl program (the kernel's threads, on every CPU). Runs
# each workload REPS times, interleaved (host, proc guest, kvm guest where
# /dev/kvm opens), and writes bench/results/threads.md with the medians;
# bench/plot-pages.sh draws threads.png from the page.
#
#   bench/threads.sh        # REPS=7 ROUNDS=20000 OPS=100000
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
REPS=${REPS:-7}
ROUNDS=${ROUNDS:-20000}
OPS=${OPS:-100000}
OUT=${OUT:-bench/results}
make -s BUILD="$BUILD" all "$BUILD/bench/threadbench" \
    "$BUILD/bench/threadbench.elf" >/dev/null
NATIVE=$BUILD/bench/threadbench
GUEST=$BUILD/bench/threadbench.elf
L=$BUILD/bin/lightvm
export LIGHTVM_NO_DAEMON=1
mons="proc"
if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then mons="proc kvm"; fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# one WHERE ARGS...: the ns figure of one run.
one() {
    local where=$1
    shift
    case $where in
    host) "$NATIVE" "$@" ;;
    *) "$L" run --monitor "$where" "$GUEST" "$@" ;;
    esac | awk '/ ns /{print $3}'
}

median() { sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

WORK=("pingpong $ROUNDS" "mutex 1 $OPS" "mutex 2 $OPS" "mutex 4 $OPS" "mutex 8 $OPS")
for r in $(seq "$REPS"); do
    for w in "${WORK[@]}"; do
        for where in host $mons; do
            # shellcheck disable=SC2086
            v=$(one "$where" $w)
            [ -n "$v" ] || { echo "threads.sh: $where $w gave no figure" >&2; exit 1; }
            echo "$v" >>"$TMP/${w// /_}.$where"
        done
    done
done

load=$(cut -d' ' -f1-3 /proc/loadavg)
commit=$(git rev-parse --short HEAD)
{
    echo "# Threads in a guest against the host's threads"
    echo
    echo "![threads: guest against host](threads.png)"
    echo "<!-- plot table=1 cols=2,3 title=\"thread ping-pong and mutex lock/unlock: guest against host\" ylabel=\"ns (median)\" log -->"
    echo
    echo "Machine: $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo);"
    echo "Linux $(uname -r); load average $load; commit $commit."
    echo
    echo '```'
    echo "REPS=$REPS ROUNDS=$ROUNDS OPS=$OPS bench/threads.sh"
    echo '```'
    echo
    echo "Medians of $REPS interleaved runs each, in nanoseconds: per round"
    echo "trip of a token between two threads (mutex and condition variable),"
    echo "per lock, increment and unlock of one mutex by N threads."
    echo
    hdr="| workload | host (kernel threads) |"
    sep="|---|---|"
    for m in $mons; do
        hdr="$hdr $m guest (SDK threads) | $m / host |"
        sep="$sep---|---|"
    done
    echo "$hdr"
    echo "$sep"
    for w in "${WORK[@]}"; do
        f=${w// /_}
        h=$(median <"$TMP/$f.host")
        row="| ${w% *} | $h |"
        for m in $mons; do
            g=$(median <"$TMP/$f.$m")
            row="$row $g | $(awk -v g="$g" -v h="$h" 'BEGIN {printf "%.2fx", g / h}') |"
        done
        echo "$row"
    done
    echo
    echo "What it shows: the SDK's threads share the guest's one CPU and"
    echo "switch only in a served system call that blocks, so a mutex is"
    echo "never contended while its owner runs (no preemption inside a"
    echo "critical section): lock and unlock stay musl's uncontended atomic"
    echo "operations whatever the number of threads. A ping-pong costs the"
    echo "wait and the wake, each a trapped system call under proc (about"
    echo "3-5 us each here), against the kernel's futex and a wake-up on"
    echo "another CPU for the host's threads."
} >"$OUT/threads.md"
echo "wrote $OUT/threads.md"
