#!/bin/bash
# test_daemon_qemu.sh: Tinyx images under lightvmd (the qemu monitor),
# through the real build/bin/lightvm and lightvmd: create and wait for the
# app to be ready, talk to it through a forwarded port, its cgroup and
# limits, pause and unpause, save and restore (the state file: the guest
# goes on from where it was saved, its image checked, --force and
# --leave-running, the guest destroyed by default), power off and exit
# statuses, a kill -9 of the daemon with guests running (they
# are adopted and still manageable), destroy leaving nothing behind,
# `lightvm run` of an image through the daemon, and bad input answered
# with one line; and the README's create on Debian's kernel (no tiny one
# built): its limits come from the image and it stays up.
#
# Kernel: whatever `tinyx build` picks (TINYX_TEST_KERNEL=stock forces
# Debian's). Acceleration: KVM where usable, TCG otherwise. Waits are on
# events: the daemon's replies, the guest's ready flag, a TCP answer.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
trap 'daemon_stop; lib_cleanup' EXIT

KERNEL=${TINYX_TEST_KERNEL:-auto}
BOOT_TIMEOUT=${TINYX_TEST_BOOT_TIMEOUT:-180}
API=$BUILD/tests/tools/apiclient
QEMU_PIDS=$TMP/qemu.pids # every QEMU this suite started, for the end

host_port() { # GUEST: the host port forwarded to its 6379
    guest_json "$1" | sed -n 's/.*"host":\([0-9]*\),"guest":6379.*/\1/p'
}

# redis PORT COMMAND [SECONDS]: one inline command, its reply on stdout;
# fails if none comes in time.
redis() {
    local reply
    exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
    printf '%s\r\n' "$2" >&3
    read -r -t "${3:-10}" reply <&3
    local rc=$?
    exec 3<&-
    echo "$reply"
    return $rc
}

create_redis() { # NAME [OPTIONS...]: a redis guest; its id on stdout
    local name=$1
    shift
    local id
    id=$($LIGHTVM create --monitor qemu -p 0:6379 --name "$name" "$@" \
        "$TMP/redis") || return 1
    field "$id" pid >>"$QEMU_PIDS"
    echo "$id"
}

# one_line_error FILE WANT: FILE holds exactly one line, "lightvm: ...WANT..."
one_line_error() {
    cat "$1"
    [ "$(wc -l <"$1")" -eq 1 ] || { echo "expected one line"; return 1; }
    grep -q '^lightvm: ' "$1" && contains "$1" "$2"
}

# alive PID: a process that has not exited (a zombie waiting for init to
# reap it has).
alive() {
    local st
    st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
    [[ $st != Z* ]]
}

# ---- state files (docs/snapshot-format.md) --------------------------

