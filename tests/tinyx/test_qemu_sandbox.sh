#!/bin/bash
# test_qemu_sandbox.sh: QEMU confined like a shell (docs/security.md,
# "QEMU's sandbox"), checked on running guests' QEMUs from the outside:
# its uid and gid (its own, in the guests' id range), no capabilities,
# no_new_privs, its seccomp filter, its namespaces, a root without the
# host's files that it cannot write, only the fds it was handed, a
# private image booted from a copy, no port below 1024 even for root,
# and the same confinement for `lightvm run` without the daemon.
#
# Waits are on events: the daemon's replies, the guest's ready flag, a
# TCP answer, QEMU's process appearing.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
trap 'daemon_stop; lib_cleanup' EXIT

BOOT_TIMEOUT=${TINYX_TEST_BOOT_TIMEOUT:-180}
UID_BASE=$((${LIGHTVM_UID_BASE:-0x40000000}))
PID_MAX=$(cat /proc/sys/kernel/pid_max)

host_port() { guest_json "$1" | sed -n 's/.*"host":\([0-9]*\),"guest":6379.*/\1/p'; }

ping_guest() { # GUEST: redis answers PONG through its forwarded port
    local reply
    exec 3<>"/dev/tcp/127.0.0.1/$(host_port "$1")" || return 1
    printf 'PING\r\n' >&3
    read -r -t 10 reply <&3
    exec 3<&-
    [[ $reply == "+PONG"* ]] || { echo "reply '$reply'"; return 1; }
}

status() { # PID KEY: a line's value in /proc/PID/status
    sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status"
}

# ---- guests ------------------------------------------------------------

t_build_image() {
    "$LIGHTVM" tinyx build -q -z gzip:1 redis-server -o "$TMP/redis" &&
        # The same image only its owner may read: QEMU's uid may not.
        cp -r "$TMP/redis" "$TMP/private" && chmod 600 "$TMP/private/"*.gz
}

t_guests_ready() {
    $LIGHTVM create --monitor qemu -p 0:6379 --name a "$TMP/redis" >/dev/null &&
        $LIGHTVM create --monitor qemu -p 0:6379 --name b "$TMP/redis" >/dev/null &&
        wait_ready a && wait_ready b && ping_guest a && ping_guest b
}

# ---- who QEMU is ---------------------------------------------------------

t_ids() {
    # uid and gid (real, effective, saved, fs): base + its pid, each
    # QEMU its own, never root.
    local g pid id
    for g in a b; do
        pid=$(field $g pid)
        echo "$g: QEMU $pid: Uid $(status "$pid" Uid), Gid $(status "$pid" Gid), Groups '$(status "$pid" Groups)'"
        id=$((UID_BASE + pid))
        [ "$(status "$pid" Uid | tr -s '\t ' ' ')" = "$id $id $id $id" ] || return 1
        [ "$(status "$pid" Gid | tr -s '\t ' ' ')" = "$id $id $id $id" ] || return 1
        [ -z "$(status "$pid" Groups)" ] || return 1
        [ "$id" -ne 0 ] && [ "$id" -ge "$UID_BASE" ] &&
            [ "$id" -lt $((UID_BASE + PID_MAX)) ] || return 1
    done
    [ "$(status "$(field a pid)" Uid)" != "$(status "$(field b pid)" Uid)" ]
}

