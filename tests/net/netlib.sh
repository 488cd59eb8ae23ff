# tests/net/netlib.sh: helpers for the network tests (bash, after
# tests/lib.sh). Each test file gets its own network namespace with the
# bridge inside it, so nothing touches the host's interfaces; guests run
# through `nsenter --net` (not `ip netns exec`, which remounts /sys and
# hides the cgroup hierarchy lightvm needs).

NETC=${NETC:-$BUILD/tests/net/tools/netc}
NET_GUESTS=$BUILD/tests/net/guests
NS=lvmt$$
export LIGHTVM_RUN_DIR=$TMP/run
chmod 755 "$TMP" # guests (unprivileged in their namespaces) cross it
GUEST_PIDS=()
GUEST_NAMES=()

nsx() { nsenter --net=/run/netns/"$NS" "$@"; }

net_setup() {
    ip netns add "$NS" || return 1
    nsx ip link set lo up
}

# Processes of our guests, found by their exact names ("lvm-NAME", cut to
# 15 characters like the kernel's comm), for killing by pid.
guest_pids_by_name() {
    local -A want=()
    local name comm p
    for name in "$@"; do
        comm="lvm-$name"
        want[${comm:0:15}]=1
    done
    [ ${#want[@]} -eq 0 ] && return 0
    for p in /proc/[0-9]*; do
        { read -r comm <"$p/comm"; } 2>/dev/null || continue
        [ -n "${want[$comm]:-}" ] && echo "${p#/proc/}"
    done
}

# veth NAME NETNS BRIDGE ADDR/P: a veth in NETNS, its peer a port of
# BRIDGE in the bridges' namespace.
veth() {
    ip link add "$1" type veth peer name "$1b" netns "$NS" || return 1
    ip link set "$1" netns "$2" || return 1
    nsx ip link set "$1b" master "$3" up || return 1
    nsenter --net=/run/netns/"$2" ip addr add "$4" dev "$1" || return 1
    nsenter --net=/run/netns/"$2" ip link set "$1" up
}

net_cleanup() {
    local p
    for p in "${GUEST_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    for p in $(guest_pids_by_name "${GUEST_NAMES[@]}"); do
        kill -KILL "$p" 2>/dev/null
    done
    ip netns del "$NS" 2>/dev/null
    lib_cleanup # this suite's cgroups, then $TMP
}
trap net_cleanup EXIT

# start_guest NAME ELF [LIGHTVM OPTIONS...] [-- GUEST ARGS...]: boot a
# guest in the background; sets GUEST_IP, GUEST_MAC, GUEST_TAP and
# GUEST_PID from lightvm's start-up line. Console in $TMP/NAME.out.
start_guest() {
    local name=$1 elf=$2
    shift 2
    local opts=() args=()
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do opts+=("$1"); shift; done
    [ "${1:-}" = "--" ] && shift
    args=("$@")
    : >"$TMP/$name.err"
    # Not through nsx: $! must be lightvm itself (nsenter execs it).
    nsenter --net=/run/netns/"$NS" "$LIGHTVM" run --name "$name" "${opts[@]}" \
        "$elf" "${args[@]}" >"$TMP/$name.out" 2>"$TMP/$name.err" &
    GUEST_PID=$!
    GUEST_PIDS+=("$GUEST_PID")
    GUEST_NAMES+=("$name")
    local line
    if ! line=$("$NETC" wait-ip "$TMP/$name.err" 10000 "$GUEST_PID"); then
        cat "$TMP/$name.err"
        return 1
    fi
    read -r GUEST_IP GUEST_MAC GUEST_TAP <<<"$line"
}

# stop_guest PID: ask for a poweroff and wait (at most 10 s) for lightvm
# to exit, having released everything; fails if it had to be killed.
stop_guest() {
    kill -INT "$1" 2>/dev/null
    if ! "$NETC" wait-pid "$1" 10000; then
        kill -KILL "$1"
        wait "$1" 2>/dev/null
        return 1
    fi
    wait "$1" 2>/dev/null
    return 0
}

# serve_bg NSCMD PORT COUNT OUT: a netc TCP server in the background
# (SERVER_PID), returning once it listens.
serve_bg() {
    local ns=$1 port=$2 count=$3 out=$4
    : >"$out"
    nsenter --net=/run/netns/"$ns" "$NETC" serve "$port" "$count" >"$out" &
    SERVER_PID=$!
    "$NETC" wait-text "$out" listening 10000 "$SERVER_PID" >/dev/null
}
