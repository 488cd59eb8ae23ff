#!/bin/bash
# test_lifecycle.sh: every lifecycle verb on every monitor, through the
# same commands. For proc, kvm and qemu guests, through lightvmd: create,
# list, console, pause and unpause, poweroff and wait, destroy; a kill -9
# of the daemon, a restart and the guest adopted and still managed; a NIC
# (--net) with an address that answers from the host. Without the daemon:
# `lightvm run` on each monitor, its console and its exit status.
#
# kvm is skipped where /dev/kvm cannot run a guest (tests/kvm/test_kvm.sh
# covers it under nested QEMU); qemu boots a Tinyx image built here (TCG
# where KVM is not usable). Waits are on events, never sleeps.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
. tests/net/netlib.sh

IDLE=$EXAMPLES/idle/idle.elf
HELLO=$EXAMPLES/hello/hello.elf
DAYTIME=$EXAMPLES/daytime/daytime.elf
BOOT_TIMEOUT=${TINYX_TEST_BOOT_TIMEOUT:-180}
LIGHTVMD="nsenter --net=/run/netns/$NS $BUILD/bin/lightvmd"
trap 'daemon_stop; net_cleanup' EXIT

net_setup || { echo "cannot create a network namespace"; exit 1; }

MONITORS="proc"
if $LIGHTVM run --no-daemon --monitor kvm "$HELLO" >"$TMP/kvm.probe" 2>&1; then
    MONITORS="$MONITORS kvm"
else
    skip kvm "this host's /dev/kvm cannot run a guest: $(head -n 1 "$TMP/kvm.probe")"
fi
MONITORS="$MONITORS qemu"

# image MONITOR KIND: the guest image for MONITOR (KIND idle: runs until
# powered off; net: answers on the network).
image() {
    case $1/$2 in
    qemu/*) echo "$TMP/redis" ;;
    */idle) echo "$IDLE" ;;
    */net) echo "$DAYTIME" ;;
    esac
}

gstate() { guest_json "$1" | sed -n 's/.*"state":"\([a-z]*\)".*/\1/p'; }

# up MONITOR GUEST: until the guest's app runs (qemu: its init says ready).
up() {
    [ "$1" != qemu ] || wait_ready "$2"
}

# console_has GUEST TEXT: until the guest's console shows TEXT.
console_has() {
    local deadline=$((SECONDS + BOOT_TIMEOUT))
    until $LIGHTVM console "$1" 2>/dev/null | grep -qF -- "$2"; do
        [ $SECONDS -lt $deadline ] || { echo "console of $1 lacks '$2'"; $LIGHTVM console "$1" | tail; return 1; }
        read -rt 0.05 <> <(:) 2>/dev/null || true
    done
}

# What each guest prints once it runs.
banner() {
    case $1 in
    qemu) echo "Ready to accept connections" ;;
    *) echo "waiting for poweroff" ;;
    esac
}

t_build_image() {
    "$LIGHTVM" tinyx build -q -z gzip:1 redis-server -o "$TMP/redis" &&
        "$LIGHTVM" tinyx build -q -z gzip:1 sh \
            --cmd "sh -c 'echo bye from qemu; exit 3'" -o "$TMP/exit3"
}

t_daemon() { daemon_start --pool 16M=2; }

# create, list, console, pause, unpause, poweroff, wait, destroy
t_verbs() { # MONITOR
    local m=$1 id mem=16M
    [ "$m" = qemu ] && mem=128M
    id=$($LIGHTVM create --monitor "$m" -m $mem --name "life-$m" "$(image "$m" idle)") || return 1
    up "$m" "life-$m" || return 1
    $LIGHTVM list | awk -v id="$id" -v n="life-$m" '$1 == id && $2 == n && $3 == "running" {f=1} END {exit !f}' ||
        { $LIGHTVM list; return 1; }
    guest_json "$id" | grep -q "\"monitor\":\"$m\"" || return 1
    console_has "$id" "$(banner "$m")" || return 1
    [ "$($LIGHTVM pause "life-$m" && gstate "life-$m")" = paused ] ||
        { echo "not paused: $(gstate "life-$m")"; return 1; }
    [ "$($LIGHTVM unpause "life-$m" && gstate "life-$m")" = running ] || return 1
    $LIGHTVM poweroff "life-$m" || return 1
    local how
    how=$($LIGHTVM wait "life-$m")
    echo "wait: $how"
    [ "$how" = "exited with status 0" ] || return 1
    $LIGHTVM destroy "life-$m" >/dev/null || return 1
    ! $LIGHTVM list -q | grep -qx "$id" && [ ! -e "$LIGHTVM_RUN_DIR/guests/$id" ]
}

