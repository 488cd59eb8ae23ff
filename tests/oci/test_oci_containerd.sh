#!/bin/bash
# test_oci_containerd.sh: containerd 1.6's runc shim (io.containerd.runc.v2)
# runs unikernel containers with lightvm-runtime as its runc binary (`ctr
# run --runc-binary`): run --rm (output, exit status), run -d, task ls,
# pause, resume, ps, kill (TERM a poweroff, KILL 137), delete, an image
# imported offline, and the runtime's error as containerd shows it (the
# last "error" line of the bundle's log.json). A containerd of this
# suite's own: its root, state and sockets in $TMP, CRI off.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
. tests/oci/oci_lib.sh
[ -x "$RUNTIME" ] || { echo "no $RUNTIME: make first"; exit 1; }
if ! command -v containerd >/dev/null || ! command -v ctr >/dev/null ||
    ! command -v containerd-shim-runc-v2 >/dev/null; then
    skip containerd "containerd is not installed (scripts/deps.sh installs it)"
    echo "0 passed, 0 failed"
    exit 0
fi

CD=$TMP/containerd
mkdir -p "$CD"
cat >"$CD/config.toml" <<TOML
version = 2
root = "$CD/root"
state = "$CD/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$CD/containerd.sock"
[ttrpc]
  address = "$CD/containerd.sock.ttrpc"
[debug]
  address = "$CD/debug.sock"
TOML
containerd --config "$CD/config.toml" >"$CD/containerd.log" 2>&1 &
CONTAINERD_PID=$!
# The namespace names the containers' cgroups' parent (/NAMESPACE/ID):
# this suite's, which lib.sh cleans up.
C() { ctr --address "$CD/containerd.sock" -n "$LIGHTVM_CGROUP_PARENT" "$@"; }
cleanup_containerd() {
    local t
    for t in $(C task ls -q 2>/dev/null); do
        C task kill -s KILL "$t" >/dev/null 2>&1
        C task delete -f "$t" >/dev/null 2>&1
    done
    for t in $(C containers ls -q 2>/dev/null); do
        C containers rm "$t" >/dev/null 2>&1
    done
    kill "$CONTAINERD_PID" 2>/dev/null
    wait "$CONTAINERD_PID" 2>/dev/null
    lib_cleanup
}
trap cleanup_containerd EXIT
deadline=$((SECONDS + 20))
until C version >/dev/null 2>&1; do
    kill -0 "$CONTAINERD_PID" 2>/dev/null && [ $SECONDS -lt $deadline ] ||
        { echo "containerd did not come up"; cat "$CD/containerd.log"; exit 1; }
    read -rt 0.05 <> <(:) 2>/dev/null || true
done
make_rootfs "$CD/rootfs" || exit 1
RUN=(--runc-binary "$RUNTIME" --rootfs "$CD/rootfs")

task_status() { C task ls | awk -v id="$1" '$1 == id {print $3}'; }
is_task() { [ "$(task_status "$1")" = "$2" ]; }

test_run_rm() {
    C run --rm "${RUN[@]}" r1 /bin/hello via containerd >"$TMP/out" || return 1
    cat "$TMP/out"
    contains "$TMP/out" "argv[2] = containerd" || return 1
    expect_status 5 C run --rm "${RUN[@]}" r2 /bin/exitcode 5
}

test_detached_lifecycle() {
    C run -d "${RUN[@]}" d1 /bin/idle >"$TMP/d1.out" || return 1
    is_task d1 RUNNING || return 1
    local pid
    pid=$(C task ls | awk '$1 == "d1" {print $2}')
    # The shim's child, in the cgroup containerd named (/NAMESPACE/ID).
    [ "$(ps -o comm= -p "$(ps -o ppid= -p "$pid" | tr -d " ")")" = containerd-shim ] ||
        { ps -o pid,ppid,comm -p "$pid" "$(ps -o ppid= -p "$pid" | tr -d " ")"; return 1; }
    grep -q ":/$LIGHTVM_CGROUP_PARENT/d1\$" /proc/"$pid"/cgroup || return 1
    C task pause d1 && is_task d1 PAUSED || return 1
    C task resume d1 && is_task d1 RUNNING || return 1
    C task ps d1 | tee "$TMP/ps"
    contains "$TMP/ps" "$pid" || return 1
    C task kill d1 || return 1 # SIGTERM: a poweroff
    wait_until is_task d1 STOPPED || return 1
    C task delete d1 2>"$TMP/del" || return 1
    cat "$TMP/del"
    ! grep -q "non-zero exit code" "$TMP/del" || return 1
    C containers rm d1 &&
        [ -z "$(find /sys/fs/cgroup -maxdepth 3 -path "*/$LIGHTVM_CGROUP_PARENT/d1")" ]
}

test_kill_9() {
    C run -d "${RUN[@]}" k1 /bin/spin >/dev/null || return 1
    C task kill -s SIGKILL k1 && wait_until is_task k1 STOPPED || return 1
    C task delete k1 2>"$TMP/del"
    cat "$TMP/del"
    contains "$TMP/del" "exit code 137" && C containers rm k1
}

