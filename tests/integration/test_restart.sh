#!/bin/bash
# test_restart.sh: restart policies (--restart no|on-failure[:N]|always,
# docker's): lightvmd starts a guest again when it exits, with a growing
# backoff, not after a client stopped it, at most N times for
# on-failure:N, and when the daemon itself starts again (kill -9) for the
# guests that ended while it was down.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
trap 'daemon_stop; lib_cleanup' EXIT

EXIT=$TGUESTS/exitcode.elf
IDLE=$EXAMPLES/idle/idle.elf

# field NAME KEY: KEY of guest NAME in `list --json` (a number or a
# string, unquoted), "" if there is no such guest.
field() {
    $LIGHTVM list --json | tr '{' '\n' | grep "\"name\":\"$1\"" |
        sed -n "s/.*\"$2\":\"\{0,1\}\([^,\"}]*\).*/\1/p" | head -n1
}

# wait_field NAME KEY VALUE [SECONDS]: until guest NAME's KEY is VALUE.
wait_field() {
    local deadline=$((SECONDS + ${4:-20}))
    until [ "$(field "$1" "$2")" = "$3" ]; do
        [ $SECONDS -lt $deadline ] || { echo "$1: $2 is '$(field "$1" "$2")', not '$3'"; $LIGHTVM list --json; return 1; }
        read -rt 0.02 <> <(:) 2>/dev/null || true
    done
}

t_on_failure_limit() {
    # Exits with 3 each time: restarted twice, then left exited.
    local id0
    id0=$($LIGHTVM create --name fails --restart on-failure:2 $EXIT -- 3) || return 1
    wait_field fails restart_count 2 || return 1
    wait_field fails state exited || return 1
    [ "$(field fails restart)" = on-failure:2 ] || return 1
    # The same name, a new id; and it stays down.
    [ "$(field fails id)" != "$id0" ] || { echo "same id"; return 1; }
    grep -q "guest fails ($id0) exited with status 3: restarting it (restart 1)" "$TMP/lightvmd.log" ||
        { echo "no restart logged"; tail -5 "$TMP/lightvmd.log"; return 1; }
    $LIGHTVM destroy fails >/dev/null
}

t_on_failure_success() {
    # Status 0 is not a failure.
    $LIGHTVM create --name fine --restart on-failure $EXIT -- 0 >/dev/null || return 1
    wait_field fine state exited || return 1
    # Its exit was recorded and no restart was scheduled (one would come
    # 100 ms later): a later guest's whole life passes meanwhile.
    $LIGHTVM create --name later $EXIT >/dev/null && wait_field later state exited || return 1
    [ "$(field fine restart_count)" = 0 ] && ! grep -q "guest fine (" "$TMP/lightvmd.log" || return 1
    $LIGHTVM destroy fine later >/dev/null
}

t_always_backoff() {
    # A guest that exits at once is restarted after 100, 200, 400 ms...
    local t0 t1
    t0=$(date +%s%N)
    $LIGHTVM create --name loop --restart always $EXIT -- 0 >/dev/null || return 1
    wait_field loop restart_count 3 || return 1
    t1=$(date +%s%N)
    local ms=$(((t1 - t0) / 1000000))
    # 100 + 200 + 400 ms at least between the four runs.
    [ $ms -ge 700 ] || { echo "3 restarts in $ms ms: no backoff"; return 1; }
    $LIGHTVM destroy loop >/dev/null || return 1
    [ -z "$(field loop id)" ]
}

t_no_policy() {
    $LIGHTVM create --name once $EXIT -- 1 >/dev/null || return 1
    wait_field once state exited || return 1
    $LIGHTVM create --name later2 $EXIT >/dev/null && wait_field later2 state exited || return 1
    [ "$(field once restart)" = no ] && [ "$(field once restart_count)" = 0 ] || return 1
    $LIGHTVM destroy once later2 >/dev/null
}

