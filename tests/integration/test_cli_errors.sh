#!/bin/bash
# test_cli_errors.sh: help, mistakes on the command line and the messages
# they get (issue 14's table, a test per row): each a one-line error that
# names what is wrong, exit 2 for a bad command line, 125 when lightvm
# could not do what was asked.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
trap 'daemon_stop; lib_cleanup' EXIT
IDLE=$EXAMPLES/idle/idle.elf
NOOP=$EXAMPLES/noop/noop.elf
API=$BUILD/tests/tools/apiclient

# fails STATUS WANT CMD...: CMD exits STATUS with one line on stderr that
# holds WANT, and prints nothing on stdout.
fails() {
    local want_status=$1 want=$2
    shift 2
    "$@" >"$TMP/out" 2>"$TMP/err"
    local got=$?
    cat "$TMP/err"
    [ "$got" = "$want_status" ] || { echo "exit $got, not $want_status: $*"; return 1; }
    [ "$(wc -l <"$TMP/err")" -eq 1 ] || { echo "not one line"; return 1; }
    [ ! -s "$TMP/out" ] || { echo "stdout:"; cat "$TMP/out"; return 1; }
    contains "$TMP/err" "$want"
}

# ---- help ------------------------------------------------------------------

t_help_cmd() {
    local c
    # Every command listed has its own help, by both spellings.
    for c in $($LIGHTVM --help | awk '/^Commands:/ {f = 1; next} f && /^  [a-z]/ {print $1}'); do
        $LIGHTVM help "$c" >"$TMP/h1" || { echo "help $c failed"; return 1; }
        $LIGHTVM "$c" --help >"$TMP/h2" || { echo "$c --help failed"; return 1; }
        grep -q "^Usage: lightvm $c" "$TMP/h1" || { echo "help $c:"; cat "$TMP/h1"; return 1; }
        cmp -s "$TMP/h1" "$TMP/h2" || { echo "help $c differs from $c --help"; return 1; }
    done
    ! $LIGHTVM help ps | grep -q "^Commands:" # not the global help
}

t_did_you_mean() {
    fails 2 "unknown command 'pss' (did you mean 'ps'?)" $LIGHTVM pss &&
        fails 2 "unknown command 'creat' (did you mean 'create'?)" $LIGHTVM help creat &&
        fails 2 "unknown command 'frobnicate' (see 'lightvm --help')" $LIGHTVM frobnicate &&
        fails 2 "ps: unknown flag '--jsn' (did you mean '--json'?)" $LIGHTVM ps --jsn &&
        fails 2 "run: unknown flag '--memm' (did you mean '--mem'?)" $LIGHTVM run --memm 16M "$NOOP" &&
        fails 2 "ps: flag '--filter' needs a value" $LIGHTVM ps --filter &&
        fails 2 "ps: flag '--json' takes no value" $LIGHTVM ps --json=yes &&
        fails 2 "top: unknown flag '-x'" $LIGHTVM top -x
}

# ---- exit 2 for a bad command line --------------------------------------------

t_mem_bytes() {
    fails 2 "--mem: '16' is 16 bytes (a size without K, M or G is in bytes): did you mean '16M'?" \
        $LIGHTVM run --no-daemon --mem 16 "$NOOP"
}

t_mem_zero() {
    fails 2 "--mem: 0 is no memory" $LIGHTVM run --no-daemon --mem 0 "$NOOP"
}

t_mem_range() {
    fails 2 "mem: a proc guest needs at most 2048 MiB, not 3072 MiB" \
        $LIGHTVM run --no-daemon --mem 3G "$NOOP"
}

t_publish_proc() {
    fails 2 "--publish is not supported for the proc monitor" \
        $LIGHTVM run --no-daemon -p 8080:80 "$NOOP"
}

t_cpus_named() {
    fails 2 "--cpus: '-1' is not a number of CPUs above 0" \
        $LIGHTVM run --no-daemon --cpus -1 "$NOOP" &&
        ! grep -q -- --cpu-quota "$TMP/err" &&
        fails 2 "--cpu-quota: 'x' is not a number of CPUs" \
            $LIGHTVM run --no-daemon --cpu-quota x "$NOOP"
}

t_names_refused() {
    fails 2 "--name: character 2 (byte 0x20) is not allowed: 1 to 63 characters of A-Z a-z 0-9 . _ -" \
        $LIGHTVM run --no-daemon --name 'a b' "$NOOP" &&
        fails 2 "--name: character 2 (byte 0x09) is not allowed" \
            $LIGHTVM run --no-daemon --name $'a\tb' "$NOOP" &&
        fails 2 "--name: character 2 ('/') is not allowed" \
            $LIGHTVM run --no-daemon --name 'a/b' "$NOOP"
}

