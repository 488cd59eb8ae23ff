#!/bin/bash
# test_tenant_owner.sh: lightvmd with two API members who do not trust
# each other, and root. Each guest's run directory and console belong to
# its creator; no member reads, names or manages another's guest (by id,
# id prefix, name or UID/NAME); names are per owner and follow one rule;
# names, image paths and abort messages reach root's terminal escaped.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
API=$BUILD/tests/tools/apiclient
IDLE=$EXAMPLES/idle/idle.elf
HELLO=$EXAMPLES/hello/hello.elf

# Two members of the daemon's --group, each with a private primary group.
GRP=lvmto$$
UA=lvmto$$a
UB=lvmto$$b
trap 'daemon_stop; lib_cleanup; tenants_remove' EXIT
tenants_add "$GRP" "$UA" "$UB" ||
    { echo "cannot add test users"; echo "0 passed, 1 failed"; exit 1; }
UIDA=$(id -u "$UA")
UIDB=$(id -u "$UB")

# as USER CMD...: run CMD as USER, with its groups (the API group too).
as() {
    local u=$1
    shift
    setpriv --reuid="$u" --regid="$(id -g "$u")" --init-groups "$@"
}

# id_of USER NAME: the id of USER's guest NAME (from its own list).
id_of() {
    as "$1" $LIGHTVM list --json | tr '{' '\n' |
        sed -n "s/.*\"id\":\"\([0-9a-f]*\)\",\"name\":\"$2\".*\"owner\":$(id -u "$1"),.*/\1/p"
}

# no_controls FILE: FILE holds no ESC, CR, C1 CSI or other control byte.
no_controls() {
    if LC_ALL=C grep -qP '[\x00-\x08\x0b-\x1f\x7f\x9b]' "$1"; then
        echo "control characters in $1:"
        od -c "$1" | head -n 20
        return 1
    fi
}

# owned_for PATH USER PERMS: root's alone, but for USER's PERMS (a POSIX
# ACL entry; e.g. r-- on a log, --x on a directory), nobody else's.
owned_for() {
    local acl
    [ "$(stat -c '%U %G' "$1")" = "root root" ] || { stat -c '%U %G %a %n' "$1"; return 1; }
    acl=$(getfacl -cp "$1" 2>/dev/null)
    echo "$acl" | grep -qx "user:$2:$3" && echo "$acl" | grep -qx "other::---" &&
        echo "$acl" | grep -qx "group::---" || { echo "$1: $acl"; return 1; }
}

t_same_name() {
    # Names are per owner: both members and root may have `web`.
    as "$UA" $LIGHTVM create --name web $HELLO secret-of-a >/dev/null || return 1
    as "$UB" $LIGHTVM create --name web $HELLO secret-of-b >/dev/null || return 1
    $LIGHTVM create --name web $HELLO secret-of-root >/dev/null || return 1
    # A second of one's own is refused, naming the owner's scope.
    ! as "$UA" $LIGHTVM create --name web $HELLO 2>"$TMP/err" || return 1
    contains "$TMP/err" "you have a guest named 'web'" || return 1
    # Root lists all three, with their owners; a member only its own.
    $LIGHTVM list >"$TMP/list"
    [ "$(grep -c '^[0-9a-f]\{16\}  web ' "$TMP/list")" -eq 3 ] || { cat "$TMP/list"; return 1; }
    head -n 1 "$TMP/list" | grep -q ' OWNER ' || { cat "$TMP/list"; return 1; }
    grep -qE "^[0-9a-f]{16}  web .* $UA +/" "$TMP/list" &&
        grep -qE "^[0-9a-f]{16}  web .* $UB +/" "$TMP/list" &&
        grep -qE "^[0-9a-f]{16}  web .* root +/" "$TMP/list" || { cat "$TMP/list"; return 1; }
    as "$UA" $LIGHTVM list >"$TMP/list_a"
    [ "$(grep -c ' web ' "$TMP/list_a")" -eq 1 ] || { cat "$TMP/list_a"; return 1; }
    # --json has the owner's uid and name.
    $LIGHTVM list --json >"$TMP/json"
    contains "$TMP/json" "\"owner\":$UIDA,\"owner_name\":\"$UA\"" &&
        contains "$TMP/json" "\"owner\":$UIDB,\"owner_name\":\"$UB\"" &&
        contains "$TMP/json" '"owner":0,"owner_name":"root"'
}

