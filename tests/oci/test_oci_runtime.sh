#!/bin/bash
# test_oci_runtime.sh: lightvm-runtime driven directly with runc's command
# line, as containerd's shim, conmon and CRI-O call it
# (/work/shared/notes/oci-callers.md, docs/oci.md): the life cycle of a
# unikernel bundle, the pid-file process (a descendant of a subreaper,
# carrying the guest's exit status, in the bundle's cgroup), the gate
# between create and start, runc's argument forms, and bad input: one
# line naming the problem, runc's words, exit status 1, nothing left.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
. tests/oci/oci_lib.sh
[ -x "$RUNTIME" ] || { echo "no $RUNTIME: make first"; exit 1; }

ROOT=$TMP/state
R() { "$RUNTIME" --root "$ROOT" "$@"; }
SUBREAPER=$BUILD/tests/tools/subreaper


test_lifecycle() {
    make_bundle "$TMP/b1" '["hello", "one", "two"]' || return 1
    R create --bundle "$TMP/b1" --pid-file "$TMP/b1.pid" b1 >"$TMP/b1.out" || return 1
    local pid
    pid=$(cat "$TMP/b1.pid")
    R state b1 >"$TMP/state.json" || return 1
    cat "$TMP/state.json"
    [ "$(jq -r .status "$TMP/state.json")" = created ] || return 1
    [ "$(jq -r .pid "$TMP/state.json")" = "$pid" ] || return 1
    [ "$(jq -r .bundle "$TMP/state.json")" = "$TMP/b1" ] || return 1
    [ "$(jq -r .ociVersion "$TMP/state.json")" != null ] || return 1
    # The gate: created, the guest has printed nothing.
    [ ! -s "$TMP/b1.out" ] || { echo "the guest ran before start"; return 1; }
    # Its process is in the bundle's cgroup.
    grep -q ":/$LIGHTVM_CGROUP_PARENT/b1\$" /proc/"$pid"/cgroup ||
        { cat /proc/"$pid"/cgroup; return 1; }
    R start b1 || return 1
    wait_until is_status b1 stopped || return 1
    cat "$TMP/b1.out"
    contains "$TMP/b1.out" "argv[2] = two" || return 1
    [ "$(R state b1 | jq -r .pid)" = 0 ] || return 1
    R delete b1 || return 1
    [ ! -e "$ROOT/b1" ] || { echo "state left"; return 1; }
    [ -z "$(find /sys/fs/cgroup -maxdepth 3 -path "*/$LIGHTVM_CGROUP_PARENT/b1")" ]
}

# The pid-file process is our descendant once the runtime has exited,
# and we learn the guest's exit status by reaping it, as conmon does.
test_exit_status_to_subreaper() {
    make_bundle "$TMP/b2" '["exitcode", "7"]' || return 1
    $SUBREAPER bash -c "'$RUNTIME' --root '$ROOT' create -b '$TMP/b2' \
        --pid-file '$TMP/b2.pid' b2 && '$RUNTIME' --root '$ROOT' start b2" \
        >"$TMP/reaped" || return 1
    cat "$TMP/reaped"
    contains "$TMP/reaped" "reaped $(cat "$TMP/b2.pid") exited 7" || return 1
    is_status b2 stopped && R delete b2
}

test_kill_term_powers_off() {
    make_bundle "$TMP/b3" '["idle"]' || return 1
    $SUBREAPER bash -c "'$RUNTIME' --root '$ROOT' create -b '$TMP/b3' \
        --pid-file '$TMP/b3.pid' b3 >'$TMP/b3.out' && \
        '$RUNTIME' --root '$ROOT' start b3 && \
        until grep -q waiting '$TMP/b3.out'; do read -rt 0.01 <> <(:); done && \
        '$RUNTIME' --root '$ROOT' kill b3 TERM" >"$TMP/reaped" || return 1
    cat "$TMP/reaped"
    # A poweroff: the guest exits 0 on its own, not killed by a signal.
    contains "$TMP/reaped" "reaped $(cat "$TMP/b3.pid") exited 0" || return 1
    R delete b3
}

