#!/bin/bash
# test_migrate_net.sh: a proc guest with a NIC migrated between two
# lightvmds on one bridge while a TCP connection to it is open: it keeps
# its MAC and address, announces itself from its new port (gratuitous
# ARP), and the connection carries on, both ways and back again. Both
# daemons and the client run in a network namespace of this test's own.
# Waits are on events, never sleeps.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
. tests/net/netlib.sh

ECHO=$EXAMPLES/echo/echo.elf
LIGHTVMD="nsenter --net=/run/netns/$NS $BUILD/bin/lightvmd"
B_PID=
B_CG=$LIGHTVM_CGROUP_PARENT-b
stop_b() {
    [ -n "$B_PID" ] && kill -TERM "$B_PID" 2>/dev/null && wait "$B_PID" 2>/dev/null
    local pid
    for pid in $(find /sys/fs/cgroup -path "*/$B_CG/*" -name cgroup.procs -exec cat {} + 2>/dev/null); do
        kill -9 "$pid" 2>/dev/null
    done
    find /sys/fs/cgroup -depth -type d -path "*/$B_CG*" -exec rmdir {} + 2>/dev/null
}
trap 'daemon_stop; stop_b; net_cleanup' EXIT
net_setup || { echo "cannot create a network namespace"; echo "0 passed, 1 failed"; exit 1; }

nic_on() { LIGHTVM_SOCKET=$1 $LIGHTVM list --json "$2" | sed -n 's/.*"mac":"\([^"]*\)".*"ip":"\([0-9.]*\)".*/\1 \2/p'; }

# A client that keeps one connection: a line before, one after each
# migration ($TMP/go, a FIFO, says when).
cat >"$TMP/client.py" <<'PY'
import os, socket, sys
s = socket.create_connection((sys.argv[1], 7), timeout=30)
r = None
for i, word in enumerate(["before", "there", "back"]):
    if i:
        if r is None:
            r = os.open(sys.argv[2] + "/go", os.O_RDONLY)  # blocks until written
        os.read(r, 1)
    s.sendall(word.encode() + b"\n")
    print(s.recv(100).decode().strip(), flush=True)
PY

t_daemons() {
    daemon_start || return 1
    mkdir -p "$TMP/b"
    LIGHTVM_RUN_DIR=$TMP/b LIGHTVM_CGROUP_PARENT=$B_CG $LIGHTVMD --socket "$TMP/b/lightvmd.sock" \
        >>"$TMP/lightvmd-b.log" 2>&1 &
    B_PID=$!
    local deadline=$((SECONDS + 20))
    until LIGHTVM_SOCKET=$TMP/b/lightvmd.sock $LIGHTVM list >/dev/null 2>&1; do
        kill -0 $B_PID 2>/dev/null || { cat "$TMP/lightvmd-b.log"; return 1; }
        [ $SECONDS -lt $deadline ] || return 1
        read -rt 0.02 <> <(:) 2>/dev/null || true
    done
}

t_tcp_survives() {
    local before there back client a=$LIGHTVM_SOCKET b=$TMP/b/lightvmd.sock
    $LIGHTVM create --net --name echo1 "$ECHO" >/dev/null || return 1
    before=$(nic_on "$a" echo1)
    [ -n "$before" ] || { guest_json echo1; return 1; }
    mkfifo "$TMP/go"
    nsx python3 "$TMP/client.py" "${before#* }" "$TMP" >"$TMP/client.out" 2>&1 &
    client=$!
    wait_for_file_text "$TMP/client.out" "before" 30 || { cat "$TMP/client.out"; return 1; }
    exec 7<>"$TMP/go" # held open: the client's reads wait for our bytes
    $LIGHTVM migrate echo1 "$b" >/dev/null || return 1
    there=$(nic_on "$b" echo1)
    [ "$there" = "$before" ] || { echo "MAC and address were '$before', are '$there' there"; return 1; }
    echo x >&7
    wait_for_file_text "$TMP/client.out" "there" 30 || { cat "$TMP/client.out"; return 1; }
    LIGHTVM_SOCKET=$b $LIGHTVM migrate echo1 "$a" >/dev/null || return 1
    back=$(nic_on "$a" echo1)
    [ "$back" = "$before" ] || { echo "MAC and address were '$before', are '$back' back"; return 1; }
    echo x >&7
    wait $client || { cat "$TMP/client.out"; return 1; }
    exec 7>&-
    [ "$(cat "$TMP/client.out")" = "$(printf 'before\nthere\nback')" ] || { cat "$TMP/client.out"; return 1; }
    $LIGHTVM destroy echo1 >/dev/null
}

check daemons t_daemons
check "a TCP connection survives two migrations" t_tcp_survives
daemon_stop
stop_b
finish
