#!/bin/bash
# test_serve.sh: lightvm serve, just-in-time guests (issue 15 part 1;
# docs/serve.md). One lightvmd with a pool of network shells and each
# serve inside a network namespace of the test's own; clients come from
# 127.0.x.y addresses of its loopback, one address per client. The guest
# (tests/net/guests/net_whoami.c) greets each connection with its own
# address, so a client sees which guest it reached. 200 clients at once
# each get their own guest and their own echo, and every guest is gone
# after the idle timeout; --per-request, shared guests, --max-guests with
# refuse, queue and reuse; bad flags; a guest that cannot start or does not
# answer; clients that send garbage or leave early; a tenant within its
# quota; SIGTERM destroys every guest made. No sleeps: every wait polls
# with a deadline.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
. tests/net/netlib.sh
NS=jit$$ # the netns, and the bridge inside it, are this suite's alone

WHOAMI=$NET_GUESTS/net_whoami.elf
ECHO=$EXAMPLES/echo/echo.elf
HELLO=$EXAMPLES/hello/hello.elf
DAYTIME=$EXAMPLES/daytime/daytime.elf
JITC=$BUILD/tests/net/tools/jitc
LIGHTVMD="nsenter --net=/run/netns/$NS $BUILD/bin/lightvmd"
GRP=jitg$$
UT=jitu$$
SERVE_PIDS=()

serve_cleanup() {
    local p
    for p in "${SERVE_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    daemon_stop
    tenants_remove
    net_cleanup
}
trap serve_cleanup EXIT

net_setup || { echo "cannot create a network namespace"; echo "0 passed, 1 failed"; exit 1; }
tenants_add "$GRP" "$UT" || { echo "cannot add a test user"; echo "0 passed, 1 failed"; exit 1; }
CONF=$TMP/lightvmd.conf
cat >"$CONF" <<EOF
# test_serve.sh: members may have 2 guests
{"api_group": "$GRP", "quotas": {"members": {"guests": 2}}}
EOF
daemon_start --config "$CONF" --pool 16M+net=32 ||
    { echo "0 passed, 1 failed"; exit 1; }

# serve_start LOG ARGS...: lightvm serve ARGS in the namespace, in the
# background (SERVE_PID); returns once it listens.
serve_start() {
    local log=$TMP/$1.serve
    shift
    : >"$log"
    # Not through nsx: $! must be lightvm itself (nsenter execs it).
    nsenter --net=/run/netns/"$NS" "$LIGHTVM" serve "$@" >"$log" 2>&1 &
    SERVE_PID=$!
    SERVE_PIDS+=("$SERVE_PID")
    "$NETC" wait-text "$log" "listening on" 10000 "$SERVE_PID" >/dev/null ||
        { echo "serve did not start:"; cat "$log"; return 1; }
}

# serve_stop: SIGTERM; serve must exit 0 having destroyed its guests.
serve_stop() {
    kill -TERM "$SERVE_PID"
    wait "$SERVE_PID"
    local rc=$?
    [ $rc -eq 0 ] || { echo "serve exited $rc"; return 1; }
}

# guests_gone [SECONDS]: poll until lightvmd lists no guest.
guests_gone() {
    local deadline=$((SECONDS + ${1:-20}))
    until [ -z "$($LIGHTVM list -aq)" ]; do
        [ $SECONDS -lt $deadline ] || { echo "guests left:"; $LIGHTVM list -a; return 1; }
        read -rt 0.05 <> <(:) 2>/dev/null || true
    done
}

jitc() { nsx "$JITC" "$@"; }
# Distinct guests in a jitc --out file (its 4th column).
distinct() { awk '$3 == "ok" {print $4}' "$1" | sort -u | wc -l; }

t_per_client_200() {
    serve_start pc -l 127.0.0.1:7001 --guest-port 7 --per-client \
        --max-guests 256 "$WHOAMI" || return 1
    # 200 clients at once, each from its own address: each its own echo
    # (jitc checks every byte) from its own guest.
    jitc --greeting --timeout-ms 60000 --src 127.0.1.1 --out "$TMP/pc.out" \
        127.0.0.1 7001 200 || return 1
    [ "$(distinct "$TMP/pc.out")" -eq 200 ] || { echo "guests: $(distinct "$TMP/pc.out")"; return 1; }
    # Every guest goes after 2 s (the default) without a connection;
    # serve stays up.
    guests_gone 30 || return 1
    kill -0 "$SERVE_PID" || return 1
    serve_stop || return 1
    contains "$TMP/pc.serve" "200 clients, 200 guests made, 0 refused (full), 0 failed"
}