t_console_private() {
    local ida idb dira
    ida=$(id_of "$UA" web)
    idb=$(id_of "$UB" web)
    [ -n "$ida" ] && [ -n "$idb" ] || { echo "ids '$ida' '$idb'"; return 1; }
    dira=$LIGHTVM_RUN_DIR/guests/$ida
    wait_for_file_text "$dira/console.log" "secret-of-a" || return 1
    wait_for_file_text "$LIGHTVM_RUN_DIR/guests/$idb/console.log" "secret-of-b" || return 1
    # Root's directory, the creator let through (an ACL) but not to list
    # it; the console root's, the creator's to read and nobody else's;
    # root's own files root's alone.
    owned_for "$dira" "$UA" --x || return 1
    owned_for "$dira/console.log" "$UA" r-- || return 1
    # Not the creator's to write, truncate or replace.
    ! as "$UA" sh -c "echo forged >>'$dira/console.log'" 2>/dev/null ||
        { echo "A wrote its console log"; return 1; }
    ! as "$UA" truncate -s 1G "$dira/console.log" 2>/dev/null ||
        { echo "A truncated its console log"; return 1; }
    ! as "$UA" mv "$dira/console.log" "$dira/x" 2>/dev/null ||
        { echo "A renamed its console log"; return 1; }
    [ "$(stat -c '%U %a' "$dira/config.json")" = "root 600" ] ||
        { stat -c '%U %a' "$dira/config.json"; return 1; }
    [ "$(stat -c '%U %G %a' "$LIGHTVM_RUN_DIR/guests/$(id_of root web)")" = "root root 700" ] ||
        { echo "root's guest directory is not root's alone"; return 1; }
    # The other member: not by path, not through the daemon.
    ! as "$UB" cat "$dira/console.log" 2>/dev/null || { echo "B read A's console file"; return 1; }
    ! as "$UB" ls "$dira" 2>/dev/null || { echo "B listed A's directory"; return 1; }
    ! as "$UB" cat "$dira/config.json" 2>/dev/null || { echo "B read A's config"; return 1; }
    ! as "$UB" $LIGHTVM console "$ida" >"$TMP/b_out" 2>&1 || { echo "B: console by id"; return 1; }
    ! as "$UB" $LIGHTVM console "$UIDA/web" >>"$TMP/b_out" 2>&1 || { echo "B: console UID/NAME"; return 1; }
    ! as "$UB" $LIGHTVM console "$UA/web" >>"$TMP/b_out" 2>&1 || { echo "B: console USER/NAME"; return 1; }
    ! grep -q secret-of-a "$TMP/b_out" || { cat "$TMP/b_out"; return 1; }
    # A bare name is one's own guest.
    as "$UB" $LIGHTVM console web >"$TMP/b_web" || return 1
    contains "$TMP/b_web" secret-of-b && ! grep -q secret-of-a "$TMP/b_web" || return 1
    # The owner reads its own, by path and through `console`.
    as "$UA" cat "$dira/console.log" | grep -q secret-of-a || { echo "A cannot read its console"; return 1; }
    as "$UA" $LIGHTVM console web | grep -q secret-of-a || return 1
    # Root reads all: a bare name is root's own, USER/NAME another's.
    $LIGHTVM console web | grep -q secret-of-root || return 1
    $LIGHTVM console "$UA/web" | grep -q secret-of-a || return 1
    $LIGHTVM console "$UIDB/web" | grep -q secret-of-b
}

