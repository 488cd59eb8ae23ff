# tests/lib.sh: helpers for integration tests (bash). Each test is a
# function; `check NAME CMD...` runs it and records PASS or FAIL; `finish`
# prints the runner line "N passed, N failed" and sets the exit status.
#
# Tests drive the real binaries in $BUILD (default build/). They use no
# sleeps for synchronisation: they wait on processes, files or sockets.

BUILD=${BUILD:-build}
LIGHTVM=${LIGHTVM:-$BUILD/bin/lightvm}
EXAMPLES=$BUILD/examples
TGUESTS=$BUILD/tests/guests
TMP=$(mktemp -d /tmp/lightvm-test.XXXXXX)
chmod 755 "$TMP" # guests (unprivileged) reach a daemon's run dir in it
# This suite's guests get cgroups of their own: leftovers are counted, and
# cleaned up, without regard to other toolstacks on the host.
export LIGHTVM_CGROUP_PARENT=lightvm-test-$$
trap 'lib_cleanup' EXIT

# The cgroup directories of this suite's guests, one per line.
suite_cgroups() {
    find /sys/fs/cgroup -mindepth 2 -maxdepth 3 -path "*/$LIGHTVM_CGROUP_PARENT/*" \
        -type d 2>/dev/null | sort
}

# On exit: kill whatever a failed test left running in this suite's
# cgroups, remove them, then the temporary directory.
lib_cleanup() {
    local cg pid
    for cg in $(suite_cgroups); do
        for pid in $(cat "$cg/cgroup.procs" 2>/dev/null); do
            kill -9 "$pid" 2>/dev/null
        done
    done
    for cg in $(suite_cgroups) $(find /sys/fs/cgroup -mindepth 1 -maxdepth 2 \
        -name "$LIGHTVM_CGROUP_PARENT" -type d 2>/dev/null); do
        local i=0
        until rmdir "$cg" 2>/dev/null || [ ! -d "$cg" ] || [ $i -ge 100 ]; do
            i=$((i + 1)) # a killed task leaves its cgroup a moment later
            read -rt 0.01 <> <(:) 2>/dev/null || true
        done
    done
    rm -rf "$TMP"
}
PASSED=0
FAILED=0

# check NAME CMD...: run CMD, output to $TMP/NAME.log, PASS if it succeeds.
# With LIGHTVM_TEST_ONLY=REGEX (an extended regular expression), only the
# tests whose names match run; the others are not counted (for debugging).
check() {
    local name=$1
    shift
    if [ -n "${LIGHTVM_TEST_ONLY:-}" ] && ! [[ $name =~ $LIGHTVM_TEST_ONLY ]]; then
        return 0
    fi
    if "$@" >"$TMP/$name.log" 2>&1; then
        echo "PASS $name"
        PASSED=$((PASSED + 1))
    else
        echo "FAIL $name"
        sed 's/^/    | /' "$TMP/$name.log" | tail -n 30
        FAILED=$((FAILED + 1))
    fi
}

# skip NAME REASON: a test that cannot run here (counted as neither).
skip() {
    echo "SKIP $1: $2"
}

# expect_status WANT CMD...: CMD must exit with status WANT.
expect_status() {
    local want=$1
    shift
    "$@"
    local got=$?
    if [ "$got" != "$want" ]; then
        echo "expected exit status $want, got $got"
        return 1
    fi
}

# contains FILE TEXT: FILE must contain TEXT (fixed string).
contains() {
    if ! grep -qF -- "$2" "$1"; then
        echo "expected '$2' in $1:"
        sed 's/^/      /' "$1" | head -n 20
        return 1
    fi
}

finish() {
    echo "$PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ]
}

# wait_for_file_text FILE TEXT [SECONDS]: poll until FILE contains TEXT
# (an event the test waits on, not a fixed delay); fails after SECONDS.
wait_for_file_text() {
    local deadline=$((SECONDS + ${3:-10}))
    while ! grep -qF -- "$2" "$1" 2>/dev/null; do
        [ $SECONDS -lt $deadline ] || { echo "timed out waiting for '$2' in $1"; return 1; }
        read -rt 0.01 <> <(:) 2>/dev/null || true
    done
}

# 2 on a pure cgroup v2 host, 1 otherwise (as toolstack/cgroup.c decides).
cgroup_version() {
    [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ] && echo 2 || echo 1
}

# This suite's guest cgroups and the processes in them; no_new_leftovers
# compares against a snapshot (a daemon's pool is allowed for).
lightvm_state() {
    local cg
    for cg in $(suite_cgroups); do
        echo "$cg"
        sed "s|^|$cg: pid |" "$cg/cgroup.procs" 2>/dev/null
    done
}
LIGHTVM_STATE_BEFORE=$(lightvm_state)