t_per_request() {
    serve_start pr -l 127.0.0.1:7002 --guest-port 7 --per-request \
        --idle-timeout 1m "$WHOAMI" || return 1
    # One client address, three connections one after the other: three
    # guests, each gone when its connection closed (not after 1 minute).
    local i
    for i in 1 2 3; do
        jitc --greeting --src 127.0.2.1 --out "$TMP/pr$i.out" 127.0.0.1 7002 1 || return 1
    done
    [ "$(cat "$TMP"/pr[123].out | distinct /dev/stdin)" -eq 3 ] ||
        { cat "$TMP"/pr[123].out; return 1; }
    guests_gone 20 || return 1
    # 30 at once: their destroys overlap (serve's destroy threads), and
    # each destroys its own guest: all gone, none twice (no error).
    jitc --greeting --timeout-ms 60000 --src 127.0.2.2 --out "$TMP/pr30.out" \
        127.0.0.1 7002 30 || return 1
    [ "$(distinct "$TMP/pr30.out")" -eq 30 ] || { cat "$TMP/pr30.out"; return 1; }
    guests_gone 30 || return 1
    serve_stop || return 1
    ! grep -q "destroy guest" "$TMP/pr.serve" &&
        contains "$TMP/pr.serve" "33 clients, 33 guests made, 0 refused (full), 0 failed"
}

t_shared() {
    serve_start sh -l 127.0.0.1:7003 --guest-port 7 --idle-timeout 1m \
        "$WHOAMI" || return 1
    # 20 clients at once share one guest (--conns-per-guest 64).
    jitc --greeting --timeout-ms 20000 --src 127.0.3.1 --out "$TMP/sh.out" \
        127.0.0.1 7003 20 || return 1
    [ "$(distinct "$TMP/sh.out")" -eq 1 ] || { cat "$TMP/sh.out"; return 1; }
    [ "$($LIGHTVM list -q | wc -l)" -eq 1 ] || { $LIGHTVM list; return 1; }
    # Still there (warm) after they left; SIGTERM destroys it.
    serve_stop || return 1
    guests_gone 20 || return 1
    # One guest, said so: not "1 guests".
    contains "$TMP/sh.serve" "20 clients, 1 guest made, 0 refused (full), 0 failed"
}

t_full_refuse() {
    serve_start fr -l 127.0.0.1:7004 --guest-port 7 --per-client \
        --max-guests 2 --when-full refuse --idle-timeout 1m "$WHOAMI" || return 1
    # Five clients, room for two guests that stay for a minute: three are
    # closed at once, two are served.
    ! jitc --greeting --timeout-ms 20000 --src 127.0.4.1 --out "$TMP/fr.out" \
        127.0.0.1 7004 5 >"$TMP/fr.jitc" 2>&1 || return 1
    contains "$TMP/fr.jitc" "2 ok, 3 failed, 2 guests" || return 1
    [ "$(grep -cE 'closed early|refused or reset' "$TMP/fr.jitc")" -eq 3 ] ||
        { cat "$TMP/fr.jitc"; return 1; }
    [ "$($LIGHTVM list -q | wc -l)" -eq 2 ] || { $LIGHTVM list; return 1; }
    serve_stop || return 1
    contains "$TMP/fr.serve" "3 refused (full)" || return 1
    guests_gone 20
}

t_full_queue() {
    serve_start fq -l 127.0.0.1:7005 --guest-port 7 --per-request \
        --max-guests 1 --when-full queue "$WHOAMI" || return 1
    # One guest at a time: four clients at once are served one by one,
    # each by a guest of its own.
    jitc --greeting --timeout-ms 30000 --src 127.0.5.1 --out "$TMP/fq.out" \
        127.0.0.1 7005 4 || return 1
    [ "$(distinct "$TMP/fq.out")" -eq 4 ] || { cat "$TMP/fq.out"; return 1; }
    serve_stop || return 1
    guests_gone 20
}

t_full_reuse() {
    serve_start fu -l 127.0.0.1:7006 --guest-port 7 --per-client \
        --max-guests 1 --when-full reuse --idle-timeout 1m "$WHOAMI" || return 1
    # Room for one guest: three clients all reach it.
    jitc --greeting --timeout-ms 20000 --src 127.0.6.1 --out "$TMP/fu.out" \
        127.0.0.1 7006 3 || return 1
    [ "$(distinct "$TMP/fu.out")" -eq 1 ] || { cat "$TMP/fu.out"; return 1; }
    serve_stop || return 1
    guests_gone 20
}

# bad WANT-TEXT ARGS...: serve refuses ARGS with exit 2 and one line
# holding WANT-TEXT, and starts nothing.
bad() {
    local want=$1
    shift
    expect_status 2 "$LIGHTVM" serve "$@" 2>"$TMP/bad.err" </dev/null || return 1
    contains "$TMP/bad.err" "$want" || return 1
    [ "$(wc -l <"$TMP/bad.err")" -eq 1 ] || { cat "$TMP/bad.err"; return 1; }
}