t_no_ops_on_others() {
    as "$UA" $LIGHTVM create --name sleepy $IDLE >/dev/null || return 1
    local ida r=0 op ref
    ida=$(id_of "$UA" sleepy)
    [ -n "$ida" ] || return 1
    for op in info pause unpause poweroff suspend destroy wait; do
        for ref in "$ida" "${ida:0:6}" "$UIDA/sleepy" sleepy; do
            as "$UB" $API "$LIGHTVM_SOCKET" "{\"op\":\"$op\",\"id\":\"$ref\"}" \
                >"$TMP/reply" || r=1
            grep -q '"ok":true' "$TMP/reply" && { echo "B: $op $ref succeeded"; r=1; }
            # The same answer as for a guest that does not exist.
            grep -q '"code":"not_found"' "$TMP/reply" || { cat "$TMP/reply"; r=1; }
        done
    done
    for op in console pause destroy; do
        ! as "$UB" $LIGHTVM $op "$UA/sleepy" 2>/dev/null || { echo "B: lightvm $op"; r=1; }
    done
    # An id prefix is looked up among one's own guests only: others' ids
    # do not make it ambiguous.
    as "$UB" $LIGHTVM create --name mine $IDLE >/dev/null || r=1
    local idb
    idb=$(id_of "$UB" mine)
    as "$UB" $API "$LIGHTVM_SOCKET" "{\"op\":\"info\",\"id\":\"${idb:0:4}\"}" |
        grep -q '"ok":true' || { echo "B's own prefix"; r=1; }
    as "$UB" $LIGHTVM destroy mine >/dev/null || r=1
    # A's guest is untouched.
    wait_state "$ida" running || r=1
    return $r
}

t_root_names() {
    # A bare name from root is root's own guest: with none, it reaches no
    # one else's, and the error names the guests root may have meant.
    ! $LIGHTVM pause sleepy 2>"$TMP/err" || { echo "root paused A's guest by a bare name"; return 1; }
    contains "$TMP/err" "no guest 'sleepy' of root's; other users have $UIDA/sleepy" ||
        return 1
    [ "$(wc -l <"$TMP/err")" -eq 1 ] || return 1
    # USER/NAME and UID/NAME reach it.
    local ida
    ida=$(id_of "$UA" sleepy)
    $LIGHTVM pause "$UA/sleepy" && wait_state "$ida" paused || return 1
    $LIGHTVM unpause "$UIDA/sleepy" && wait_state "$ida" running || return 1
    # The owner still manages it by its bare name.
    as "$UA" $LIGHTVM destroy sleepy >/dev/null || return 1
    ! $LIGHTVM list -q | grep -q "$ida"
}

t_member_escapes() {
    # The escape battery, as a member, through lightvmd, under each
    # monitor this host runs: every attack killed and named, every
    # harmless call refused with an errno.
    local m a r=0 out
    for m in proc kvm; do
        if [ $m = kvm ] && ! as "$UA" $LIGHTVM run --monitor kvm $TGUESTS/exitcode.elf 0 \
            >/dev/null 2>&1; then
            echo "kvm: not on this host"
            continue
        fi
        for a in socket-raw clone-newns execve mount unshare ptrace bpf \
            io_uring userfaultfd keyctl x32; do
            out=$(as "$UA" $LIGHTVM run --monitor $m $TGUESTS/escape.elf $a 2>&1)
            local rc=$?
            if [ $rc -ne 159 ] || echo "$out" | grep -q ESCAPED ||
                ! echo "$out" | grep -q "forbidden"; then
                echo "$m $a: status $rc: $out"
                r=1
            fi
        done
        # Harmless calls are refused inside the guest, which goes on
        # (open is served: the guest's own file tree, test_escape.sh).
        for a in socket fork clone; do
            out=$(as "$UA" $LIGHTVM run --monitor $m $TGUESTS/escape.elf $a 2>&1)
            local rc=$?
            if [ $rc -ne 0 ] || ! echo "$out" | grep -q "not served, returned E"; then
                echo "$m $a: status $rc: $out"
                r=1
            fi
        done
    done
    return $r
}

