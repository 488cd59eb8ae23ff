#!/bin/bash
# test_oci_vm.sh: lightvm-runtime boots a bundle that is no unikernel as a
# Tinyx-style VM under QEMU (docs/oci.md, "Any other rootfs: a VM"),
# driven directly with runc's command line: the process's output, exit
# status, user, cwd, env, hostname, rlimits and a file bind mount (a
# copy); the life cycle (create, start, state, ps, pause, resume, kill
# relayed to the app, delete); the supervisor as the pid-file process
# (our child, in the cgroup, carrying the app's status); the root image
# cache; redis answering on the bundle's network namespace; bad input in
# runc's words.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
. tests/oci/oci_lib.sh
[ -x "$RUNTIME" ] || { echo "no $RUNTIME: make first"; exit 1; }
if ! command -v qemu-system-x86_64 >/dev/null || ! command -v mkfs.erofs >/dev/null; then
    skip vm "qemu-system-x86 or erofs-utils is not installed (scripts/deps.sh)"
    echo "0 passed, 0 failed"
    exit 0
fi

ROOT=$TMP/root
R() { "$RUNTIME" --root "$ROOT" "$@"; }
# gone PID: exited (a zombie waiting for whoever inherited it counts).
gone() { [ ! -e "/proc/$1" ] || grep -q '^State:[[:space:]]*Z' "/proc/$1/status"; }

# vm_bundle DIR ARGS_JSON [JQ_FILTER]: a busybox bundle (rootfs shared by
# the suite, so one root image serves all) running ARGS_JSON, changed by
# JQ_FILTER.
make_busybox_rootfs "$TMP/rootfs" || exit 1
echo "10.9.8.7 copied-host" >"$TMP/hosts"
vm_bundle() {
    local dir=$1 args=$2 filter=${3:-.}
    mkdir -p "$dir" || return 1
    jq -n --arg root "$TMP/rootfs" --argjson args "$args" \
        --arg cg "/$LIGHTVM_CGROUP_PARENT/$(basename "$dir")" '{
      ociVersion: "1.0.2",
      process: {terminal: false, user: {uid: 0, gid: 0}, args: $args,
                env: ["PATH=/bin", "GREETING=hi"], cwd: "/"},
      root: {path: $root, readonly: false},
      hostname: "vmtest",
      mounts: [{destination: "/proc", type: "proc", source: "proc"},
               {destination: "/dev", type: "tmpfs", source: "tmpfs",
                options: ["nosuid", "mode=755"]},
               {destination: "/dev/shm", type: "tmpfs", source: "shm",
                options: ["nosuid", "nodev", "mode=1777"]},
               {destination: "/sys", type: "sysfs", source: "sysfs"}],
      linux: {cgroupsPath: $cg, namespaces: [{type: "pid"}, {type: "network"}]}
    }' | jq "$filter" >"$dir/config.json"
}

test_run_process() {
    vm_bundle "$TMP/b1" '["sh", "-c", "echo GREETING=$GREETING host=$(hostname) uid=$(id -u) gid=$(id -g) groups=$(id -G) cwd=$(pwd) nofile=$(ulimit -n); cat /etc/hosts; touch /written && echo wrote; exit 7"]' \
        '.process.user = {uid: 1000, gid: 1000, additionalGids: [27]} |
         .process.cwd = "/tmp" |
         .process.rlimits = [{type: "RLIMIT_NOFILE", soft: 512, hard: 1024}] |
         .process.args[2] |= sub("touch /written"; "touch /tmp/written") |
         .mounts += [{destination: "/etc/hosts", type: "bind",
                      source: "'"$TMP/hosts"'", options: ["rbind", "ro"]}]' || return 1
    expect_status 7 R run --bundle "$TMP/b1" v1 >"$TMP/v1.out" || { cat "$TMP/v1.out"; return 1; }
    cat "$TMP/v1.out"
    contains "$TMP/v1.out" "GREETING=hi host=vmtest uid=1000 gid=1000 groups=1000 27 cwd=/tmp nofile=512" &&
        contains "$TMP/v1.out" "10.9.8.7 copied-host" &&
        contains "$TMP/v1.out" "wrote" || return 1
    # Nothing but the app's output on the console.
    ! grep -q "reboot:\|PCI:" "$TMP/v1.out" || return 1
    R delete v1
}

