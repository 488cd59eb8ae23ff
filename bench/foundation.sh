#!/bin/bash
# bench/foundation.sh: the foundation issue's benchmark. Create-to-exit of
# the noop guest under proc (a cold `lightvm run`, no daemon) against its
# peers, interleaved in one run; then the memory of an idle guest against
# an idle crun container. Results go to bench/results/.
#
#   bench/foundation.sh            # ROUNDS=200 N=200 by default
#   ROUNDS=500 N=1000 bench/foundation.sh
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh # the build's packages and the peers (crun, bwrap)
make -s bench-tools >/dev/null
B=build/bench
ROUNDS=${ROUNDS:-200}
N=${N:-200}
W=$(mktemp -d /tmp/lightvm-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT

# A root filesystem holding the static noop and pause programs, and a crun
# bundle for each (from `crun spec`, read-only root, no terminal).
mkdir -p "$W/rootfs"
cp $B/noop $B/pause "$W/rootfs/"
for prog in noop pause; do
    mkdir -p "$W/bundle-$prog"
    (cd "$W/bundle-$prog" && crun spec)
    sed -i -e "s|\"sh\"|\"/$prog\"|" -e 's|"terminal": true|"terminal": false|' \
        -e 's|"readonly": false|"readonly": true|' "$W/bundle-$prog/config.json"
    ln -s "$W/rootfs" "$W/bundle-$prog/rootfs"
done

mkdir -p bench/results
OUT=bench/results/foundation.md
CSV=bench/results/foundation-create.csv
{
    echo "# Foundation benchmark: create-to-exit and idle memory"
    echo
    echo "Produced by \`bench/foundation.sh\` (ROUNDS=$ROUNDS N=$N) on $(date -u +%Y-%m-%d)."
    echo "Machine: $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo),"
    echo "kernel $(uname -r), load before the run: $(cut -d' ' -f1-3 /proc/loadavg)."
    echo
    echo "## Create, run and exit a trivial program ($ROUNDS interleaved rounds)"
    echo
    echo "Each command starts a static no-op program and waits for it (raw samples:"
    echo "\`$CSV\`). \`lightvm\` is a cold \`lightvm run\` of the noop guest with no"
    echo "daemon: it loads and validates the ELF, builds the seccomp filter, creates a"
    echo "cgroup and seven namespaces (user, pid, mount, uts, ipc, net, cgroup)."
    echo
    $B/bench_create -r "$ROUNDS" -c "$CSV" --private-cgroup2 \
        "spawn=$PWD/$B/noop" \
        "lightvm=$PWD/build/bin/lightvm run -q $PWD/build/examples/noop/noop.elf" \
        "unshare=/usr/bin/unshare --fork --pid --mount --uts --ipc --net $PWD/$B/noop" \
        "unshare+user+cgroup=/usr/bin/unshare --fork --pid --mount --uts --ipc --net --user --map-root-user --cgroup $PWD/$B/noop" \
        "bwrap=/usr/bin/bwrap --unshare-all --ro-bind $W/rootfs / /noop" \
        "crun=/usr/bin/crun run -b $W/bundle-noop lvmb{i}"
    echo
    echo "## Memory of an idle instance (N=$N of each, started in one run)"
    echo
    echo "PSS is summed over the instances' processes; kernel is the growth of"
    echo "Slab + KernelStack + PageTables; both per instance. Guests run \`idle\`"
    echo "(4 MiB RAM) started through the toolstack library, as the daemon will;"
    echo "containers run a static \`pause\` with \`crun run -d\`."
    echo
    LIGHTVM_SHELL=$PWD/build/bin/lightvm-shell $B/bench_idle_mem -n "$N" --crun "$W/bundle-pause" build/examples/idle/idle.elf
} | tee "$OUT"
[ "${PIPESTATUS[0]}" = 0 ] || { echo "foundation.sh: failed (see above)" >&2; exit 1; }