test_pause_resume_kill() {
    make_bundle "$TMP/b4" '["spin"]' || return 1
    R create -b "$TMP/b4" b4 >/dev/null && R start b4 || return 1
    is_status b4 running || return 1
    R pause b4 && is_status b4 paused || return 1
    refused "container not running" R pause b4 || return 1
    R resume b4 && is_status b4 running || return 1
    refused "container not paused" R resume b4 || return 1
    R ps --format json b4 | jq -e "length == 1" || return 1
    R pause b4 && R kill b4 SIGKILL || return 1
    wait_until is_status b4 stopped || return 1
    R ps --format=json b4 | jq -e "length == 0" || return 1
    R delete b4
}

test_delete_running_needs_force() {
    make_bundle "$TMP/b5" '["idle"]' || return 1
    R create -b "$TMP/b5" b5 >/dev/null && R start b5 || return 1
    refused "cannot delete container b5 that is not stopped: running" \
        R delete b5 || return 1
    is_status b5 running || return 1
    R delete -f b5 || return 1
    [ ! -e "$ROOT/b5" ]
}

test_delete_created() {
    make_bundle "$TMP/b6" '["hello"]' || return 1
    R create -b "$TMP/b6" b6 >"$TMP/b6.out" || return 1
    local pid
    pid=$(R state b6 | jq -r .pid)
    R delete b6 || return 1
    [ ! -e "$ROOT/b6" ] || return 1
    # It never ran, and it is gone (or a zombie of its new parent's).
    [ ! -s "$TMP/b6.out" ] || return 1
    ! grep -qs "^State:.*[RS]" /proc/"$pid"/status
}

test_start_twice() {
    make_bundle "$TMP/b7" '["idle"]' || return 1
    R create -b "$TMP/b7" b7 >/dev/null && R start b7 || return 1
    refused "cannot start an already running container" R start b7 || return 1
    R kill b7 KILL && wait_until is_status b7 stopped || return 1
    refused "cannot start a container that has stopped" R start b7 || return 1
    refused "container not running" R kill b7 9 || return 1
    R kill --all b7 9 || return 1 # --all quiets it, as runc's does
    R delete b7
}

test_double_create() {
    make_bundle "$TMP/b8" '["idle"]' || return 1
    R create -b "$TMP/b8" b8 >/dev/null || return 1
    refused "container with id exists: b8" R create -b "$TMP/b8" b8 || return 1
    is_status b8 created && R delete --force b8
}

test_unknown_id() {
    local cmd
    for cmd in state start "kill" delete pause resume ps; do
        refused "container nope does not exist" R $cmd nope || return 1
    done
    R delete --force nope # runc: nothing to do is not an error
}

test_bad_bundles() {
    make_bundle "$TMP/bad" '["hello"]' || return 1
    local good
    good=$(cat "$TMP/bad/config.json")
    echo '{"ociVersion": "1.0.2", "process": ' >"$TMP/bad/config.json"
    refused "config.json: line" R create -b "$TMP/bad" x1 || return 1
    echo "$good" | jq 'del(.process.args)' >"$TMP/bad/config.json"
    refused "process.args must not be empty" R create -b "$TMP/bad" x2 || return 1
    echo "$good" | jq '.process.args = []' >"$TMP/bad/config.json"
    refused "process.args must not be empty" R create -b "$TMP/bad" x3 || return 1
    echo "$good" | jq 'del(.root)' >"$TMP/bad/config.json"
    refused "root is missing" R create -b "$TMP/bad" x4 || return 1
    echo "$good" | jq '.root.path = "nothere"' >"$TMP/bad/config.json"
    refused "rootfs ($TMP/bad/nothere) does not exist" R create -b "$TMP/bad" x5 || return 1
    echo "$good" | jq '.process.args = ["nothere"]' >"$TMP/bad/config.json"
    refused 'exec: "nothere": executable file not found' \
        R create -b "$TMP/bad" x6 || return 1
    cp /bin/true "$TMP/bad/rootfs/bin/true"
    # A program that is no guest boots as a VM (test_oci_vm.sh), unless
    # a unikernel monitor is asked for.
    echo "$good" | jq '.process.args = ["true"] |
        .annotations["org.lightvm.monitor"] = "proc"' >"$TMP/bad/config.json"
    refused "is not a lightvm guest" R create -b "$TMP/bad" x7 || return 1
    echo "$good" | jq '.linux.resources.memory.limit = "lots"' >"$TMP/bad/config.json"
    refused "memory.limit must be an integer" R create -b "$TMP/bad" x8 || return 1
    echo "$good" | jq '.annotations["org.lightvm.monitor"] = "xen"' >"$TMP/bad/config.json"
    refused 'org.lightvm.monitor "xen"' R create -b "$TMP/bad" x9 || return 1
    # A symlink cannot take args[0] out of the rootfs.
    ln -s /../../../../"$TMP/b1/rootfs/bin/hello" "$TMP/bad/rootfs/bin/escape"
    echo "$good" | jq '.process.args = ["/bin/escape"]' >"$TMP/bad/config.json"
    refused "executable file not found" R create -b "$TMP/bad" x10 || return 1
    refused "invalid id format: a/b" R create -b "$TMP/b1" a/b || return 1
    # Nothing is left of any of them.
    [ -z "$(ls "$ROOT" 2>/dev/null)" ] || { ls "$ROOT"; return 1; }
    no_new_leftovers
}