t_no_magic_links() {
    # /proc/self/... in a client's path names the daemon's own fds and
    # files: refused, whoever asks (an image template of another user's
    # was readable this way). Sent raw: the CLI resolves paths itself.
    local r=0 fd path req n0
    n0=$(as "$UA" $LIGHTVM list -q | wc -l)
    : >"$TMP/magic"
    for fd in 0 3 5 9; do
        for path in "/proc/self/fd/$fd" "/proc/self/root$(realpath "$IDLE")" "/dev/fd/$fd"; do
            for req in "{\"op\":\"create\",\"image\":\"$path\"}" \
                "{\"op\":\"create\",\"image\":\"$TGUESTS/blockdev.elf\",\"block\":[{\"name\":\"disk0\",\"path\":\"$path\",\"readonly\":true}]}"; do
                as "$UA" $API "$LIGHTVM_SOCKET" "$req" >>"$TMP/magic"
            done
        done
    done
    cat "$TMP/magic"
    ! grep -q '"ok":true' "$TMP/magic" || { echo "a magic link was followed"; r=1; }
    [ "$(grep -c 'magic links' "$TMP/magic")" -eq 24 ] || r=1
    [ "$(as "$UA" $LIGHTVM list -q | wc -l)" -eq "$n0" ] || r=1
    return $r
}

t_name_rule() {
    local name r=0 long
    long=$(printf 'a%.0s' $(seq 64))
    for name in $'web\e[31m' $'web\r' $'web\nforged' 'alice/web' "$long" '-web' '.web' ''; do
        # The CLI says so before sending...
        if $LIGHTVM create --name "$name" $IDLE 2>"$TMP/err" >/dev/null; then
            echo "CLI accepted '$name'"
            r=1
        fi
        grep -q "1 to 63 characters of A-Z a-z 0-9 . _ -, the first a letter or digit" \
            "$TMP/err" && [ "$(wc -l <"$TMP/err")" -eq 1 ] || { cat "$TMP/err"; r=1; }
        no_controls "$TMP/err" || r=1
        # ...and the daemon, to any client.
        local json
        json=$(printf '%s' "$name" | python3 -c 'import json,sys; print(json.dumps(sys.stdin.read()))')
        as "$UA" $API "$LIGHTVM_SOCKET" "{\"op\":\"create\",\"image\":\"$IDLE\",\"name\":$json}" \
            >"$TMP/reply" || r=1
        grep -q '"ok":true' "$TMP/reply" && { echo "daemon accepted '$name'"; r=1; }
        grep -q '"code":"bad_request".*field .name. must be 1 to 63 characters of A-Z' "$TMP/reply" ||
            { cat "$TMP/reply"; r=1; }
    done
    # The longest that follows the rule is fine.
    $LIGHTVM create --name "${long:1}" $IDLE >/dev/null || r=1
    $LIGHTVM destroy "${long:1}" >/dev/null || r=1
    return $r
}