# The root image: one per tree, whatever the container; a changed tree
# is another image.
test_image_cache() {
    local n
    n=$(find "$LIGHTVM_ROOTFS_CACHE" -name '*.erofs' | wc -l)
    vm_bundle "$TMP/b2" '["true"]' || return 1
    R run --bundle "$TMP/b2" v2 && R delete v2 || return 1
    [ "$(find "$LIGHTVM_ROOTFS_CACHE" -name '*.erofs' | wc -l)" -eq "$n" ] ||
        { echo "the same tree made a second image"; return 1; }
    echo changed >"$TMP/rootfs/etc/motd"
    R run --bundle "$TMP/b2" v2b && R delete v2b || return 1
    rm "$TMP/rootfs/etc/motd"
    [ "$(find "$LIGHTVM_ROOTFS_CACHE" -name '*.erofs' | wc -l)" -eq $((n + 1)) ]
}

# create, start, state, ps, pause, resume, kill (relayed to the app:
# its trap answers, and its status is the container's), delete. The
# runtime's child (the supervisor) is the pid-file process: in the
# cgroup, parent of QEMU.
test_lifecycle() {
    vm_bundle "$TMP/b3" '["sh", "-c", "trap \"echo got TERM; exit 42\" TERM; echo up; while :; do sleep 1; done"]' || return 1
    R create --bundle "$TMP/b3" --pid-file "$TMP/b3.pid" v3 >"$TMP/v3.out" 2>&1 || return 1
    is_status v3 created || return 1
    local pid
    pid=$(cat "$TMP/b3.pid")
    [ "$(R state v3 | jq -r .pid)" = "$pid" ] || return 1
    grep -q ":/$LIGHTVM_CGROUP_PARENT/b3\$" /proc/"$pid"/cgroup || return 1
    R start v3 && is_status v3 running || return 1
    wait_until grep -q "^up" "$TMP/v3.out" || { cat "$TMP/v3.out"; return 1; }
    # QEMU is the supervisor's child, in the same cgroup.
    local qemu
    qemu=$(pgrep -P "$pid" -f qemu-system) || { echo "no QEMU under $pid"; return 1; }
    grep -q ":/$LIGHTVM_CGROUP_PARENT/b3\$" /proc/"$qemu"/cgroup || return 1
    R ps --format json v3 | tee "$TMP/ps"
    jq -e --argjson p "$pid" 'index($p) != null' "$TMP/ps" >/dev/null || return 1
    # exec: as the shim and conmon call it (--process, --detach,
    # --pid-file: the relay is the caller's to reap, with the status),
    # and in the foreground with the command on the line.
    printf '%s' '{"args":["sh","-c","echo exec-out; echo exec-err >&2; exit 5"],"env":["A=1"],"cwd":"/"}' \
        >"$TMP/proc.json"
    R exec --process "$TMP/proc.json" --detach --pid-file "$TMP/x.pid" v3 \
        >"$TMP/x.out" 2>"$TMP/x.err" || return 1
    local xpid xrc=0
    xpid=$(cat "$TMP/x.pid")
    [ "$xpid" -gt 0 ] && wait_until sh -c "! kill -0 $xpid 2>/dev/null" || return 1
    cat "$TMP/x.out" "$TMP/x.err"
    contains "$TMP/x.out" exec-out && contains "$TMP/x.err" exec-err || return 1
    R exec v3 sh -c 'echo "$HOSTNAME$A"; exit 4' >"$TMP/x2.out" || xrc=$?
    [ $xrc -eq 4 ] || { echo "exec status $xrc"; return 1; }
    refused 'exec failed: nosuch' R exec --detach v3 nosuch || return 1
    printf '%s' '{"args":["sh"],"terminal":true}' >"$TMP/tty.json"
    refused 'a terminal is not supported in a VM container' \
        R exec --process "$TMP/tty.json" v3 || return 1
    R pause v3 && is_status v3 paused || return 1
    refused 'cannot exec in a paused container' R exec v3 true || return 1
    R resume v3 && is_status v3 running || return 1
    # update: the cgroup's limit (the guest's RAM stays as it booted).
    R update --memory $((512 << 20)) v3 || return 1
    cat "/sys/fs/cgroup/memory/$LIGHTVM_CGROUP_PARENT/b3/memory.limit_in_bytes" \
        "/sys/fs/cgroup/$LIGHTVM_CGROUP_PARENT/b3/memory.max" 2>/dev/null |
        grep -qx $((512 << 20)) || return 1
    refused "cannot delete container v3 that is not stopped: running" R delete v3 || return 1
    R kill v3 TERM || return 1
    wait_until is_status v3 stopped || return 1
    cat "$TMP/v3.out"
    contains "$TMP/v3.out" "got TERM" || return 1
    refused "container not running" R kill v3 KILL || return 1
    R delete v3 && [ ! -d "$ROOT/v3" ] || return 1
    [ -z "$(find /sys/fs/cgroup -maxdepth 3 -name b3 -path "*$LIGHTVM_CGROUP_PARENT*")" ]
}

