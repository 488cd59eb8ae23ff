#!/bin/bash
# bench/oci_redis.sh: the OCI benchmark's Debian app row (bench/oci.sh runs
# it last; `bench/oci.sh redis` runs only it). redis-server from a Debian
# rootfs (the host's redis packages as Tinyx collects them) started by
# `podman run -d` and `ctr run -d`, each in a fresh network namespace,
# timed from the command's start to redis's first PONG on the
# container's address, with lightvm-runtime (a VM under QEMU), crun and
# runc (and runsc where it runs), rounds interleaved; then the memory of
# running redis containers. Results: bench/results/oci-redis.md.
#
#   ROUNDS=10 N=3 bench/oci_redis.sh
set -eu
cd "$(dirname "$0")/.."
# All of it in a mount namespace of its own without the cgroup v2 mount
# (crun 1.8 refuses this hybrid host otherwise, as bench/oci.sh's
# bench_create --private-cgroup2), so that containerd, podman and the
# network namespaces made below (ip netns: bind mounts) see one tree.
if [ -z "${OCI_REDIS_INNER:-}" ]; then
    export OCI_REDIS_INNER=1
    exec unshare -m --propagation private sh -c \
        'umount /sys/fs/cgroup/unified 2>/dev/null; exec "$0" "$@"' "$0" "$@"
fi
BUILD=${BUILD:-build}
make -s BUILD="$BUILD" all >/dev/null
RT=$PWD/$BUILD/bin/lightvm-runtime
ROUNDS=${ROUNDS:-10}
N=${N:-3}
W=$(mktemp -d /tmp/lightvm-bench-redis.XXXXXX)
export LIGHTVM_ROOTFS_CACHE=$PWD/$BUILD/oci-vm/cache
CPID=
NETS=()
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
    for t in "${NETS[@]}"; do ip netns del "$t" 2>/dev/null || true; done
    ip link show | awk -F'[ :@]+' '/ lbr[0-9]+_[0-9]+/ {print $2}' |
        while read -r l; do ip link del "$l" 2>/dev/null || true; done
    rm -rf "$W"
}
trap cleanup EXIT

# The rootfs, made once under the build directory (as tests/oci do).
ROOTFS=$PWD/$BUILD/oci-vm/redis
if [ ! -e "$ROOTFS/done" ]; then
    rm -rf "$ROOTFS.new" "$ROOTFS"
    "$BUILD/bin/lightvm" tinyx build redis-server -p redis-tools -k stock -z gzip:1 \
        -f /bin/busybox:/bin/busybox --keep-rootfs -q -o "$ROOTFS.new"
    rm -rf "$ROOTFS.new/rootfs/init" "$ROOTFS.new/rootfs/etc/tinyx" \
        "$ROOTFS.new/rootfs/lib/modules"
    ln -s busybox "$ROOTFS.new/rootfs/bin/sh"
    mv "$ROOTFS.new/rootfs" "$ROOTFS" && rm -rf "$ROOTFS.new" && touch "$ROOTFS/done"
fi
ARGS=(/usr/bin/redis-server --bind 0.0.0.0 --protected-mode no --save "")

cat >"$W/containers.conf" <<CONF
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
[engine.runtimes]
lightvm = ["$RT"]
CONF
export CONTAINERS_CONF=$W/containers.conf
P() { podman --root "$W/storage" --runroot "$W/runroot" --tmpdir "$W/tmp" --storage-driver vfs "$@"; }
tar -C "$ROOTFS" --exclude=./done -cf "$W/redis.tar" .
P import "$W/redis.tar" localhost/bench-redis >/dev/null 2>&1

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
containerd --config "$W/c.toml" >"$W/containerd.log" 2>&1 &
CPID=$!
until ctr --address "$W/c.sock" version >/dev/null 2>&1; do sleep 0.1; done
C() { ctr --address "$W/c.sock" -n bench "$@"; }

RUNTIMES=(lightvm crun runc)
if command -v runsc >/dev/null && runsc --version >/dev/null 2>&1 &&
    runsc --rootless=false do true >/dev/null 2>&1; then
    RUNTIMES+=(runsc)