# Errors go to --log as JSON lines with "level":"error" (containerd shows
# the last one), and to stderr.
test_log_json() {
    R --log "$TMP/log.json" --log-format json state nope 2>"$TMP/err"
    contains "$TMP/err" "does not exist" || return 1
    tail -n 1 "$TMP/log.json" | jq -e '.level == "error" and
        (.msg | contains("container nope does not exist")) and (.time | length > 0)'
}

# runc's argument forms: --flag=value, single-dash long flags, aliases,
# boolean flags with a value, signals by name and number, global flags
# callers add (--systemd-cgroup=false, --rootless=false, --debug).
test_argument_forms() {
    make_bundle "$TMP/b9" '["idle"]' || return 1
    "$RUNTIME" -root "$ROOT" --debug=false --rootless=false create \
        -bundle="$TMP/b9" -pid-file "$TMP/b9.pid" -no-pivot -no-new-keyring \
        -no-subreaper b9 >/dev/null || return 1
    "$RUNTIME" --root="$ROOT" start b9 || return 1
    "$RUNTIME" --root "$ROOT" --systemd-cgroup=false state b9 | jq -e '.status == "running"' || return 1
    refused "unknown signal" R kill b9 SIGNOPE || return 1
    refused "flag provided but not defined: -nope" R kill --nope b9 || return 1
    R kill -a b9 SIGKILL && wait_until is_status b9 stopped || return 1
    R delete -f b9
}

# --systemd-cgroup's slice:prefix:name, as systemd would lay it out.
test_systemd_cgroup_path() {
    local slice=lvmtest$$
    make_bundle "$TMP/b10" '["idle"]' \
        ", \"annotations\": {\"x\": \"y\"}" || return 1
    jq ".linux.cgroupsPath = \"$slice-a.slice:oci:b10\"" "$TMP/b10/config.json" \
        >"$TMP/b10/c.json" && mv "$TMP/b10/c.json" "$TMP/b10/config.json"
    R --systemd-cgroup create -b "$TMP/b10" --pid-file "$TMP/b10.pid" b10 >/dev/null || return 1
    local ok=0
    grep -q ":/$slice.slice/$slice-a.slice/oci-b10.scope\$" /proc/"$(cat "$TMP/b10.pid")"/cgroup && ok=1
    cat /proc/"$(cat "$TMP/b10.pid")"/cgroup
    R state b10 | jq -e '.annotations.x == "y"' || ok=0
    R delete -f b10
    find /sys/fs/cgroup -depth -type d -name "$slice*.slice" -exec rmdir {} + 2>/dev/null
    [ $ok = 1 ]
}

test_memory_limit() {
    make_bundle "$TMP/b11" '["idle"]' \
        ', "annotations": {"org.lightvm.monitor": "proc"}' || return 1
    jq '.linux.resources.memory.limit = 33554432' "$TMP/b11/config.json" \
        >"$TMP/b11/c.json" && mv "$TMP/b11/c.json" "$TMP/b11/config.json"
    R create -b "$TMP/b11" --pid-file "$TMP/b11.pid" b11 >/dev/null || return 1
    local cg f ok=0
    cg=$(grep -E '^[0-9]+:(memory)?:' /proc/"$(cat "$TMP/b11.pid")"/cgroup | head -n 1 | cut -d: -f3)
    for f in /sys/fs/cgroup/memory$cg/memory.limit_in_bytes /sys/fs/cgroup$cg/memory.max; do
        [ -e "$f" ] && [ "$(cat "$f")" = 33554432 ] && ok=1
    done
    R delete -f b11
    [ $ok = 1 ]
}