t_privileges() {
    local pid k
    pid=$(field a pid)
    grep -E '^(Cap|NoNewPrivs|Seccomp)' "/proc/$pid/status"
    for k in CapInh CapPrm CapEff CapBnd CapAmb; do
        [ "$(status "$pid" $k)" = 0000000000000000 ] || return 1
    done
    # QEMU's own filter (-sandbox) is loaded, on every thread
    [ "$(status "$pid" NoNewPrivs)" = 1 ] && [ "$(status "$pid" Seccomp)" = 2 ] ||
        return 1
    local task
    for task in /proc/"$pid"/task/*; do
        grep -q '^Seccomp:[[:space:]]*2$' "$task/status" || { echo "$task"; return 1; }
    done
}

t_namespaces() {
    # mount, pid, ipc, uts and cgroup of its own; the host's network
    # (user-mode networking listens there for the forwarded port).
    local pid ns
    pid=$(field a pid)
    for ns in mnt pid ipc uts cgroup; do
        echo "$ns: $(readlink "/proc/$pid/ns/$ns") (ours $(readlink /proc/self/ns/$ns))"
        [ "$(readlink "/proc/$pid/ns/$ns")" != "$(readlink /proc/self/ns/$ns)" ] ||
            return 1
    done
    [ "$(readlink "/proc/$pid/ns/net")" = "$(readlink /proc/self/ns/net)" ] || return 1
    # pid 1 of its namespace
    [ "$(status "$pid" NSpid | awk '{print $NF}')" = 1 ] &&
        [ "$(readlink "/proc/$pid/ns/mnt")" != "$(readlink "/proc/$(field b pid)/ns/mnt")" ]
}

t_root() {
    # Its root holds /usr, the loader's directories, three devices and
    # the boot files; none of the host's files, and it is read-only.
    local pid root kernel
    pid=$(field a pid)
    root=/proc/$pid/root
    ls -la "$root/" "$root/dev/"
    [ ! -e "$root/etc/shadow" ] && [ ! -e "$root/etc" ] && [ ! -e "$root/home" ] &&
        [ ! -e "$root/run" ] && [ ! -e "$root/proc/self" ] && [ ! -e "$root/tmp" ] ||
        return 1
    [ -x "$root/usr/bin/qemu-system-x86_64" ] || return 1
    [ "$(ls "$root/dev" | tr '\n' ' ')" = "null urandom " ] ||
        [ "$(ls "$root/dev" | tr '\n' ' ')" = "kvm null urandom " ] || return 1
    # The guest's run directory and the daemon's socket are not there.
    [ ! -e "$root$LIGHTVM_RUN_DIR" ] || return 1
    # Even root cannot write there.
    if touch "$root/new-file" 2>/dev/null || touch "$root/usr/new-file" 2>/dev/null; then
        echo "QEMU's root is writable"
        return 1
    fi
    # The kernel and initramfs: the very files the image names.
    kernel=$(sed -n 's/.*"path": "\(.*\)".*/\1/p' "$TMP/redis/manifest.json")
    [ "$(stat -L -c %d:%i "$root/kernel")" = "$(stat -L -c %d:%i "$kernel")" ] &&
        [ "$(stat -L -c %d:%i "$root/initrd")" = \
            "$(stat -L -c %d:%i "$TMP/redis/initramfs.cpio.gz")" ]
}

t_fds() {
    # Only what it was handed at exec (0 /dev/null, 1-2 qemu.log, the
    # console, the control channel's and QMP's sockets, the control
    # channel's log; QEMU renumbers the fd sets) and what QEMU made itself
    # (dups of those, accepted sockets, eventfds, signalfd, pipes). No
    # kernel or initramfs, nothing else of the daemon's.
    local pid dir fd target r=0 files=""
    pid=$(field a pid)
    dir=$LIGHTVM_RUN_DIR/guests/$(field a id)
    for fd in /proc/"$pid"/fd/*; do
        target=$(readlink "$fd")
        echo "${fd##*/} -> $target"
        case $target in
        /dev/null | "$dir/qemu.log" | "$dir/console.log" | "$dir/ctl.log")
            files="$files ${target##*/}" ;;
        socket:\[*\] | pipe:\[*\] | anon_inode:*) ;;
        /dev/kvm | /dev/urandom) ;;
        *) echo "unexpected fd ${fd##*/}: $target"; r=1 ;;
        esac
    done
    [ "$(readlink "/proc/$pid/fd/0")" = /dev/null ] &&
        [ "$(readlink "/proc/$pid/fd/1")" = "$dir/qemu.log" ] &&
        [ "$(readlink "/proc/$pid/fd/2")" = "$dir/qemu.log" ] || r=1
    [[ $files == *console.log* && $files == *ctl.log* ]] || { echo "files:$files"; r=1; }
    return $r
}

t_private_image() {
    # An initramfs only root may read is booted all the same, from a
    # copy in QEMU's root: QEMU's uid could not open the file.
    $LIGHTVM create --monitor qemu -p 0:6379 --name p "$TMP/private" >/dev/null &&
        wait_ready p && ping_guest p || return 1
    local root=/proc/$(field p pid)/root
    [ "$(stat -L -c %d:%i "$root/initrd")" != \
        "$(stat -L -c %d:%i "$TMP/private/initramfs.cpio.gz")" ] &&
        cmp "$root/initrd" "$TMP/private/initramfs.cpio.gz" &&
        $LIGHTVM destroy p >/dev/null
}

