#!/bin/bash
# bench/oci.sh: the OCI runtime issue's benchmark. `podman run --rm` and
# `ctr run --rm` of a trivial program with lightvm-runtime (the noop
# guest), runc and crun (a static no-op), interleaved in one run
# (bench_create); then the memory of idle containers started by ctr
# (lightvm's idle guest against a static pause program under runc and
# crun). Everything is private to the run: podman's storage, a
# containerd of its own. Results go to bench/results/oci.md.
#
# Last, the Debian app row: redis to its first PONG and its memory,
# lightvm (a VM) against crun and runc (bench/oci_redis.sh,
# bench/results/oci-redis.md).
#
#   bench/oci.sh                 # ROUNDS=20 N=10
#   ROUNDS=50 N=50 BUILD=build bench/oci.sh
#   bench/oci.sh redis           # only the Debian app row
set -eu
cd "$(dirname "$0")/.."
[ "${1:-}" != redis ] || exec bench/oci_redis.sh
BUILD=${BUILD:-build}
make -s BUILD="$BUILD" all bench-tools >/dev/null
B=$BUILD/bench
RT=$PWD/$BUILD/bin/lightvm-runtime
ROUNDS=${ROUNDS:-20}
N=${N:-10}
W=$(mktemp -d /tmp/lightvm-bench-oci.XXXXXX)
CPID=
cleanup() {
    local t
    for t in $(ctr --address "$W/c.sock" -n bench task ls -q 2>/dev/null); do
        ctr --address "$W/c.sock" -n bench task kill -s KILL "$t" 2>/dev/null || true
        ctr --address "$W/c.sock" -n bench task delete -f "$t" >/dev/null 2>&1 || true
    done
    for t in $(ctr --address "$W/c.sock" -n bench c ls -q 2>/dev/null); do
        ctr --address "$W/c.sock" -n bench c rm "$t" >/dev/null 2>&1 || true
    done
    [ -z "$CPID" ] || { kill "$CPID"; wait "$CPID"; } 2>/dev/null || true
    podman --root "$W/storage" --runroot "$W/runroot" --tmpdir "$W/tmp" \
        --storage-driver vfs rm -af -t 0 >/dev/null 2>&1 || true
    rm -rf "$W"
}
trap cleanup EXIT

mkdir -p "$W/rootfs"
cp "$BUILD/examples/noop/noop.elf" "$BUILD/examples/idle/idle.elf" \
    "$B/noop" "$B/pause" "$W/rootfs/"

# podman: a private store, lightvm-runtime registered by name.
cat >"$W/containers.conf" <<CONF
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
[engine.runtimes]
lightvm = ["$RT"]
CONF
export CONTAINERS_CONF=$W/containers.conf
PODMAN="/usr/bin/podman --root $W/storage --runroot $W/runroot --tmpdir $W/tmp --storage-driver vfs"
tar -C "$W/rootfs" -cf "$W/rootfs.tar" .
$PODMAN import "$W/rootfs.tar" localhost/oci-bench >/dev/null 2>&1
# runc and crun apply podman's default rlimits, above this host's limits.
UL="--ulimit nofile=1024:1024 --ulimit nproc=1024:1024"
RUN="run --rm --network none"

# containerd: its own, CRI off.
cat >"$W/c.toml" <<TOML
version = 2
root = "$W/croot"
state = "$W/cstate"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$W/c.sock"
[ttrpc]
  address = "$W/c.sock.ttrpc"
TOML
# In a mount namespace without the cgroup v2 mount (crun 1.8 refuses this
# hybrid host otherwise), which its shims and runtimes inherit.
unshare -m sh -c "umount /sys/fs/cgroup/unified 2>/dev/null; \
    exec containerd --config $W/c.toml" >"$W/containerd.log" 2>&1 &
CPID=$!
until ctr --address "$W/c.sock" version >/dev/null 2>&1; do sleep 0.1; done
CTR="/usr/bin/ctr --address $W/c.sock -n bench"

