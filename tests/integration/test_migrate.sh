#!/bin/bash
# test_migrate.sh: live migration of proc guests between lightvmds (kvm:
# tests/kvm/test_kvm.sh; a TCP connection that survives:
# test_migrate_net.sh).
#
# Daemon A and daemon B run side by side, each with its own run directory,
# socket and cgroups; B also listens for migrations over TCP on the
# loopback, and C in a network namespace of its own on a veth address.
# The guest is tests/guests/snapcount.elf: it checks the hash of its
# memory every tick and prints its tick number, so a migration must go on
# with the next tick and the same hash. Then what must go wrong cleanly: a
# destination that refuses, a bad stream, and a daemon killed with -9 at
# each stage on either side: a one-line error, the guest running on
# exactly one side (or stopped on the source, never twice), nothing
# half-made. Waits are on events, never sleeps.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh

SNAP=$TGUESTS/snapcount.elf
IDLE=$EXAMPLES/idle/idle.elf
GRP=lvmmg$$
UA=lvmmg$$a
UB=lvmmg$$b
PORT=$((20000 + $$ % 20000))
# The TCP port's secret (lightvmd --migrate-token, lightvm migrate --token-file).
od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$TMP/token" && chmod 600 "$TMP/token"
TOK=(--token-file "$TMP/token")
# sizeof(struct lvm_status) and sizeof(struct lvm_devpage), for crafted streams.
ABI_SIZES=$(printf '#include <lightvm/abi.h>\n#include <stdio.h>\nint main(void){printf("%%zu %%zu", sizeof(struct lvm_status), sizeof(struct lvm_devpage));}\n' |
    cc -Iinclude -x c -o "$TMP/abisizes" - && "$TMP/abisizes")
export ABI_SIZES
NS=lvmmg$$
CG_OTHERS="$LIGHTVM_CGROUP_PARENT-b $LIGHTVM_CGROUP_PARENT-c $LIGHTVM_CGROUP_PARENT-d"
declare -A DPID=()

# stop_all: every daemon of this test, then the guests they leave running.
stop_all() {
    local k cg pid
    for k in "${!DPID[@]}"; do kill -TERM "${DPID[$k]}" 2>/dev/null; wait "${DPID[$k]}" 2>/dev/null; done
    daemon_stop
    for cg in $CG_OTHERS; do
        for pid in $(find /sys/fs/cgroup -path "*/$cg/*" -name cgroup.procs -exec cat {} + 2>/dev/null); do
            kill -9 "$pid" 2>/dev/null
        done
        find /sys/fs/cgroup -depth -type d -path "*/$cg*" -exec rmdir {} + 2>/dev/null
    done
    ip netns del "$NS" 2>/dev/null
    ip link del "${NS}h" 2>/dev/null
}
trap 'stop_all; lib_cleanup; tenants_remove' EXIT
tenants_add "$GRP" "$UA" "$UB" ||
    { echo "cannot add test users"; echo "0 passed, 1 failed"; exit 1; }

as() {
    local u=$1
    shift
    setpriv --reuid="$u" --regid="$(id -g "$u")" --init-groups "$@"
}

# start_other NAME [ENV=VAL...] -- [LIGHTVMD ARGS]: daemon NAME (b, c or
# d), its run directory $TMP/NAME; `on NAME lightvm-args` talks to it.
start_other() {
    local n=$1 envs=()
    shift
    while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
    shift
    mkdir -p "$TMP/$n"
    env "${envs[@]}" LIGHTVM_RUN_DIR="$TMP/$n" LIGHTVM_CGROUP_PARENT="$LIGHTVM_CGROUP_PARENT-$n" \
        ${WRAP:-} "$BUILD/bin/lightvmd" --group "$GRP" "$@" >>"$TMP/lightvmd-$n.log" 2>&1 &
    DPID[$n]=$!
    local deadline=$((SECONDS + 20))
    until on "$n" list >/dev/null 2>&1; do
        kill -0 "${DPID[$n]}" 2>/dev/null || { echo "lightvmd $n died"; cat "$TMP/lightvmd-$n.log"; return 1; }
        [ $SECONDS -lt $deadline ] || { echo "lightvmd $n did not come up"; return 1; }
        read -rt 0.02 <> <(:) 2>/dev/null || true
    done
}
on() {
    local n=$1
    shift
    LIGHTVM_SOCKET="$TMP/$n/lightvmd.sock" $LIGHTVM "$@"
}
sock() { if [ "$1" = a ]; then echo "$LIGHTVM_SOCKET"; else echo "$TMP/$1/lightvmd.sock"; fi; }