t_escaped_image_path() {
    # An image path with an escape sequence and a LF, from a member.
    local dir=$TMP/imgs evil
    mkdir -p "$dir" && chmod 755 "$dir"
    evil="$dir/"$'evil\e[31mred\nline.elf'
    cp $IDLE "$evil" && chmod 644 "$evil" || return 1
    as "$UA" $LIGHTVM create "$evil" >"$TMP/id" 2>"$TMP/err" || { cat "$TMP/err"; return 1; }
    local id r=0
    id=$(cat "$TMP/id")
    # Its default name follows the rule, made from the file's name.
    $LIGHTVM list --json "$id" >"$TMP/json" || return 1
    grep -q "\"name\":\"evil__31mred_line-${id:0:6}\"" "$TMP/json" || { cat "$TMP/json"; r=1; }
    # root's list shows it escaped: one line, no ESC, no LF.
    $LIGHTVM list >"$TMP/list" || r=1
    no_controls "$TMP/list" || r=1
    contains "$TMP/list" 'evil\x1b[31mred\x0aline.elf' || r=1
    [ "$(grep -c "^$id " "$TMP/list")" -eq 1 ] || { cat "$TMP/list"; r=1; }
    $LIGHTVM stats "$id" >"$TMP/stats" && no_controls "$TMP/stats" || r=1
    $LIGHTVM top -n 1 >"$TMP/top" && no_controls "$TMP/top" || r=1
    # JSON is escaped by JSON's own rules.
    grep -qiF 'evil\u001b[31mred\nline.elf' "$TMP/json" || { cat "$TMP/json"; r=1; }
    # inspect prints the path escaped too.
    $LIGHTVM inspect "$evil" >"$TMP/inspect" || r=1
    no_controls "$TMP/inspect" && contains "$TMP/inspect" 'evil\x1b[31mred\x0aline.elf' || r=1
    # Errors that echo it: the daemon's and the CLI's messages.
    $LIGHTVM create -b disk0="$evil.missing" $IDLE >/dev/null 2>"$TMP/err" && r=1
    no_controls "$TMP/err" && [ "$(wc -l <"$TMP/err")" -eq 1 ] || { cat "$TMP/err"; r=1; }
    as "$UA" $LIGHTVM destroy "$id" >/dev/null || r=1
    return $r
}

t_abort_message_escaped() {
    # A guest's abort message (its status page) is its own text.
    local r=0 id
    id=$(as "$UA" $LIGHTVM create $TGUESTS/hostile_text.elf) || return 1
    as "$UA" $LIGHTVM wait "$id" >"$TMP/wait"
    no_controls "$TMP/wait" || r=1
    contains "$TMP/wait" 'pwned\x1b[2J\x1b[31mred\x0dover\x0aforged: \xc2\x9b0m' || r=1
    [ "$(wc -l <"$TMP/wait")" -eq 1 ] || { cat "$TMP/wait"; r=1; }
    $LIGHTVM list "$id" >"$TMP/list" && no_controls "$TMP/list" || r=1
    as "$UA" $LIGHTVM destroy "$id" >/dev/null || r=1
    # `run` through the daemon says how it ended on stderr.
    as "$UA" $LIGHTVM run $TGUESTS/hostile_text.elf >"$TMP/run.out" 2>"$TMP/run.err"
    no_controls "$TMP/run.err" || r=1
    contains "$TMP/run.err" 'pwned\x1b[2J' || r=1
    contains "$TMP/run.out" "hostile_text: aborting" || r=1
    return $r
}

