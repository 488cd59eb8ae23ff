#!/bin/bash
# test_cli_verbs.sh: docker's verbs on lightvmd's guests: run -d and
# --rm, logs [-f] [--tail N], inspect GUEST, ps -a / --filter / --format,
# kill [-s SIG], stop [-t SECONDS], restart and port; and a Tinyx image's
# environment (tinyx build --env).
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
trap 'daemon_stop; lib_cleanup' EXIT
IDLE=$EXAMPLES/idle/idle.elf
HELLO=$EXAMPLES/hello/hello.elf
SPIN=$TGUESTS/spin.elf

id_of() { $LIGHTVM ps -a --format '{{.ID}}' --filter "name=$1" | head -n 1; }
console_has() { # GUEST TEXT
    wait_for_file_text "$LIGHTVM_RUN_DIR/guests/$(id_of "$1")/console.log" "$2"
}

t_run_detached() {
    local id
    id=$($LIGHTVM run -d --name bg "$IDLE") || return 1
    [ ${#id} -eq 16 ] || { echo "run -d printed '$id'"; return 1; }
    [ "$(id_of bg)" = "$id" ] && wait_state bg running &&
        console_has bg "waiting for poweroff" &&
        expect_status 2 $LIGHTVM run -d --timeout 5 "$IDLE" 2>"$TMP/e" &&
        contains "$TMP/e" "run -d: --timeout is for a run in the foreground"
}

t_run_rm() {
    # -d --rm: lightvmd removes it once it exits; whoever waits hears how.
    $LIGHTVM run -d --rm --name gone "$IDLE" >/dev/null || return 1
    $LIGHTVM inspect gone | grep -q '"auto_remove": true' || return 1
    console_has gone "waiting for poweroff" || return 1
    # stop hears it exit (its wait is in before the poweroff), then it is
    # gone.
    [ "$($LIGHTVM stop gone)" = gone ] || return 1
    [ -z "$(id_of gone)" ] || { echo "gone is still listed"; $LIGHTVM ps -a; return 1; }
    # In the foreground, --rm is what run does anyway.
    $LIGHTVM run --rm --name fg "$HELLO" -- x >"$TMP/out" &&
        contains "$TMP/out" "x" && [ -z "$(id_of fg)" ]
}

t_logs() {
    console_has bg "waiting for poweroff" || return 1
    [ "$($LIGHTVM logs bg)" = "$($LIGHTVM console bg)" ] &&
        [ "$($LIGHTVM logs --tail 1 bg)" = "$($LIGHTVM logs bg | tail -n 1)" ] &&
        [ -z "$($LIGHTVM logs --tail 0 bg)" ] &&
        expect_status 2 $LIGHTVM logs --tail x bg 2>/dev/null || return 1
    # -f: what it writes until it exits, then logs exits.
    $LIGHTVM create --name follow "$IDLE" >/dev/null || return 1
    console_has follow "waiting for poweroff" || return 1
    $LIGHTVM logs -f follow >"$TMP/f" &
    local f=$!
    $LIGHTVM poweroff follow || return 1
    wait $f && contains "$TMP/f" "idle: waiting for poweroff"
}

t_inspect_guest() {
    local id
    id=$(id_of bg)
    $LIGHTVM inspect bg "${id:0:6}" >"$TMP/i" || return 1
    [ "$(grep -c "\"id\": \"$id\"" "$TMP/i")" = 2 ] &&
        python3 -c 'import json,sys; a = json.load(open(sys.argv[1])); assert a[0]["stats"]["memory_limit"] > 0' "$TMP/i" ||
        { cat "$TMP/i"; return 1; }
    expect_status 1 $LIGHTVM inspect no-such-guest >/dev/null 2>"$TMP/e" &&
        contains "$TMP/e" "inspect: no such object: no-such-guest (neither a guest nor a file)"
}

t_ps() {
    # follow has exited: ps leaves it out without -a; list shows all.
    wait_state follow exited || return 1
    ! $LIGHTVM ps --format '{{.Name}}' | grep -qx follow &&
        $LIGHTVM ps -a --format '{{.Name}}' | grep -qx follow &&
        $LIGHTVM list --format '{{.Name}}' | grep -qx follow || return 1
    [ "$($LIGHTVM ps -a --filter status=exited --format '{{.Name}}')" = follow ] &&
        [ "$($LIGHTVM ps --filter name=b --format '{{.Name}}')" = bg ] &&
        [ "$($LIGHTVM ps -a --filter "id=$(id_of bg | cut -c1-5)" -q)" = "$(id_of bg)" ] &&
        [ "$($LIGHTVM ps -a --filter monitor=kvm -q)" = "" ] &&
        [ "$($LIGHTVM ps -a --filter monitor=proc -f status=running --format '{{.Name}}' | sort | tr '\n' ' ')" = "bg " ] ||
        { $LIGHTVM ps -a; return 1; }
    # Two values of one key: either; two keys: both.
    [ "$($LIGHTVM ps -a -f name=bg -f name=follow -q | wc -l)" = 2 ] &&
        [ "$($LIGHTVM ps -a -f name=bg -f status=exited -q | wc -l)" = 0 ] || return 1
    $LIGHTVM ps --format 'table {{.ID}}\t{{.Name}}\t{{.Status}}\t{{.Monitor}}' >"$TMP/t" &&
        head -n 1 "$TMP/t" | grep -qP '^ID\tNAME\tSTATUS\tMONITOR$' &&
        grep -qP "^$(id_of bg)\tbg\trunning\tproc$" "$TMP/t" || { cat -A "$TMP/t"; return 1; }
    $LIGHTVM ps -a --format '{{.Name}}: {{.Status}}' | grep -qx 'follow: exited (0)' &&
        $LIGHTVM ps --format '{{json .}}' | python3 -c 'import json,sys; [json.loads(l) for l in sys.stdin]' || return 1
    expect_status 2 $LIGHTVM ps --filter color=red 2>"$TMP/e" &&
        contains "$TMP/e" "--filter 'color=red': want KEY=VALUE with KEY one of name, id, status, monitor" &&
        expect_status 2 $LIGHTVM ps --filter status=up 2>"$TMP/e" &&
        contains "$TMP/e" "status is one of starting, running, paused, dying, exited" &&
        expect_status 2 $LIGHTVM ps --format '{{.Nope}}' 2>"$TMP/e" &&
        contains "$TMP/e" "--format: unknown '{{.Nope}}'" &&
        expect_status 2 $LIGHTVM ps --format '{{.Names}}' 2>"$TMP/e" &&
        contains "$TMP/e" "--format: unknown '{{.Names}}' (did you mean '{{.Name}}'?)"
}

t_kill() {
    $LIGHTVM create --name victim "$IDLE" >/dev/null || return 1
    expect_status 125 $LIGHTVM kill -s TERM victim 2>"$TMP/e" &&
        contains "$TMP/e" "a proc guest takes SIGKILL only" &&
        expect_status 2 $LIGHTVM kill -s FOO victim 2>"$TMP/e" &&
        contains "$TMP/e" "kill: -s 'FOO': not a signal" &&
        expect_status 2 $LIGHTVM kill -s STOP victim 2>/dev/null || return 1
    [ "$($LIGHTVM kill victim)" = victim ] || return 1
    expect_status 137 $LIGHTVM wait victim >/dev/null &&
        [ "$($LIGHTVM ps -a -f name=victim --format '{{.Status}}')" = "exited (137)" ] &&
        $LIGHTVM rm victim >/dev/null
}

t_stop() {
    # A guest that powers off when asked: exited 0, well within -t.
    $LIGHTVM create --name polite "$IDLE" >/dev/null || return 1
    console_has polite "waiting for poweroff" || return 1
    [ "$($LIGHTVM stop polite)" = polite ] &&
        [ "$($LIGHTVM ps -a -f name=polite --format '{{.Status}}')" = "exited (0)" ] || return 1
    # One that never yields to hear it: killed after -t.
    $LIGHTVM create --name rude --cpus 0.2 "$SPIN" >/dev/null || return 1
    console_has rude "spin: spinning" || return 1
    local t0=$SECONDS
    $LIGHTVM stop -t 1 rude >/dev/null || return 1
    [ "$($LIGHTVM ps -a -f name=rude --format '{{.Status}}')" = "exited (137)" ] &&
        [ $((SECONDS - t0)) -lt 10 ] &&
        expect_status 2 $LIGHTVM stop -t x rude 2>/dev/null &&
        $LIGHTVM rm polite rude >/dev/null
}

t_restart() {
    local old new
    old=$(id_of bg)
    new=$($LIGHTVM restart -t 5 bg) || return 1
    [ ${#new} -eq 16 ] && [ "$new" != "$old" ] && [ "$(id_of bg)" = "$new" ] &&
        wait_state bg running && console_has bg "waiting for poweroff" &&
        [ "$($LIGHTVM ps -a -q | grep -c "$old")" = 0 ] || { $LIGHTVM ps -a; return 1; }
}

t_port_proc() {
    # A proc guest publishes nothing.
    [ -z "$($LIGHTVM port bg)" ] && [ "$($LIGHTVM port --json bg)" = "[]" ] &&
        expect_status 125 $LIGHTVM port bg 80 2>"$TMP/e" &&
        contains "$TMP/e" "port: bg publishes no port 80"
}

t_port_qemu() {
    local kernel img=$TMP/sh.img
    kernel=$(ls /boot/vmlinuz-*cloud* 2>/dev/null | head -n 1)
    $LIGHTVM tinyx build -q --kernel "$kernel" sh --cmd "sh -c 'sleep 1000'" -z gzip:1 -o "$img" ||
        return 1
    $LIGHTVM create --name q -p 0:80 -p 127.0.0.1:0:443 "$img" >/dev/null || return 1
    $LIGHTVM port q >"$TMP/p"
    cat "$TMP/p"
    local r=0
    grep -qE '^80/tcp -> 127\.0\.0\.1:[0-9]+$' "$TMP/p" &&
        grep -qE '^443/tcp -> 127\.0\.0\.1:[0-9]+$' "$TMP/p" &&
        [ "$($LIGHTVM port q 443/tcp)" = "$(grep ^443 "$TMP/p")" ] || r=1
    $LIGHTVM port --json q >"$TMP/pj" &&
        python3 tests/tools/json_check.py docs/json-schema.json port_map "$TMP/pj" || r=1
    $LIGHTVM rm q >/dev/null
    return $r
}

# tinyx build --env: in the app's environment, values with spaces too.
t_tinyx_env() {
    local kernel img=$TMP/env.img
    kernel=$(ls /boot/vmlinuz-*cloud* 2>/dev/null | head -n 1)
    $LIGHTVM tinyx build -q --kernel "$kernel" sh -e 'GREETING=hello there' --env X=1 \
        --cmd "sh -c 'echo \"greeting: \$GREETING x=\$X\"'" -z gzip:1 -o "$img" || return 1
    $LIGHTVM run --no-daemon -c "$TMP/env.out" "$img" &&
        contains "$TMP/env.out" "greeting: hello there x=1" &&
        expect_status 2 $LIGHTVM tinyx build sh -e 'no-equals' -o "$TMP/x.img" 2>"$TMP/e" &&
        contains "$TMP/e" "--env: 'no-equals' is not KEY=VALUE"
}

daemon_start || exit 1
check verbs_run_detached t_run_detached
check verbs_run_rm t_run_rm
check verbs_logs t_logs
check verbs_inspect_guest t_inspect_guest
check verbs_ps t_ps
check verbs_kill t_kill
check verbs_stop t_stop
check verbs_restart t_restart
check verbs_port_proc t_port_proc
if ls /boot/vmlinuz-*cloud* >/dev/null 2>&1; then
    check verbs_port_qemu t_port_qemu
    check verbs_tinyx_env t_tinyx_env
else
    skip verbs_port_qemu "no Debian cloud kernel in /boot to boot a Tinyx image"
    skip verbs_tinyx_env "no Debian cloud kernel in /boot to boot a Tinyx image"
fi
# shellcheck disable=SC2046 # ids, one word each
$LIGHTVM rm $($LIGHTVM ps -a -q) >/dev/null 2>&1
daemon_stop
check verbs_no_leftovers no_new_leftovers
finish
