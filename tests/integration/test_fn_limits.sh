#!/bin/bash
# test_fn_limits.sh: the function gateway (lightvm fn serve, docs/faas.md)
# against clients that do not behave: slow ones (slowloris: heads and
# bodies that never end, idle keep-alive connections, answers never
# read), ones that give up on their invocation, and one address that
# floods with invocations or holds connections; and endless recursion
# reported as its own cause.
#
# One gateway with short client timeouts (1 s, by flags) and no shell
# pool (so that the suite's guest cgroups are exactly the running
# invocations). Its GET /stats counters say when an invocation is running
# or queued: tests wait on them (polling, bounded), never on a delay, and
# assert on answers and on guests being gone, not on times.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh

export LIGHTVM_FN_DIR=$TMP/fn
SERVE_PID=
CURLS=()
stop_all() {
    local p
    for p in "${CURLS[@]}" $SERVE_PID; do
        kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
    done
    SERVE_PID=
    CURLS=()
}
trap 'stop_all; lib_cleanup' EXIT

fn() { "$LIGHTVM" fn "$@"; }

# post NAME BODY [CURL-OPTIONS...]: the body, then the status on a line.
post() {
    local name=$1 body=$2
    shift 2
    curl -s -m 30 -X POST --data-binary "$body" -w '\n%{http_code}\n' "$@" \
        "http://127.0.0.1:$PORT/fn/$name"
}

stats() { curl -s -m 10 "http://127.0.0.1:$PORT/stats"; }

