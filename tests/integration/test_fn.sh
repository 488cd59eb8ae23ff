#!/bin/bash
# test_fn.sh: the function service (docs/faas.md): lightvm fn deploy, ls,
# rm and the gateway, fn serve, driven over HTTP with curl and raw bytes.
#
# One gateway serves the suite (a private function directory, port picked
# by the kernel); a second one, with a short wall-clock limit, checks the
# timeout. Checked: 1,000 invocations with input-dependent answers (over
# keep-alive connections, 8 at a time); a loop, an endless allocation, an
# error(), a stack overflow (cause stack-overflow) and a guest that exits
# are each stopped and reported with their cause while other invocations
# succeed alongside;
# malformed HTTP, an unknown function, a wrong method, an oversized body
# and a syntax error (with its line) answered with a clear error, and the
# gateway still up after all of it; nothing left behind at the end.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh

export LIGHTVM_FN_DIR=$TMP/fn
SERVE_PID=
SERVE2_PID=
stop_servers() {
    local p
    for p in $SERVE_PID $SERVE2_PID; do
        kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
    done
    SERVE_PID= SERVE2_PID=
}
trap 'stop_servers; lib_cleanup' EXIT

fn() { "$LIGHTVM" fn "$@"; }

# serve OUT [OPTIONS...]: start a gateway on a free port, print its pid
# to OUT.pid and its port to OUT.port.
serve() {
    local out=$1
    shift
    "$LIGHTVM" fn serve --listen 127.0.0.1:0 "$@" >"$out.out" 2>"$out.err" &
    echo $! >"$out.pid"
    wait_for_file_text "$out.out" "listening on" 30 || { cat "$out.err"; return 1; }
    sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$out.out" >"$out.port"
}

# post NAME BODY: invoke; prints the body, then " STATUS" on a line.
post() {
    curl -s -X POST --data-binary "$2" -w '\n%{http_code}\n' \
        "http://127.0.0.1:$PORT/fn/$1"
}

# raw BYTES: send BYTES on a fresh connection, print what comes back (the
# gateway closes the connection after refusing a request).
# In a subshell ignoring SIGPIPE: the gateway may close before it has
# read all of a request it refused.
raw() {
    (
        trap '' PIPE
        exec 3<>"/dev/tcp/127.0.0.1/$PORT" || exit 1
        printf '%b' "$1" >&3 2>/dev/null
        timeout 10 cat <&3
    )
}

setup() {
    mkdir -p "$TMP/src"
    cat >"$TMP/src/square.lua" <<'EOF'
-- The answer depends on the input: n squared, and the input reversed.
function handler(body)
  local n = tonumber(body)
  return string.format("%d:%s", n * n, body:reverse())
end
EOF
    printf 'function handler(b)\n  while true do end\nend\n' >"$TMP/src/loop.lua"
    printf 'function handler(b)\n  local t, i = {}, 0\n  while true do\n    i = i + 1\n    t[i] = string.rep("x", 1 << 20) .. i\n  end\nend\n' >"$TMP/src/alloc.lua"
    printf 'function handler(b)\n  error("boom: " .. b)\nend\n' >"$TMP/src/fail.lua"
    printf 'local function f(n)\n  return 1 + f(n + 1)\nend\nfunction handler(b)\n  return f(1)\nend\n' >"$TMP/src/deep.lua"
    printf 'function handler(b)\n  os.exit(3)\nend\n' >"$TMP/src/quit.lua"
    printf 'function handler(b)\n  local x = 1\n  return (x +\nend\n' >"$TMP/src/syntax.lua"
    printf 'function handler(b)\n  print("a line that looks like LVMFN1 ok 3")\n  return "v1:" .. b\nend\n' >"$TMP/src/ver.lua"
    local f
    for f in square loop alloc fail deep quit syntax ver; do
        fn deploy "$f" "$TMP/src/$f.lua" >/dev/null || return 1
    done
    # -m 128M: Lua's heap may take 64M, more than its 1M-slot stack
    # needs, so the recursion ends in "stack overflow", not out of memory.
    serve "$TMP/gw" -m 128M --cpu-time 3 --timeout 20 --max-running 4 \
        --queue 1000 --max-body 64K || return 1
    SERVE_PID=$(cat "$TMP/gw.pid")
    PORT=$(cat "$TMP/gw.port")
    [ -n "$PORT" ]
}

