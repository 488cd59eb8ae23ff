#!/bin/bash
# test_tinyx_exec.sh: a command, environment and volumes given to a Tinyx
# guest at create time (lightvm run/create -e NAME=VALUE -v FILE:PATH IMAGE
# COMMAND...), and `lightvm exec` into a running one, through the real
# lightvm and lightvmd: volumes read-only and writable (what the guest
# wrote read back from the image on the host), refused when they cannot
# be (a directory, a bad path, a proc guest, a file the client cannot
# open, a save);
# stdout and stderr kept apart, stdin with -i (a megabyte through cat,
# byte for byte), exit statuses (the command's, 128+signal, 126, 127),
# -e, -w and -u, a client killed mid-command (its command is killed and
# the next exec runs), refusals (paused, a proc guest, another user's
# guest, an image built before these existed), each with one line.
#
# Kernel: whatever `tinyx build` picks (TINYX_TEST_KERNEL=stock forces
# Debian's). Waits are on events: replies, console lines, exits.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
GRP=lvmtx$$
UA=lvmtx$$a
trap 'daemon_stop; lib_cleanup; tenants_remove' EXIT
tenants_add "$GRP" "$UA" ||
    { echo "cannot add test users"; echo "0 passed, 1 failed"; exit 1; }

# as USER CMD...: run CMD as USER, with its groups (the API group too).
as() {
    local u=$1
    shift
    setpriv --reuid="$u" --regid="$(id -g "$u")" --init-groups "$@"
}

KERNEL=${TINYX_TEST_KERNEL:-auto}
LIGHTVMD=${LIGHTVMD:-$BUILD/bin/lightvmd}
IMG=$TMP/img

# one_line_error FILE WANT: FILE holds exactly one line, "lightvm: ...WANT..."
one_line_error() {
    cat "$1"
    [ "$(wc -l <"$1")" -eq 1 ] || { echo "expected one line"; return 1; }
    grep -q '^lightvm: ' "$1" && contains "$1" "$2"
}

# wait_console GUEST TEXT: until the guest's console shows TEXT (follows
# the log; no polling loop of ours).
wait_console() {
    timeout 120 $LIGHTVM logs -f "$1" 2>/dev/null | grep -q -m1 -- "$2"
}

t_build() {
    # sh with coreutils, whose command sleeps: a guest that stays up.
    "$LIGHTVM" tinyx build -q --kernel "$KERNEL" -z gzip:1 sh -p coreutils \
        -c '/usr/bin/sleep infinity' -o "$IMG" &&
        grep -q '"exec"' "$IMG/manifest.json"
}

t_run_command_env() {
    # A command after the image and -e, without the daemon: the image's
    # command is replaced, the variable set, the status passed on.
    local rc=0
    timeout 180 $LIGHTVM run --monitor qemu -e GREETING='hello there' \
        -e PATH=/usr/bin:/bin "$IMG" /usr/bin/sh -c \
        'echo "greeting=$GREETING"; exit 7' >"$TMP/run.out" 2>&1 || rc=$?
    cat "$TMP/run.out"
    [ $rc -eq 7 ] && grep -q 'greeting=hello there' "$TMP/run.out"
}

t_old_image_refused() {
    # An image whose init cannot take them says so, in one line.
    cp -r "$IMG" "$TMP/old"
    python3 - "$TMP/old/manifest.json" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
del m["init_features"]
json.dump(m, open(sys.argv[1], "w"))
EOF
    ! $LIGHTVM run --monitor qemu -e A=1 "$TMP/old" 2>"$TMP/old.err" &&
        one_line_error "$TMP/old.err" "built before"
}

t_volumes_cold() {
    # -v without the daemon: read-only (writes fail in the guest), then
    # writable (what the guest wrote is in the image afterwards).
    mkdir -p "$TMP/vsrc" && echo "hello volume" >"$TMP/vsrc/greeting.txt"
    mke2fs -q -t ext4 -d "$TMP/vsrc" "$TMP/vol.img" 16M || return 1
    timeout 180 $LIGHTVM run --monitor qemu -v "$TMP/vol.img:/data:ro" "$IMG" \
        /usr/bin/sh -c 'cat /data/greeting.txt; echo x >/data/new || echo refused' \
        >"$TMP/v1.out" 2>&1
    cat "$TMP/v1.out"
    grep -q 'hello volume' "$TMP/v1.out" && grep -q refused "$TMP/v1.out" ||
        return 1
    timeout 180 $LIGHTVM run --monitor qemu -v "$TMP/vol.img:/data" "$IMG" \
        /usr/bin/sh -c 'echo written-in-guest >/data/out.txt' >/dev/null 2>&1
    [ "$(debugfs -R 'cat /out.txt' "$TMP/vol.img" 2>/dev/null)" = written-in-guest ]
}