t_bad_flags() {
    bad "no --listen" "$WHOAMI" || return 1
    bad "no guest image" -l 7010 || return 1
    printf 'not an elf' >"$TMP/notelf.elf"
    bad "smaller than an ELF header" -l 7010 "$TMP/notelf.elf" || return 1
    bad "'70000' is not a port" -l 70000 "$WHOAMI" || return 1
    bad "'1.2.3' is not an IPv4 address" -l 1.2.3:80 "$WHOAMI" || return 1
    bad "--guest-port: 'x' is not a port" -l 7010 --guest-port x "$WHOAMI" || return 1
    bad "did you mean 'refuse'" -l 7010 --when-full refuze "$WHOAMI" || return 1
    bad "--idle-timeout: '-1' is not a duration" -l 7010 --idle-timeout -1 "$WHOAMI" || return 1
    bad "--idle-timeout: '2x' is not a duration" -l 7010 --idle-timeout 2x "$WHOAMI" || return 1
    bad "--boot-timeout: '0' is not a duration above 0" -l 7010 --boot-timeout 0 "$WHOAMI" || return 1
    bad "--max-guests: '0' is not a number" -l 7010 --max-guests 0 "$WHOAMI" || return 1
    bad "exclude each other" -l 7010 --per-client --per-request "$WHOAMI" || return 1
    bad "--name is not an option of serve" -l 7010 --name x "$WHOAMI" || return 1
    bad "--ip is not an option of serve" -l 7010 --ip 10.213.9.9 "$WHOAMI" || return 1
    bad "takes no image" -l 7010 --from-snapshot /etc/hostname "$WHOAMI" || return 1
    bad "/nonexistent.elf" -l 7010 /nonexistent.elf || return 1
    bad "qemu monitor) is not served yet" -l 7010 --monitor qemu "$WHOAMI" || return 1
    # A port in use: one line, exit 125.
    serve_start busy -l 127.0.0.1:7011 "$WHOAMI" || return 1
    expect_status 125 nsx "$LIGHTVM" serve -l 127.0.0.1:7011 "$WHOAMI" 2>"$TMP/busy.err" || return 1
    contains "$TMP/busy.err" "Address already in use" || return 1
    serve_stop
}

t_guest_fails() {
    # hello has no NIC: no guest can be reached; each client is closed
    # with a line saying why, and serve stays up.
    serve_start nonic -l 127.0.0.1:7012 --guest-port 7 --per-request "$HELLO" || return 1
    ! jitc --timeout-ms 10000 --src 127.0.12.1 127.0.0.1 7012 2 >"$TMP/nonic.jitc" 2>&1 || return 1
    contains "$TMP/nonic.jitc" "0 ok, 2 failed" || return 1
    contains "$TMP/nonic.serve" "no address" || return 1
    kill -0 "$SERVE_PID" || return 1
    guests_gone 20 || return 1
    serve_stop || return 1
    # daytime answers on port 13, not 9: the client is closed after the
    # boot timeout and its guest destroyed.
    serve_start deaf -l 127.0.0.1:7013 --guest-port 9 --per-client \
        --boot-timeout 300ms --idle-timeout 1m "$DAYTIME" || return 1
    ! jitc --timeout-ms 10000 --src 127.0.13.1 127.0.0.1 7013 1 >"$TMP/deaf.jitc" 2>&1 || return 1
    grep -qE "closed early|refused or reset" "$TMP/deaf.jitc" || { cat "$TMP/deaf.jitc"; return 1; }
    contains "$TMP/deaf.serve" "did not answer on port 9" || return 1
    guests_gone 20 || return 1
    kill -0 "$SERVE_PID" || return 1
    serve_stop
}

t_garbage_and_early_close() {
    serve_start gb -l 127.0.0.1:7014 --guest-port 7 --idle-timeout 1m "$ECHO" || return 1
    # Clients that leave before their guest answers, or at once.
    local i
    for i in 1 2 3 4 5; do
        nsx bash -c 'exec 3<>/dev/tcp/127.0.0.1/7014; exec 3>&-' || return 1
    done
    # 1 MiB of random bytes through the bounded buffers, back unchanged.
    nsx python3 - <<'EOF' || return 1
import os, socket
data = os.urandom(1 << 20)
s = socket.create_connection(("127.0.0.1", 7014), timeout=30)
got = bytearray()
s.setblocking(False)
sent = 0
import select
while len(got) < len(data):
    r, w, _ = select.select([s], [s] if sent < len(data) else [], [], 30)
    if not r and not w:
        raise SystemExit("timed out with %d bytes back" % len(got))
    if w:
        sent += s.send(data[sent:sent + 65536])
    if r:
        b = s.recv(65536)
        if not b:
            raise SystemExit("closed after %d bytes" % len(got))
        got += b
assert bytes(got) == data, "the echo differs"
EOF
    # Still serving.
    jitc --src 127.0.14.1 127.0.0.1 7014 3 || return 1
    serve_stop || return 1
    guests_gone 20
}