t_deploy_ls() {
    fn ls >"$TMP/ls.out" || return 1
    contains "$TMP/ls.out" square && contains "$TMP/ls.out" syntax &&
        [ -f "$TMP/fn/square.lua" ]
}

# 1,000 invocations, 8 at a time over keep-alive connections, each answer
# checked against its input.
t_thousand() {
    local i cfg=$TMP/curl.cfg
    mkdir -p "$TMP/out"
    : >"$cfg"
    for i in $(seq 1 1000); do
        printf 'url = "http://127.0.0.1:%s/fn/square"\ndata-binary = "%s"\noutput = "%s/%s"\n' \
            "$PORT" "$i" "$TMP/out" "$i" >>"$cfg"
        [ "$i" -lt 1000 ] && echo next >>"$cfg"
    done
    curl -sS --fail-early --parallel --parallel-max 8 -K "$cfg" || { echo "curl failed"; cat "$TMP/gw.err"; return 1; }
    local bad=0
    for i in $(seq 1 1000); do
        local want
        want="$((i * i)):$(echo -n "$i" | rev)"
        if [ "$(cat "$TMP/out/$i" 2>/dev/null)" != "$want" ]; then
            bad=$((bad + 1))
            [ $bad -le 3 ] && echo "invocation $i: got '$(cat "$TMP/out/$i")', want '$want'"
        fi
    done
    echo "$((1000 - bad)) of 1000 correct"
    [ $bad = 0 ]
}

# expect_err NAME STATUS CAUSE TEXT: the invocation's error answer.
expect_err() {
    post "$1" x >"$TMP/err-$1.out"
    contains "$TMP/err-$1.out" "\"cause\":\"$3\"" &&
        contains "$TMP/err-$1.out" "$4" &&
        [ "$(tail -n 1 "$TMP/err-$1.out")" = "$2" ] ||
        { echo "$1: wrong answer"; return 1; }
}

# Runaway and broken functions, all at once, with good invocations
# running alongside: each bad one stopped and reported with its cause,
# every good one answered correctly.
t_runaways() {
    local pids=() f
    expect_err loop 500 cpu-time "more than 3000 ms of CPU time" >"$TMP/r-loop.log" 2>&1 &
    pids+=($!)
    expect_err alloc 500 memory "not enough memory" >"$TMP/r-alloc.log" 2>&1 &
    pids+=($!)
    expect_err fail 500 runtime "handler.lua:2: boom: x" >"$TMP/r-fail.log" 2>&1 &
    pids+=($!)
    expect_err deep 500 stack-overflow "stack overflow" >"$TMP/r-deep.log" 2>&1 &
    pids+=($!)
    expect_err quit 500 crash "exited with status 3" >"$TMP/r-quit.log" 2>&1 &
    pids+=($!)
    local i good=0
    for i in $(seq 1 40); do
        [ "$(post square "$i" | head -n 1)" = "$((i * i)):$(echo -n "$i" | rev)" ] &&
            good=$((good + 1))
    done
    local bad=0
    for i in "${!pids[@]}"; do
        wait "${pids[$i]}" || bad=1
    done
    for f in loop alloc fail deep quit; do
        cat "$TMP/r-$f.log"
        echo "$f: $(head -n 1 "$TMP/err-$f.out")"
    done
    echo "good invocations alongside: $good of 40"
    [ $bad = 0 ] && [ $good = 40 ]
}

# A syntax error comes back with its line.
t_syntax() {
    expect_err syntax 500 syntax "handler.lua:4:" && cat "$TMP/err-syntax.out"
}

# What a function prints cannot pass for its answer.
t_print_not_result() {
    [ "$(post ver abc | head -n 1)" = "v1:abc" ]
}

# The examples (examples/fn) answer as docs/faas.md says.
t_examples() {
    fn deploy greet examples/fn/greet.lua >/dev/null &&
        fn deploy wordcount examples/fn/wordcount.lua >/dev/null &&
        [ "$(post greet Ada | head -n 1)" = "hello, Ada" ] &&
        [ "$(post wordcount 'the cat and the hat and THE bat' | head -n 5 | tr '\n' ,)" = "the 3,and 2,bat 1,cat 1,hat 1," ]
}