t_save_restore() {
    # Save: QEMU writes its stream into the state file's temporary through
    # an fd passed over QMP; restore: it reads the stream from an fd of
    # the state file. QEMU opens neither. The saved guest is gone; the
    # restored one runs as a user of its own.
    local id
    $LIGHTVM save b "$TMP/b.state" && [ -s "$TMP/b.state" ] &&
        [ -z "$(field b id)" ] || return 1
    id=$($LIGHTVM restore "$TMP/b.state" --name c) || return 1
    wait_ready c && ping_guest c || return 1
    [ "$(status "$(field c pid)" Uid | awk '{print $1}')" = $((UID_BASE + $(field c pid))) ] &&
        $LIGHTVM destroy c >/dev/null
}

t_low_port_refused() {
    # QEMU cannot listen below 1024: a forward there is refused in one
    # line even for root, and nothing is left. (Members are refused such
    # ports by the daemon's policy before: test_tenant_net.sh.)
    local before
    before=$($LIGHTVM list -q | sort)
    expect_status 125 $LIGHTVM create --monitor qemu -p 80:6379 "$TMP/redis" \
        2>"$TMP/low.err" || return 1
    cat "$TMP/low.err"
    [ "$(wc -l <"$TMP/low.err")" -eq 1 ] &&
        contains "$TMP/low.err" "cannot listen below port 1024" &&
        [ "$($LIGHTVM list -q | sort)" = "$before" ]
}

t_cold_run() {
    # `lightvm run` without the daemon: the same sandbox, and with no
    # network a network namespace of its own too.
    local pid qemu="" deadline=$((SECONDS + 30)) r=0 ns
    coproc RUN { exec $LIGHTVM run --no-daemon --monitor qemu --no-net --console /dev/null \
        "$TMP/redis" 2>&1; }
    pid=$RUN_PID
    until [ -n "$qemu" ] && [ "$(status "$qemu" Seccomp)" = 2 ]; do
        qemu=$(pgrep -P "$pid" -x qemu-system-x86 || pgrep -P "$pid" | head -n 1)
        [ $SECONDS -lt $deadline ] || { echo "no QEMU under lightvm run"; r=1; break; }
        read -rt 0.05 <> <(:) 2>/dev/null || true
    done
    if [ $r -eq 0 ]; then
        grep -E '^(Uid|Gid|CapEff|CapBnd|NoNewPrivs|Seccomp)' "/proc/$qemu/status"
        [ "$(status "$qemu" Uid | awk '{print $1}')" = $((UID_BASE + qemu)) ] || r=1
        [ "$(status "$qemu" CapBnd)" = 0000000000000000 ] || r=1
        [ "$(status "$qemu" NoNewPrivs)" = 1 ] || r=1
        for ns in mnt pid net; do
            [ "$(readlink "/proc/$qemu/ns/$ns")" != "$(readlink /proc/self/ns/$ns)" ] ||
                { echo "host's $ns namespace"; r=1; }
        done
        [ ! -e "/proc/$qemu/root/etc/shadow" ] || r=1
    fi
    # Ctrl-C asks the guest to power off, a second one kills it.
    local line
    kill -INT "$pid"
    while read -r -t 30 line <&"${RUN[0]}"; do
        echo "$line"
        [[ $line == *"interrupt again"* ]] && break
    done
    kill -INT "$pid"
    wait "$pid"
    return $r
}

t_destroy() {
    local pid
    pid=$(field a pid)
    $LIGHTVM destroy a >/dev/null && [ -z "$($LIGHTVM list -q)" ] &&
        [ ! -e "/proc/$pid" ] && no_new_leftovers
}

if ! command -v qemu-system-x86_64 >/dev/null; then
    skip qemu_sandbox "no qemu-system-x86_64"
    finish
    exit
fi
daemon_start --pool 0 || { echo "0 passed, 1 failed"; exit 1; }
check build_image t_build_image
check guests_ready t_guests_ready
check ids t_ids
check privileges t_privileges
check namespaces t_namespaces
check root t_root
check fds t_fds
check private_image t_private_image
check save_restore t_save_restore
check low_port_refused t_low_port_refused
check cold_run t_cold_run
check destroy t_destroy
finish