fi
bin_of() {
    case $1 in
    lightvm) echo "$RT" ;;
    *) command -v "$1" ;;
    esac
}

# A fresh namespace per container (a VM takes its address over): eth0 at
# 10.252.K.2, the host's end at .1.
NETN=0
new_net() {
    NETN=$((NETN + 1))
    local ns=lbr$$_$NETN
    ip netns add "$ns"
    ip link add "$ns" type veth peer name eth0 netns "$ns"
    ip addr add "10.252.$NETN.1/24" dev "$ns" && ip link set "$ns" up
    ip -n "$ns" addr add "10.252.$NETN.2/24" dev eth0
    ip -n "$ns" link set eth0 up && ip -n "$ns" link set lo up
    ip -n "$ns" route add default via "10.252.$NETN.1"
    NETS+=("$ns")
    NS=$ns
    ADDR=10.252.$NETN.2
}

# first_pong CALLER RUNTIME NAME: ms from the start command to PONG, in
# $MS (not a subshell: new_net counts namespaces).
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# runc and crun apply podman's default rlimits, above this host's limits
# (as bench/oci.sh).
UL=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
first_pong() {
    local caller=$1 rt=$2 name=$3 t0 t1 ul=()
    MS=NaN
    [ "$rt" = lightvm ] || ul=("${UL[@]}")
    new_net
    t0=$(now_ms)
    if [ "$caller" = podman ]; then
        P run -d --runtime "$(bin_of "$rt")" --network "ns:/run/netns/$NS" \
            "${ul[@]}" --name "$name" localhost/bench-redis "${ARGS[@]}" >/dev/null ||
            return 1
    else
        C run -d --runc-binary "$(bin_of "$rt")" --with-ns "network:/run/netns/$NS" \
            --rootfs "$ROOTFS" "$name" "${ARGS[@]}" >/dev/null || return 1
    fi
    until [ "$(timeout 2 redis-cli -h "$ADDR" ping 2>/dev/null)" = PONG ]; do
        [ $(($(now_ms) - t0)) -lt 120000 ] || { echo "no PONG: $caller $rt" >&2; return 1; }
    done
    t1=$(now_ms)
    MS=$((t1 - t0))
}
stop_it() {
    local caller=$1 name=$2
    if [ "$caller" = podman ]; then
        P rm -f -t 0 "$name" >/dev/null 2>&1 || true
    else
        C task kill -s KILL "$name" >/dev/null 2>&1 || true
        until C task delete "$name" >/dev/null 2>&1 || ! C task ls | grep -q "^$name "; do
            sleep 0.05
        done
        C c rm "$name" >/dev/null 2>&1 || true
    fi
}

CSV=bench/results/oci-redis.csv
echo "command,round,ms" >"$CSV"
for r in $(seq "$ROUNDS"); do
    for caller in podman ctr; do
        for rt in "${RUNTIMES[@]}"; do
            first_pong "$caller" "$rt" "b$rt$r" || MS=NaN
            echo "$caller-$rt,$r,$MS" >>"$CSV"
            stop_it "$caller" "b$rt$r"
        done
    done
done

# median and p90 of a command's samples
stat_of() {
    awk -F, -v c="$1" '$1 == c && $3 != "NaN" {print $3}' "$CSV" | sort -n |
        awk '{v[NR] = $1} END {if (!NR) {print "NaN NaN"; exit}
            m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            p = v[int(0.9 * NR + 0.999)]; print m, p}'
}

