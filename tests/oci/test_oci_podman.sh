#!/bin/bash
# test_oci_podman.sh: podman (with conmon) runs unikernel images through
# lightvm-runtime: run --rm (output, exit status), run -d, ps, logs,
# pause, unpause, inspect, stop (a poweroff, not a kill), rm, a terminal,
# a memory limit, and a non-guest image refused in one line under the
# proc monitor (it boots as a VM otherwise: test_oci_vm.sh). Offline:
# images are imported from directories; storage, state and config are
# this suite's own (docs/oci.md).
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
. tests/oci/oci_lib.sh
[ -x "$RUNTIME" ] || { echo "no $RUNTIME: make first"; exit 1; }
if ! command -v podman >/dev/null || ! command -v conmon >/dev/null; then
    skip podman "podman or conmon is not installed (scripts/deps.sh installs them)"
    echo "0 passed, 0 failed"
    exit 0
fi

PD=$TMP/podman
mkdir -p "$PD"
# No systemd (a container, CI): podman's cgroupfs manager.
manager=cgroupfs
[ -d /run/systemd/system ] && manager=systemd
# podman's own networking through CNI, with a network of this suite's:
# a bridge of its own, no firewall or NAT rules (removed on exit).
NET=lvmtest$$
BR=lvmocibr$$
mkdir -p "$PD/cni"
cat >"$PD/cni/$NET.conflist" <<CNI
{"cniVersion": "0.4.0", "name": "$NET",
 "plugins": [{"type": "bridge", "bridge": "$BR", "isGateway": true,
   "ipMasq": false, "ipam": {"type": "host-local",
   "routes": [{"dst": "0.0.0.0/0"}],
   "ranges": [[{"subnet": "10.250.80.0/24", "gateway": "10.250.80.1"}]]}}]}
CNI
cat >"$PD/containers.conf" <<CONF
[engine]
cgroup_manager = "$manager"
events_logger = "file"
[engine.runtimes]
lightvm = ["$RUNTIME"]
[network]
network_backend = "cni"
network_config_dir = "$PD/cni"
CONF
export CONTAINERS_CONF=$PD/containers.conf
P() {
    podman --root "$PD/storage" --runroot "$PD/runroot" --tmpdir "$PD/tmp" \
        --storage-driver vfs "$@"
}
# Every container in this suite's cgroups (lib.sh cleans them up).
RUN=(--runtime lightvm --network none --cgroup-parent "/$LIGHTVM_CGROUP_PARENT")
cleanup_podman() {
    P rm -af -t 0 >/dev/null 2>&1
    ip link del "$BR" 2>/dev/null
    rm -rf "/var/lib/cni/networks/$NET"
    lib_cleanup
}
trap cleanup_podman EXIT

make_rootfs "$PD/rootfs" && tar -C "$PD/rootfs" -cf "$PD/rootfs.tar" . &&
    P import --change 'CMD=["/bin/hello","from","podman"]' "$PD/rootfs.tar" \
        localhost/lvm-test >/dev/null 2>&1 || { echo "podman import failed"; exit 1; }

test_run_rm() {
    P run --rm "${RUN[@]}" localhost/lvm-test >"$TMP/out" || return 1
    cat "$TMP/out"
    contains "$TMP/out" "Hello from a lightvm guest!" &&
        contains "$TMP/out" "argv[2] = podman" || return 1
    expect_status 42 P run --rm "${RUN[@]}" localhost/lvm-test /bin/exitcode 42 || return 1
    # The runtime by its path, as `podman --runtime PATH` takes it.
    P run --rm --runtime "$RUNTIME" --network none \
        --cgroup-parent "/$LIGHTVM_CGROUP_PARENT" localhost/lvm-test >"$TMP/out2" &&
        contains "$TMP/out2" "Hello from"
}

