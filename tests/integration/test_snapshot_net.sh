#!/bin/bash
# test_snapshot_net.sh: a proc guest with a NIC saved and restored while a
# TCP connection to it is open: it comes back with its MAC and address,
# and the connection carries on. Its clones get addresses of their own and
# answer on them. The daemon and the client run in a network namespace of
# this test's own. Waits are on events, never sleeps.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
. tests/net/netlib.sh

ECHO=$EXAMPLES/echo/echo.elf
LIGHTVMD="nsenter --net=/run/netns/$NS $BUILD/bin/lightvmd"
trap 'daemon_stop; net_cleanup' EXIT
net_setup || { echo "cannot create a network namespace"; echo "0 passed, 1 failed"; exit 1; }

nic() { guest_json "$1" | sed -n 's/.*"mac":"\([^"]*\)".*"ip":"\([0-9.]*\)".*/\1 \2/p'; }

# A client that keeps one connection: a line before, a line after $TMP/go.
cat >"$TMP/client.py" <<'PY'
import os, socket, sys
s = socket.create_connection((sys.argv[1], 7), timeout=30)
s.sendall(b"before\n")
print(s.recv(100).decode().strip(), flush=True)
open(sys.argv[2] + "/ready", "w").close()
r = os.open(sys.argv[2] + "/go", os.O_RDONLY)  # a FIFO: blocks until written
os.read(r, 1)
s.sendall(b"after\n")
print(s.recv(100).decode().strip(), flush=True)
PY

t_daemon() { daemon_start; }

t_tcp_survives() {
    local before after client
    $LIGHTVM create --net --name echo1 "$ECHO" >/dev/null || return 1
    before=$(nic echo1)
    [ -n "$before" ] || { guest_json echo1; return 1; }
    mkfifo "$TMP/go"
    nsx python3 "$TMP/client.py" "${before#* }" "$TMP" >"$TMP/client.out" 2>&1 &
    client=$!
    wait_for_file_text "$TMP/client.out" "before" 30 || { cat "$TMP/client.out"; return 1; }
    $LIGHTVM save echo1 "$TMP/echo1.state" && $LIGHTVM restore "$TMP/echo1.state" >/dev/null || return 1
    after=$(nic echo1)
    [ "$after" = "$before" ] || { echo "MAC and address were '$before', are '$after'"; return 1; }
    echo x >"$TMP/go"
    wait $client || { cat "$TMP/client.out"; return 1; }
    [ "$(cat "$TMP/client.out")" = "$(printf 'before\nafter')" ] || { cat "$TMP/client.out"; return 1; }
}

t_clones_own_address() {
    local a b o
    o=$(nic echo1)
    $LIGHTVM clone -n 2 echo1 >/dev/null || return 1
    a=$(nic echo1-1)
    b=$(nic echo1-2)
    [ -n "$a" ] && [ -n "$b" ] && [ "$a" != "$o" ] && [ "$b" != "$o" ] && [ "$a" != "$b" ] ||
        { echo "original $o, clones $a and $b"; return 1; }
    # Each answers on its own address (the SDK took its new one).
    local ip
    for ip in "${a#* }" "${b#* }" "${o#* }"; do
        [ "$(echo ping | nsx timeout 20 nc -q 1 "$ip" 7)" = ping ] || { echo "no echo from $ip"; return 1; }
    done
    # A state whose MAC a running guest has is not restored twice.
    local out
    out=$($LIGHTVM restore --name twin "$TMP/echo1.state" 2>&1) && { echo "restored a twin"; return 1; }
    echo "$out" | grep -q "has the MAC .* of this state now" || { echo "$out"; return 1; }
    $LIGHTVM destroy echo1 echo1-1 echo1-2 >/dev/null
}

check daemon t_daemon
check "a TCP connection survives save and restore" t_tcp_survives
check "clones get addresses of their own" t_clones_own_address
daemon_stop
finish