# run: create and start, waiting for the guest (its parent) unless
# --detach; list shows what is under --root.
test_run_and_list() {
    make_bundle "$TMP/r1" '["exitcode", "9"]' || return 1
    expect_status 9 R run -b "$TMP/r1" r1 || return 1
    is_status r1 stopped && R delete r1 || return 1
    make_bundle "$TMP/r2" '["idle"]' || return 1
    R run -d -b "$TMP/r2" r2 >/dev/null && is_status r2 running || return 1
    R list | tee "$TMP/list"
    grep -qE '^r2 +[0-9]+ +running' "$TMP/list" || return 1
    R list --format json | jq -e '.[] | select(.id == "r2") | .status == "running"' || return 1
    [ "$(R list -q)" = r2 ] || return 1
    R delete -f r2
}

# Hooks: createRuntime and prestart at create (the guest at its gate),
# poststart after start, poststop after delete, each reading the state on
# stdin; a failing createRuntime hook fails the create and leaves nothing.
test_hooks() {
    cat >"$TMP/hook.sh" <<'SH'
#!/bin/sh
echo "$1 $(tr -d '\n ' | sed 's/.*"status":"\([a-z]*\)".*/\1/')" >>"$2"
SH
    chmod +x "$TMP/hook.sh"
    local h='{"path": "'$TMP/hook.sh'", "args": ["hook.sh", "KIND", "'$TMP/hook-trace'"], "timeout": 5}'
    make_bundle "$TMP/h1" '["hello"]' \
        ", \"hooks\": {\"createRuntime\": [${h/KIND/createRuntime}],
          \"prestart\": [${h/KIND/prestart}], \"poststart\": [${h/KIND/poststart}],
          \"poststop\": [${h/KIND/poststop}]}" || return 1
    R create -b "$TMP/h1" h1 >/dev/null && R start h1 || return 1
    wait_until is_status h1 stopped && R delete h1 || return 1
    cat "$TMP/hook-trace"
    [ "$(cat "$TMP/hook-trace")" = "createRuntime created
prestart created
poststart running
poststop stopped" ] || return 1
    make_bundle "$TMP/h2" '["hello"]' \
        ', "hooks": {"createRuntime": [{"path": "/bin/false"}]}' || return 1
    refused "createRuntime: hook /bin/false failed: exit status 1" \
        R create -b "$TMP/h2" h2 || return 1
    [ ! -e "$ROOT/h2" ] &&
        [ -z "$(find /sys/fs/cgroup -maxdepth 3 -path "*/$LIGHTVM_CGROUP_PARENT/h2")" ]
}

test_features() {
    R features | jq -e '.ociVersionMax and .linux.cgroup'
}

# A guest with a NIC in the bundle's network namespace takes over its
# interface's address: served over the veth, as a container would be.
test_network_namespace() {
    local ns=lvmoci$$ ok=1
    make_netns "$ns" 10.250.77 || { drop_netns "$ns"; return 1; }
    make_bundle "$TMP/n1" '["http"]' || return 1
    jq --arg p "/run/netns/$ns" '.linux.namespaces = [{"type": "network", "path": $p}]' \
        "$TMP/n1/config.json" >"$TMP/n1/c.json" && mv "$TMP/n1/c.json" "$TMP/n1/config.json"
    if R create -b "$TMP/n1" n1 >/dev/null && R start n1; then
        curl -s -m 10 --retry 20 --retry-connrefused --retry-delay 0 \
            http://10.250.77.2/ >"$TMP/page" || ok=0
        cat "$TMP/page"
        contains "$TMP/page" "Hello from a lightvm guest" || ok=0
        # The guest holds the address: the namespace no longer does.
        ! ip -n "$ns" -4 addr show dev eth0 | grep -q 10.250.77.2 || ok=0
    else
        ok=0
    fi
    R delete -f n1
    drop_netns "$ns"
    [ $ok = 1 ]
}

test_network_refusals() {
    make_bundle "$TMP/n2" '["http"]' || return 1
    refused "the bundle names no network namespace" R create -b "$TMP/n2" n2 || return 1
    local ns=lvmoci2$$
    ip netns add "$ns" || return 1
    jq --arg p "/run/netns/$ns" '.linux.namespaces = [{"type": "network", "path": $p}]' \
        "$TMP/n2/config.json" >"$TMP/n2/c.json" && mv "$TMP/n2/c.json" "$TMP/n2/config.json"
    refused "has no interface with an IPv4 address" R create -b "$TMP/n2" n2
    local r=$?
    ip netns del "$ns"
    [ $r = 0 ] && [ ! -e "$ROOT/n2" ]
}

# checkpoint and restore: the guest's snapshot (docs/snapshots.md) in
# --image-path; the restored guest goes on counting where it stopped.
test_checkpoint_restore() {
    make_bundle "$TMP/c1" '["snapcount", "64", "10"]' || return 1
    R create -b "$TMP/c1" c1 >"$TMP/c1.out" && R start c1 || return 1
    wait_for_file_text "$TMP/c1.out" "tick 3 " || return 1
    R checkpoint --image-path "$TMP/ck" --work-path "$TMP/ck" --leave-running c1 || return 1
    is_status c1 running || return 1
    R checkpoint --image-path "$TMP/ck" c1 || return 1
    is_status c1 stopped || return 1
    local last
    last=$(grep -c tick "$TMP/c1.out")
    R delete c1 || return 1
    R restore --image-path "$TMP/ck" --bundle "$TMP/c1" --detach \
        --pid-file "$TMP/c1.pid" -no-subreaper c1 >"$TMP/c1.out2" || return 1
    is_status c1 running || return 1
    [ "$(cat "$TMP/c1.pid")" = "$(R state c1 | jq -r .pid)" ] || return 1
    wait_for_file_text "$TMP/c1.out2" "resumed 1" || return 1
    head -n 1 "$TMP/c1.out2"
    local first
    first=$(head -n 1 "$TMP/c1.out2" | awk '{print $2}')
    # It goes on from the checkpoint (ticks after it were lost with it).
    [ "$first" -gt 3 ] && [ "$first" -le $((last + 1)) ] || return 1
    R delete -f c1
}

test_checkpoint_refusals() {
    make_bundle "$TMP/c2" '["spin"]' || return 1
    R create -b "$TMP/c2" c2 >/dev/null && R start c2 || return 1
    refused "did not park for a checkpoint" R checkpoint --image-path "$TMP/ck2" c2 || return 1
    is_status c2 running || return 1
    R kill c2 KILL && wait_until is_status c2 stopped || return 1
    refused "container not running" R checkpoint --image-path "$TMP/ck2" c2 || return 1
    R delete c2 || return 1
    # Another guest's checkpoint does not restore into this bundle.
    make_bundle "$TMP/c3" '["idle"]' || return 1
    refused "was taken of another guest image" \
        R restore --image-path "$TMP/ck" -b "$TMP/c3" -d c3 || return 1
    [ ! -e "$ROOT/c3" ]
}

test_update_and_exec() {
    make_bundle "$TMP/u1" '["idle"]' || return 1
    R create -b "$TMP/u1" --pid-file "$TMP/u1.pid" u1 >/dev/null && R start u1 || return 1
    echo '{"memory": {"limit": 50331648}}' | R update --resources - u1 || return 1
    local cg f ok=0
    cg=$(grep -E '^[0-9]+:(memory)?:' /proc/"$(cat "$TMP/u1.pid")"/cgroup | head -n 1 | cut -d: -f3)
    for f in /sys/fs/cgroup/memory$cg/memory.limit_in_bytes /sys/fs/cgroup$cg/memory.max; do
        [ -e "$f" ] && [ "$(cat "$f")" = 50331648 ] && ok=1
    done
    refused "a unikernel guest is one process" R exec --process /dev/null u1 || ok=0
    R checkpoint --help | grep -q usage || ok=0
    R delete -f u1
    [ $ok = 1 ]
}

# A Linux program's bundle (busybox) for the delegation tests, made by
# runc spec: runc or crun runs it, under our --root.
linux_bundle() {
    local dir=$1 annotations=$2
    mkdir -p "$dir/rootfs/bin" && cp /bin/busybox "$dir/rootfs/bin/" &&
        (cd "$dir" && runc spec) || return 1
    jq --argjson a "$annotations" --arg cg "/$LIGHTVM_CGROUP_PARENT/$(basename "$dir")" \
        '.process.args = ["/bin/busybox", "echo", "delegated"] |
         .process.terminal = false | .annotations = $a |
         .linux.cgroupsPath = $cg' "$dir/config.json" >"$dir/c.json" &&
        mv "$dir/c.json" "$dir/config.json"
}

# org.lightvm.delegate hands a bundle to runc; every later command on its
# id follows it there; its state lives apart from ours.
test_delegate_annotation() {
    linux_bundle "$TMP/d1" '{"org.lightvm.delegate": "runc"}' || return 1
    R create -b "$TMP/d1" --pid-file "$TMP/d1.pid" d1 >"$TMP/d1.out" || return 1
    R state d1 | jq -e '.status == "created"' || return 1
    [ -d "$ROOT/delegated/d1" ] && [ ! -e "$ROOT/d1" ] || return 1
    refused "container with id exists: d1" R create -b "$TMP/d1" d1 || return 1
    R start d1 && wait_until is_status d1 stopped || return 1
    contains "$TMP/d1.out" delegated || return 1
    R delete d1 || return 1
    refused "does not exist" R state d1 || return 1
    # exec, pause and kill of a delegated container are its runtime's.
    linux_bundle "$TMP/d3" '{"org.lightvm.delegate": "runc"}' || return 1
    jq '.process.args = ["/bin/busybox", "sleep", "60"]' "$TMP/d3/config.json" \
        >"$TMP/d3/c.json" && mv "$TMP/d3/c.json" "$TMP/d3/config.json"
    R create -b "$TMP/d3" d3 >/dev/null && R start d3 || return 1
    echo '{"args": ["/bin/busybox", "echo", "inside"], "cwd": "/", "user": {"uid": 0, "gid": 0}}' \
        >"$TMP/d3.process"
    R exec --process "$TMP/d3.process" d3 >"$TMP/d3.exec" || return 1
    contains "$TMP/d3.exec" inside || return 1
    R pause d3 && is_status d3 paused && R resume d3 || return 1
    R kill d3 KILL && wait_until is_status d3 stopped && R delete d3
}

# A Kubernetes pod's sandbox ("pause") container is no lightvm guest:
# crun (or runc) runs it.
test_pod_sandbox_delegated() {
    linux_bundle "$TMP/d2" '{"io.kubernetes.cri.container-type": "sandbox"}' || return 1
    R create -b "$TMP/d2" d2 >"$TMP/d2.out" || return 1
    R start d2 && wait_until is_status d2 stopped || return 1
    contains "$TMP/d2.out" delegated && R delete d2
}

check lifecycle test_lifecycle
check exit_status_to_subreaper test_exit_status_to_subreaper
check kill_term_powers_off test_kill_term_powers_off
check pause_resume_kill test_pause_resume_kill
check delete_running_needs_force test_delete_running_needs_force
check delete_created test_delete_created
check start_twice test_start_twice
check double_create test_double_create
check unknown_id test_unknown_id
check bad_bundles test_bad_bundles
check log_json test_log_json
check argument_forms test_argument_forms
check systemd_cgroup_path test_systemd_cgroup_path
check memory_limit test_memory_limit
check features test_features
check run_and_list test_run_and_list
check hooks test_hooks
check checkpoint_restore test_checkpoint_restore
check checkpoint_refusals test_checkpoint_refusals
check update_and_exec test_update_and_exec
check network_namespace test_network_namespace
check network_refusals test_network_refusals
if command -v runc >/dev/null && [ -x /bin/busybox ]; then
    check delegate_annotation test_delegate_annotation
    check pod_sandbox_delegated test_pod_sandbox_delegated
else
    skip delegate "runc or busybox is not installed (scripts/deps.sh installs them)"
fi
check no_leftovers no_new_leftovers
finish
