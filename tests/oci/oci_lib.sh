# tests/oci/oci_lib.sh: what the OCI runtime suites share (after
# tests/lib.sh): the runtime, test rootfs directories holding guests, and
# config.json bundles.

RUNTIME=$(realpath "${RUNTIME:-$BUILD/bin/lightvm-runtime}")
export LIGHTVM_RUN_DIR=$TMP/run
mkdir -p "$LIGHTVM_RUN_DIR"

# make_rootfs DIR: a rootfs with the guests the suites run in /bin.
make_rootfs() {
    mkdir -p "$1/bin" "$1/etc" || return 1
    cp "$EXAMPLES/hello/hello.elf" "$1/bin/hello" &&
        cp "$EXAMPLES/idle/idle.elf" "$1/bin/idle" &&
        cp "$TGUESTS/exitcode.elf" "$1/bin/exitcode" &&
        cp "$TGUESTS/spin.elf" "$1/bin/spin" &&
        cp "$EXAMPLES/http/http.elf" "$1/bin/http" &&
        cp "$TGUESTS/snapcount.elf" "$1/bin/snapcount"
}

# make_bundle DIR ARGS_JSON [EXTRA_JSON]: a bundle whose rootfs is
# make_rootfs's, running ARGS_JSON (a JSON array), in a cgroup of this
# suite's; EXTRA_JSON (members, comma-first) is added to the top level.
make_bundle() {
    local dir=$1 args=$2 extra=${3:-}
    mkdir -p "$dir" && make_rootfs "$dir/rootfs" || return 1
    cat >"$dir/config.json" <<JSON
{
  "ociVersion": "1.0.2",
  "process": {"terminal": false, "user": {"uid": 0, "gid": 0},
              "args": $args, "env": ["PATH=/bin", "GREETING=hi"], "cwd": "/"},
  "root": {"path": "rootfs", "readonly": true},
  "hostname": "test",
  "linux": {"cgroupsPath": "/$LIGHTVM_CGROUP_PARENT/$(basename "$dir")",
            "namespaces": [{"type": "pid"}, {"type": "network"}]}
  $extra
}
JSON
}

# wait_until CMD...: poll CMD until it succeeds (10 s at most).
wait_until() {
    local deadline=$((SECONDS + 10))
    until "$@"; do
        [ $SECONDS -lt $deadline ] || { echo "timed out waiting for: $*"; return 1; }
        read -rt 0.01 <> <(:) 2>/dev/null || true
    done
}

# make_netns NAME SUBNET: a network namespace NAME with eth0 (a veth whose
# host end is lvo-NAME) at SUBNET.2/24, its default route via SUBNET.1,
# the host end's address: what podman's or CNI's bridge would give a
# container. Removed by drop_netns.
make_netns() {
    local ns=$1 net=$2
    ip netns add "$ns" &&
        ip link add "lvo$$" type veth peer name eth0 netns "$ns" &&
        ip addr add "$net.1/24" dev "lvo$$" && ip link set "lvo$$" up &&
        ip -n "$ns" addr add "$net.2/24" dev eth0 &&
        ip -n "$ns" link set eth0 up && ip -n "$ns" link set lo up &&
        ip -n "$ns" route add default via "$net.1"
}

drop_netns() {
    ip netns del "$1" 2>/dev/null
    ip link del "lvo$$" 2>/dev/null
    true
}

# ---- VM containers (docs/oci.md, "Any other rootfs: a VM") ------------

# Root images are cached by the tree's key: under the build directory, so
# that repeated runs of the suites boot at once (docs/oci.md).
export LIGHTVM_ROOTFS_CACHE=${LIGHTVM_ROOTFS_CACHE:-$(realpath "$BUILD")/oci-vm/cache}
export LIGHTVM_TINYX_INIT=${LIGHTVM_TINYX_INIT:-$(realpath "$BUILD")/bin/lightvm-tinyx-init}

# make_busybox_rootfs DIR: a small Linux rootfs: Debian's static busybox
# as /bin/sh and its applets.
make_busybox_rootfs() {
    mkdir -p "$1/bin" "$1/etc" "$1/tmp" "$1/root" && chmod 1777 "$1/tmp" || return 1
    cp /bin/busybox "$1/bin/busybox" || return 1
    local a
    for a in sh cat echo id sleep hostname mount grep ls env pwd touch \
        true; do
        ln -sf busybox "$1/bin/$a"
    done
    echo 'root:x:0:0:root:/root:/bin/sh' >"$1/etc/passwd"
}

# redis_rootfs: a Debian rootfs with redis-server and redis-cli (the
# files of the host's installed packages, as Tinyx collects them, and
# busybox as /bin/sh), made once under the build directory; its path.
redis_rootfs() {
    local dir
    dir=$(realpath "$BUILD")/oci-vm/redis
    if [ ! -e "$dir/done" ]; then
        rm -rf "$dir.new" "$dir"
        mkdir -p "$(dirname "$dir")" || return 1
        "$LIGHTVM" tinyx build redis-server -p redis-tools -k stock -z gzip:1 \
            -f /bin/busybox:/bin/busybox --keep-rootfs -q -o "$dir.new" >&2 ||
            return 1
        # The image's own init and kernel modules are not the container's.
        rm -rf "$dir.new/rootfs/init" "$dir.new/rootfs/etc/tinyx" \
            "$dir.new/rootfs/lib/modules" &&
            ln -s busybox "$dir.new/rootfs/bin/sh" &&
            mv "$dir.new/rootfs" "$dir" && rm -rf "$dir.new" &&
            touch "$dir/done" || return 1
    fi
    echo "$dir"
}

# The redis-server command line of the tests: no persistence, any client.
REDIS_ARGS='["/usr/bin/redis-server", "--bind", "0.0.0.0", "--protected-mode", "no", "--save", ""]'

# redis_ping ADDR: until redis answers PONG at ADDR (60 s at most: a VM
# boots in seconds under TCG, more on a loaded host).
redis_ping() {
    local deadline=$((SECONDS + 60))
    until [ "$(timeout 2 redis-cli -h "$1" ping 2>/dev/null)" = PONG ]; do
        [ $SECONDS -lt $deadline ] || { echo "no PONG from $1"; return 1; }
        read -rt 0.05 <> <(:) 2>/dev/null || true
    done
    echo "PONG from $1"
}

# The runtime's view of a container (R: the runtime with this suite's root).
status_of() { R state "$1" | jq -r .status; }
is_status() { [ "$(status_of "$1")" = "$2" ]; }

# refused WANT CMD...: CMD fails with status 1 and one line on stderr
# containing WANT.
refused() {
    local want=$1
    shift
    "$@" >"$TMP/out" 2>"$TMP/err"
    local rc=$?
    cat "$TMP/err"
    [ $rc -eq 1 ] || { echo "exit status $rc, expected 1"; return 1; }
    [ "$(wc -l <"$TMP/err")" -eq 1 ] || { echo "not one line"; return 1; }
    contains "$TMP/err" "$want"
}