t_top_args() {
    fails 2 "top: -n 'abc': want a number of refreshes, 1 or more" $LIGHTVM top -n abc &&
        fails 2 "top: -d '0': want seconds from 0.1 to 3600" $LIGHTVM top -d 0 &&
        fails 2 "top: -d '0.01': want seconds" $LIGHTVM top -d 0.01
}

# A Tinyx image given where it does not go: said so, and what to do.
t_tinyx_image_misused() {
    mkdir -p "$TMP/app.img"
    echo '{}' >"$TMP/app.img/manifest.json"
    fails 2 "app.img is a Tinyx image directory: run it with --monitor qemu" \
        $LIGHTVM run --no-daemon --monitor kvm "$TMP/app.img" &&
        fails 2 "app.img is a directory (a Tinyx image: 'lightvm run' boots it), not a state file" \
            $LIGHTVM restore "$TMP/app.img" &&
        fails 2 "app.img is a Tinyx image directory: its manifest.json describes it" \
            $LIGHTVM inspect "$TMP/app.img"
}

# ---- through lightvmd ------------------------------------------------------

t_daemon_mem() {
    # Said by the CLI in its own words, not the API's "field 'mem'".
    fails 2 "mem: a proc guest needs at most 2048 MiB, not 99999 GiB" \
        $LIGHTVM create --mem 99999G "$IDLE" &&
        ! grep -q "field" "$TMP/err" &&
        fails 2 "--mem: 0 is no memory" $LIGHTVM create --mem 0 "$IDLE"
}

t_name_is_an_id() {
    local id
    id=$($LIGHTVM create --name first "$IDLE") || return 1
    fails 125 "'${id:0:6}' is the start of the id of guest $id, not a free name" \
        $LIGHTVM create --name "${id:0:6}" "$IDLE" &&
        fails 125 "'$id' is the id of guest $id, not a free name" \
            $LIGHTVM create --name "$id" "$IDLE" &&
        fails 125 "you have a guest named 'first'" $LIGHTVM create --name first "$IDLE" &&
        fails 2 "--name: character 2 (byte 0x20) is not allowed" $LIGHTVM clone --name 'a b' first &&
        $LIGHTVM rm first >/dev/null
}

t_not_in_group() {
    # The daemon's socket is root's alone here (no --group).
    fails 125 "Permission denied (only root and members of lightvmd's API group, its --group, may use it)" \
        setpriv --reuid=nobody --regid=nogroup --clear-groups $LIGHTVM list &&
        ! grep -q "is lightvmd running" "$TMP/err"
}

t_bad_json_quotes() {
    local r
    r=$($API "$LIGHTVM_SOCKET" '{"op":"list","x":"a}')
    echo "$r"
    echo "$r" | grep -qF "premature end of input near '\\\"a}'"
}