no_new_leftovers() {
    local now extra
    now=$(lightvm_state)
    extra=$(comm -13 <(echo "$LIGHTVM_STATE_BEFORE") <(echo "$now"))
    if [ -n "$extra" ]; then
        echo "left behind:"
        echo "$extra"
        return 1
    fi
}

# Start a lightvmd of our own (private run directory and socket) with
# ARGS; lightvm commands in this shell then talk to it.
LIGHTVMD=${LIGHTVMD:-$BUILD/bin/lightvmd}
daemon_start() {
    export LIGHTVM_RUN_DIR=$TMP/run
    export LIGHTVM_SOCKET=$TMP/run/lightvmd.sock
    mkdir -p "$LIGHTVM_RUN_DIR"
    $LIGHTVMD "$@" >>"$TMP/lightvmd.log" 2>&1 &
    DAEMON_PID=$!
    local deadline=$((SECONDS + 20))
    until $LIGHTVM list >/dev/null 2>&1; do
        kill -0 $DAEMON_PID 2>/dev/null || { echo "lightvmd died"; cat "$TMP/lightvmd.log"; return 1; }
        [ $SECONDS -lt $deadline ] || { echo "lightvmd did not come up"; return 1; }
        read -rt 0.02 <> <(:) 2>/dev/null || true
    done
}

# Stop it (SIGTERM: running guests stay, its pool is removed).
daemon_stop() {
    [ -n "${DAEMON_PID:-}" ] || return 0
    kill -TERM $DAEMON_PID 2>/dev/null
    wait $DAEMON_PID 2>/dev/null
    DAEMON_PID=
}

# pool_counter NAME: the pool's counter NAME (made, taken, missed, failed).
pool_counter() {
    $BUILD/tests/tools/apiclient "$LIGHTVM_SOCKET" '{"op":"pool"}' |
        sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"
}

# wait_state GUEST STATE [SECONDS]: until `lightvm list` shows it in STATE.
wait_state() {
    local deadline=$((SECONDS + ${3:-10}))
    until $LIGHTVM list | awk -v id="$1" -v st="$2" '($1 == id || $2 == id) && $3 == st {f=1} END {exit !f}'; do
        [ $SECONDS -lt $deadline ] || { echo "$1 never became $2"; $LIGHTVM list; return 1; }
        read -rt 0.02 <> <(:) 2>/dev/null || true
    done
}

# pool_settle: until the daemon's pool is full and idle (its prepared
# shells hold fds too, so counts compare only between settled pools).
pool_settle() {
    local deadline=$((SECONDS + 60)) p
    while :; do
        p=$($BUILD/tests/tools/apiclient "$LIGHTVM_SOCKET" '{"op":"pool"}')
        echo "$p" | grep -qE '"target":([0-9]+),"ready":\1,"preparing":0' && return 0
        [ $SECONDS -lt $deadline ] || { echo "pool never settled: $p"; return 1; }
        read -rt 0.02 <> <(:) 2>/dev/null || true
    done
}

# ---- Guests through lightvmd ----------------------------------------------

# guest_json GUEST: its entry in `lightvm list --json` (one line).
guest_json() {
    $LIGHTVM list --json "$1" | grep '"id"'
}

# field GUEST KEY: a number or string field of the guest.
field() {
    guest_json "$1" | sed -n "s/.*\"$2\":\"\{0,1\}\([^,\"}]*\).*/\1/p" | head -n 1
}

# wait_ready GUEST: until a Tinyx guest's init reports its app ready
# (BOOT_TIMEOUT seconds, default 180: QEMU may be emulating).
wait_ready() {
    local deadline=$((SECONDS + ${BOOT_TIMEOUT:-180}))
    until guest_json "$1" | grep -q '"ready":true'; do
        if [ $SECONDS -ge $deadline ] || guest_json "$1" | grep -q '"state":"exited"'; then
            echo "$1 never became ready:"
            guest_json "$1"
            $LIGHTVM console "$1" | tail -n 20
            return 1
        fi
        read -rt 0.05 <> <(:) 2>/dev/null || true
    done
}

# ---- Tenants: members of a daemon's API group --------------------------------

TENANT_USERS=
TENANT_GROUP=

# tenants_add GROUP USER...: make GROUP and, in it, each USER with a
# private primary group of its own, no home and no shell; undone by
# tenants_remove (call it on exit).
tenants_add() {
    TENANT_GROUP=$1
    shift
    groupadd "$TENANT_GROUP" || return 1
    local u
    for u; do
        useradd -U -M -d /nonexistent -s /usr/sbin/nologin -G "$TENANT_GROUP" "$u" ||
            return 1
        TENANT_USERS="$TENANT_USERS $u"
    done
}

tenants_remove() {
    local u
    for u in $TENANT_USERS; do
        userdel "$u" 2>/dev/null
        groupdel "$u" 2>/dev/null
    done
    [ -z "$TENANT_GROUP" ] || groupdel "$TENANT_GROUP" 2>/dev/null
}