test_detached_lifecycle() {
    local id pid
    id=$(P run -d "${RUN[@]}" --name idle1 localhost/lvm-test /bin/idle) || return 1
    P ps --format '{{.Names}} {{.Status}}' | tee "$TMP/ps"
    contains "$TMP/ps" "idle1 Up" || return 1
    wait_until bash -c "podman --root '$PD/storage' --runroot '$PD/runroot' \
        --tmpdir '$PD/tmp' --storage-driver vfs logs idle1 | grep -q waiting" || return 1
    P inspect idle1 --format '{{.OCIRuntime}} {{.State.Status}} {{.State.Pid}}' | tee "$TMP/inspect"
    contains "$TMP/inspect" "lightvm running" || return 1
    pid=$(awk '{print $3}' "$TMP/inspect")
    # The guest's own process, conmon's child, in the container's cgroup.
    [ "$(ps -o comm= -p "$(ps -o ppid= -p "$pid" | tr -d " ")")" = conmon ] || return 1
    grep -q "$LIGHTVM_CGROUP_PARENT/libpod-$id" /proc/"$pid"/cgroup || return 1
    P pause idle1 && [ "$(P inspect idle1 --format '{{.State.Status}}')" = paused ] || return 1
    P unpause idle1 && [ "$(P inspect idle1 --format '{{.State.Status}}')" = running ] || return 1
    P stop idle1 >/dev/null || return 1
    # SIGTERM became a poweroff: it exited 0, not 137 after a SIGKILL.
    P inspect idle1 --format '{{.State.Status}} {{.State.ExitCode}}' | tee "$TMP/st"
    contains "$TMP/st" "exited 0" || return 1
    P rm idle1 >/dev/null || return 1
    ! P inspect idle1 >/dev/null 2>&1 || return 1
    [ -z "$(find /sys/fs/cgroup -maxdepth 3 -name "libpod-$id")" ]
}

test_kill_and_rm_force() {
    P run -d "${RUN[@]}" --name spin1 localhost/lvm-test /bin/spin >/dev/null || return 1
    P kill spin1 >/dev/null || return 1
    P wait spin1 | tee "$TMP/wait"
    contains "$TMP/wait" 137 || return 1
    P run -d "${RUN[@]}" --name spin2 localhost/lvm-test /bin/spin >/dev/null || return 1
    P rm -f -t 0 spin2 >/dev/null || return 1
    P rm spin1 >/dev/null
}

test_terminal() {
    P run -t --rm "${RUN[@]}" localhost/lvm-test </dev/null >"$TMP/tty" || return 1
    # A pty: the guest's newlines come out as CR LF.
    grep -q $'lightvm guest!\r$' "$TMP/tty"
}

test_memory_limit() {
    local pid cg
    P run -d "${RUN[@]}" -m 48m --name mem1 localhost/lvm-test /bin/idle >/dev/null || return 1
    pid=$(P inspect mem1 --format '{{.State.Pid}}')
    cg=$(grep -E '^[0-9]+:(memory)?:' /proc/"$pid"/cgroup | head -n 1 | cut -d: -f3)
    cat /sys/fs/cgroup/memory$cg/memory.limit_in_bytes /sys/fs/cgroup$cg/memory.max 2>/dev/null | tee "$TMP/lim"
    P rm -f -t 0 mem1 >/dev/null
    contains "$TMP/lim" $((48 << 20))
}

test_not_a_guest() {
    mkdir -p "$PD/plain/bin" && cp /bin/true "$PD/plain/bin/true" &&
        tar -C "$PD/plain" -cf "$PD/plain.tar" . &&
        P import --change 'CMD=["/bin/true"]' "$PD/plain.tar" localhost/lvm-plain >/dev/null 2>&1 || return 1
    # (without the annotation it boots as a VM: test_oci_vm.sh)
    P run --rm "${RUN[@]}" --annotation org.lightvm.monitor=proc \
        localhost/lvm-plain 2>"$TMP/err"
    local rc=$?
    cat "$TMP/err"
    [ $rc -ne 0 ] && contains "$TMP/err" "is not a lightvm guest"
}

# podman's network (CNI's bridge plugin made the namespace and its veth):
# the guest answers on the address podman gave the container.
test_cni_network() {
    P run -d --runtime lightvm --network "$NET" --cgroup-parent "/$LIGHTVM_CGROUP_PARENT" \
        --name web2 localhost/lvm-test /bin/http >/dev/null || return 1
    local ip ok=1
    ip=$(P inspect web2 --format "{{.NetworkSettings.Networks.$NET.IPAddress}}")
    echo "container address: $ip"
    curl -s -m 10 --retry 20 --retry-connrefused --retry-delay 0 \
        "http://$ip/" >"$TMP/page2" || ok=0
    contains "$TMP/page2" "Hello from a lightvm guest" || ok=0
    P rm -f -t 0 web2 >/dev/null || ok=0
    [ $ok = 1 ]
}