t_volumes_refused() {
    local rc=0
    $LIGHTVM run --monitor qemu -v "$TMP/vsrc:/data" "$IMG" 2>"$TMP/d.err" || rc=$?
    [ $rc -eq 125 ] && one_line_error "$TMP/d.err" "is a directory" || return 1
    rc=0
    $LIGHTVM run --monitor qemu -v "$TMP/vol.img:data" "$IMG" 2>"$TMP/t.err" || rc=$?
    [ $rc -eq 2 ] && one_line_error "$TMP/t.err" "not an absolute path" || return 1
    rc=0
    $LIGHTVM run --monitor qemu -v "$TMP/vol.img:/proc/x" "$IMG" 2>"$TMP/p.err" || rc=$?
    [ $rc -eq 2 ] && one_line_error "$TMP/p.err" "under /proc" || return 1
    rc=0
    head -c 1M /dev/zero >"$TMP/blank.img"
    $LIGHTVM run --monitor qemu -v "$TMP/blank.img:/data" "$IMG" 2>"$TMP/b.err" || rc=$?
    [ $rc -eq 125 ] && one_line_error "$TMP/b.err" "no ext4 or erofs filesystem" ||
        return 1
    rc=0
    $LIGHTVM run --no-daemon -v "$TMP/vol.img:/data" "$EXAMPLES/hello/hello.elf" \
        2>"$TMP/u.err" || rc=$?
    [ $rc -eq 2 ] && one_line_error "$TMP/u.err" "--block"
}

t_daemon_up() {
    daemon_start --group "$GRP"
}

t_create_with_env() {
    $LIGHTVM create --monitor qemu --name ex -e MARK=from-create "$IMG" \
        /usr/bin/sh -c 'echo "mark=$MARK"; exec /usr/bin/sleep infinity' \
        >"$TMP/ex.id" &&
        wait_console ex 'mark=from-create'
}

t_exec_streams_and_status() {
    local rc=0
    $LIGHTVM exec ex /usr/bin/sh -c 'echo out; echo err >&2; exit 3' \
        >"$TMP/o" 2>"$TMP/e" || rc=$?
    echo "rc=$rc out=$(cat "$TMP/o") err=$(cat "$TMP/e")"
    [ $rc -eq 3 ] && [ "$(cat "$TMP/o")" = out ] && [ "$(cat "$TMP/e")" = err ]
}

t_exec_env_workdir_user() {
    # The guest's own environment (create's -e), exec's -e over it, -w,
    # -u as a number (no such account needed).
    $LIGHTVM exec -e EXTRA=x1 -w /tmp -u 1234:4321 ex /usr/bin/sh -c \
        'echo "$MARK $EXTRA $(pwd) $(id -u):$(id -g)"' >"$TMP/o" || return 1
    cat "$TMP/o"
    [ "$(cat "$TMP/o")" = "from-create x1 /tmp 1234:4321" ]
}

t_exec_stdin() {
    # -i: stdin reaches the command, all of it, in order (a megabyte
    # through cat, which writes back while it reads).
    head -c 1000000 /dev/urandom >"$TMP/in"
    $LIGHTVM exec -i ex /usr/bin/cat <"$TMP/in" >"$TMP/back" || return 1
    cmp "$TMP/in" "$TMP/back" &&
        # without -i it reads end-of-file at once
        [ "$(echo ignored | $LIGHTVM exec ex /usr/bin/wc -c)" = 0 ]
}

t_exec_not_found() {
    local rc=0
    $LIGHTVM exec ex /no/such/cmd 2>"$TMP/nf.err" || rc=$?
    [ $rc -eq 127 ] && one_line_error "$TMP/nf.err" "/no/such/cmd" || return 1
    rc=0
    $LIGHTVM exec -w /no/dir ex /usr/bin/true 2>"$TMP/wd.err" || rc=$?
    [ $rc -eq 126 ] && one_line_error "$TMP/wd.err" "/no/dir" || return 1
    rc=0
    $LIGHTVM exec -u nosuchuser ex /usr/bin/true 2>"$TMP/u.err" || rc=$?
    [ $rc -eq 126 ] && one_line_error "$TMP/u.err" "nosuchuser"
}

t_exec_signal_status() {
    # Killed by a signal inside the guest: 128+N, as a shell says.
    local rc=0
    $LIGHTVM exec ex /usr/bin/sh -c 'kill -TERM $$' || rc=$?
    [ $rc -eq 143 ]
}

t_exec_client_killed() {
    # The client dies mid-command: its command is killed in the guest, and
    # the next exec runs at once (not behind it).
    $LIGHTVM exec ex /usr/bin/sh -c 'echo $$ >/tmp/victim; echo started; exec /usr/bin/sleep 1000' \
        >"$TMP/v.out" &
    local cpid=$!
    local deadline=$((SECONDS + 60))
    until grep -q started "$TMP/v.out" 2>/dev/null; do
        [ $SECONDS -lt $deadline ] || return 1
        read -rt 0.05 <> <(:) 2>/dev/null || true
    done
    kill -9 $cpid
    wait $cpid 2>/dev/null
    local out
    out=$(timeout 60 $LIGHTVM exec ex /usr/bin/sh -c \
        'p=$(cat /tmp/victim); for i in 1 2 3 4 5 6 7 8 9 10; do kill -0 $p 2>/dev/null || { echo gone; exit 0; }; sleep 0.2; done; echo alive')
    echo "$out"
    [ "$out" = gone ]
}

