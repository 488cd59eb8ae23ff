#!/bin/bash
# bench/kvm/run.sh [RUNS]: noop create-to-exit under proc and under kvm,
# interleaved, and the kvm monitor's set-up broken down; prints a
# Markdown report (bench/results/kvm-noop.md is one). Run as root after
# `make tests` (which builds build/bench/kvm/bench_kvm).
#
#   1. through the toolstack library (bench_kvm): guest_start to reaped,
#      no process per run but the guest's own; the monitor's own timings
#      from its report page;
#   2. cold `lightvm run --monitor M noop.elf` (no daemon), a new CLI
#      process each time, timed with bash's $EPOCHREALTIME.
set -eu
cd "$(dirname "$0")/../.."
runs=${1:-200}
BUILD=${BUILD:-build}
noop=$BUILD/examples/noop/noop.elf
export LIGHTVM_SHELL=$PWD/$BUILD/bin/lightvm-shell
export LIGHTVM_NO_DAEMON=1 # the cold path: no lightvmd in between

kvm_kind=unknown
for m in kvm_pvm kvm_intel kvm_amd; do
    [ -d /sys/module/$m ] && kvm_kind=$m && break
done
echo "# noop under kvm and proc"
echo
echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'),"
echo "$(nproc) CPUs, $(free -g | awk '/^Mem:/ { print $2 }') GiB; Linux $(uname -r);"
cg=v1
[ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ] && cg=v2
echo "KVM module: $kvm_kind; cgroup $cg; load average"
echo "before: $(cut -d' ' -f1-3 /proc/loadavg); commit $(git rev-parse --short HEAD)."
if [ "$kvm_kind" = kvm_pvm ]; then
    echo
    echo "**Functional evidence only.** This KVM is PVM, a software KVM"
    echo "inside a cloud VM (no VT-x/AMD-V); every exit and CPUID is a trip"
    echo "through two hypervisors. These figures say nothing about kvm on"
    echo "real hardware, where exits cost a few microseconds."
fi
echo
echo "## 1. Through the toolstack library, $runs runs each, interleaved"
echo
echo '```'
echo "$BUILD/bench/kvm/bench_kvm -n $runs $noop"
echo '```'
echo
"$BUILD/bench/kvm/bench_kvm" -n "$runs" "$noop" | tail -n +3
echo
echo "## 2. Cold CLI, $runs runs each, interleaved"
echo
echo '```'
echo "$BUILD/bin/lightvm run --monitor M $noop   # M = proc, kvm, alternating"
echo '```'
echo
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for ((i = 0; i < runs; i++)); do
    if ((i % 2)); then order="kvm proc"; else order="proc kvm"; fi
    for m in $order; do
        t0=$EPOCHREALTIME
        "$BUILD/bin/lightvm" run --monitor "$m" "$noop"
        t1=$EPOCHREALTIME
        echo "$t0 $t1" | awk '{ printf "%.1f\n", ($2 - $1) * 1e6 }' >>"$tmp/$m"
    done
done
echo "| mon   | microseconds   |     median |        p90 |        min |        max |"
echo "|-------|----------------|------------|------------|------------|------------|"
for m in proc kvm; do
    sort -n "$tmp/$m" | awk -v m="$m" '{ v[NR] = $1 } END {
        printf "| %-5s | lightvm run    | %10.1f | %10.1f | %10.1f | %10.1f |\n",
            m, v[int(NR / 2) + 1], v[int(NR * 9 / 10) + 1], v[1], v[NR] }'
done
echo
echo "Load average after: $(cut -d' ' -f1-3 /proc/loadavg)."
