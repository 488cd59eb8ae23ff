#!/bin/bash
# run.sh: Tinyx measurements (issue 5), written to bench/results/:
#   - image size against the package closure (redis-server, nginx)
#   - kernel size: the tiny kernel against Debian's
#   - boot-to-answer time: Tinyx (tiny kernel + Tinyx initramfs) against
#     Debian's cloud kernel + its initramfs-tools initrd + the same app
#     tree on an ext4 virtio disk, on the same QEMU; medians and p90
#   - QEMU RSS per guest, how many guests run at once, save/restore
# Usage: bench/tinyx/run.sh [RUNS] (default 11). Needs root, a built tree
# (make all build/bench/tinyx/boot_bench) and the tiny kernels:
#   build/bin/lightvm tinyx kernel && build/bin/lightvm tinyx kernel --app nginx
set -eu
cd "$(dirname "$0")/../.."
RUNS=${1:-11}
MANY=${TINYX_BENCH_MANY:-24}
BUILD=${BUILD:-build}
LVM=$BUILD/bin/lightvm
BB=$BUILD/bench/tinyx/boot_bench
STAMP=$(date -u +%Y%m%d-%H%M)
# TINYX_BENCH_RAW=FILE: only rebuild the images and summarise FILE again
RAW=${TINYX_BENCH_RAW:-bench/results/tinyx-$STAMP.jsonl}
OUT=${RAW%.jsonl}.md
W=$(mktemp -d /tmp/tinyx-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT
[ -n "${TINYX_BENCH_RAW:-}" ] || : >"$RAW"

command -v mke2fs >/dev/null || { echo "run.sh: needs mke2fs (e2fsprogs)"; exit 1; }
[ -x "$BB" ] || make -s "$BB"

raw() { # TAG JSON-LINES...: append to the raw file with a tag
    local tag=$1
    sed "s/^{/{\"config\": \"$tag\", /" >>"$RAW"
}

STOCK=$(ls /boot/vmlinuz-*-cloud-amd64 | sort -V | tail -n 1)
KVER=${STOCK#/boot/vmlinuz-}
STOCK_INITRD=/boot/initrd.img-$KVER
[ -r "$STOCK_INITRD" ] || { echo "run.sh: no $STOCK_INITRD (apt-get install initramfs-tools, then dpkg-reconfigure linux-image-$KVER)"; exit 1; }

echo "== images"
for app in redis-server nginx; do
    $LVM tinyx build -q --force --kernel tiny "$app" -o "$W/$app-tiny"
    $LVM tinyx build -q --force --kernel tiny -z none "$app" -o "$W/$app-raw"
    $LVM tinyx build -q --force --kernel stock --keep-rootfs "$app" \
        -o "$W/$app-stock"
    # the stock pair's root disk: the same app tree on ext4
    mke2fs -q -t ext4 -d "$W/$app-stock/rootfs" -L root "$W/$app.ext4" 256M
done

kernel_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["kernel"]["path"])' "$1/manifest.json"; }
initrd_of() { echo "$1/$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["initramfs"])' "$1/manifest.json")"; }

# configurations: NAME KERNEL INITRD PORT PROTO [EXTRA...]
configs() {
    for app in redis-server nginx; do
        local port=6379 proto=redis
        [ "$app" = nginx ] && port=80 proto=http
        local k
        k=$(kernel_of "$W/$app-tiny")
        echo "$app:tinyx $k $(initrd_of "$W/$app-tiny") $port $proto"
        echo "$app:tinyx-bzImage ${k%vmlinux}bzImage $(initrd_of "$W/$app-tiny") $port $proto"
        echo "$app:tinyx-uncompressed-cpio $k $(initrd_of "$W/$app-raw") $port $proto"
        echo "$app:stock-kernel+tinyx-initramfs $STOCK $(initrd_of "$W/$app-stock") $port $proto --acpi"
        echo "$app:stock-pair $STOCK $STOCK_INITRD $port $proto --acpi --disk $W/$app.ext4 --append root=/dev/vda_rw_init=/init"
    done
}

RK=$(kernel_of "$W/redis-server-tiny")
if [ -z "${TINYX_BENCH_RAW:-}" ]; then
echo "== boot to answer, $RUNS interleaved rounds"
for r in $(seq 1 "$RUNS"); do
    configs | while read -r name k i port proto extra; do
        args=(--kernel "$k" --initrd "$i" --port "$port" --proto "$proto")
        for w in $extra; do
            args+=("${w//_/ }") # the --append value has _ for spaces
        done
        $BB boot --runs 1 "${args[@]}" 2>>"$W/errors" | raw "$name" ||
            echo "$name run $r failed" >>"$W/errors"
    done
done 2>&1

echo "== save / restore"
$BB state --runs 5 --kernel "$RK" --initrd "$(initrd_of "$W/redis-server-tiny")" \
    --port 6379 --proto redis --state "$W/state" | raw "redis-server:state"

echo "== guests at once (up to $MANY, 64 MiB each)"
$BB many --max "$MANY" --mem 64 --kernel "$RK" \
    --initrd "$(initrd_of "$W/redis-server-tiny")" --port 6379 --proto redis |
    raw "redis-server:many"

fi

echo "== report"
python3 bench/tinyx/summarize.py "$RAW" "$W" "$STOCK" "$RK" >"$OUT"
{
    echo
    echo "## How this was measured"
    echo
    echo "Command: \`bench/tinyx/run.sh $RUNS\` (TINYX_BENCH_MANY=$MANY), $(date -u)."
    echo "Raw data: \`$RAW\` (one JSON object per run)."
    echo
    echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), $(nproc) CPUs,"
    echo "$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r), $(qemu-system-x86_64 --version | head -n1)."
    echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
    if [ -s "$W/errors" ]; then
        echo
        echo "Errors during the run:"
        sed 's/^/    /' "$W/errors"
    fi
} >>"$OUT"
cat "$OUT"