t_poweroff_stops() {
    # A client's poweroff is a stop: "always" does not undo it.
    $LIGHTVM create --name svc --restart always $IDLE >/dev/null || return 1
    wait_for_file_text "$LIGHTVM_RUN_DIR/guests/$(field svc id)/console.log" "waiting for poweroff" || return 1
    $LIGHTVM poweroff svc && $LIGHTVM wait svc >/dev/null || return 1
    $LIGHTVM create --name later3 $EXIT >/dev/null && wait_field later3 state exited || return 1
    [ "$(field svc state)" = exited ] && [ "$(field svc restart_count)" = 0 ] || return 1
    $LIGHTVM destroy later3 >/dev/null
}

t_daemon_start_restores() {
    # svc (always, powered off above) comes back when the daemon starts,
    # as docker's always does; crashy (on-failure) dies while no daemon
    # runs and is restarted too.
    local pid
    $LIGHTVM create --name crashy --restart on-failure $IDLE >/dev/null || return 1
    pid=$(field crashy pid)
    kill -9 $DAEMON_PID && wait $DAEMON_PID 2>/dev/null
    DAEMON_PID=
    kill -9 "$pid"
    while kill -0 "$pid" 2>/dev/null; do read -rt 0.01 <> <(:) 2>/dev/null || true; done
    daemon_start --pool 0 || return 1
    wait_field svc restart_count 1 && wait_field svc state running || return 1
    wait_field crashy restart_count 1 && wait_field crashy state running || return 1
    $LIGHTVM destroy svc crashy >/dev/null
}

t_failed_restart_kept() {
    # The image is gone when its restart comes: the guest stays, exited,
    # and is tried again (twice in all for on-failure:2), then left.
    cp $EXIT "$TMP/gone.elf"
    chmod 755 "$TMP/gone.elf"
    $LIGHTVM create --name gone --restart on-failure:2 "$TMP/gone.elf" -- 3 >/dev/null || return 1
    rm "$TMP/gone.elf"
    wait_field gone restart_count 2 || return 1
    [ "$(field gone state)" = exited ] || return 1
    [ "$(grep -c "restart failed" "$TMP/lightvmd.log")" -ge 2 ] ||
        { echo "failures not logged"; tail -5 "$TMP/lightvmd.log"; return 1; }
    $LIGHTVM destroy gone >/dev/null && [ -z "$(field gone id)" ]
}

t_run_restart() {
    # A foreground run ends with the guest's first exit, as docker's does;
    # the guest stays with lightvmd, which restarts it.
    expect_status 3 $LIGHTVM run --name fg --restart on-failure:1 $EXIT 3 2>"$TMP/err" || return 1
    contains "$TMP/err" "guest fg exited; lightvmd restarts it (--restart on-failure:1)" || return 1
    wait_field fg restart_count 1 && wait_field fg state exited || return 1
    $LIGHTVM destroy fg >/dev/null
}

t_bad_policy() {
    expect_status 2 $LIGHTVM create --restart sometimes $IDLE 2>"$TMP/err" &&
        contains "$TMP/err" "--restart: 'sometimes' is not" || return 1
    expect_status 2 $LIGHTVM create --restart on-failure:0 $IDLE 2>/dev/null || return 1
    $LIGHTVM api '{"op":"create","image":"/x","restart":"on-failure:x"}' >"$TMP/r"
    contains "$TMP/r" '"code":"bad_request"' && contains "$TMP/r" "field 'restart'" || return 1
    # Without lightvmd nothing would restart it: refused.
    ! LIGHTVM_NO_DAEMON=1 $LIGHTVM run --restart always $IDLE 2>"$TMP/err" &&
        contains "$TMP/err" "--restart needs lightvmd"
}

daemon_start --pool 0 || { echo "lightvmd did not start"; finish; exit 1; }
check on_failure_limit t_on_failure_limit
check on_failure_success t_on_failure_success
check always_backoff t_always_backoff
check no_policy t_no_policy
check poweroff_stops t_poweroff_stops
check daemon_start_restores t_daemon_start_restores
check failed_restart_kept t_failed_restart_kept
check run_restart t_run_restart
check bad_policy t_bad_policy
check no_leftovers no_new_leftovers
finish
