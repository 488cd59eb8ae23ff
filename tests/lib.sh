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
trap 'rm -rf "$TMP"' EXIT
PASSED=0
FAILED=0

# check NAME CMD...: run CMD, output to $TMP/NAME.log, PASS if it succeeds.
check() {
    local name=$1
    shift
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

# Guest processes and cgroups that exist now; no_new_leftovers compares
# against this snapshot, so guests of other runs on the host do not count.
lightvm_state() {
    {
        pgrep -f '^lightvm-shell' | sort
        find /sys/fs/cgroup -mindepth 2 -maxdepth 3 -path '*lightvm/*' -type d 2>/dev/null | sort
    }
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
