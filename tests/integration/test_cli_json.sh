#!/bin/bash
# test_cli_json.sh: every command's --json against the one schema,
# docs/json-schema.json (docs/json-schema.md): each output is valid JSON,
# of the shape documented, with numbers of at most 3 decimals. The daemon
# runs in a network namespace of the test's own, so that a guest with a
# NIC (and `net ls`) can be shown too.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
. tests/net/netlib.sh
# shellcheck disable=SC2034 # daemon_start (tests/lib.sh) runs it
LIGHTVMD="nsenter --net=/run/netns/$NS $BUILD/bin/lightvmd"
trap 'daemon_stop; net_cleanup' EXIT
SCHEMA=docs/json-schema.json
IDLE=$EXAMPLES/idle/idle.elf

# valid DEF [--lines] CMD...: CMD's stdout (which must exit 0) is $defs/DEF.
valid() {
    local def=$1 lines=
    shift
    [ "$1" = --lines ] && { lines=--lines; shift; }
    local out=$TMP/out.$RANDOM.json
    "$@" >"$out" || { echo "'$*' failed"; return 1; }
    python3 tests/tools/json_check.py "$SCHEMA" "$def" "$out" $lines ||
        { echo "from: $*"; head -c 2000 "$out"; echo; return 1; }
}

id_of() { $LIGHTVM list --json -q "$1" | tr -d '[]"'; }

t_image() { valid image $LIGHTVM inspect --json "$IDLE"; }

t_create() {
    valid guest $LIGHTVM create --json --name j1 --watchdog 60000 "$IDLE" &&
        $LIGHTVM list --json j1 | grep -q '"watchdog_ms":60000' &&
        valid guest $LIGHTVM create --json --name j2 --mem-limit 40M "$IDLE" &&
        valid guest $LIGHTVM create --json --name jnet --net "$EXAMPLES/daytime/daytime.elf"
}

t_lists() {
    valid guests $LIGHTVM list --json &&
        valid guests $LIGHTVM ls --json &&
        valid guests $LIGHTVM ps --json -a &&
        valid guests $LIGHTVM ps --format json &&
        valid guests $LIGHTVM stats --json &&
        valid guests $LIGHTVM stats --json j1 &&
        valid guests $LIGHTVM list --json --filter name=j &&
        valid ids $LIGHTVM list --json -q &&
        valid guests $LIGHTVM inspect j1 j2
}

# What the CLI used to drop: the API's mem_limit, oom_kills, watchdog_ms.
t_api_fields() {
    local j
    j=$($LIGHTVM stats --json j2) || return 1
    echo "$j" | grep -q '"mem_limit":41943040' &&
        echo "$j" | grep -q '"oom_kills":0' &&
        echo "$j" | grep -q '"owner_name":"root"' || { echo "$j"; return 1; }
}

t_nic() {
    local j
    j=$($LIGHTVM list --json jnet) || return 1
    echo "$j" | grep -q '"net":\[{"dev"' || { echo "$j"; return 1; }
    valid net_ports nsx $LIGHTVM net ls --json lvm0 &&
        nsx $LIGHTVM net ls --json lvm0 | grep -q "\"guest\":\"$(id_of jnet)\""
}

t_manage() {
    local id
    id=$(id_of j1)
    # Named by a prefix of its id and by its name: the real id is printed.
    valid guests $LIGHTVM pause --json "${id:0:6}" &&
        $LIGHTVM pause --json "${id:0:6}" 2>/dev/null | grep -q "\"id\":\"$id\",\"name\":\"j1\",\"state\":\"paused\"" ||
        { $LIGHTVM pause --json "${id:0:6}"; return 1; }
    valid guests $LIGHTVM unpause --json j1 &&
        valid guests $LIGHTVM suspend --json j1 &&
        valid guests $LIGHTVM resume --json j1 &&
        valid guests $LIGHTVM pause --json j1 j2 &&
        [ "$($LIGHTVM unpause --json j1 j2 | grep -o '"state":"running"' | wc -l)" = 2 ] || return 1
}

t_top() {
    valid top --lines $LIGHTVM top --json -n 2 -d 0.1 &&
        [ "$($LIGHTVM top --json -n 3 -d 0.1 | wc -l)" = 3 ]
}

t_console() {
    wait_for_file_text "$LIGHTVM_RUN_DIR/guests/$(id_of j1)/console.log" "waiting for poweroff" || return 1
    valid console --lines $LIGHTVM console --json j1 &&
        $LIGHTVM console --json j1 | grep -q '"output":"idle: waiting for poweroff\\n"' &&
        valid console --lines $LIGHTVM logs --json --tail 1 j1
}

t_poweroff_wait() {
    local id
    id=$(id_of j1)
    valid guests $LIGHTVM poweroff --json j1 || return 1
    $LIGHTVM wait --json j1 >"$TMP/wait.json"
    python3 tests/tools/json_check.py "$SCHEMA" exited "$TMP/wait.json" &&
        grep -q "{\"id\":\"$id\",\"name\":\"j1\",\"exit\":{\"kind\":\"exited\"" "$TMP/wait.json" ||
        { cat "$TMP/wait.json"; return 1; }
    # An exited guest followed: its output, then its exit.
    valid console --lines $LIGHTVM console -f --json j1 &&
        $LIGHTVM console -f --json j1 | tail -n 1 | grep -q '"exit":{"kind":"exited"'
}

t_state() {
    valid saved $LIGHTVM save --json --leave-running j2 "$TMP/j2.state" &&
        valid guest $LIGHTVM restore --json -n j3 "$TMP/j2.state" &&
        valid guests $LIGHTVM clone --json -n 2 --name jc j2
}

t_quota() { valid quota $LIGHTVM quota --json; }

t_destroy() {
    local id
    id=$(id_of j2)
    $LIGHTVM destroy --json "${id:0:5}" >"$TMP/d.json" || return 1
    python3 tests/tools/json_check.py "$SCHEMA" exiteds "$TMP/d.json" &&
        grep -q "^\[{\"id\":\"$id\",\"name\":\"j2\"" "$TMP/d.json" || { cat "$TMP/d.json"; return 1; }
    # shellcheck disable=SC2046
    valid exiteds $LIGHTVM rm --json $($LIGHTVM list -q)
}

# The schema test itself can fail: a wrong shape and a long fraction.
t_checker_fails() {
    echo '[{"id":"x"}]' >"$TMP/bad1.json"
    echo '{"time":1.0001,"interval_s":0,"guests":[]}' >"$TMP/bad2.json"
    ! python3 tests/tools/json_check.py "$SCHEMA" guests "$TMP/bad1.json" >/dev/null &&
        ! python3 tests/tools/json_check.py "$SCHEMA" top "$TMP/bad2.json" >/dev/null
}

net_setup || { echo "cannot create a network namespace"; exit 1; }
daemon_start || exit 1
check json_image t_image
check json_create t_create
check json_lists t_lists
check json_api_fields t_api_fields
check json_nic t_nic
check json_manage t_manage
check json_top t_top
check json_console t_console
check json_poweroff_wait t_poweroff_wait
check json_state t_state
check json_quota t_quota
check json_destroy t_destroy
check json_checker_fails t_checker_fails
daemon_stop
check json_no_leftovers no_new_leftovers
finish