# gwstat NAME: one counter of GET /stats.
gwstat() { stats | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"; }

# wait_stat NAME VALUE: poll until the counter has VALUE (bounded).
wait_stat() {
    local deadline=$((SECONDS + 20))
    until [ "$(gwstat "$1")" = "$2" ]; do
        [ $SECONDS -lt $deadline ] || { echo "/stats: $1 never became $2: $(stats)"; return 1; }
        read -rt 0.02 <> <(:) 2>/dev/null || true
    done
}

# wait_no_guests: poll until the suite's guest cgroups are gone.
wait_no_guests() {
    local deadline=$((SECONDS + 20))
    until [ -z "$(suite_cgroups)" ]; do
        [ $SECONDS -lt $deadline ] || { echo "guests left: $(suite_cgroups)"; return 1; }
        read -rt 0.02 <> <(:) 2>/dev/null || true
    done
}

setup() {
    mkdir -p "$TMP/src"
    printf 'function handler(body)\n  local n = tonumber(body)\n  return string.format("%%d:%%s", n * n, body:reverse())\nend\n' >"$TMP/src/square.lua"
    printf 'function handler(b)\n  while true do end\nend\n' >"$TMP/src/loop.lua"
    printf 'local function f(n)\n  return 1 + f(n + 1)\nend\nfunction handler(b)\n  return f(1)\nend\n' >"$TMP/src/deep.lua"
    printf 'local function g(n)\n  if n == 0 then return 0 end\n  return 1 + g(n - 1)\nend\nfunction handler(b)\n  return g(tonumber(b))\nend\n' >"$TMP/src/depth.lua"
    printf 'function handler(b)\n  error("stack overflow")\nend\n' >"$TMP/src/says.lua"
    printf 'function handler(b)\n  return string.rep("x", 50 << 10)\nend\n' >"$TMP/src/big.lua"
    printf 'function handler(b)\n  return string.rep("y", 1000 << 10)\nend\n' >"$TMP/src/large.lua"
    local f
    for f in square loop deep depth says big large; do
        fn deploy "$f" "$TMP/src/$f.lua" >/dev/null || return 1
    done
    "$LIGHTVM" fn serve --listen 127.0.0.1:0 --pool 0 --max-running 3 \
        --queue 4 --max-per-client 2 --max-conns-per-client 160 \
        --cpu-time 60 --timeout 60 \
        --header-timeout 1 --body-timeout 1 --keepalive-timeout 1 \
        --send-timeout 1 \
        >"$TMP/gw.out" 2>"$TMP/gw.err" &
    SERVE_PID=$!
    wait_for_file_text "$TMP/gw.out" "listening on" 30 || { cat "$TMP/gw.err"; return 1; }
    PORT=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$TMP/gw.out")
    [ -n "$PORT" ] && [ "$(post square 3 | head -n 1)" = "9:3" ]
}

# 150 clients send half a request head and then nothing; a normal client
# is answered meanwhile; each slow one then gets 408 and is closed.
t_slow_heads() {
    local i fds=()
    for i in $(seq 1 150); do
        exec {fd}<>"/dev/tcp/127.0.0.1/$PORT" || return 1
        printf 'POST /fn/square HTTP/1.1\r\nHost: x\r\nContent-Le' >&$fd
        fds+=("$fd")
    done
    post square 12 >"$TMP/normal.out"
    [ "$(head -n 1 "$TMP/normal.out")" = "144:21" ] &&
        [ "$(tail -n 1 "$TMP/normal.out")" = 200 ] || { echo "normal client:"; cat "$TMP/normal.out"; return 1; }
    local got=0
    for fd in "${fds[@]}"; do
        timeout 10 cat <&"$fd" >"$TMP/slow.out"
        exec {fd}<&-
        head -n 1 "$TMP/slow.out" | grep -q '^HTTP/1.1 408 Request Timeout' &&
            grep -q '"cause":"request-timeout"' "$TMP/slow.out" &&
            grep -q 'the request head did not arrive within 1000 ms' "$TMP/slow.out" &&
            grep -q '^Connection: close' "$TMP/slow.out" && got=$((got + 1))
    done
    echo "slow clients answered 408: $got of 150"
    [ $got = 150 ] && [ "$(gwstat timed_out)" -ge 150 ]
}

# A body that stops short of its Content-Length: 408, then closed.
t_slow_body() {
    (
        exec 3<>"/dev/tcp/127.0.0.1/$PORT" || exit 1
        printf 'POST /fn/square HTTP/1.1\r\nContent-Length: 10\r\n\r\n123' >&3
        timeout 10 cat <&3
    ) >"$TMP/body.out"
    cat "$TMP/body.out"
    head -n 1 "$TMP/body.out" | grep -q '^HTTP/1.1 408 ' &&
        contains "$TMP/body.out" "the request body did not arrive within 1000 ms"
}

# An idle keep-alive connection is closed after its answer (cat sees the
# end of the stream, not its own timeout); one that never sent a byte is
# closed without a word.
t_idle() {
    (
        exec 3<>"/dev/tcp/127.0.0.1/$PORT" || exit 1
        printf 'POST /fn/square HTTP/1.1\r\nContent-Length: 1\r\n\r\n5' >&3
        timeout 10 cat <&3
    ) >"$TMP/idle.out"
    local rc=$?
    cat "$TMP/idle.out"
    [ $rc = 0 ] && [ "$(grep -c '^HTTP/1.1' "$TMP/idle.out")" = 1 ] &&
        grep -q '^25:5$' "$TMP/idle.out" || return 1
    (
        exec 3<>"/dev/tcp/127.0.0.1/$PORT" || exit 1
        timeout 10 cat <&3
    ) >"$TMP/silent.out"
    rc=$?
    [ $rc = 0 ] && [ ! -s "$TMP/silent.out" ]
}

# A client that asks for 120 answers of 50 KiB on one connection and
# reads none of them, its receive buffer small (tests/tools/fn_slowread.c):
# once the gateway's send buffer is full and nothing more could be sent
# for --send-timeout, it closes the connection: its count of connections
# is back to the /stats request's own, it made only the answers that
# fitted (not 120), and it serves others after.
t_slow_reader() {
    local before served
    before=$(gwstat timed_out)
    served=$(gwstat served)
    "$BUILD/tests/tools/fn_slowread" "$PORT" /fn/big 120 >"$TMP/slowread.out" &
    CURLS+=($!)
    wait_for_file_text "$TMP/slowread.out" sent 20 || return 1
    wait_stat timed_out $((before + 1)) && wait_stat connections 1 || return 1
    local made=$(($(gwstat served) - served))
    echo "answers made before the client was dropped: $made of 120"
    kill "${CURLS[0]}" && wait "${CURLS[0]}" 2>/dev/null
    CURLS=()
    [ "$made" -lt 120 ] && [ "$(post square 8 | head -n 1)" = "64:8" ]
}

# An answer near --max-result (1M) comes whole: the guest's file-size
# limit (its console's) once cut the result device at 64 KiB.
t_large_answer() {
    curl -s -m 30 -X POST -d x -o "$TMP/large.out" -w '%{http_code}\n' \
        "http://127.0.0.1:$PORT/fn/large" >"$TMP/large.code"
    [ "$(cat "$TMP/large.code")" = 200 ] && [ "$(wc -c <"$TMP/large.out")" = $((1000 << 10)) ] &&
        [ "$(tr -d y <"$TMP/large.out" | wc -c)" = 0 ] ||
        { echo "status $(cat "$TMP/large.code"), $(wc -c <"$TMP/large.out") bytes"; return 1; }
}

# bg_post NAME OUT [CURL-OPTIONS...]: an invocation in the background.
bg_post() {
    local name=$1 out=$2
    shift 2
    curl -s -X POST -d x -w '\n%{http_code}\n' "$@" \
        "http://127.0.0.1:$PORT/fn/$name" >"$out" 2>&1 &
    CURLS+=($!)
}

# One address holds its share (2 invocations) and gets 429 even with a
# run slot free; another address is served in that slot at once. Its
# clients hang up: the queued and running invocations are dropped, their
# guests killed (the loops would run 60 s), and the address is served
# again.
t_per_client() {
    bg_post loop "$TMP/a1.out"
    wait_stat running 1 || return 1
    bg_post loop "$TMP/a2.out"
    wait_stat running 2 || return 1
    post square 4 -i >"$TMP/a3.out"
    cat "$TMP/a3.out"
    grep -q '^HTTP/1.1 429 Too Many Requests' "$TMP/a3.out" &&
        contains "$TMP/a3.out" "Retry-After: 1" &&
        contains "$TMP/a3.out" '"cause":"client-limit"' || return 1
    post square 7 --interface 127.0.0.2 >"$TMP/b1.out"
    [ "$(head -n 1 "$TMP/b1.out")" = "49:7" ] || { cat "$TMP/b1.out"; return 1; }
    # Another address fills the last slot, a fourth waits in the queue.
    bg_post loop "$TMP/b2.out" --interface 127.0.0.2
    wait_stat running 3 || return 1
    bg_post loop "$TMP/c1.out" --interface 127.0.0.3
    wait_stat queued 1 || return 1
    [ -n "$(suite_cgroups)" ] || { echo "no guest cgroups seen"; return 1; }
    local before
    before=$(gwstat abandoned)
    # The queued one gives up first: it leaves the queue.
    kill "${CURLS[3]}" && wait "${CURLS[3]}" 2>/dev/null
    wait_stat queued 0 || return 1
    wait_stat abandoned $((before + 1)) || return 1
    [ "$(gwstat running)" = 3 ] || { echo "running: $(stats)"; return 1; }
    # Then the running ones: their guests are killed, their cgroups go.
    kill "${CURLS[0]}" "${CURLS[1]}" "${CURLS[2]}"
    local p
    for p in "${CURLS[@]}"; do wait "$p" 2>/dev/null; done
    CURLS=()
    wait_stat running 0 || return 1
    wait_no_guests || return 1
    wait_stat abandoned $((before + 4)) || return 1
    post square 5 -i >"$TMP/a4.out"
    grep -q '^HTTP/1.1 200' "$TMP/a4.out" && contains "$TMP/a4.out" "25:5" ||
        { cat "$TMP/a4.out"; return 1; }
    [ "$(gwstat clients)" = 0 ] && [ "$(gwstat client_limited)" -ge 1 ]
}

# A client that closes a keep-alive connection mid-invocation (bash's fd
# closed, not a killed process): the guest goes as well.
t_abandon_close() {
    exec {fd}<>"/dev/tcp/127.0.0.1/$PORT" || return 1
    printf 'POST /fn/loop HTTP/1.1\r\nContent-Length: 1\r\n\r\nx' >&$fd
    wait_stat running 1 || return 1
    [ -n "$(suite_cgroups)" ] || return 1
    exec {fd}<&-
    wait_stat running 0 && wait_no_guests &&
        [ "$(post square 6 | head -n 1)" = "36:6" ]
}

# A client that sends its request and shuts its sending side at once
# (tests/tools/fn_slowread.c ... shut) has left, to the gateway as to
# nginx: its loop is not left running. It gets no answer, the counter
# says so, and no guest remains.
t_abandon_half_close() {
    local before
    before=$(gwstat abandoned)
    "$BUILD/tests/tools/fn_slowread" "$PORT" /fn/loop 1 shut >"$TMP/half.out" || return 1
    cat "$TMP/half.out"
    [ "$(cat "$TMP/half.out")" = "eof 0" ] && wait_stat abandoned $((before + 1)) &&
        wait_stat running 0 && wait_no_guests
}

# Endless recursion: "stack-overflow", whether Lua's heap limit (half of
# the default 64M) or its stack limit comes first; a deep but finite
# recursion is answered; error("stack overflow") is a runtime error.
# One address holds at most --max-conns-per-client (160) connections:
# the next from it gets 429 and is closed, while another address is
# still answered; a connection given back makes room again.
t_conns_per_client() {
    python3 - "$PORT" >"$TMP/conns.out" 2>&1 <<'PY'
import http.client, socket, sys
port = int(sys.argv[1])
def conn(src):
    s = socket.socket()
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s
def first_line(s):
    s.settimeout(20)
    data = b""
    while True:
        d = s.recv(4096)
        if not d:
            break
        data += d
    return data.split(b"\r\n")[0].decode(), data
held = [conn("127.0.0.5") for _ in range(160)]
line, data = first_line(conn("127.0.0.5"))
print("161st:", line)
print("body:", data.split(b"\r\n\r\n", 1)[-1].decode().strip())
h = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
h.request("POST", "/fn/square", body="7")
r = h.getresponse()
print("other:", r.status, r.read().decode())
held.pop().close()
again = conn("127.0.0.5")
again.sendall(b"POST /fn/square HTTP/1.1\r\nContent-Length: 1\r\nConnection: close\r\n\r\n5")
print("after one left:", first_line(again)[0])
PY
    cat "$TMP/conns.out"
    grep -qx "161st: HTTP/1.1 429 Too Many Requests" "$TMP/conns.out" &&
        grep -q '"cause":"client-conn-limit"' "$TMP/conns.out" &&
        grep -qx "other: 200 49:7" "$TMP/conns.out" &&
        grep -qx "after one left: HTTP/1.1 200 OK" "$TMP/conns.out"
}

t_recursion() {
    post deep x >"$TMP/deep.out"
    cat "$TMP/deep.out"
    contains "$TMP/deep.out" '"cause":"stack-overflow"' &&
        contains "$TMP/deep.out" "stack overflow" &&
        [ "$(tail -n 1 "$TMP/deep.out")" = 500 ] || return 1
    [ "$(post depth 50000 | head -n 1)" = 50000 ] || return 1
    post says x >"$TMP/says.out"
    contains "$TMP/says.out" '"cause":"runtime"' &&
        contains "$TMP/says.out" "handler.lua:2: stack overflow"
}

t_flags() {
    expect_status 2 fn serve --header-timeout 0 2>"$TMP/f1" &&
        contains "$TMP/f1" "--header-timeout: '0' is not a number of seconds" &&
        expect_status 2 fn serve --keepalive-timeout x 2>"$TMP/f2" &&
        contains "$TMP/f2" "--keepalive-timeout: 'x'" &&
        expect_status 2 fn serve --max-per-client -1 2>"$TMP/f3" &&
        contains "$TMP/f3" "--max-per-client" &&
        expect_status 2 fn serve --body-timeout 1e9 2>"$TMP/f4" &&
        contains "$TMP/f4" "--body-timeout"
}

t_stop_clean() {
    kill "$SERVE_PID" || return 1
    local rc=0
    wait "$SERVE_PID" || rc=$?
    SERVE_PID=
    cat "$TMP/gw.err"
    [ $rc = 0 ] && contains "$TMP/gw.err" "stopping" &&
        contains "$TMP/gw.err" "abandoned by their client" && no_new_leftovers
}

check setup setup
check slow_heads t_slow_heads
check slow_body t_slow_body
check idle t_idle
check slow_reader t_slow_reader
check large_answer t_large_answer
check per_client t_per_client
check abandon_close t_abandon_close
check abandon_half_close t_abandon_half_close
check conns_per_client t_conns_per_client
check recursion t_recursion
check flags t_flags
check stop_clean t_stop_clean
finish