# podman container checkpoint and restore (its check: `checkpoint --help`
# succeeds; its restore wants an inventory.img in the checkpoint).
test_checkpoint_restore() {
    P run -d "${RUN[@]}" --name ck1 localhost/lvm-test /bin/snapcount 64 10 >/dev/null || return 1
    wait_until bash -c "podman --root '$PD/storage' --runroot '$PD/runroot' \
        --tmpdir '$PD/tmp' --storage-driver vfs logs ck1 | grep -q 'tick 3 '" || return 1
    P container checkpoint ck1 >/dev/null || return 1
    [ "$(P inspect ck1 --format '{{.State.Status}}')" = exited ] || return 1
    P container restore ck1 >/dev/null || return 1
    [ "$(P inspect ck1 --format '{{.State.Status}}')" = running ] || return 1
    wait_until bash -c "podman --root '$PD/storage' --runroot '$PD/runroot' \
        --tmpdir '$PD/tmp' --storage-driver vfs logs ck1 | grep -q 'resumed 1'" || return 1
    P rm -f -t 0 ck1 >/dev/null
}

# --network ns:PATH: the guest serves on the namespace's address.
test_network() {
    local ns=lvmocip$$ ok=1
    make_netns "$ns" 10.250.78 || { drop_netns "$ns"; return 1; }
    P run -d --runtime lightvm --network "ns:/run/netns/$ns" \
        --cgroup-parent "/$LIGHTVM_CGROUP_PARENT" --name web1 localhost/lvm-test /bin/http >/dev/null || ok=0
    curl -s -m 10 --retry 20 --retry-connrefused --retry-delay 0 \
        http://10.250.78.2/ >"$TMP/page" || ok=0
    contains "$TMP/page" "Hello from a lightvm guest" || ok=0
    P stop -t 5 web1 >/dev/null && P rm web1 >/dev/null || ok=0
    drop_netns "$ns"
    [ $ok = 1 ]
}

# ---- a Debian image (redis) booted as a VM (docs/oci.md) -------------
REDIS_IMAGE=""
vm_image() {
    [ -n "$REDIS_IMAGE" ] && return 0
    local rootfs
    rootfs=$(redis_rootfs) || return 1
    tar -C "$rootfs" --exclude=./done -cf "$PD/redis.tar" . &&
        P import --change "CMD=$(jq -c . <<<"$REDIS_ARGS")" "$PD/redis.tar" localhost/lvm-redis \
            >/dev/null 2>&1 && REDIS_IMAGE=localhost/lvm-redis
}

test_vm_run_rm() {
    vm_image || return 1
    P run --rm "${RUN[@]}" "$REDIS_IMAGE" redis-server --version >"$TMP/vm.out" || return 1
    cat "$TMP/vm.out"
    contains "$TMP/vm.out" "Redis server v=" || return 1
    # podman's /etc/hosts and /etc/hostname: copied in at create.
    expect_status 3 P run --rm "${RUN[@]}" --hostname vmhost "$REDIS_IMAGE" \
        sh -c 'cat /etc/hostname /etc/hosts; exit 3' >"$TMP/vm2.out" || return 1
    cat "$TMP/vm2.out"
    contains "$TMP/vm2.out" vmhost && contains "$TMP/vm2.out" "host.containers.internal"
}