# image_identity IMAGE: the identity a state file records of a Tinyx
# image (docs/tinyx.md): SHA-256 of the SHA-256s of manifest.json, the
# kernel and the initramfs, as hex, then their sizes added up.
image_identity() {
    local img=$1 kernel initrd f hex= size=0
    kernel=$(sed -n 's/.*"path": "\(.*\)".*/\1/p' "$img/manifest.json")
    initrd=$img/$(sed -n 's/.*"initramfs": "\(.*\)".*/\1/p' "$img/manifest.json")
    for f in "$img/manifest.json" "$kernel" "$initrd"; do
        hex=$hex$(sha256sum <"$f" | cut -c1-64) || return 1
        size=$((size + $(stat -L -c %s "$f")))
    done
    [ ${#hex} -eq 192 ] || return 1
    printf '%b' "$(echo "$hex" | sed 's/../\\x&/g')" | sha256sum | cut -c1-64
    echo "$size"
}

# state_header FILE: what a state file's header says, as "magic kind
# monitor image_hash image_size ram_size" (offsets: docs/snapshot-format.md).
state_header() {
    local f=$1
    printf '%s %d %s %s %d %d\n' \
        "$(head -c 7 "$f")" \
        "$(od -An -tu4 -j16 -N4 "$f")" \
        "$(dd if="$f" bs=1 skip=144 count=16 2>/dev/null | tr -d '\0')" \
        "$(od -An -tx1 -j40 -N32 "$f" | tr -d ' \n')" \
        "$(od -An -tu8 -j72 -N8 "$f")" \
        "$(od -An -tu8 -j32 -N8 "$f")"
}

# is_state_of FILE IMAGE MEM: FILE is a qemu guest's state file made from
# IMAGE, with MEM bytes of RAM.
is_state_of() {
    local have want
    have=$(state_header "$1")
    want="LVMSNAP 2 qemu $(image_identity "$2" | tr '\n' ' ')$3"
    echo "header: $have"
    [ "$have" = "$want" ] || { echo "expected: $want"; return 1; }
}

# no_temporaries DIR: no state file's temporary (".NAME.XXXXXX") is left.
no_temporaries() {
    local left
    left=$(find "$1" -maxdepth 1 -name '.*.state.*')
    [ -z "$left" ] || { echo "temporaries left: $left"; return 1; }
}

# ---- the images -----------------------------------------------------

t_build_images() {
    "$LIGHTVM" tinyx build -q --kernel "$KERNEL" -z gzip:1 redis-server \
        -o "$TMP/redis" &&
        "$LIGHTVM" tinyx build -q --kernel "$KERNEL" -z gzip:1 sh \
            --cmd "sh -c 'echo bye from the app; exit 3'" -o "$TMP/exit3"
}

# ---- Debian's kernel: the README's create without a tiny kernel ------

t_stock_kernel_limits() {
    # What a fresh machine does (no tiny kernel built): Debian's kernel,
    # the default zstd initramfs. Its RAM and memory limit come from the
    # image (docs/cli.md, Defaults and limits): the old rule left it 7 MiB
    # short and it was OOM-killed seconds after it started, every time.
    "$LIGHTVM" tinyx build -q --kernel stock redis-server -o "$TMP/redis-stock" ||
        return 1
    local img=$TMP/redis-stock kernel initrd mem lim want
    grep -q '"kind": "stock"' "$img/manifest.json" || return 1
    kernel=$(sed -n 's/.*"path": "\(.*\)".*/\1/p' "$img/manifest.json")
    initrd=$img/$(sed -n 's/.*"initramfs": "\(.*\)".*/\1/p' "$img/manifest.json")
    [ -f "$kernel" ] && [ -f "$initrd" ] || { echo "kernel $kernel, initramfs $initrd"; return 1; }
    # Too little RAM for Debian's kernel: refused, in one line.
    expect_status 125 $LIGHTVM create --monitor qemu -m 64M "$img" 2>"$TMP/e0" &&
        one_line_error "$TMP/e0" "booting Debian's kernel needs at least 128 MiB" ||
        return 1
    # The same line from run, through lightvmd and without it.
    expect_status 125 $LIGHTVM run --monitor qemu -m 64M "$img" 2>"$TMP/e0" &&
        one_line_error "$TMP/e0" "mem: a qemu guest booting Debian's kernel needs at least 128 MiB, not 64 MiB" &&
        expect_status 125 $LIGHTVM run --no-daemon --monitor qemu -m 64M "$img" 2>"$TMP/e1" &&
        one_line_error "$TMP/e1" "mem: a qemu guest booting Debian's kernel needs at least 128 MiB, not 64 MiB" ||
        return 1
    local id
    id=$($LIGHTVM create --monitor qemu -p 0:6379 --name stock "$img") || return 1
    field "$id" pid >>"$QEMU_PIDS"
    guest_json stock
    mem=$(field stock mem)
    lim=$(field stock mem_limit)
    # RAM: the image's, the policy's default for Debian's kernel.
    [ "$mem" -eq $((256 << 20)) ] || { echo "mem $mem"; return 1; }
    # RAM + kernel + initramfs + the 1M console log + QEMU's 128M.
    want=$((mem + $(stat -c %s "$kernel") + $(stat -c %s "$initrd") + (1 << 20) + (128 << 20)))
    [ "$lim" -eq "$want" ] || { echo "mem_limit $lim, want $want"; return 1; }
    # Booted and serving, and still there after: readiness, then 200
    # writes and reads over one connection, then a PING.
    wait_ready stock || return 1
    local port i reply
    port=$(host_port stock)
    exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
    for i in $(seq 200); do
        printf 'SET k%d %0512d\r\nGET k%d\r\n' "$i" "$i" "$i" >&3
        read -r -t 30 reply <&3 && [[ $reply == "+OK"* ]] &&
            read -r -t 30 reply <&3 && read -r -t 30 reply <&3 ||
            { echo "request $i: '$reply'"; exec 3<&-; guest_json stock; return 1; }
    done
    exec 3<&-
    [[ $(redis "$port" PING) == "+PONG"* ]] || { guest_json stock; return 1; }
    guest_json stock | grep -q '"state":"running"' || { guest_json stock; return 1; }
    $LIGHTVM stats --json stock
    $LIGHTVM destroy stock >/dev/null
}

# ---- a guest's life ---------------------------------------------------

t_create_ready() {
    local id
    id=$(create_redis redis1 -m 128M --cpus 1) || return 1
    echo "created $id"
    [ ${#id} -eq 16 ] || return 1
    [ "$(field redis1 monitor)" = qemu ] || return 1
    # The reply came when QEMU was up; the app follows.
    wait_ready redis1 || return 1
    guest_json redis1
    local port
    port=$(host_port redis1)
    [ -n "$port" ] || { echo "no host port"; return 1; }
    [[ $(redis "$port" PING) == "+PONG"* ]] || return 1
    awk -v ms="$(field redis1 ready_ms)" 'BEGIN {exit !(ms > 0)}'
}

t_cgroup_limits() {
    # QEMU runs in the guest's own cgroup, with RAM + QEMU's overhead as
    # its memory limit and the CPU quota asked for.
    local id pid lim stats
    id=$(field redis1 id)
    pid=$(field redis1 pid)
    grep -q "/$LIGHTVM_CGROUP_PARENT/$id\$" "/proc/$pid/cgroup" ||
        { cat "/proc/$pid/cgroup"; return 1; }
    stats=$($LIGHTVM stats --json redis1)
    echo "$stats"
    lim=$(echo "$stats" | sed -n 's/.*"memory_limit":\([0-9]*\).*/\1/p')
    [ "$lim" -gt $((128 << 20)) ] && [ "$lim" -lt $((512 << 20)) ] ||
        { echo "memory limit $lim"; return 1; }
    echo "$stats" | grep -q '"memory_bytes":[1-9]' || return 1
    local quota
    for quota in /sys/fs/cgroup/cpu/$LIGHTVM_CGROUP_PARENT/$id/cpu.cfs_quota_us \
        /sys/fs/cgroup/$LIGHTVM_CGROUP_PARENT/$id/cpu.max; do
        [ -e "$quota" ] || continue
        echo "$quota: $(cat "$quota")"
        grep -qE '^100000' "$quota" || return 1
        return 0
    done
    echo "no cpu quota file"
    return 1
}

t_boots_client_files() {
    # QEMU boots the kernel and initramfs the daemon opened as the
    # client, not whatever their paths name by the time it reads them:
    # those very files are mounted in its root (docs/security.md).
    local pid kernel initrd
    pid=$(field redis1 pid)
    tr '\0' ' ' <"/proc/$pid/cmdline" | tee "$TMP/cmdline"
    echo
    contains "$TMP/cmdline" "-kernel /kernel" &&
        contains "$TMP/cmdline" "-initrd /initrd" || return 1
    kernel=$(sed -n 's/.*"path": "\(.*\)".*/\1/p' "$TMP/redis/manifest.json")
    initrd=$TMP/redis/$(sed -n 's/.*"initramfs": "\(.*\)".*/\1/p' "$TMP/redis/manifest.json")
    [ "$(stat -L -c %d:%i "/proc/$pid/root/kernel")" = "$(stat -L -c %d:%i "$kernel")" ] &&
        [ "$(stat -L -c %d:%i "/proc/$pid/root/initrd")" = "$(stat -L -c %d:%i "$initrd")" ]
}

t_console_log() {
    $LIGHTVM console redis1 | grep -q "Ready to accept connections"
}

t_pause_unpause() {
    local port
    port=$(host_port redis1)
    $LIGHTVM pause redis1 || return 1
    [ "$(field redis1 state)" = paused ] || return 1
    # QEMU's user-mode network still accepts; the paused guest says nothing.
    if reply=$(redis "$port" PING 2); then
        echo "a paused guest answered: $reply"
        return 1
    fi
    $LIGHTVM unpause redis1 || return 1
    [ "$(field redis1 state)" = running ] &&
        [[ $(redis "$port" PING) == "+PONG"* ]]
}

t_save_restore() {
    # The default save: the state file, then the guest is gone; a restore
    # that names only the file brings it back (its image, RAM, name and
    # ports from the file) where it was: the value SET before is there.
    local port pid state=$TMP/redis1.state id
    port=$(host_port redis1)
    pid=$(field redis1 pid)
    [[ $(redis "$port" "SET lightvm saved-value") == "+OK"* ]] || return 1
    $LIGHTVM save --json redis1 "$state" >"$TMP/saved.json" || return 1
    cat "$TMP/saved.json"
    contains "$TMP/saved.json" "\"path\":\"$state\"" &&
        contains "$TMP/saved.json" "\"bytes\":$(stat -c %s "$state")," || return 1
    # Destroyed once saved, before the reply: no guest, no QEMU.
    [ -z "$(field redis1 id)" ] || { guest_json redis1; return 1; }
    alive "$pid" && { echo "QEMU $pid still runs"; return 1; }
    no_temporaries "$TMP" && is_state_of "$state" "$TMP/redis" $((128 << 20)) ||
        return 1
    id=$($LIGHTVM restore "$state") || return 1
    field "$id" pid >>"$QEMU_PIDS"
    [ "$(field redis1 id)" = "$id" ] && [ "$(field redis1 mem)" -eq $((128 << 20)) ] &&
        [ "$(field redis1 image)" = "$TMP/redis" ] || { guest_json redis1; return 1; }
    guest_json redis1 | grep -q '"restored":true' || return 1
    wait_ready redis1 || return 1
    port=$(host_port redis1)
    exec 3<>"/dev/tcp/127.0.0.1/$port"
    printf 'GET lightvm\r\n' >&3
    local len value
    read -r -t 10 len <&3 && read -r -t 10 value <&3
    exec 3<&-
    echo "restored value: $value"
    [[ $value == "saved-value"* ]] || return 1
    # And it goes on.
    [[ $(redis "$port" "SET after restored") == "+OK"* ]]
}

t_save_leave_running() {
    # --leave-running: the same guest (same QEMU) goes on running, and the
    # file restores a second guest as it was at the save.
    local port pid state=$TMP/running.state id value
    port=$(host_port redis1)
    pid=$(field redis1 pid)
    [[ $(redis "$port" "SET during kept") == "+OK"* ]] || return 1
    $LIGHTVM save --leave-running redis1 "$state" || return 1
    guest_json redis1 | grep -q '"state":"running"' &&
        [ "$(field redis1 pid)" = "$pid" ] || { guest_json redis1; return 1; }
    [[ $(redis "$port" PING) == "+PONG"* ]] &&
        [[ $(redis "$port" "SET during changed") == "+OK"* ]] || return 1
    is_state_of "$state" "$TMP/redis" $((128 << 20)) || return 1
    id=$($LIGHTVM restore --name redis2 "$state") || return 1
    field "$id" pid >>"$QEMU_PIDS"
    wait_ready redis2 || return 1
    exec 3<>"/dev/tcp/127.0.0.1/$(host_port redis2)"
    printf 'GET during\r\n' >&3
    read -r -t 10 value <&3 && read -r -t 10 value <&3
    exec 3<&-
    echo "redis2: during=$value"
    [[ $value == "kept"* ]] || return 1
    # Two guests now, each with its own data.
    exec 3<>"/dev/tcp/127.0.0.1/$port"
    printf 'GET during\r\n' >&3
    read -r -t 10 value <&3 && read -r -t 10 value <&3
    exec 3<&-
    echo "redis1: during=$value"
    [[ $value == "changed"* ]]
}

t_save_paused() {
    # A paused guest saved with --leave-running stays paused; QEMU saves
    # it again only once it ran.
    local port state=$TMP/paused.state
    port=$(host_port redis1)
    $LIGHTVM pause redis1 && $LIGHTVM save --leave-running redis1 "$state" ||
        return 1
    [ "$(field redis1 state)" = paused ] && [ -s "$state" ] || return 1
    expect_status 125 $LIGHTVM save --leave-running redis1 "$state.again" \
        2>"$TMP/again" &&
        one_line_error "$TMP/again" "still stopped by its last save" &&
        [ ! -e "$state.again" ] || return 1
    $LIGHTVM unpause redis1 && [ "$(field redis1 state)" = running ] &&
        [[ $(redis "$port" PING) == "+PONG"* ]]
}

t_save_force() {
    # An existing state file is replaced only with --force.
    local state=$TMP/redis1.state
    cp "$state" "$TMP/before.state"
    expect_status 125 $LIGHTVM save redis1 "$state" 2>"$TMP/exists" &&
        one_line_error "$TMP/exists" "exists (use --force to replace it)" &&
        cmp "$state" "$TMP/before.state" &&
        [ "$(field redis1 state)" = running ] || return 1
    $LIGHTVM save --force --leave-running redis1 "$state" || return 1
    ! cmp -s "$state" "$TMP/before.state" &&
        is_state_of "$state" "$TMP/redis" $((128 << 20)) &&
        [ "$(field redis1 state)" = running ] && no_temporaries "$TMP"
}

t_restore_refusals() {
    # The state of a redis guest with another image (the reported bug: it
    # came up answering redis), another RAM size, or a NIC: refused in one
    # line before QEMU starts; nothing is left.
    local state=$TMP/redis1.state before guests
    before=$($LIGHTVM list -q | sort)
    guests=$(ls "$LIGHTVM_RUN_DIR/guests" | wc -l)
    expect_status 125 $LIGHTVM restore --name wrong "$state" "$TMP/exit3" \
        2>"$TMP/wrong" &&
        one_line_error "$TMP/wrong" "the state was saved from another image: redis-server at $TMP/redis (sha256 $(image_identity "$TMP/redis" | head -n 1 | cut -c1-16)...), not sh at $TMP/exit3" ||
        return 1
    # The same app built again (Debian's kernel, zstd) is another image.
    expect_status 125 $LIGHTVM restore --name wrong "$state" "$TMP/redis-stock" \
        2>"$TMP/wrong2" &&
        one_line_error "$TMP/wrong2" "saved from another image" || return 1
    expect_status 125 $LIGHTVM restore --name wrong -m 256M "$state" \
        2>"$TMP/mem" &&
        one_line_error "$TMP/mem" "keeps its 128 MiB of memory (the state file's), not 256 MiB" ||
        return 1
    $API "$LIGHTVM_SOCKET" \
        '{"op":"restore","name":"wrong","path":"'"$state"'","net":true,"ports":[]}' \
        >"$TMP/api-net.out"
    cat "$TMP/api-net.out"
    grep -q '"ok":false' "$TMP/api-net.out" &&
        contains "$TMP/api-net.out" "not supported when restoring a qemu guest" ||
        return 1
    [ "$($LIGHTVM list -q | sort)" = "$before" ] &&
        [ -z "$(field wrong id)" ] &&
        [ "$(ls "$LIGHTVM_RUN_DIR/guests" | wc -l)" -eq "$guests" ] ||
        { $LIGHTVM list; ls "$LIGHTVM_RUN_DIR/guests"; return 1; }
    # No QEMU was started for them: every QEMU in this suite's cgroups is
    # a listed guest's.
    local pid
    for pid in $(cat $(suite_cgroups | sed 's|$|/cgroup.procs|') 2>/dev/null | sort -u); do
        [ "$(ps -o comm= -p "$pid")" = qemu-system-x86 ] || continue
        $LIGHTVM list --json | grep -q "\"pid\":$pid," ||
            { echo "QEMU $pid is no guest's"; return 1; }
    done
    return 0
}

t_poweroff_exit() {
    local dir
    dir=$LIGHTVM_RUN_DIR/guests/$(field redis2 id)
    $LIGHTVM poweroff redis2 || return 1
    local how
    how=$($LIGHTVM wait redis2)
    echo "redis2: $how"
    [ "$how" = "exited with status 0" ] || return 1
    [ "$(field redis2 state)" = exited ] && [ -e "$dir/exit.json" ] ||
        { guest_json redis2; ls -la "$dir"; return 1; }
    # It was ready; gone, it is not.
    guest_json redis2 | grep -q '"ready":false' || { guest_json redis2; return 1; }
    $LIGHTVM destroy redis2 >/dev/null || return 1
    [ ! -e "$dir" ] || { echo "left:"; ls -la "$dir"; return 1; }
}

t_app_exit_status() {
    local id
    id=$($LIGHTVM create --monitor qemu --name exit3 "$TMP/exit3") || return 1
    field "$id" pid >>"$QEMU_PIDS"
    expect_status 3 $LIGHTVM wait exit3 >"$TMP/exit3.out" || return 1
    contains "$TMP/exit3.out" "exited with status 3" &&
        $LIGHTVM console exit3 | grep -q "bye from the app" &&
        $LIGHTVM destroy exit3 >/dev/null
}

t_restart_kill9() {
    # The daemon dies with qemu guests running, one of them paused: QEMU
    # lives on, and the next daemon adopts them with their state.
    local id pid port
    id=$(create_redis redis3) || return 1
    wait_ready redis3 || return 1
    $LIGHTVM pause redis3 || return 1
    pid=$(field redis1 pid)
    port=$(host_port redis1)
    kill -9 "$DAEMON_PID"
    wait "$DAEMON_PID" 2>/dev/null
    DAEMON_PID=
    alive "$pid" || { echo "QEMU died with the daemon"; return 1; }
    [[ $(redis "$port" PING) == "+PONG"* ]] || return 1
    daemon_start --pool 0 || return 1
    guest_json redis1
    guest_json redis1 | grep -q '"state":"running".*"adopted":true' ||
        return 1
    guest_json redis1 | grep -q '"ready":true' || return 1
    wait_state redis3 paused || return 1
    # Manageable as before: pause, unpause, talk, power off.
    $LIGHTVM pause redis1 && $LIGHTVM unpause redis1 &&
        [[ $(redis "$port" PING) == "+PONG"* ]] || return 1
    $LIGHTVM unpause redis3 && [[ $(redis "$(host_port redis3)" PING) == "+PONG"* ]] ||
        return 1
    # An adopted guest is saved too: its recipe was recorded, its image is
    # read by its path.
    $LIGHTVM save --leave-running redis1 "$TMP/adopted.state" &&
        is_state_of "$TMP/adopted.state" "$TMP/redis" $((128 << 20)) || return 1
    $LIGHTVM poweroff redis3 &&
        [ "$($LIGHTVM wait redis3)" = "exited with status 0" ]
}

t_destroy_leaves_nothing() {
    local ids pid
    ids=$($LIGHTVM list -q)
    [ -n "$ids" ] || return 1
    $LIGHTVM destroy $ids >/dev/null || return 1
    [ -z "$($LIGHTVM list -q)" ] || return 1
    [ -z "$(ls "$LIGHTVM_RUN_DIR/guests")" ] ||
        { ls "$LIGHTVM_RUN_DIR/guests"; return 1; }
    no_new_leftovers || return 1
    for pid in $(cat "$QEMU_PIDS"); do
        alive "$pid" && { echo "QEMU $pid still runs"; return 1; }
    done
    return 0
}

# ---- lightvm run through the daemon ----------------------------------

t_run_through_daemon() {
    # The image directory picks the qemu monitor; lightvmd runs QEMU, its
    # console log reaches our stdout, its app's status is ours.
    expect_status 3 $LIGHTVM run "$TMP/exit3" >"$TMP/run.out" 2>"$TMP/run.err" ||
        { cat "$TMP/run.err"; return 1; }
    cat "$TMP/run.err"
    contains "$TMP/run.out" "bye from the app" &&
        contains "$TMP/run.err" "exited with status 3" &&
        [ -z "$($LIGHTVM list -q)" ] # run removed its guest
}

t_run_listed_while_running() {
    # A server: ready line with its host port, listed while it runs,
    # Ctrl-C powers it off and run exits 0.
    coproc RUN { exec "$LIGHTVM" run --monitor qemu -p 0:6379 \
        --wait-ready="$BOOT_TIMEOUT" "$TMP/redis" 2>&1 >"$TMP/run-redis.out"; }
    local pid=$RUN_PID line port=
    while read -r -t "$BOOT_TIMEOUT" line <&"${RUN[0]}"; do
        echo "$line"
        if [[ $line =~ " ready in ".*"host port "([0-9]+) ]]; then
            port=${BASH_REMATCH[1]}
            break
        fi
    done
    [ -n "$port" ] || { echo "no ready line"; kill -9 "$pid"; return 1; }
    $LIGHTVM list | tee "$TMP/list"
    local ok=0
    grep -qE "redis-server +running .*$TMP/redis" "$TMP/list" || ok=1
    guest_json redis-server | grep -q '"monitor":"qemu"' || ok=1
    [[ $(redis "$port" PING) == "+PONG"* ]] || ok=1
    kill -INT "$pid"
    while read -r -t 60 line <&"${RUN[0]}"; do echo "$line"; done
    wait "$pid"
    local rc=$?
    echo "lightvm run exited $rc"
    contains "$TMP/run-redis.out" "Ready to accept connections" &&
        [ $rc -eq 0 ] && [ $ok -eq 0 ] && [ -z "$($LIGHTVM list -q)" ]
}

t_run_auto_timing() {
    # --monitor auto picks qemu for a Tinyx image; LIGHTVM_TIMING=1 shows
    # lightvmd's create time.
    LIGHTVM_TIMING=1 expect_status 3 $LIGHTVM run --monitor auto -q \
        "$TMP/exit3" >/dev/null 2>"$TMP/auto.err"
    local rc=$?
    cat "$TMP/auto.err"
    [ $rc -eq 0 ] && contains "$TMP/auto.err" "lightvm: using the qemu monitor" &&
        grep -qE '^lightvm: timing \(us\): create [0-9]+ in lightvmd \(until QEMU is up\)' \
            "$TMP/auto.err"
}

# same_refusal WANT ARGS...: `lightvm run ARGS` refuses with one line
# holding WANT, exit 2 (a bad command line), the same line through lightvmd and without it.
same_refusal() {
    local want=$1
    shift
    expect_status 2 $LIGHTVM run "$@" 2>"$TMP/refused.daemon" || return 1
    expect_status 2 $LIGHTVM run --no-daemon "$@" 2>"$TMP/refused.cold" ||
        return 1
    one_line_error "$TMP/refused.daemon" "$want" &&
        cmp "$TMP/refused.daemon" "$TMP/refused.cold"
}

t_run_refuses_flags() {
    truncate -s 4K "$TMP/disk.img"
    same_refusal "lightvm: --block is not supported for the qemu monitor" \
        -b "disk0=$TMP/disk.img" "$TMP/exit3" &&
        same_refusal "--watchdog" --watchdog 100 "$TMP/exit3" &&
        same_refusal "is a Tinyx image directory: run it with --monitor qemu" \
            --monitor proc "$TMP/exit3" &&
        [ -z "$($LIGHTVM list -q)" ]
}

# ---- bad input: one line, non-zero exit, nothing left ----------------

t_bad_image_missing() {
    expect_status 125 $LIGHTVM create --monitor qemu "$TMP/no-such-image" \
        2>"$TMP/e1" && one_line_error "$TMP/e1" "no-such-image"
}

t_bad_not_an_image() {
    mkdir -p "$TMP/not-an-image"
    expect_status 125 $LIGHTVM create --monitor qemu "$TMP/not-an-image" \
        2>"$TMP/e2" && one_line_error "$TMP/e2" "is not a Tinyx image"
}

t_bad_args_for_qemu() {
    # A command and environment the init could not take (they go to it
    # as lines): refused by the daemon in one line, nothing made.
    expect_status 125 $LIGHTVM create --monitor qemu "$TMP/redis" -- \
        /bin/sh -c $'echo a\necho b' 2>"$TMP/e3" &&
        one_line_error "$TMP/e3" "argument 3 has a newline" &&
        expect_status 125 $LIGHTVM create --monitor qemu -e '1A=b' \
            "$TMP/redis" 2>"$TMP/e3b" &&
        one_line_error "$TMP/e3b" "expected NAME=VALUE" &&
        [ -z "$($LIGHTVM list -q)" ]
}

t_bad_publish() {
    expect_status 2 $LIGHTVM create --monitor qemu -p 6379 "$TMP/redis" \
        2>"$TMP/e4" && one_line_error "$TMP/e4" "--publish"
}

t_bad_restore_proc_state() {
    # A proc guest's state restores under proc or kvm only.
    local id
    id=$($LIGHTVM create "$EXAMPLES/idle/idle.elf") || return 1
    $LIGHTVM save "$id" "$TMP/proc.state" || return 1
    expect_status 125 $LIGHTVM restore --monitor qemu "$TMP/proc.state" \
        "$TMP/redis" 2>"$TMP/e5" &&
        one_line_error "$TMP/e5" "holds a proc guest: it cannot be restored under qemu" &&
        [ -z "$($LIGHTVM list -q)" ]
}

t_bad_restore_proc() {
    expect_status 125 $LIGHTVM restore --monitor proc "$TMP/redis1.state" \
        "$EXAMPLES/idle/idle.elf" 2>"$TMP/e6" &&
        one_line_error "$TMP/e6" "holds a qemu guest: it cannot be restored under"
}

t_bad_restore_garbage() {
    # Not a state file: refused before anything is made, in one line; a
    # raw QEMU stream (what older versions saved) says so.
    head -c 4096 /dev/urandom >"$TMP/garbage.state"
    expect_status 125 $LIGHTVM restore "$TMP/garbage.state" "$TMP/redis" \
        2>"$TMP/e7" && one_line_error "$TMP/e7" "not a lightvm state file" ||
        return 1
    { printf 'QEVM\0\0\0\3'; head -c 4096 /dev/zero; } >"$TMP/raw.state"
    expect_status 125 $LIGHTVM restore "$TMP/raw.state" "$TMP/redis" \
        2>"$TMP/e7b" &&
        one_line_error "$TMP/e7b" "not a lightvm state file (a raw QEMU migration stream" &&
        [ -z "$($LIGHTVM list -q)" ] &&
        [ -z "$(ls "$LIGHTVM_RUN_DIR/guests")" ]
}

t_bad_restore_missing() {
    expect_status 125 $LIGHTVM restore "$TMP/none.state" "$TMP/redis" \
        2>"$TMP/e8" && one_line_error "$TMP/e8" "none.state"
}

t_bad_save_unwritable() {
    local id
    id=$(create_redis redis4) || return 1
    expect_status 125 $LIGHTVM save redis4 /proc/lightvm.state 2>"$TMP/e9" &&
        one_line_error "$TMP/e9" "/proc/lightvm.state" &&
        [ "$(field redis4 state)" = running ] &&
        $LIGHTVM destroy redis4 >/dev/null
}

t_save_never_replaces() {
    # A file at the save's path is never replaced without --force: one
    # line, the file as it was, the guest running on, nothing left; a
    # symlink there is not followed either.
    local id
    id=$(create_redis redis5) || return 1
    wait_ready redis5 || return 1
    echo keep >"$TMP/existing.state"
    ln -s "$TMP/existing.state" "$TMP/link.state"
    expect_status 125 $LIGHTVM save redis5 "$TMP/existing.state" 2>"$TMP/e10" &&
        one_line_error "$TMP/e10" "exists" &&
        expect_status 125 $LIGHTVM save redis5 "$TMP/link.state" 2>"$TMP/e11" &&
        one_line_error "$TMP/e11" "exists" &&
        [ "$(cat "$TMP/existing.state")" = keep ] && [ -L "$TMP/link.state" ] &&
        [ "$(field redis5 state)" = running ] &&
        no_temporaries "$TMP" &&
        $LIGHTVM destroy redis5 >/dev/null
}

t_bad_api_fields() {
    # Straight to the API: each refused by name, in one line.
    $API "$LIGHTVM_SOCKET" \
        '{"op":"create","monitor":"qemu","image":"'"$TMP/redis"'","ports":["nope"]}' \
        '{"op":"create","image":"'"$EXAMPLES/idle/idle.elf"'","ports":["0:80"]}' \
        '{"op":"save","id":"x","path":"relative"}' \
        '{"op":"suspend","id":"nope"}' >"$TMP/api.out"
    cat "$TMP/api.out"
    [ "$(grep -c '"ok":false' "$TMP/api.out")" -eq 4 ] &&
        contains "$TMP/api.out" "is not [ADDR:]HOST:GUEST" &&
        contains "$TMP/api.out" "'ports' (-p/--publish) is for qemu guests" &&
        contains "$TMP/api.out" "absolute path" &&
        [ -z "$($LIGHTVM list -q)" ]
}

t_no_leftovers() {
    daemon_stop
    no_new_leftovers || return 1
    # The daemons (sanitizer builds report at exit) found nothing wrong.
    if grep -E 'Sanitizer|runtime error' "$TMP/lightvmd.log"; then
        return 1
    fi
    [ -z "$(ls "$LIGHTVM_RUN_DIR/guests")" ] || return 1
    local pid
    for pid in $(cat "$QEMU_PIDS"); do
        alive "$pid" && { echo "QEMU $pid still runs"; return 1; }
    done
    return 0
}

: >"$QEMU_PIDS"
daemon_start --pool 0 || { echo "0 passed, 1 failed"; exit 1; }
check build_images t_build_images
check stock_kernel_limits t_stock_kernel_limits
check create_ready t_create_ready
check cgroup_limits t_cgroup_limits
check boots_client_files t_boots_client_files
check console_log t_console_log
check pause_unpause t_pause_unpause
check save_restore t_save_restore
check save_leave_running t_save_leave_running
check save_paused t_save_paused
check save_force t_save_force
check restore_refusals t_restore_refusals
check poweroff_exit t_poweroff_exit
check app_exit_status t_app_exit_status
check restart_kill9 t_restart_kill9
check destroy_leaves_nothing t_destroy_leaves_nothing
check run_through_daemon t_run_through_daemon
check run_listed_while_running t_run_listed_while_running
check run_auto_timing t_run_auto_timing
check run_refuses_flags t_run_refuses_flags
check bad_image_missing t_bad_image_missing
check bad_not_an_image t_bad_not_an_image
check bad_args_for_qemu t_bad_args_for_qemu
check bad_publish t_bad_publish
check bad_restore_proc_state t_bad_restore_proc_state
check bad_restore_proc t_bad_restore_proc
check bad_restore_garbage t_bad_restore_garbage
check bad_restore_missing t_bad_restore_missing
check bad_save_unwritable t_bad_save_unwritable
check save_never_replaces t_save_never_replaces
check bad_api_fields t_bad_api_fields
check no_leftovers t_no_leftovers
finish