# An image, imported offline from an OCI archive (podman builds it from
# a directory when podman is here; else the rootfs above is enough).
test_image() {
    command -v podman >/dev/null || { echo "no podman: nothing to build an image with"; return 0; }
    local PD=$TMP/podman
    tar -C "$CD/rootfs" -cf "$TMP/rootfs.tar" . &&
        podman --root "$PD/storage" --runroot "$PD/runroot" --tmpdir "$PD/tmp" \
            --storage-driver vfs import "$TMP/rootfs.tar" localhost/lvm-ctr >/dev/null 2>&1 &&
        podman --root "$PD/storage" --runroot "$PD/runroot" --tmpdir "$PD/tmp" \
            --storage-driver vfs save --format oci-archive -o "$TMP/img.tar" \
            localhost/lvm-ctr >/dev/null 2>&1 || return 1
    C images import --snapshotter native "$TMP/img.tar" >/dev/null || return 1
    C run --rm --snapshotter native --runc-binary "$RUNTIME" \
        localhost/lvm-ctr:latest i1 /bin/hello image >"$TMP/out" &&
        contains "$TMP/out" "argv[1] = image"
}

# -t: the shim's console socket gets the guest's pty (script(1) gives ctr
# the terminal it wants).
test_terminal() {
    script -qec "ctr --address '$CD/containerd.sock' -n '$LIGHTVM_CGROUP_PARENT' \
        run --rm -t --runc-binary '$RUNTIME' --rootfs '$CD/rootfs' t1 /bin/hello tty" \
        /dev/null </dev/null >"$TMP/tty" || return 1
    grep -q $'argv\[1\] = tty\r' "$TMP/tty"
}

test_error_reaches_user() {
    C run --rm "${RUN[@]}" e1 /bin/nothere >"$TMP/out" 2>"$TMP/err"
    local rc=$?
    cat "$TMP/err"
    [ $rc -ne 0 ] && contains "$TMP/err" 'exec: "/bin/nothere": executable file not found'
}

# ---- a Debian rootfs (redis) booted as a VM (docs/oci.md) ------------
test_vm_run_rm() {
    local rootfs
    rootfs=$(redis_rootfs) || return 1
    C run --rm --runc-binary "$RUNTIME" --rootfs "$rootfs" vr1 \
        /usr/bin/redis-server --version >"$TMP/out" || return 1
    cat "$TMP/out"
    contains "$TMP/out" "Redis server v=" || return 1
    expect_status 4 C run --rm --runc-binary "$RUNTIME" --rootfs "$rootfs" vr2 \
        /bin/sh -c "exit 4"
}

# run -d in a network namespace (--with-ns), task ls, ps, pause, resume,
# redis-cli ping on the namespace's address, kill (SIGTERM to redis: exit
# 0), delete.
test_vm_redis_lifecycle() {
    local rootfs ns=lvmvmc$$ ok=1 pid
    rootfs=$(redis_rootfs) || return 1
    make_netns "$ns" 10.250.92 || { drop_netns "$ns"; return 1; }
    # (--rootfs is a flag: the directory is the first positional)
    C run -d --runc-binary "$RUNTIME" --with-ns "network:/run/netns/$ns" \
        --rootfs "$rootfs" vd1 /usr/bin/redis-server --bind 0.0.0.0 \
        --protected-mode no --save "" >"$TMP/vd1.out" 2>&1 || { ok=0; cat "$TMP/vd1.out"; }
    [ $ok = 1 ] && is_task vd1 RUNNING || ok=0
    redis_ping 10.250.92.2 || ok=0
    pid=$(C task ls | awk '$1 == "vd1" {print $2}')
    # The supervisor: the shim's child, in the cgroup containerd named.
    [ "$(ps -o comm= -p "$(ps -o ppid= -p "$pid" | tr -d " ")")" = containerd-shim ] || ok=0
    grep -q ":/$LIGHTVM_CGROUP_PARENT/vd1\$" /proc/"$pid"/cgroup || ok=0
    C task ps vd1 | tee "$TMP/ps"
    contains "$TMP/ps" "$pid" || ok=0
    C task pause vd1 && is_task vd1 PAUSED || ok=0
    C task resume vd1 && is_task vd1 RUNNING || ok=0
    redis_ping 10.250.92.2 || ok=0
    C task kill vd1 && wait_until is_task vd1 STOPPED || ok=0
    C task delete vd1 2>"$TMP/del" || ok=0
    cat "$TMP/del"
    ! grep -q "non-zero exit code" "$TMP/del" || ok=0
    C containers rm vd1 || ok=0
    drop_netns "$ns"
    [ $ok = 1 ]
}

check run_rm test_run_rm
check detached_lifecycle test_detached_lifecycle
check kill_9 test_kill_9
check image test_image
check terminal test_terminal
check error_reaches_user test_error_reaches_user
check vm_run_rm test_vm_run_rm
check vm_redis_lifecycle test_vm_redis_lifecycle
check no_leftovers no_new_leftovers
finish