t_restart_restores_ownership() {
    # A guest recorded by an older daemon (its directory and console the
    # whole API group's, its name raw in config.json) is confined again by
    # the next daemon, and its name reaches root's terminal escaped.
    as "$UA" $LIGHTVM create --name old $IDLE >/dev/null || return 1
    local ida dira
    ida=$(id_of "$UA" old)
    dira=$LIGHTVM_RUN_DIR/guests/$ida
    wait_for_file_text "$dira/console.log" "waiting for poweroff" || return 1
    kill -9 "$DAEMON_PID" && wait "$DAEMON_PID" 2>/dev/null
    DAEMON_PID=
    setfacl -b "$dira" && chgrp "$GRP" "$dira" "$dira/console.log" &&
        chmod 750 "$dira" &&
        setfacl -b "$dira/console.log" && chmod 640 "$dira/console.log" &&
        chown root "$dira/console.log" &&
        chmod 644 "$dira/config.json" || return 1
    python3 - "$dira/config.json" <<'EOF' || return 1
import json, sys
c = json.load(open(sys.argv[1]))
c["name"] = "old\x1b[31m\rname"
del c["owner_gid"]
json.dump(c, open(sys.argv[1], "w"))
EOF
    as "$UB" cat "$dira/console.log" >/dev/null 2>&1 || { echo "the old layout was not reproduced"; return 1; }
    daemon_start --group "$GRP" --pool 16M=4 || return 1
    local r=0
    ! as "$UB" cat "$dira/console.log" 2>/dev/null || { echo "B still reads it"; r=1; }
    as "$UA" cat "$dira/console.log" | grep -q "waiting for poweroff" || { echo "A cannot"; r=1; }
    owned_for "$dira" "$UA" --x || r=1
    owned_for "$dira/console.log" "$UA" r-- || r=1
    [ "$(stat -c '%a' "$dira/config.json")" = 600 ] || r=1
    $LIGHTVM list >"$TMP/list" && no_controls "$TMP/list" || r=1
    contains "$TMP/list" 'old\x1b[31m\x0dname' || r=1
    as "$UA" $LIGHTVM destroy "$ida" >/dev/null || r=1
    no_controls "$TMP/lightvmd.log" || r=1
    return $r
}

t_qemu_files() {
    # A qemu guest's console, QEMU's log and the init's reports are files
    # QEMU writes through fds the daemon made the creator's before QEMU
    # starts (QEMU's own uid may not open them).
    local id dir r=0 f
    id=$(as "$UA" $LIGHTVM create --monitor qemu "$TMP/tx") || return 1
    dir=$LIGHTVM_RUN_DIR/guests/$id
    as "$UA" $LIGHTVM wait "$id" >/dev/null
    contains "$dir/console.log" qemu-secret-of-a || r=1
    owned_for "$dir" "$UA" --x || r=1
    for f in console.log qemu.log ctl.log; do
        owned_for "$dir/$f" "$UA" r-- || r=1
        ! as "$UA" truncate -s 8E "$dir/$f" 2>/dev/null || { echo "A truncated $f"; r=1; }
        ! as "$UB" cat "$dir/$f" 2>/dev/null || { echo "B read $f"; r=1; }
    done
    as "$UA" $LIGHTVM console "$id" | grep -q qemu-secret-of-a || r=1
    ! as "$UB" $LIGHTVM console "$id" 2>/dev/null || r=1
    as "$UA" $LIGHTVM destroy "$id" >/dev/null || r=1
    return $r
}

t_cleanup() {
    $LIGHTVM destroy web "$UA/web" "$UB/web" >/dev/null || return 1
    [ -z "$($LIGHTVM list -q)" ] || { $LIGHTVM list; return 1; }
    daemon_stop
    no_new_leftovers
}

daemon_start --group "$GRP" --pool 16M=4 || { echo "0 passed, 1 failed"; exit 1; }
check same_name t_same_name
check console_private t_console_private
check no_ops_on_others t_no_ops_on_others
check root_names t_root_names
check member_escapes t_member_escapes
check no_magic_links t_no_magic_links
check name_rule t_name_rule
check escaped_image_path t_escaped_image_path
check abort_message_escaped t_abort_message_escaped
check restart_restores_ownership t_restart_restores_ownership
if ! command -v qemu-system-x86_64 >/dev/null; then
    skip qemu_files "no qemu-system-x86_64"
elif ! $LIGHTVM tinyx build -q -z gzip:1 sh --cmd "sh -c 'echo qemu-secret-of-a'" \
    -o "$TMP/tx" >"$TMP/tx.log" 2>&1; then
    skip qemu_files "no Tinyx image: $(tail -n 1 "$TMP/tx.log")"
else
    chmod -R a+rX "$TMP/tx"
    check qemu_files t_qemu_files
fi
check cleanup t_cleanup
finish