# A kill -9 of the daemon: the guests run on, a new daemon adopts them,
# and they are still managed (pause, poweroff, wait).
t_adopt() {
    local m ids=""
    for m in $MONITORS; do
        local mem=16M
        [ "$m" = qemu ] && mem=128M
        ids="$ids $($LIGHTVM create --monitor "$m" -m $mem --name "adopt-$m" "$(image "$m" idle)")" || return 1
        up "$m" "adopt-$m" || return 1
    done
    kill -9 "$DAEMON_PID"
    wait "$DAEMON_PID" 2>/dev/null
    DAEMON_PID=
    daemon_start --pool 16M=2 || return 1
    for m in $MONITORS; do
        guest_json "adopt-$m" | grep -q '"adopted":true' || { guest_json "adopt-$m"; return 1; }
        [ "$(gstate "adopt-$m")" = running ] || return 1
        $LIGHTVM pause "adopt-$m" && $LIGHTVM unpause "adopt-$m" || return 1
        $LIGHTVM poweroff "adopt-$m" || return 1
        [ "$($LIGHTVM wait "adopt-$m")" = "exited with status 0" ] || return 1
        $LIGHTVM destroy "adopt-$m" >/dev/null || return 1
    done
}

# A NIC on the daemon's bridge, its address answering from the host.
t_net() { # MONITOR
    local m=$1 id ip mem=16M
    [ "$m" = qemu ] && mem=128M
    id=$($LIGHTVM create --monitor "$m" -m $mem --net "$(image "$m" net)") || return 1
    net_answers "$m" "$id"
    local rc=$?
    $LIGHTVM destroy "$id" >/dev/null
    return $rc
}

net_answers() { # MONITOR GUEST
    local m=$1 id=$2 ip
    up "$m" "$id" || return 1
    ip=$(guest_json "$id" | sed -n 's/.*"net":\[{[^]]*"ip":"\([0-9.]*\)".*/\1/p')
    [ -n "$ip" ] || { guest_json "$id"; return 1; }
    echo "$m guest $id at $ip"
    if [ "$m" = qemu ]; then
        local reply
        reply=$(nsx timeout 20 bash -c "exec 3<>/dev/tcp/$ip/6379 && printf 'PING\r\n' >&3 && read -r r <&3 && echo \$r")
        [[ $reply == "+PONG"* || $reply == "-DENIED"* ]] || { echo "redis said '$reply'"; return 1; }
    else
        nsx "$NETC" daytime "$ip" || return 1
    fi
}

# Without a daemon: run shows the console and exits with the guest's status.
t_run_cold() { # MONITOR
    local m=$1 out rc
    if [ "$m" = qemu ]; then
        out=$($LIGHTVM run --no-daemon --monitor qemu "$TMP/exit3" 2>&1)
        rc=$?
        echo "$out" | tail -n 5
        [ $rc -eq 3 ] && echo "$out" | grep -q "bye from qemu"
    else
        out=$($LIGHTVM run --no-daemon --monitor "$m" "$HELLO" 2>&1) || return 1
        echo "$out"
        echo "$out" | grep -q "Hello from"
    fi
}

# Without a daemon, a NIC on the bridge: the address it prints answers.
t_run_cold_net() { # MONITOR
    local m=$1 mem=16M out=$TMP/cold-net-$1.err ip pid rc=0
    [ "$m" = qemu ] && mem=128M
    # nsenter execs lightvm: $! is the run itself.
    nsenter --net=/run/netns/"$NS" $LIGHTVM run --no-daemon --monitor "$m" \
        -m $mem --net "$(image "$m" net)" >/dev/null 2>"$out" &
    pid=$!
    local deadline=$((SECONDS + BOOT_TIMEOUT))
    until ip=$(sed -n 's/.* net0: ip \([0-9.]*\)\/.*/\1/p' "$out") && [ -n "$ip" ]; do
        kill -0 $pid 2>/dev/null && [ $SECONDS -lt $deadline ] || { cat "$out"; return 1; }
        read -rt 0.05 <> <(:) 2>/dev/null || true
    done
    echo "$m guest at $ip"
    if [ "$m" = qemu ]; then
        local reply=""
        until [[ $reply == "+PONG"* || $reply == "-DENIED"* ]]; do
            [ $SECONDS -lt $deadline ] || { echo "redis never answered"; rc=1; break; }
            reply=$(nsx timeout 5 bash -c "exec 3<>/dev/tcp/$ip/6379 && printf 'PING\r\n' >&3 && read -r r <&3 && echo \$r" 2>/dev/null)
        done
    else
        nsx "$NETC" daytime "$ip" || rc=1
    fi
    # SIGTERM asks for a poweroff, as Ctrl-C does (a background job
    # ignores SIGINT); a guest that does not heed it in 10 s gets the
    # second, which kills it, as a user would.
    kill -TERM $pid
    timeout 10 tail --pid=$pid -f /dev/null || kill -TERM $pid
    wait $pid
    # Its tap and lease went with it.
    ! nsx ip -o link show | grep -q "$(sed -n 's/.* tap \(lvt[0-9a-f]*\).*/\1/p' "$out")" ||
        { echo "tap left"; rc=1; }
    ! find "$LIGHTVM_RUN_DIR/net" -type f -name "$ip" 2>/dev/null | grep -q . ||
        { echo "lease of $ip left"; rc=1; }
    return $rc
}

check build_image t_build_image
check daemon t_daemon
for m in $MONITORS; do
    check "verbs_$m" t_verbs "$m"
done
check adopt_after_kill9 t_adopt
for m in $MONITORS; do
    check "net_$m" t_net "$m"
    check "run_cold_$m" t_run_cold "$m"
    check "run_cold_net_$m" t_run_cold_net "$m"
done
daemon_stop
check no_leftovers no_new_leftovers
finish