# console_has [DAEMON] GUEST TEXT: until the guest's console shows TEXT.
console_has() {
    local d=a
    [ $# -eq 3 ] && { d=$1; shift; }
    local deadline=$((SECONDS + 20))
    until con "$d" "$1" 2>/dev/null | grep -qE -- "$2"; do
        [ $SECONDS -lt $deadline ] || { echo "console of $1 on $d lacks '$2'"; con "$d" "$1" | tail -n 3; return 1; }
        read -rt 0.02 <> <(:) 2>/dev/null || true
    done
}
con() { if [ "$1" = a ]; then $LIGHTVM console "$2"; else on "$1" console "$2"; fi; }
first_tick() { con "$1" "$2" | sed -n 's/^tick \([0-9]*\) .*/\1/p' | head -n 1; }
last_tick() { con "$1" "$2" | sed -n 's/^tick \([0-9]*\) .*/\1/p' | tail -n 1; }
count_on() { if [ "$1" = a ]; then $LIGHTVM list --json; else on "$1" list --json; fi | grep -c '"id"'; }
state_on() {
    if [ "$1" = a ]; then $LIGHTVM list --json "$2"; else on "$1" list --json "$2"; fi |
        sed -n 's/.*"state":"\([a-z]*\)".*/\1/p'
}
# until GUEST is gone from DAEMON
gone_from() {
    local deadline=$((SECONDS + 20))
    while [ "$(count_on "$1")" != 0 ]; do
        [ $SECONDS -lt $deadline ] || { echo "daemon $1 still has guests:"; on "$1" list; return 1; }
        read -rt 0.02 <> <(:) 2>/dev/null || true
    done
}

t_daemons() {
    daemon_start --group "$GRP" --pool 16M=2 && chmod 755 "$TMP" &&
        start_other b -- --pool 16M=2 --migrate-listen "127.0.0.1:$PORT" --migrate-token "$TMP/token"
}

# Over the other daemon's API socket: the guest goes on there with the
# next tick and the same memory, and is gone from here; then back again.
t_unix() {
    local g=mu out run last first start
    $LIGHTVM run --name $g "$SNAP" -- 1024 10 yield >"$TMP/$g.out" 2>"$TMP/$g.err" &
    run=$!
    wait_for_file_text "$TMP/$g.out" "tick 3 " || return 1
    out=$($LIGHTVM migrate --json $g "unix:$(sock b)") || { echo "$out"; return 1; }
    echo "$out"
    echo "$out" | grep -q '"via":"unix"' || return 1
    wait $run
    grep -q "lightvm migrate" "$TMP/$g.err" || { cat "$TMP/$g.err"; return 1; }
    start=$(sed -n 's/^start kib 1024 hash \([0-9a-f]*\)$/\1/p' "$TMP/$g.out")
    last=$(sed -n 's/^tick \([0-9]*\) .*/\1/p' "$TMP/$g.out" | tail -n 1)
    [ "$(count_on a)" = 0 ] || { $LIGHTVM list; return 1; }
    console_has b $g '^tick ' || return 1
    first=$(first_tick b $g)
    [ "$first" = $((last + 1)) ] || { echo "last tick $last here, first $first there"; return 1; }
    con b $g | grep -q "^tick $first hash $start resumed 1 " || { con b $g | head -n 2; return 1; }
    # The id printed is its id there; and it comes back.
    on b list --json $g | grep -q "\"id\":\"$(echo "$out" | sed -n 's/.*"id":"\([0-9a-f]*\)".*/\1/p')\"" ||
        { echo "id mismatch"; on b list; return 1; }
    on b migrate $g "$(sock a)" >/dev/null || return 1
    console_has a $g "resumed 2 " || return 1
    [ "$(count_on b)" = 0 ] || { on b list; return 1; }
    $LIGHTVM poweroff $g && [ "$($LIGHTVM wait $g)" = "exited with status 0" ] && $LIGHTVM destroy $g >/dev/null
}

# Over TCP: pre-copy while it runs, then only what changed.
t_tcp() {
    local g=mt out t
    $LIGHTVM create --name $g "$SNAP" 4096 5 yield >/dev/null && console_has $g '^tick 2 ' || return 1
    out=$($LIGHTVM migrate --json "${TOK[@]}" $g "tcp:127.0.0.1:$PORT") || { echo "$out"; return 1; }
    echo "$out"
    echo "$out" | grep -q '"via":"tcp"' || return 1
    echo "$out" >"$TMP/mt.json"
    python3 tests/tools/json_check.py docs/json-schema.json migrated "$TMP/mt.json" || return 1
    # 4 MiB of the guest's went over the wire, but few pages while it was stopped.
    echo "$out" | grep -qE '"pages":(10[2-9][0-9]|1[1-9][0-9][0-9]),' || return 1
    echo "$out" | grep -qE '"rounds":[1-8],' || return 1
    echo "$out" | grep -qE '"final_pages":([0-9]|[1-5][0-9]),' || return 1
    console_has b $g "resumed 1 " || return 1
    t=$(last_tick b $g)
    console_has b $g "^tick $((t + 2)) " || return 1
    # A guest that comes in over the operator's port is root's.
    on b list --json $g | grep -q '"owner":0' || return 1
    on b destroy $g >/dev/null
}

# A paused guest stays paused where it goes, and goes on when unpaused.
t_paused() {
    local g=mp t
    $LIGHTVM create --name $g "$SNAP" 64 5 yield >/dev/null && console_has $g '^tick 2 ' || return 1
    $LIGHTVM pause $g >/dev/null || return 1
    t=$(last_tick a $g)
    $LIGHTVM migrate $g "$(sock b)" >/dev/null || return 1
    [ "$(state_on b $g)" = paused ] || { on b list; return 1; }
    on b unpause $g >/dev/null && console_has b $g "resumed 1 " || return 1
    [ "$(first_tick b $g)" = $((t + 1)) ] || { echo "paused at tick $t, went on at $(first_tick b $g)"; return 1; }
    on b destroy $g >/dev/null
}

# Over TCP, block devices (paths of another host, opened as root) are
# refused: a stream whose recipe names one, for a real image.
t_tcp_no_block() {
    local out
    out=$(python3 - "$PORT" "$(realpath "$SNAP")" "$TMP" <<'PY'
import hashlib, json, os, socket, struct, sys
port, image, tmp = int(sys.argv[1]), sys.argv[2], sys.argv[3]
open(tmp + "/disk.img", "wb").truncate(1 << 20)
data = open(image, "rb").read()
frame = lambda t, body=b"": struct.pack("<IIQ", t, 0, len(body)) + body
hello = {"version": 1, "kind": "unikernel", "monitor": "proc", "ram_size": 1 << 24,
         "image_sha256": hashlib.sha256(data).hexdigest(), "image_size": len(data),
         "image_name": "snapcount", "name": "blk", "token": open(tmp + "/token").read().strip(),
         "recipe": {"image": image, "block": [{"name": "disk0", "path": tmp + "/disk.img"}]}}
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.sendall(frame(1, json.dumps(hello).encode()))
def read(n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            sys.exit("the daemon closed the connection")
        b += c
    return b
def answer():
    t, _, n = struct.unpack("<IIQ", read(16))
    return t, read(n).decode()
print(answer())
# The status and device pages of ABI 3: sizes from the HELLO's peer do not
# matter here; a wrong size is refused first, so ask the daemon's.
st, dp = [int(x) for x in os.environ["ABI_SIZES"].split()]
s.sendall(frame(7, b"\0" * (st + dp)) + frame(8))
print(answer())
PY
) || { echo "$out"; return 1; }
    echo "$out"
    echo "$out" | grep -q "block devices cannot come in over TCP" && [ "$(count_on b)" = 0 ]
}

# The TCP port: no secret, a wrong one, a member's copy-less try: each
# refused at HELLO, before any file is opened; and no port without one.
t_tcp_token() {
    local out g=tk
    $LIGHTVM create --name $g "$SNAP" 64 10 yield >/dev/null && console_has $g '^tick 1 ' || return 1
    out=$($LIGHTVM migrate $g "tcp:127.0.0.1:$PORT" 2>&1) && { echo "migrated: $out"; return 1; }
    echo "$out"
    echo "$out" | grep -q "refused: a missing or wrong migration token" || return 1
    echo wrongwrongwrongwrong >"$TMP/wrong"
    out=$($LIGHTVM migrate --token-file "$TMP/wrong" $g "tcp:127.0.0.1:$PORT" 2>&1) &&
        { echo "migrated: $out"; return 1; }
    echo "$out" | grep -q "wrong migration token" && [ "$(state_on a $g)" = running ] &&
        [ "$(count_on b)" = 0 ] || return 1
    $LIGHTVM destroy $g >/dev/null
    # A daemon will not open the port without a secret, nor with one
    # others may read.
    out=$(LIGHTVM_RUN_DIR=$TMP/x "$BUILD/bin/lightvmd" --migrate-listen 127.0.0.1:1 2>&1) &&
        { echo "started: $out"; return 1; }
    echo "$out" | grep -q "needs --migrate-token" || { echo "$out"; return 1; }
    cp "$TMP/token" "$TMP/token644" && chmod 644 "$TMP/token644"
    out=$(LIGHTVM_RUN_DIR=$TMP/x "$BUILD/bin/lightvmd" --migrate-listen 127.0.0.1:1 \
        --migrate-token "$TMP/token644" 2>&1) && { echo "started: $out"; return 1; }
    echo "$out" | grep -q "only root may read" || { echo "$out"; return 1; }
}

# A guest held at the destination does nothing but go until its source
# commits: unpause, resume, save and migrate are refused (busy). The
# source (daemon d) holds its COMMIT until told.
t_held_busy() {
    kill -TERM "${DPID[d]}" 2>/dev/null && wait "${DPID[d]}" 2>/dev/null
    start_other d LIGHTVM_FAULT=migrate-committing-stall LIGHTVM_FAULT_RELEASE="$TMP/release" -- ||
        return 1
    on d create --name heldg "$SNAP" 64 10 yield >/dev/null && console_has d heldg '^tick 1 ' || return 1
    on d migrate heldg "$(sock b)" >"$TMP/held.out" 2>&1 &
    local mig=$! deadline=$((SECONDS + 20)) r=0 op out
    until on b list --json heldg 2>/dev/null | grep -q '"suspended":true'; do
        [ $SECONDS -lt $deadline ] || { echo "never held at b"; touch "$TMP/release"; return 1; }
        read -rt 0.02 <> <(:) 2>/dev/null || true
    done
    for op in unpause resume; do
        out=$(on b $op heldg 2>&1) && { echo "$op worked: $out"; r=1; }
        echo "$out" | grep -q "held until its source commits" || { echo "$op: $out"; r=1; }
    done
    out=$(on b save heldg "$TMP/held.state" 2>&1) && { echo "save worked"; r=1; }
    echo "$out" | grep -q "held until its source commits" || { echo "save: $out"; r=1; }
    out=$(on b migrate heldg "$(sock a)" 2>&1) && { echo "migrate worked"; r=1; }
    echo "$out" | grep -q "held until its source commits" || { echo "migrate: $out"; r=1; }
    touch "$TMP/release"
    wait $mig || { cat "$TMP/held.out"; return 1; }
    console_has b heldg "resumed 1 " && [ "$(count_on d)" = 0 ] && on b destroy heldg >/dev/null || r=1
    return $r
}

# To a daemon in another network namespace, over a veth pair.
t_netns() {
    local g=mn t
    ip netns add "$NS" && ip link add "${NS}h" type veth peer name "${NS}n" &&
        ip link set "${NS}n" netns "$NS" && ip addr add 10.251.7.1/30 dev "${NS}h" &&
        ip link set "${NS}h" up && ip netns exec "$NS" ip addr add 10.251.7.2/30 dev "${NS}n" &&
        ip netns exec "$NS" ip link set "${NS}n" up && ip netns exec "$NS" ip link set lo up || return 1
    WRAP="nsenter --net=/run/netns/$NS" start_other c -- --pool 16M=1 --migrate-listen "10.251.7.2:$PORT" --migrate-token "$TMP/token" || return 1
    $LIGHTVM create --name $g "$SNAP" 1024 5 yield >/dev/null && console_has $g '^tick 2 ' || return 1
    $LIGHTVM migrate "${TOK[@]}" $g "tcp:10.251.7.2:$PORT" >/dev/null || return 1
    console_has c $g "resumed 1 " || return 1
    t=$(last_tick c $g)
    console_has c $g "^tick $((t + 2)) " && [ "$(count_on a)" = 0 ] && on c destroy $g >/dev/null
}

# A destination that refuses (a guest of that name there; the image
# changed since the guest started): one line, and the guest goes on here.
t_refused() {
    local t out
    on b create --name taken "$IDLE" >/dev/null || return 1
    $LIGHTVM create --name taken "$SNAP" 64 10 yield >/dev/null && console_has taken '^tick 1 ' || return 1
    out=$($LIGHTVM migrate taken "$(sock b)" 2>&1) && { echo "migrated: $out"; return 1; }
    echo "$out"
    [ "$(echo "$out" | wc -l)" = 1 ] && echo "$out" | grep -q "refused: a guest named 'taken' exists" || return 1
    t=$(last_tick a taken)
    console_has taken "^tick $((t + 2)) " && [ "$(state_on a taken)" = running ] || return 1
    on b destroy taken >/dev/null && $LIGHTVM destroy taken >/dev/null || return 1
    cp "$SNAP" "$TMP/moved.elf"
    $LIGHTVM create --name imgchg "$TMP/moved.elf" 64 10 yield >/dev/null && console_has imgchg '^tick 1 ' || return 1
    cp "$IDLE" "$TMP/moved.elf"
    out=$($LIGHTVM migrate imgchg "$(sock b)" 2>&1) && { echo "migrated: $out"; return 1; }
    echo "$out"
    echo "$out" | grep -q "refused: .*image" || return 1
    t=$(last_tick a imgchg)
    console_has imgchg "^tick $((t + 2)) " && [ "$(count_on b)" = 0 ] && $LIGHTVM destroy imgchg >/dev/null
}

# A stream that is not one: refused in one line, the daemon unharmed.
t_bad_stream() {
    local out
    out=$(python3 - "$(sock b)" <<'PY'
import socket, struct, sys
def conv(msgs):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(sys.argv[1])
    s.send(b'{"op":"migrate-in"}')
    for m in msgs:
        s.send(m)
    s.settimeout(10)
    r = s.recv(70000)
    print(r[16:].decode())
frame = lambda t, body: struct.pack('<IIQ', t, 0, len(body)) + body
conv([frame(99, b'')])                                # unknown type
conv([frame(4, struct.pack('<QQ', 0, 1) + b'x' * 4096)])  # pages first
conv([frame(1, b'{"version":1,"kind":"unikernel"}')])   # HELLO lacking
conv([frame(1, b'not json')])
conv([struct.pack('<IIQ', 4, 0, 1 << 40)])            # a huge frame
PY
) || return 1
    echo "$out"
    echo "$out" | grep -q "unknown frame type 99" &&
        echo "$out" | grep -q "a PAGES frame where HELLO was due" &&
        echo "$out" | grep -q "image_sha256" &&
        echo "$out" | grep -q "not a JSON object" &&
        echo "$out" | grep -q "PAGES frame of 1099511627776 bytes" || return 1
    on b list >/dev/null && [ "$(count_on b)" = 0 ]
}

# Members: a member moves its own guest (it is the member's there too),
# never another member's; root's TCP port is root's.
t_members() {
    chmod 755 "$TMP/b"
    as "$UA" env LIGHTVM_SOCKET="$LIGHTVM_SOCKET" $LIGHTVM create --name mine "$SNAP" 64 10 yield >/dev/null || return 1
    local out
    out=$(as "$UB" env LIGHTVM_SOCKET="$LIGHTVM_SOCKET" $LIGHTVM migrate "$UA/mine" "$(sock b)" 2>&1) &&
        { echo "B moved A's guest: $out"; return 1; }
    echo "$out"
    # Root's clone of a member's guest is the member's (made as its owner,
    # its files opened as the owner); root's restart of it is refused (it
    # would be made anew as root from the member's request).
    local c
    c=$($LIGHTVM clone "$UA/mine") || return 1
    $LIGHTVM list --json "$c" | grep -q "\"owner\":$(id -u "$UA")," || { $LIGHTVM list --json "$c"; return 1; }
    $LIGHTVM destroy "$c" >/dev/null || return 1
    out=$($LIGHTVM restart "$UA/mine" 2>&1) && { echo "restarted: $out"; return 1; }
    echo "$out" | grep -q "guest, and a restart makes it anew as you" || { echo "$out"; return 1; }
    as "$UA" env LIGHTVM_SOCKET="$LIGHTVM_SOCKET" $LIGHTVM migrate mine "$(sock b)" >/dev/null || return 1
    on b list --json "$UA/mine" | grep -q "\"owner\":$(id -u "$UA")" || { on b list --json; return 1; }
    console_has b "$UA/mine" "resumed 1 " && on b destroy "$UA/mine" >/dev/null
}

# Source daemon killed (-9) after the pre-copy, before the guest stopped:
# the next daemon finds it running; the destination made nothing.
t_kill_source_early() {
    start_other d LIGHTVM_FAULT=migrate-precopied -- || return 1
    on d create --name early "$SNAP" 64 10 yield >/dev/null && console_has d early '^tick 1 ' || return 1
    on d migrate "${TOK[@]}" early "tcp:127.0.0.1:$PORT" >/dev/null 2>&1 && { echo "migrated"; return 1; }
    wait "${DPID[d]}" 2>/dev/null
    gone_from b || return 1
    start_other d -- || return 1
    local t
    t=$(last_tick d early)
    console_has d early "^tick $((t + 2)) " && [ "$(state_on d early)" = running ] && on d destroy early >/dev/null
}

# Source daemon killed (-9) as it commits: the guest stays stopped on the
# source (never running twice); the destination, never told to commit,
# drops its copy; unpaused, the source's copy goes on.
t_kill_source_committing() {
    kill -TERM "${DPID[d]}" && wait "${DPID[d]}" 2>/dev/null
    start_other d LIGHTVM_FAULT=migrate-committing -- || return 1
    on d create --name late "$SNAP" 64 10 yield >/dev/null && console_has d late '^tick 1 ' || return 1
    on d migrate late "$(sock b)" >/dev/null 2>&1 && { echo "migrated"; return 1; }
    wait "${DPID[d]}" 2>/dev/null
    gone_from b || return 1
    grep -q "did not commit" "$TMP/lightvmd-b.log" || return 1
    start_other d -- || return 1
    [ "$(state_on d late)" = paused ] || { on d list; return 1; }
    local t
    t=$(last_tick d late)
    on d unpause late >/dev/null && console_has d late "^tick $((t + 1)) " &&
        [ "$(state_on d late)" = running ] && on d destroy late >/dev/null
}

# Destination killed (-9) holding the guest: the source goes on, and the
# destination's next daemon removes the held copy.
t_kill_dest_held() {
    kill -TERM "${DPID[b]}" && wait "${DPID[b]}" 2>/dev/null
    start_other b LIGHTVM_FAULT=migrate-in-held -- --migrate-listen "127.0.0.1:$PORT" --migrate-token "$TMP/token" || return 1
    $LIGHTVM create --name held "$SNAP" 64 10 yield >/dev/null && console_has held '^tick 1 ' || return 1
    local out t
    out=$($LIGHTVM migrate held "$(sock b)" 2>&1) && { echo "migrated: $out"; return 1; }
    echo "$out"
    wait "${DPID[b]}" 2>/dev/null
    t=$(last_tick a held)
    console_has held "^tick $((t + 2)) " && [ "$(state_on a held)" = running ] || return 1
    start_other b -- --migrate-listen "127.0.0.1:$PORT" --migrate-token "$TMP/token" || return 1
    gone_from b || return 1
    grep -q "did not commit: removed" "$TMP/lightvmd-b.log" && $LIGHTVM destroy held >/dev/null
}

# Destination killed (-9) once it let the guest run, before it said so:
# the source cannot know, so its copy stays stopped (paused), never
# running twice; the destination's next daemon adopts the running one.
t_kill_dest_committed() {
    kill -TERM "${DPID[b]}" && wait "${DPID[b]}" 2>/dev/null
    start_other b LIGHTVM_FAULT=migrate-in-committed -- --migrate-listen "127.0.0.1:$PORT" --migrate-token "$TMP/token" || return 1
    $LIGHTVM create --name doubt "$SNAP" 64 10 yield >/dev/null && console_has doubt '^tick 1 ' || return 1
    local out t
    out=$($LIGHTVM migrate doubt "$(sock b)" 2>&1) && { echo "migrated: $out"; return 1; }
    echo "$out"
    echo "$out" | grep -q "did not confirm" && [ "$(state_on a doubt)" = paused ] || return 1
    wait "${DPID[b]}" 2>/dev/null
    start_other b -- --migrate-listen "127.0.0.1:$PORT" --migrate-token "$TMP/token" || return 1
    console_has b doubt "resumed 1 " || return 1
    t=$(last_tick b doubt)
    console_has b doubt "^tick $((t + 2)) " || return 1
    # Still stopped here: its last tick does not move.
    t=$(last_tick a doubt)
    [ "$(state_on a doubt)" = paused ] && $LIGHTVM destroy doubt >/dev/null && on b destroy doubt >/dev/null
}

t_no_leftovers() {
    [ "$(count_on a)" = 0 ] && [ "$(count_on b)" = 0 ] && [ "$(count_on d)" = 0 ] ||
        { $LIGHTVM list; on b list; on d list; return 1; }
}

check daemons t_daemons
check "same host, over the API socket" t_unix
check "over TCP with pre-copy" t_tcp
check "to another network namespace" t_netns
check "a paused guest stays paused" t_paused
check "no block devices over TCP" t_tcp_no_block
check "the TCP port wants its secret" t_tcp_token
check "a destination that refuses" t_refused
check "bad migration streams" t_bad_stream
check "members" t_members
check "source killed before the stop" t_kill_source_early
check "source killed as it commits" t_kill_source_committing
check "destination killed holding the guest" t_kill_dest_held
check "destination killed as it commits" t_kill_dest_committed
check "a held guest is busy" t_held_busy
check "nothing left" t_no_leftovers
stop_all
finish