t_exec_refusals() {
    $LIGHTVM pause ex || return 1
    ! $LIGHTVM exec ex /usr/bin/true 2>"$TMP/p.err" &&
        one_line_error "$TMP/p.err" "is paused" || return 1
    $LIGHTVM unpause ex || return 1
    [ "$($LIGHTVM exec ex /usr/bin/echo back)" = back ] || return 1
    # a proc guest: a unikernel is one program
    $LIGHTVM create --name up "$EXAMPLES/hello/hello.elf" >/dev/null 2>&1
    if $LIGHTVM list -a -q | grep -q .; then
        ! $LIGHTVM exec up /bin/true 2>"$TMP/u.err" &&
            one_line_error "$TMP/u.err" "exec is for Tinyx guests" ||
            return 1
    fi
    $LIGHTVM destroy up >/dev/null 2>&1
    # -t is not offered (no terminal)
    local rc=0
    $LIGHTVM exec -t ex /usr/bin/true 2>"$TMP/t.err" || rc=$?
    [ $rc -eq 2 ] && one_line_error "$TMP/t.err" "without a terminal"
}

t_exec_other_user() {
    # A member of the API group: not into root's guest (it does not even
    # see it), but into its own, with the channel passed to it.
    ! as "$UA" $LIGHTVM exec ex /usr/bin/true 2>"$TMP/o.err" &&
        one_line_error "$TMP/o.err" "no guest 'ex'" || return 1
    as "$UA" $LIGHTVM create --monitor qemu --name mine "$IMG" >/dev/null ||
        return 1
    local out
    out=$(as "$UA" $LIGHTVM exec mine /usr/bin/id -u) || return 1
    as "$UA" $LIGHTVM destroy mine >/dev/null
    echo "in the guest: uid $out"
    [ "$out" = 0 ] # the guest's own root: nothing of the host's
}

t_volumes_daemon() {
    # Through lightvmd: a writable volume, written by an exec'd command;
    # its guest cannot be saved (the disk is not in the state); a member
    # cannot attach a file it could not open itself.
    $LIGHTVM create --monitor qemu --name vg -v "$TMP/vol.img:/srv/vol" "$IMG" \
        >/dev/null || return 1
    [ "$($LIGHTVM exec vg /usr/bin/cat /srv/vol/greeting.txt)" = "hello volume" ] &&
        $LIGHTVM exec vg /usr/bin/sh -c 'echo from-exec >/srv/vol/exec.txt && sync' ||
        { $LIGHTVM list -a; $LIGHTVM logs vg; cat "$LIGHTVM_RUN_DIR"/guests/*/ctl.log; return 1; }
    ! $LIGHTVM save vg "$TMP/vg.state" 2>"$TMP/s.err" &&
        one_line_error "$TMP/s.err" "has volumes" || return 1
    # No second guest on a volume another one writes.
    ! $LIGHTVM create --monitor qemu --name vg2 -v "$TMP/vol.img:/data:ro" "$IMG" \
        2>"$TMP/busy.err" && one_line_error "$TMP/busy.err" "in use by another guest" ||
        return 1
    $LIGHTVM destroy vg >/dev/null || return 1
    [ "$(debugfs -R 'cat /exec.txt' "$TMP/vol.img" 2>/dev/null)" = from-exec ] ||
        return 1
    # A member's own file: read-only only (a writable one would be a loop
    # device over a file the member crafts).
    cp "$TMP/vol.img" "$TMP/mine.img" && chown "$UA" "$TMP/mine.img" || return 1
    ! as "$UA" $LIGHTVM create --monitor qemu -v "$TMP/mine.img:/data" "$IMG" \
        2>"$TMP/rw.err" && one_line_error "$TMP/rw.err" "attach it read-only" ||
        return 1
    chmod 600 "$TMP/vol.img"
    ! as "$UA" $LIGHTVM create --monitor qemu -v "$TMP/vol.img:/data" "$IMG" \
        2>"$TMP/m.err" && one_line_error "$TMP/m.err" "vol.img" &&
        [ -z "$(as "$UA" $LIGHTVM list -q)" ]
}

t_cleanup() {
    # The guest gone, then the daemon (its pool of shells with it):
    # nothing of this suite's is left.
    $LIGHTVM destroy ex >/dev/null && daemon_stop && no_new_leftovers
}

check build t_build
check run_command_env t_run_command_env
check old_image_refused t_old_image_refused
check volumes_cold t_volumes_cold
check volumes_refused t_volumes_refused
check daemon_up t_daemon_up
check create_with_env t_create_with_env
check exec_streams_and_status t_exec_streams_and_status
check exec_env_workdir_user t_exec_env_workdir_user
check exec_stdin t_exec_stdin
check exec_not_found t_exec_not_found
check exec_signal_status t_exec_signal_status
check exec_client_killed t_exec_client_killed
check exec_refusals t_exec_refusals
check exec_other_user t_exec_other_user
check volumes_daemon t_volumes_daemon
check cleanup t_cleanup
finish