t_tenant_quota() {
    # A member of the API group serves its own guests, within its quota of
    # 2: the third and fourth clients are refused by lightvmd (the quota
    # named in serve's log), and serve stays up.
    chmod o+rx "$TMP" "$TMP/run" 2>/dev/null
    local log=$TMP/tenant.serve
    : >"$log"
    nsenter --net=/run/netns/"$NS" setpriv --reuid="$UT" --regid="$(id -g "$UT")" \
        --init-groups "$LIGHTVM" serve -l 127.0.0.1:7015 --guest-port 7 \
        --per-client --max-guests 10 --idle-timeout 1m "$WHOAMI" >"$log" 2>&1 &
    SERVE_PID=$!
    SERVE_PIDS+=("$SERVE_PID")
    "$NETC" wait-text "$log" "listening on" 10000 "$SERVE_PID" >/dev/null ||
        { cat "$log"; return 1; }
    ! jitc --greeting --timeout-ms 20000 --src 127.0.15.1 127.0.0.1 7015 4 \
        >"$TMP/tenant.jitc" 2>&1 || return 1
    contains "$TMP/tenant.jitc" "2 ok, 2 failed, 2 guests" || return 1
    contains "$log" "quota guests exceeded" || return 1
    [ "$($LIGHTVM list -q | wc -l)" -eq 2 ] || { $LIGHTVM list; return 1; }
    $LIGHTVM list | grep -q " $UT " || { $LIGHTVM list; return 1; }
    kill -0 "$SERVE_PID" || return 1
    serve_stop || return 1
    guests_gone 20
}

t_from_snapshot() {
    # A saved network guest, cloned for each client: each clone has its
    # own address, which it greets with (the SDK gives it the new one).
    local id
    id=$($LIGHTVM create --net "$WHOAMI") || return 1
    $LIGHTVM save "$id" "$TMP/whoami.state" >/dev/null || return 1
    serve_start snap -l 127.0.0.1:7017 --guest-port 7 --per-client \
        --idle-timeout 1m --from-snapshot "$TMP/whoami.state" || return 1
    jitc --greeting --timeout-ms 20000 --src 127.0.17.1 --out "$TMP/snap.out" \
        127.0.0.1 7017 3 || return 1
    [ "$(distinct "$TMP/snap.out")" -eq 3 ] || { cat "$TMP/snap.out"; return 1; }
    [ "$($LIGHTVM list -q | wc -l)" -eq 3 ] || { $LIGHTVM list; return 1; }
    serve_stop || return 1
    guests_gone 20
}

t_sigterm_destroys() {
    serve_start st -l 127.0.0.1:7016 --guest-port 7 --per-client \
        --idle-timeout 1m "$WHOAMI" || return 1
    jitc --greeting --src 127.0.16.1 --out "$TMP/st.out" 127.0.0.1 7016 5 || return 1
    [ "$($LIGHTVM list -q | wc -l)" -eq 5 ] || { $LIGHTVM list; return 1; }
    # The same client again, within the idle timeout: the same guest.
    local first
    first=$(awk '$1 == 0 {print $4}' "$TMP/st.out")
    jitc --greeting --src 127.0.16.1 --out "$TMP/st2.out" 127.0.0.1 7016 1 || return 1
    [ "$(awk '{print $4}' "$TMP/st2.out")" = "$first" ] ||
        { echo "client 0 reached $(cat "$TMP/st2.out"), not $first"; return 1; }
    serve_stop || return 1
    # Gone by the time serve exits: no polling here.
    [ -z "$($LIGHTVM list -aq)" ] || { $LIGHTVM list -a; return 1; }
}

check "serve: 200 concurrent per-client guests, gone after idle" t_per_client_200
check "serve: --per-request" t_per_request
check "serve: shared guests" t_shared
check "serve: --when-full refuse" t_full_refuse
check "serve: --when-full queue" t_full_queue
check "serve: --when-full reuse" t_full_reuse
check "serve: bad flags" t_bad_flags
check "serve: a guest that cannot start or answer" t_guest_fails
check "serve: garbage and early disconnects" t_garbage_and_early_close
check "serve: a tenant within its quota" t_tenant_quota
check "serve: --from-snapshot clones a saved guest" t_from_snapshot
check "serve: SIGTERM destroys every guest" t_sigterm_destroys
# The daemon's pool goes with it: then nothing of this suite may be left.
leftovers() { daemon_stop && no_new_leftovers; }
check "serve: nothing left behind" leftovers
finish