t_port_in_use() {
    # A host port another program listens on, named before QEMU starts
    # (not QEMU's "Could not set up host forwarding rule").
    local kernel img=$TMP/sh.img port
    kernel=$(ls /boot/vmlinuz-*cloud* 2>/dev/null | head -n 1)
    [ -n "$kernel" ] || { echo "no Debian cloud kernel in /boot"; return 1; }
    $LIGHTVM tinyx build -q --kernel "$kernel" sh --cmd "sh -c 'sleep 100'" -z gzip:1 -o "$img" ||
        return 1
    coproc LISTEN { exec python3 -c '
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
print(s.getsockname()[1], flush=True); sys.stdin.read()'; }
    read -r port <&"${LISTEN[0]}"
    fails 125 "port $port on 127.0.0.1 is in use (another program or guest has it): publish another, or 0 for a free one" \
        $LIGHTVM run --no-daemon -p "$port:80" "$img"
    local r=$?
    fails 125 "port $port on 127.0.0.1 is in use" $LIGHTVM create -p "$port:80" "$img" || r=1
    kill "$LISTEN_PID"
    wait "$LISTEN_PID" 2>/dev/null
    return $r
}

# Tinyx: a build that cannot read a file it lists fails, naming it.
# inspect, docker's way: `[]` on stdout and "no such object" on stderr for
# a name that is neither a guest nor a file, exit 1; with found names too,
# those are printed and the exit is still 1.
t_inspect_missing() {
    $LIGHTVM inspect nosuch >"$TMP/out" 2>"$TMP/err"
    local rc=$?
    [ $rc = 1 ] || { echo "exit $rc, not 1"; return 1; }
    [ "$(cat "$TMP/out")" = "[]" ] || { echo "stdout:"; cat "$TMP/out"; return 1; }
    [ "$(wc -l <"$TMP/err")" = 1 ] && contains "$TMP/err" "lightvm: inspect: no such object: nosuch" ||
        return 1
    # A flag after the name is still a flag (docker's habit).
    $LIGHTVM inspect nosuch --json >"$TMP/out" 2>"$TMP/err"
    [ $? = 1 ] && contains "$TMP/err" "no such object: nosuch" &&
        ! grep -q -- "--json" "$TMP/err"
}

t_inspect_some_missing() {
    local id
    id=$($LIGHTVM create --name insp "$IDLE") || return 1
    $LIGHTVM inspect insp nosuch2 "${id:0:8}" >"$TMP/out" 2>"$TMP/err"
    local rc=$?
    $LIGHTVM destroy insp >/dev/null
    [ $rc = 1 ] || { echo "exit $rc, not 1"; return 1; }
    [ "$(grep -c "\"id\": \"$id\"" "$TMP/out")" = 2 ] || { cat "$TMP/out"; return 1; }
    [ "$(wc -l <"$TMP/err")" = 1 ] && contains "$TMP/err" "no such object: nosuch2"
}

# A request that is wrong says so, without strerror's ": Invalid argument"
# after it (errno means nothing there).
t_no_invalid_argument() {
    local id
    id=$($LIGHTVM create "$NOOP") || return 1
    $LIGHTVM wait "$id" >/dev/null
    fails 125 "is not running" $LIGHTVM kill -s KILL "$id" || return 1
    $LIGHTVM destroy "$id" >/dev/null
    ! grep -q "Invalid argument" "$TMP/err"
}

# Counts in messages agree with their noun: "1 rule", not "1 rules".
t_plurals() {
    printf 'allow out tcp to any port 80\n' >"$TMP/one.rules"
    "$BUILD/bin/firewall-check" "$TMP/one.rules" >"$TMP/out" || { cat "$TMP/out"; return 1; }
    contains "$TMP/out" "one.rules: 1 rule" && ! grep -q "1 rules" "$TMP/out"
}

t_tinyx_unreadable() {
    mkdir -p "$TMP/nr"
    chown nobody "$TMP/nr"
    cd "$TMP/nr" || return 1
    fails 125 "cannot read /etc/redis/redis.conf (a file of package redis-server; build as root, or make it readable)" \
        setpriv --reuid=nobody --regid=nogroup --clear-groups \
        "$OLDPWD/$LIGHTVM" tinyx build -q --kernel "$(ls /boot/vmlinuz-*cloud* | head -n 1)" \
        redis-server -o "$TMP/nr/redis.img"
    local r=$?
    cd "$OLDPWD" || return 1
    [ ! -e "$TMP/nr/redis.img/manifest.json" ] || { echo "an image was made"; r=1; }
    return $r
}

check cli_help_cmd t_help_cmd
check cli_did_you_mean t_did_you_mean
check cli_mem_bytes t_mem_bytes
check cli_mem_zero t_mem_zero
check cli_mem_range t_mem_range
check cli_publish_proc t_publish_proc
check cli_cpus_named t_cpus_named
check cli_names_refused t_names_refused
check cli_top_args t_top_args
check cli_tinyx_image_misused t_tinyx_image_misused
check cli_plurals t_plurals
if [ "$(stat -c %a /etc/redis 2>/dev/null)" != "" ] &&
    ! setpriv --reuid=nobody --regid=nogroup --clear-groups test -r /etc/redis/redis.conf; then
    check cli_tinyx_unreadable t_tinyx_unreadable
else
    skip cli_tinyx_unreadable "/etc/redis/redis.conf is readable by nobody here"
fi
daemon_start || exit 1
check cli_daemon_mem t_daemon_mem
check cli_name_is_an_id t_name_is_an_id
check cli_not_in_group t_not_in_group
check cli_bad_json_quotes t_bad_json_quotes
check cli_port_in_use t_port_in_use
check cli_inspect_missing t_inspect_missing
check cli_inspect_some_missing t_inspect_some_missing
check cli_no_invalid_argument t_no_invalid_argument
daemon_stop
check cli_no_leftovers no_new_leftovers
finish
