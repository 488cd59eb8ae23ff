#!/bin/bash
# bench/daemon.sh: guest creation through lightvmd against a bare spawn,
# in one run: (1) create from a client that keeps its connection (the
# paper's toolstack measurement) against posix_spawn of a static no-op,
# (2) `lightvm create` and `lightvm run` from a shell against the same,
# (3) CHURN create/destroy cycles with the daemon's memory and fds before
# and after. Writes bench/results/daemon.md.
#
#   bench/daemon.sh                       # ROUNDS=300 CHURN=100000
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh # what the build needs, if missing
make -s bench-tools >/dev/null
B=build/bench
ROUNDS=${ROUNDS:-300}
CHURN=${CHURN:-100000}
OUT=bench/results
mkdir -p "$OUT"
W=$(mktemp -d /tmp/lightvm-dbench.XXXXXX)
chmod 755 "$W"
# The run directory on a tmpfs, as /run is on a standard Debian host.
mkdir -p "$W/run"
mount -t tmpfs -o size=1g,mode=0755 lightvm-bench "$W/run"
LIGHTVM_RUN_DIR=$W/run build/bin/lightvmd --quiet --pool 16M=64,4M=64 \
    --pool-rate 2000 >"$W/lightvmd.log" 2>&1 &
DPID=$!
trap 'kill $DPID 2>/dev/null; wait $DPID 2>/dev/null; umount -l "$W/run"; rm -rf "$W"' EXIT
export LIGHTVM_SOCKET=$W/run/lightvmd.sock
until build/bin/lightvm list >/dev/null 2>&1; do read -rt 0.05 <> <(:) || true; done
pool_full() {
    # Both classes (16M and 4M) full: two of these, whatever other fields.
    until [ "$($B/../tests/tools/apiclient "$LIGHTVM_SOCKET" '{"op":"pool"}' |
        grep -o '"target":64,"ready":64,"preparing":0' | wc -l)" = 2 ]; do
        read -rt 0.1 <> <(:) || true
    done
}
pool_full

{
echo "# Creating guests through lightvmd"
echo
echo "Produced by \`ROUNDS=$ROUNDS CHURN=$CHURN bench/daemon.sh\` on $(date -u +%Y-%m-%d)."
echo "Machine: $(nproc) CPUs, kernel $(uname -r), load before: $(cut -d' ' -f1-3 /proc/loadavg)."
echo "The daemon's pool holds 64 prepared shells per size; creations are paced"
echo "(100 a second) so every create finds one ready, as in steady operation."
echo
echo "## 1. Create from a client that keeps its connection"
echo
echo "Request to reply, and request to the guest's first instruction, over"
echo "$ROUNDS idle guests (4 MiB) left running, against a bare posix_spawn +"
echo "waitpid of a static no-op measured in the same run just before."
echo
$B/bench_create -r "$ROUNDS" "spawn-glibc-static=$PWD/$B/noop-glibc" \
    "spawn-musl-static=$PWD/$B/noop" | sed -n '3,4p' >"$W/spawn.txt"
pool_full
$B/bench_density lightvm "$W/run/lightvmd.sock" "$W/run" \
    "$PWD/build/examples/idle/idle.elf" "$ROUNDS" 100 >"$W/create.csv"
spawn_glibc=$(sed -n '1p' "$W/spawn.txt" | awk -F'|' '{print $3 + 0}')
spawn_musl=$(sed -n '2p' "$W/spawn.txt" | awk -F'|' '{print $3 + 0}')
col_stats() { awk -F, -v f=$1 '$1=="create" {print $f}' "$W/create.csv" | sort -n |
    awk '{a[NR]=$1} END {printf "%.3f %.3f", a[int((NR+1)/2)], a[int(NR*0.9+0.5)]}'; }
read -r rmed rp90 <<<"$(col_stats 5)"
read -r fmed fp90 <<<"$(col_stats 6)"
echo "| what | median ms | p90 ms | x spawn (glibc static) | x spawn (musl static) |"
echo "|---|---:|---:|---:|---:|"
awk -F'|' '{printf "| %s | %.3f | %.3f | | |\n", $2, $3, $4}' "$W/spawn.txt"
awk -v m=$rmed -v p=$rp90 -v g=$spawn_glibc -v s=$spawn_musl \
    'BEGIN {printf "| lightvmd create: request to reply | %.3f | %.3f | %.2f | %.2f |\n", m, p, m/g, m/s}'
awk -v m=$fmed -v p=$fp90 -v g=$spawn_glibc -v s=$spawn_musl \
    'BEGIN {printf "| lightvmd create: request to first instruction | %.3f | %.3f | %.2f | %.2f |\n", m, p, m/g, m/s}'
echo
echo "Pooled creations: $(awk -F, '$1=="create" && $7==1' "$W/create.csv" | wc -l) of $ROUNDS."
build/bin/lightvm destroy $(build/bin/lightvm list -q) >/dev/null 2>&1 || true

echo
echo "## 2. From a shell: the lightvm command ($ROUNDS interleaved rounds)"
echo
pool_full
$B/bench_create -r "$ROUNDS" \
    "spawn-glibc-static=$PWD/$B/noop-glibc" \
    "lightvm-create=$PWD/build/bin/lightvm create -q -m 16M $PWD/build/examples/noop/noop.elf" \
    "lightvm-run-daemon=$PWD/build/bin/lightvm run -q $PWD/build/examples/noop/noop.elf" \
    "lightvm-run-cold=$PWD/build/bin/lightvm run -q --no-daemon $PWD/build/examples/noop/noop.elf" \
    "unshare=/usr/bin/unshare --fork --pid --mount --uts --ipc --net $PWD/$B/noop"
echo
echo "\`lightvm create\` returns once the guest has started; \`lightvm run\` waits for"
echo "the guest to exit and removes it (through the daemon, or by itself with"
echo "--no-daemon)."
build/bin/lightvm destroy $(build/bin/lightvm list -q) >/dev/null 2>&1 || true

echo
echo "## 3. Churn: $CHURN create/destroy cycles of noop over one connection"
echo
fds0=$(ls /proc/$DPID/fd | wc -l)
rss0=$(awk '/^VmRSS/ {print $2}' /proc/$DPID/status)
t0=$(date +%s.%N)
$B/../tests/tools/churn "$LIGHTVM_SOCKET" "$PWD/build/examples/noop/noop.elf" "$CHURN"
t1=$(date +%s.%N)
pool_full
fds1=$(ls /proc/$DPID/fd | wc -l)
rss1=$(awk '/^VmRSS/ {print $2}' /proc/$DPID/status)
echo
echo "| | before | after |"
echo "|---|---:|---:|"
echo "| daemon fds (pool full) | $fds0 | $fds1 |"
echo "| daemon RSS KiB | $rss0 | $rss1 |"
echo
awk -v a=$t0 -v b=$t1 -v n=$CHURN 'BEGIN {printf "%d cycles in %.1f s (%.0f a second).\n", n, b-a, n/(b-a)}'
} | tee "$OUT/daemon.md"
[ "${PIPESTATUS[0]}" = 0 ] || { echo "daemon.sh: failed (see above)" >&2; exit 1; }