OUT=bench/results/oci-redis.md
{
    echo "# OCI runtime benchmark: a Debian app (redis) to its first answer"
    echo
    echo "![podman and ctr run -d of redis to its first PONG: median ms](oci-redis.png)"
    echo '<!-- plot table=1 cols=2,3 title="redis to its first PONG: median and p90 ms" ylabel="ms" log -->'
    echo
    echo "Produced by \`bench/oci_redis.sh\` (ROUNDS=$ROUNDS N=$N) on $(date -u +%Y-%m-%d)."
    echo "Machine: $(nproc) CPUs, kernel $(uname -r), load before the run: $(cut -d' ' -f1-3 /proc/loadavg);"
    if [ -w /dev/kvm ]; then echo "KVM available."; else echo "**no KVM: lightvm's VMs run under QEMU's TCG emulation**."; fi
    echo "Runtimes: ${RUNTIMES[*]} (runsc is measured only where it runs on this kernel)."
    echo
    echo "From the start of \`podman run -d\` / \`ctr run -d\` (a fresh network"
    echo "namespace each, made before the clock starts) to the first PONG of"
    echo "\`redis-cli ping\` on the container's address; raw samples in \`$CSV\`."
    echo "lightvm boots the rootfs as a VM (Debian's stock kernel, erofs root"
    echo "image already cached), crun and runc run redis-server directly."
    echo
    echo "| command | median ms | p90 ms | x crun (median) |"
    echo "|---|---:|---:|---:|"
    for caller in podman ctr; do
        read -r base _ <<<"$(stat_of "$caller-crun")"
        for rt in "${RUNTIMES[@]}"; do
            read -r m p <<<"$(stat_of "$caller-$rt")"
            echo "| $caller-$rt | $m | $p | $(awk -v a="$m" -v b="$base" 'BEGIN {printf "%.2f", a / b}') |"
        done
    done
    echo
    echo "Against Kata Containers: Kuasar's published benchmark (kuasar.io,"
    echo "\"Benchmark Test Report\": containerd 1.7, Kata 2.5.2 with Cloud"
    echo "Hypervisor, KVM) puts Kata's container start through CRI at about"
    echo "850-950 ms in series. That is a start, not an app's first answer, and"
    echo "with KVM; the lightvm figures above are to redis's first PONG and,"
    if [ -w /dev/kvm ]; then
        echo "here, with KVM."
    else
        echo "on this host, without KVM: every guest instruction is emulated (TCG),"
        echo "which the notes measured at about 2.6 s for the stock kernel's boot to"
        echo "redis alone (notes/tinyx-qemu.md), on an idle machine. So the target"
        echo "(sooner than Kata) is not met here and cannot be judged without KVM;"
        echo "the tiny kernel (\`lightvm tinyx kernel\`) and KVM are the two levers."
    fi
    echo
    echo "## Memory of a running redis container (N=$N of each, started by ctr)"
    echo
    echo "The charge of each container's cgroup (lightvm: the supervisor and QEMU,"
    echo "guest RAM it has touched included) and the PSS of its processes. Under"
    echo "TCG, QEMU's translation cache (35-57 MB, notes/tinyx-qemu.md) is part of"
    echo "lightvm's figure, and the guest has the stock kernel's default 256 MiB."
    echo
    echo "| runtime | cgroup charge MiB | PSS MiB |"
    echo "|---|---:|---:|"
} >"$OUT.tmp"

mem_of() {
    local rt=$1 i pid cg charge=0 pss=0 p
    for i in $(seq "$N"); do
        first_pong ctr "$rt" "m$rt$i" || echo "no PONG: m$rt$i" >&2
    done
    for i in $(seq "$N"); do
        pid=$(C task ls | awk -v id="m$rt$i" '$1 == id {print $2}')
        cg=$(awk -F: '$2 == "memory" {print $3}' /proc/"$pid"/cgroup)
        charge=$((charge + $(cat /sys/fs/cgroup/memory$cg/memory.usage_in_bytes)))
        for p in $(cat /sys/fs/cgroup/memory$cg/cgroup.procs); do
            pss=$((pss + $(awk '/^Pss:/ {s += $2} END {print s + 0}' /proc/"$p"/smaps_rollup 2>/dev/null || echo 0)))
        done
    done
    awk -v n="$N" -v c="$charge" -v p="$pss" -v rt="$rt" \
        'BEGIN {printf "| %s | %.1f | %.1f |\n", rt, c / n / 1048576, p / n / 1024}'
    for i in $(seq "$N"); do stop_it ctr "m$rt$i"; done
}
for rt in "${RUNTIMES[@]}"; do mem_of "$rt" >"$W/mem"; cat "$W/mem" >>"$OUT.tmp"; done
mv "$OUT.tmp" "$OUT"
cat "$OUT"