# run -d on podman's network, ps, logs, inspect (conmon's child, in the
# container's cgroup), redis-cli ping through the container's address,
# pause, unpause, stop (SIGTERM relayed to redis: a clean exit 0), rm.
test_vm_redis_lifecycle() {
    vm_image || return 1
    local id pid ip
    id=$(P run -d --runtime lightvm --network "$NET" --cgroup-parent "/$LIGHTVM_CGROUP_PARENT" \
        --name redis1 "$REDIS_IMAGE") || return 1
    ip=$(P inspect redis1 --format "{{.NetworkSettings.Networks.$NET.IPAddress}}")
    echo "container address: $ip"
    redis_ping "$ip" || { P logs redis1; return 1; }
    P ps --format '{{.Names}} {{.Status}}' | tee "$TMP/ps"
    contains "$TMP/ps" "redis1 Up" || return 1
    P logs redis1 >"$TMP/logs" 2>&1
    contains "$TMP/logs" "Ready to accept connections" || return 1
    P inspect redis1 --format '{{.OCIRuntime}} {{.State.Status}} {{.State.Pid}}' | tee "$TMP/inspect"
    contains "$TMP/inspect" "lightvm running" || return 1
    pid=$(awk '{print $3}' "$TMP/inspect")
    [ "$(ps -o comm= -p "$(ps -o ppid= -p "$pid" | tr -d " ")")" = conmon ] || return 1
    grep -q "$LIGHTVM_CGROUP_PARENT/libpod-$id" /proc/"$pid"/cgroup || return 1
    # podman exec: conmon runs the runtime's exec --detach --pid-file and
    # reaps the relay; redis-cli inside the VM answers, the status passes.
    [ "$(P exec redis1 redis-cli ping)" = PONG ] || return 1
    local xrc=0
    P exec redis1 sh -c 'exit 7' || xrc=$?
    [ $xrc -eq 7 ] || { echo "podman exec status $xrc"; return 1; }
    P pause redis1 && [ "$(P inspect redis1 --format '{{.State.Status}}')" = paused ] || return 1
    [ "$(timeout 2 redis-cli -h "$ip" ping 2>/dev/null)" != PONG ] || return 1
    P unpause redis1 && [ "$(P inspect redis1 --format '{{.State.Status}}')" = running ] || return 1
    redis_ping "$ip" || return 1
    P stop -t 20 redis1 >/dev/null || return 1
    P inspect redis1 --format '{{.State.Status}} {{.State.ExitCode}}' | tee "$TMP/st"
    contains "$TMP/st" "exited 0" || return 1
    P logs redis1 | grep -q "ready to exit" || return 1
    P rm redis1 >/dev/null || return 1
    [ -z "$(find /sys/fs/cgroup -maxdepth 3 -name "libpod-$id")" ]
}

# -t: the console is the pty conmon gave (the guest's newlines reach it
# as CR LF).
test_vm_terminal() {
    vm_image || return 1
    P run -t --rm "${RUN[@]}" "$REDIS_IMAGE" redis-server --version </dev/null >"$TMP/vmtty" || return 1
    cat -A "$TMP/vmtty"
    grep -q $'Redis server v=.*\r$' "$TMP/vmtty"
}

test_vm_refusals() {
    vm_image || return 1
    P run --rm "${RUN[@]}" -v "$TMP:/data" "$REDIS_IMAGE" redis-server --version 2>"$TMP/err"
    local rc=$?
    cat "$TMP/err"
    [ $rc -ne 0 ] && contains "$TMP/err" "mount /data: $TMP is a directory" || return 1
    P run --rm "${RUN[@]}" "$REDIS_IMAGE" /nonexistent 2>"$TMP/err"
    rc=$?
    cat "$TMP/err"
    [ $rc -ne 0 ] && contains "$TMP/err" '"/nonexistent": executable file not found'
}

check run_rm test_run_rm
check detached_lifecycle test_detached_lifecycle
check kill_and_rm_force test_kill_and_rm_force
check terminal test_terminal
check memory_limit test_memory_limit
check not_a_guest test_not_a_guest
check network test_network
check cni_network test_cni_network
check checkpoint_restore test_checkpoint_restore
check vm_run_rm test_vm_run_rm
check vm_redis_lifecycle test_vm_redis_lifecycle
check vm_terminal test_vm_terminal
check vm_refusals test_vm_refusals
# conmon's own cgroup (podman's, beside the containers') is not ours.
test_no_leftovers() {
    P rm -af -t 0 >/dev/null 2>&1
    local left
    left=$(find /sys/fs/cgroup -mindepth 2 -maxdepth 3 \
        -path "*/$LIGHTVM_CGROUP_PARENT/libpod-*" -type d)
    [ -z "$left" ] || { echo "left behind: $left"; return 1; }
}
check no_leftovers test_no_leftovers
finish