mkdir -p bench/results
OUT=bench/results/oci.md
CSV=bench/results/oci-create.csv
{
    echo "# OCI runtime benchmark: podman and containerd"
    echo
    echo "![podman and ctr run --rm: median and p90 ms](oci.png)"
    echo '<!-- plot table=1 cols=2,3 title="podman and ctr run --rm: median and p90 ms" ylabel="ms" -->'
    echo
    echo "Produced by \`bench/oci.sh\` (ROUNDS=$ROUNDS N=$N) on $(date -u +%Y-%m-%d)."
    echo "Machine: $(nproc) CPUs, kernel $(uname -r), load before the run: $(cut -d' ' -f1-3 /proc/loadavg)."
    echo "podman $(podman --version | awk '{print $3}'), conmon $(conmon --version | awk 'NR==1 {print $3}'),"
    echo "containerd $(containerd --version | awk '{print $3}'), runc $(runc --version | awk 'NR==1 {print $3}'),"
    echo "crun $(crun --version | awk 'NR==1 {print $3}'). gVisor's runsc is left out: it does not run on this host's kernel."
    echo
    echo "## Run a trivial container to its end ($ROUNDS interleaved rounds)"
    echo
    echo "lightvm runs the noop guest, runc and crun a static no-op, from the same"
    echo "image (podman) or directory (ctr --rootfs). Spawn to exit of the whole"
    echo "command, milliseconds; raw samples in \`$CSV\`. The run is in a private"
    echo "mount namespace without the cgroup v2 mount, which crun 1.8 needs on this"
    echo "hybrid-cgroup host (bench_create --private-cgroup2)."
    echo
    $B/bench_create -r "$ROUNDS" -c "$CSV" --private-cgroup2 \
        "podman-crun=$PODMAN $RUN $UL --runtime crun localhost/oci-bench /noop" \
        "podman-runc=$PODMAN $RUN $UL --runtime runc localhost/oci-bench /noop" \
        "podman-lightvm=$PODMAN $RUN --runtime lightvm localhost/oci-bench /noop.elf" \
        "ctr-crun=$CTR run --rm --runc-binary /usr/bin/crun --rootfs $W/rootfs c{i} /noop" \
        "ctr-runc=$CTR run --rm --rootfs $W/rootfs r{i} /noop" \
        "ctr-lightvm=$CTR run --rm --runc-binary $RT --rootfs $W/rootfs l{i} /noop.elf"
    echo
    echo "## Memory of an idle container (N=$N of each, started by ctr)"
    echo
    echo "The charge of each container's cgroup (memory.usage_in_bytes: its"
    echo "process's pages and kernel memory) and the PSS of its process, per"
    echo "container; the shim, the same for all, is not counted. lightvm runs"
    echo "\`idle\` (a guest waiting for its poweroff), runc and crun a static"
    echo "\`pause\`."
    echo
    echo "| runtime | cgroup charge KiB | PSS KiB |"
    echo "|---|---|---|"
} >"$OUT.tmp"

# idle_memory NAME RUNC_BINARY PROGRAM: start N, measure, remove.
idle_memory() {
    local name=$1 bin=$2 prog=$3 i pid cg charge=0 pss=0
    for i in $(seq "$N"); do
        $CTR run -d --runc-binary "$bin" --rootfs "$W/rootfs" "m$name$i" "$prog" >/dev/null
    done
    for i in $(seq "$N"); do
        pid=$($CTR task ls | awk -v id="m$name$i" '$1 == id {print $2}')
        cg=$(awk -F: '$2 == "memory" {print $3}' /proc/"$pid"/cgroup)
        charge=$((charge + $(cat /sys/fs/cgroup/memory$cg/memory.usage_in_bytes)))
        pss=$((pss + $(awk '/^Pss:/ {s += $2} END {print s}' /proc/"$pid"/smaps_rollup)))
    done
    echo "| $name | $((charge / 1024 / N)) | $((pss / N)) |"
    for i in $(seq "$N"); do
        $CTR task kill -s KILL "m$name$i" >/dev/null 2>&1 || true
    done
    for i in $(seq "$N"); do
        until $CTR task delete "m$name$i" >/dev/null 2>&1; do sleep 0.05; done
        $CTR c rm "m$name$i" >/dev/null
    done
}
{
    idle_memory crun /usr/bin/crun /pause
    idle_memory runc /usr/sbin/runc /pause
    idle_memory lightvm "$RT" /idle.elf
} >>"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
cat "$OUT"

# The Debian app row, on its own page.
ROUNDS=${REDIS_ROUNDS:-10} N=${REDIS_N:-3} bench/oci_redis.sh