# A new deploy replaces the function for the next invocation.
t_redeploy() {
    printf 'function handler(b)\n  return "v2:" .. b\nend\n' >"$TMP/src/ver2.lua"
    fn deploy ver "$TMP/src/ver2.lua" >/dev/null &&
        [ "$(post ver abc | head -n 1)" = "v2:abc" ]
}

t_unknown() {
    post nosuch x >"$TMP/unknown.out"
    contains "$TMP/unknown.out" "no function 'nosuch' is deployed" &&
        [ "$(tail -n 1 "$TMP/unknown.out")" = 404 ] &&
        [ "$(curl -s -o /dev/null -w '%{http_code}' -X POST -d x "http://127.0.0.1:$PORT/fn/../etc")" = 404 ] &&
        [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/other")" = 404 ]
}

t_unknown_early() {
    # A request for no function is answered from its head alone: the
    # megabyte its Content-Length announces is never sent, and the 404
    # still comes (raw's cat would wait its 10 s out otherwise, and get
    # nothing).
    raw 'POST /fn/nosuch HTTP/1.1\r\nHost: x\r\nContent-Length: 60000\r\n\r\nsome' >"$TMP/early.out"
    contains "$TMP/early.out" "404 Not Found" &&
        contains "$TMP/early.out" "no function 'nosuch' is deployed"
}

t_source_only() {
    # Bytecode is refused everywhere (load, loadfile, dofile: a body is a
    # file of the guest's), and the debug library is not there.
    printf 'function handler(b)\n  local f, e = load(string.char(27) .. "Lua", "x", "b")\n  return tostring(f) .. "|" .. tostring(debug) .. "|" .. tostring(string.dump) .. "|" .. load("return 6*7")()\nend\n' >"$TMP/src/bytes.lua"
    fn deploy bytes "$TMP/src/bytes.lua" >/dev/null || return 1
    post bytes x >"$TMP/bytes.out"
    [ "$(head -n 1 "$TMP/bytes.out")" = "nil|nil|nil|42" ] || { cat "$TMP/bytes.out"; return 1; }
}

t_method() {
    curl -s -i "http://127.0.0.1:$PORT/fn/square" >"$TMP/method.out"
    contains "$TMP/method.out" "405 Method Not Allowed" &&
        contains "$TMP/method.out" "Allow: POST"
}

t_oversized() {
    head -c 100000 /dev/zero | tr '\0' x >"$TMP/big"
    curl -s -X POST --data-binary @"$TMP/big" -w '\n%{http_code}\n' \
        "http://127.0.0.1:$PORT/fn/square" >"$TMP/big.out"
    contains "$TMP/big.out" '"cause":"body-too-large"' &&
        [ "$(tail -n 1 "$TMP/big.out")" = 413 ]
}

# raw_status BYTES STATUS TEXT: the gateway's answer to BYTES.
raw_status() {
    raw "$1" >"$TMP/raw.out"
    head -n 1 "$TMP/raw.out" | grep -q "^HTTP/1.1 $2 " && contains "$TMP/raw.out" "$3" ||
        { echo "for '$1':"; cat "$TMP/raw.out"; return 1; }
}

t_malformed() {
    local long
    long=$(head -c 9000 /dev/zero | tr '\0' a)
    raw_status 'GARBAGE\r\n\r\n' 400 "malformed request line" &&
        raw_status 'POST /fn/square HTTP/1.1\r\nNoColonHere\r\n\r\n' 400 "malformed header line" &&
        raw_status 'POST /fn/square HTTP/1.1\r\nContent-Length: 1x\r\n\r\n' 400 "malformed Content-Length" &&
        raw_status 'POST /fn/square HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab' 400 "conflicting Content-Length" &&
        raw_status 'POST /fn/square HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n' 501 "Transfer-Encoding is not supported" &&
        raw_status 'POST /fn/square HTTP/1.1\r\nHost: x\r\n\r\n' 411 "needs Content-Length" &&
        raw_status 'GET / HTTP/2.0\r\n\r\n' 505 "only HTTP/1.x" &&
        raw_status 'GET /\x01 HTTP/1.1\r\n\r\n' 400 "malformed request target" &&
        raw_status 'POST /fn/square HTTP/1.1\r\n folded: x\r\n\r\n' 400 "folded header" &&
        raw_status "GET / HTTP/1.1\r\nX: $long\r\n\r\n" 431 "request head too large" &&
        raw_status 'POST /fn/square HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n' 400 "malformed Content-Length"
}

# Pipelined and keep-alive requests on one connection, answered in order.
t_pipelined() {
    raw 'POST /fn/square HTTP/1.1\r\nContent-Length: 1\r\n\r\n3POST /fn/square HTTP/1.1\r\nContent-Length: 2\r\nConnection: close\r\n\r\n12' >"$TMP/pipe.out"
    cat "$TMP/pipe.out"
    # The first body runs into the second head: no newline between them.
    grep -q '^9:3HTTP/1.1 200 OK' "$TMP/pipe.out" && grep -q '^144:21$' "$TMP/pipe.out" &&
        [ "$(grep -o 'HTTP/1.1 200 OK' "$TMP/pipe.out" | wc -l)" = 2 ]
}

# After all of that the gateway is up and answers.
t_still_up() {
    kill -0 "$SERVE_PID" &&
        [ "$(curl -s "http://127.0.0.1:$PORT/healthz")" = ok ] &&
        [ "$(post square 12 | head -n 1)" = "144:21" ]
}

# A wall-clock limit, on a gateway whose CPU-time limit is longer.
t_timeout() {
    serve "$TMP/gw2" --cpu-time 30 --timeout 0.5 --pool 1 || return 1
    SERVE2_PID=$(cat "$TMP/gw2.pid")
    local p2
    p2=$(cat "$TMP/gw2.port")
    curl -s -X POST -d x -w '\n%{http_code}\n' "http://127.0.0.1:$p2/fn/loop" >"$TMP/to.out"
    cat "$TMP/to.out"
    contains "$TMP/to.out" '"cause":"timeout"' && [ "$(tail -n 1 "$TMP/to.out")" = 504 ]
}

t_cli_errors() {
    expect_status 125 fn deploy 'bad/name' "$TMP/src/square.lua" 2>"$TMP/e1" &&
        contains "$TMP/e1" "is not a function name" &&
        expect_status 125 fn deploy x "$TMP/nonexistent.lua" 2>"$TMP/e2" &&
        contains "$TMP/e2" "nonexistent.lua" &&
        expect_status 125 fn rm nosuch 2>"$TMP/e3" && contains "$TMP/e3" "no function 'nosuch'" &&
        expect_status 2 fn deploy onlyname 2>"$TMP/e4" && contains "$TMP/e4" "usage" &&
        expect_status 2 fn serve --timeout abc 2>"$TMP/e5" &&
        contains "$TMP/e5" "--timeout: 'abc' is not a number of seconds" &&
        expect_status 125 fn serve --listen nothere 2>"$TMP/e6" &&
        contains "$TMP/e6" "is not ADDR:PORT" &&
        expect_status 2 fn dpeloy 2>"$TMP/e7" && contains "$TMP/e7" "did you mean 'deploy'"
}

t_rm() {
    fn rm fail >/dev/null && [ ! -e "$TMP/fn/fail.lua" ] &&
        [ "$(post fail x | tail -n 1)" = 404 ]
}

# Stopped, the gateway takes its guests and shells with it.
t_stop_clean() {
    kill $SERVE_PID $SERVE2_PID || return 1
    local rc=0
    wait "$SERVE_PID" || rc=$?
    [ -z "$SERVE2_PID" ] || wait "$SERVE2_PID"
    SERVE_PID= SERVE2_PID=
    cat "$TMP/gw.err"
    [ $rc = 0 ] && contains "$TMP/gw.err" "stopping" && no_new_leftovers
}

check setup setup
check deploy_ls t_deploy_ls
check thousand t_thousand
check runaways t_runaways
check syntax t_syntax
check print_not_result t_print_not_result
check examples t_examples
check redeploy t_redeploy
check unknown t_unknown
check unknown_early t_unknown_early
check source_only t_source_only
check method t_method
check oversized t_oversized
check malformed t_malformed
check pipelined t_pipelined
check still_up t_still_up
check timeout t_timeout
check cli_errors t_cli_errors
check rm t_rm
check stop_clean t_stop_clean
finish