# The runtime's `run` waits for its child: the app's exit status through
# the supervisor, SIGKILL's too (the supervisor dies, QEMU with it).
test_kill_force_delete() {
    vm_bundle "$TMP/b4" '["sleep", "600"]' || return 1
    R create --bundle "$TMP/b4" v4 >"$TMP/v4.out" 2>&1 && R start v4 || return 1
    wait_until pgrep -P "$(R state v4 | jq -r .pid)" >/dev/null || return 1
    local pid qemu
    pid=$(R state v4 | jq -r .pid)
    qemu=$(pgrep -P "$pid") || return 1
    R delete --force v4 || return 1
    gone "$pid" && wait_until gone "$qemu"
}

# redis-server in a Debian rootfs answers on the address of the bundle's
# network namespace (the namespace's veth bridged to QEMU's tap).
test_redis_network() {
    local rootfs ns=lvmvm$$ ok=1
    rootfs=$(redis_rootfs) || return 1
    make_netns "$ns" 10.250.91 || { drop_netns "$ns"; return 1; }
    vm_bundle "$TMP/b5" "$REDIS_ARGS" \
        '.root.path = "'"$rootfs"'" | .linux.namespaces = [{type: "network", path: "/run/netns/'"$ns"'"}]' || ok=0
    R create --bundle "$TMP/b5" v5 >"$TMP/v5.out" 2>&1 && R start v5 || ok=0
    redis_ping 10.250.91.2 || { ok=0; cat "$TMP/v5.out"; }
    R kill v5 TERM && wait_until is_status v5 stopped || ok=0
    contains "$TMP/v5.out" "Redis is now ready to exit" || ok=0
    R delete --force v5
    drop_netns "$ns"
    [ $ok = 1 ]
}

test_bad_input() {
    vm_bundle "$TMP/bad" '["sh"]' '.root.path = "'"$TMP/nothere"'"' || return 1
    refused "rootfs ($TMP/nothere) does not exist" R create -b "$TMP/bad" x1 || return 1
    # A rootfs without the program (here: no /bin/sh).
    mkdir -p "$TMP/empty/etc"
    vm_bundle "$TMP/bad" '["/bin/sh"]' '.root.path = "'"$TMP/empty"'"' || return 1
    refused 'exec: "/bin/sh": executable file not found' R create -b "$TMP/bad" x2 || return 1
    vm_bundle "$TMP/bad" '["nosuch"]' || return 1
    refused 'exec: "nosuch": executable file not found' R create -b "$TMP/bad" x3 || return 1
    # A directory bind mount: refused, naming it.
    vm_bundle "$TMP/bad" '["true"]' \
        '.mounts += [{destination: "/data", type: "bind", source: "'"$TMP"'", options: ["rbind"]}]' || return 1
    refused "mount /data: $TMP is a directory" R create -b "$TMP/bad" x4 || return 1
    vm_bundle "$TMP/bad" '["true"]' \
        '.mounts += [{destination: "/n", type: "nfs", source: "h:/x"}]' || return 1
    refused 'mount /n: type "nfs" is not supported in a VM container' R create -b "$TMP/bad" x5 || return 1
    vm_bundle "$TMP/bad" '["true"]' '.linux.resources.memory.limit = 33554432' || return 1
    refused "memory limit 32 MiB is too small for a VM container" R create -b "$TMP/bad" x6 || return 1
    vm_bundle "$TMP/bad" '["sh", "-c", "echo a\nb"]' || return 1
    refused "process.args[2] holds a newline" R create -b "$TMP/bad" x7 || return 1
    vm_bundle "$TMP/bad" '["true"]' || return 1
    LIGHTVM_TINYX_INIT=/nonexistent refused "LIGHTVM_TINYX_INIT=/nonexistent" \
        R create -b "$TMP/bad" x8 || return 1
    refused "container x9 does not exist" R exec x9 true || return 1
    # Nothing is left of the refused ones.
    ! ls -d "$ROOT"/x? 2>/dev/null
}

check run_process test_run_process
check image_cache test_image_cache
check lifecycle test_lifecycle
check kill_force_delete test_kill_force_delete
check redis_network test_redis_network
check bad_input test_bad_input
finish
