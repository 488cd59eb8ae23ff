#!/bin/bash
# test_snapshot.sh: save, restore and clone of proc guests through
# lightvmd (kvm and proc<->kvm: tests/kvm/test_kvm.sh, under nested QEMU).
#
# The guest is tests/guests/snapcount.elf: it fills 1 MiB with random
# bytes, checks their hash every tick (aborting if it changed) and prints
# its tick number, how often it was restored and whether it is a clone.
# A round trip must continue the count exactly where it stopped. Bad state
# files, a guest that never parks, a daemon killed in the middle of a
# save: a one-line error, nothing lost, nothing duplicated, nothing
# half-made. Waits are on events, never sleeps.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh

LIGHTVMD=$BUILD/bin/lightvmd
SNAP=$TGUESTS/snapcount.elf
IDLE=$EXAMPLES/idle/idle.elf
GRP=lvmsn$$
UA=lvmsn$$a
UB=lvmsn$$b
trap 'daemon_stop; lib_cleanup; tenants_remove' EXIT
tenants_add "$GRP" "$UA" "$UB" ||
    { echo "cannot add test users"; echo "0 passed, 1 failed"; exit 1; }

as() {
    local u=$1
    shift
    setpriv --reuid="$u" --regid="$(id -g "$u")" --init-groups "$@"
}

# console_has GUEST TEXT: until the guest's console shows TEXT.
console_has() {
    local deadline=$((SECONDS + 20))
    until $LIGHTVM console "$1" 2>/dev/null | grep -qE -- "$2"; do
        [ $SECONDS -lt $deadline ] || { echo "console of $1 lacks '$2'"; $LIGHTVM console "$1" | tail -n 3; return 1; }
        read -rt 0.02 <> <(:) 2>/dev/null || true
    done
}

last_tick() { $LIGHTVM console "$1" | sed -n 's/^tick \([0-9]*\) .*/\1/p' | tail -n 1; }
first_tick() { $LIGHTVM console "$1" | sed -n 's/^tick \([0-9]*\) .*/\1/p' | head -n 1; }
nguests() { $LIGHTVM list --json | grep -c '"id"'; }
gstate() { guest_json "$1" | sed -n 's/.*"state":"\([a-z]*\)".*/\1/p'; }

t_daemon() { daemon_start --pool 16M=4 --group "$GRP" && chmod 755 "$TMP"; }

# A round trip continues exactly: the next tick, the same memory. The
# original's console is `lightvm run`'s output, a file that outlives it:
# whatever it printed until it parked is there.
t_round_trip() { # MODE: sleep (parks in a served nanosleep) or yield
    local g=rt-$1 out last first start run
    $LIGHTVM run --name "$g" "$SNAP" -- 1024 10 "$1" >"$TMP/$g.out" 2>"$TMP/$g.err" &
    run=$!
    wait_for_file_text "$TMP/$g.out" "tick 3 " || return 1
    out=$($LIGHTVM save --json "$g" "$TMP/$g.state") || { echo "$out"; return 1; }
    wait $run
    start=$(sed -n 's/^start kib 1024 hash \([0-9a-f]*\)$/\1/p' "$TMP/$g.out")
    last=$(sed -n 's/^tick \([0-9]*\) .*/\1/p' "$TMP/$g.out" | tail -n 1)
    # 1 MiB of random bytes and the rest: not the guest's 16 MiB of RAM.
    echo "$out" | grep -q '"pages":2[5-9][0-9],' || { echo "pages: $out"; return 1; }
    [ "$(stat -c %s "$TMP/$g.state")" -lt $((1400 * 1024)) ] || { ls -l "$TMP/$g.state"; return 1; }
    $LIGHTVM list --json "$g" >/dev/null 2>&1 && { echo "$g still exists after its save"; return 1; }
    $LIGHTVM restore "$TMP/$g.state" >/dev/null || return 1
    console_has "$g" '^tick ' || return 1
    first=$(first_tick "$g")
    [ "$first" = $((last + 1)) ] || { echo "last tick $last before, first $first after"; return 1; }
    $LIGHTVM console "$g" | grep -q "^tick $first hash $start resumed 1 cloned 0 " ||
        { $LIGHTVM console "$g" | head -n 2; echo "want hash $start"; return 1; }
    # And it goes on, and ends as any guest does.
    console_has "$g" "^tick $((first + 2)) " || return 1
    $LIGHTVM poweroff "$g" && [ "$($LIGHTVM wait "$g")" = "exited with status 0" ] &&
        $LIGHTVM destroy "$g" >/dev/null
}

# Restored twice (a state of a restored guest): the count goes on from
# where the second life was, never from the start.
t_twice() {
    local g=rt-twice first seen
    $LIGHTVM create --name $g "$SNAP" 64 10 yield >/dev/null && console_has $g '^tick 2 ' &&
        $LIGHTVM save $g "$TMP/tw1.state" && $LIGHTVM restore "$TMP/tw1.state" >/dev/null &&
        console_has $g '^tick .* resumed 1 ' || return 1
    seen=$(last_tick $g)
    $LIGHTVM save $g "$TMP/tw2.state" && $LIGHTVM restore "$TMP/tw2.state" >/dev/null &&
        console_has $g '^tick .* resumed 2 ' || return 1
    first=$(first_tick $g)
    [ "$first" -gt "$seen" ] || { echo "seen $seen in the second life, first $first in the third"; return 1; }
    $LIGHTVM destroy $g >/dev/null
}

# Only touched memory is stored: an idle guest with 64 MiB of RAM.
t_sparse() {
    local size
    $LIGHTVM create -m 64M --name sparse "$IDLE" >/dev/null && console_has sparse 'waiting' &&
        $LIGHTVM save sparse "$TMP/sparse.state" || return 1
    size=$(stat -c %s "$TMP/sparse.state")
    [ "$size" -lt $((256 * 1024)) ] || { echo "a 64 MiB idle guest saved $size bytes"; return 1; }
    $LIGHTVM restore "$TMP/sparse.state" >/dev/null && $LIGHTVM poweroff sparse &&
        [ "$($LIGHTVM wait sparse)" = "exited with status 0" ] && $LIGHTVM destroy sparse >/dev/null
}

t_leave_running() {
    local t
    $LIGHTVM create --name lr "$SNAP" 64 10 yield >/dev/null && console_has lr '^tick 1 ' || return 1
    $LIGHTVM save --leave-running lr "$TMP/lr.state" || return 1
    [ "$(gstate lr)" = running ] || { echo "state $(gstate lr)"; return 1; }
    t=$(last_tick lr)
    console_has lr "^tick $((t + 2)) " || return 1
    # Its state restores under another name while it runs.
    $LIGHTVM restore --name lr2 "$TMP/lr.state" >/dev/null && console_has lr2 '^tick .* resumed 1 ' &&
        $LIGHTVM destroy lr lr2 >/dev/null
}

# A save never replaces a file without --force; the guest is unharmed.
t_no_overwrite() {
    local out
    echo precious >"$TMP/exists.state"
    $LIGHTVM create --name ow "$SNAP" 64 10 yield >/dev/null && console_has ow '^tick 1 ' || return 1
    out=$($LIGHTVM save ow "$TMP/exists.state" 2>&1) && { echo "saved over a file"; return 1; }
    echo "$out" | grep -q "exists (use --force" || { echo "$out"; return 1; }
    [ "$(cat "$TMP/exists.state")" = precious ] && [ "$(gstate ow)" = running ] || return 1
    $LIGHTVM save --force ow "$TMP/exists.state" && $LIGHTVM restore "$TMP/exists.state" >/dev/null &&
        console_has ow '^tick .* resumed 1 ' && $LIGHTVM destroy ow >/dev/null
}

# A state restores only with the image it was saved from.
t_wrong_image() {
    local n out
    $LIGHTVM create --name wi "$SNAP" 64 10 yield >/dev/null && console_has wi '^tick 1 ' &&
        $LIGHTVM save wi "$TMP/wi.state" || return 1
    n=$(nguests)
    out=$($LIGHTVM restore "$TMP/wi.state" "$IDLE" 2>&1) && { echo "restored with another image"; return 1; }
    echo "$out" | grep -q "saved from another image: it needs snapcount.*sha256" ||
        { echo "$out"; return 1; }
    [ "$(echo "$out" | wc -l)" = 1 ] && [ "$(nguests)" = "$n" ] || return 1
    # A copy of the right image, anywhere, is the right image.
    cp "$SNAP" "$TMP/copy.elf" && $LIGHTVM restore "$TMP/wi.state" "$TMP/copy.elf" >/dev/null &&
        console_has wi '^tick .* resumed 1 ' && $LIGHTVM destroy wi >/dev/null
}

# bad_state FILE TEXT: restoring FILE fails in one line saying TEXT and
# makes nothing.
bad_state() {
    local out n
    n=$(nguests)
    out=$($LIGHTVM restore "$1" 2>&1) && { echo "$1 restored"; return 1; }
    [ "$(echo "$out" | wc -l)" = 1 ] && echo "$out" | grep -q "$2" ||
        { echo "$1: $out"; return 1; }
    [ "$(nguests)" = "$n" ] || { echo "$1 left a guest"; return 1; }
}

t_bad_files() {
    local s=$TMP/good.state size
    $LIGHTVM create --name bf "$SNAP" 64 10 yield >/dev/null && console_has bf '^tick 1 ' &&
        $LIGHTVM save bf "$s" || return 1
    size=$(stat -c %s "$s")
    head -c $((size - 100)) "$s" >"$TMP/trunc.state"
    head -c 3000 "$s" >"$TMP/short.state"
    cp "$s" "$TMP/flip.state"
    printf '\xff' | dd of="$TMP/flip.state" bs=1 seek=$((size / 2)) conv=notrunc status=none
    cp "$s" "$TMP/version.state"
    printf '\x07' | dd of="$TMP/version.state" bs=1 seek=8 conv=notrunc status=none
    head -c 8192 /dev/urandom >"$TMP/random.state"
    : >"$TMP/empty.state"
    bad_state "$TMP/trunc.state" "truncated" &&
        bad_state "$TMP/short.state" "truncated" &&
        bad_state "$TMP/flip.state" "checksum mismatch" &&
        bad_state "$TMP/version.state" "version 7, this lightvm reads version 1" &&
        bad_state "$TMP/random.state" "not a lightvm state file" &&
        bad_state "$TMP/empty.state" "truncated\|not a lightvm state file" &&
        bad_state "$TMP/nonexistent.state" "No such file" || return 1
    # A qemu guest's state is not restored under proc, nor this under qemu.
    bad_state_monitor qemu "$s" "cannot be restored under qemu" || return 1
    # The good one is still good.
    $LIGHTVM restore "$s" >/dev/null && console_has bf '^tick .* resumed 1 ' &&
        $LIGHTVM destroy bf >/dev/null
}

bad_state_monitor() {
    local out
    out=$($LIGHTVM restore --monitor "$1" "$2" 2>&1) && { echo "restored under $1"; return 1; }
    echo "$out" | grep -q "$3" || { echo "$out"; return 1; }
}

# A guest that never yields cannot be saved: the save gives up in one
# line, the guest runs on, no file is made.
t_never_parks() {
    local out
    $LIGHTVM create --name spin "$SNAP" 64 10 spin >/dev/null && console_has spin '^start ' || return 1
    out=$($LIGHTVM save spin "$TMP/spin.state" 2>&1) && { echo "saved a spinning guest"; return 1; }
    echo "$out" | grep -q "did not stop for the snapshot within 5 s" || { echo "$out"; return 1; }
    [ ! -e "$TMP/spin.state" ] && [ "$(gstate spin)" = running ] || return 1
    $LIGHTVM destroy spin >/dev/null
}

t_clone_guest() {
    local n rands
    $LIGHTVM create --name orig "$SNAP" 1024 10 yield >/dev/null && console_has orig '^tick 2 ' || return 1
    $LIGHTVM clone -n 3 orig >"$TMP/clones" || return 1
    [ "$(wc -l <"$TMP/clones")" = 3 ] || return 1
    for n in 1 2 3; do
        console_has "orig-$n" '^tick .* resumed 1 cloned 1 ' || return 1
    done
    # Each its own random numbers, though they were one guest.
    rands=$(for n in 1 2 3; do $LIGHTVM console "orig-$n" | sed -n 's/.* rand \([0-9a-f]*\)$/\1/p' | head -n 1; done | sort -u | wc -l)
    [ "$rands" = 3 ] || { echo "clones share random numbers"; return 1; }
    # The original goes on, not a clone.
    local t
    t=$(last_tick orig)
    console_has orig "^tick $((t + 1)) .* resumed 0 cloned 0 " || return 1
    $LIGHTVM destroy orig orig-1 orig-2 orig-3 >/dev/null
}

t_clone_file() {
    $LIGHTVM create --name cf "$SNAP" 64 10 yield >/dev/null && console_has cf '^tick 1 ' &&
        $LIGHTVM save cf "$TMP/cf.state" || return 1
    $LIGHTVM clone -n 2 --name fromfile "$TMP/cf.state" --json >"$TMP/cf.json" || return 1
    grep -q '^\[{"id":"[0-9a-f]*","name":"fromfile-1".*"name":"fromfile-2"' "$TMP/cf.json" ||
        { cat "$TMP/cf.json"; return 1; }
    console_has fromfile-2 '^tick .* cloned 1 ' && $LIGHTVM destroy fromfile-1 fromfile-2 >/dev/null
}

# 100 clones share the snapshot's pages: their proportional set sizes
# add up to a fraction of what each maps.
t_clone_memory() {
    local pss=0 rss=0 pid p r
    $LIGHTVM create --name big "$SNAP" 4096 50 yield >/dev/null && console_has big '^tick 1 ' || return 1
    $LIGHTVM clone -q -n 100 big || return 1
    console_has big-100 '^tick .* cloned 1 ' || return 1
    for pid in $($LIGHTVM list --json | tr '{' '\n' | sed -n 's/.*"name":"big-[0-9]*".*"pid":\([0-9]*\),.*/\1/p'); do
        p=$(sed -n 's/^Pss: *\([0-9]*\) kB/\1/p' "/proc/$pid/smaps_rollup")
        r=$(sed -n 's/^Rss: *\([0-9]*\) kB/\1/p' "/proc/$pid/smaps_rollup")
        pss=$((pss + p))
        rss=$((rss + r))
    done
    echo "100 clones: Rss $rss kB, Pss $pss kB"
    [ "$rss" -gt $((100 * 4096)) ] && [ $((pss * 4)) -lt "$rss" ] || return 1
    $LIGHTVM destroy big $(seq -f 'big-%g' 1 100) >/dev/null
}

# Tenants: a member saves its own guest to a file it owns, in a place it
# may write; never another's guest, never where it may not write.
t_tenants() {
    local out
    mkdir -p "$TMP/ua" && chown "$UA" "$TMP/ua" && chmod 700 "$TMP/ua" || return 1
    as "$UA" $LIGHTVM create --name mine "$SNAP" 64 10 yield >/dev/null || return 1
    out=$(as "$UB" $LIGHTVM save "$UA/mine" "$TMP/b.state" 2>&1) && { echo "B saved A's guest"; return 1; }
    out=$(as "$UB" $LIGHTVM clone "$(id -u "$UA")/mine" 2>&1) && { echo "B cloned A's guest"; return 1; }
    out=$(as "$UA" $LIGHTVM save mine /root/a.state 2>&1) && { echo "A wrote into /root"; return 1; }
    echo "$out" | grep -q "Permission denied" || { echo "$out"; return 1; }
    [ "$(as "$UA" $LIGHTVM list --json mine | grep -c '"state":"running"')" = 1 ] || return 1
    as "$UA" $LIGHTVM save mine "$TMP/ua/a.state" || return 1
    [ "$(stat -c '%U %a' "$TMP/ua/a.state")" = "$UA 600" ] || { stat -c '%U %a' "$TMP/ua/a.state"; return 1; }
    # B cannot read A's file, so cannot restore it.
    out=$(as "$UB" $LIGHTVM restore "$TMP/ua/a.state" 2>&1) && { echo "B restored A's state"; return 1; }
    as "$UA" $LIGHTVM restore "$TMP/ua/a.state" >/dev/null &&
        [ "$(as "$UA" $LIGHTVM list --json mine | grep -c '"state":"running"')" = 1 ] &&
        as "$UA" $LIGHTVM destroy mine >/dev/null
}

# A daemon killed in the middle of a save: the guest goes on (adopted
# and unparked by the next daemon), and no file, not even half of one.
t_killed_mid_save() {
    local t
    daemon_stop
    LIGHTVM_FAULT=save-killed daemon_start --group "$GRP" || return 1
    $LIGHTVM create --name victim "$SNAP" 64 10 yield >/dev/null && console_has victim '^tick 1 ' || return 1
    $LIGHTVM save victim "$TMP/victim.state" 2>/dev/null && { echo "the save succeeded"; return 1; }
    wait "$DAEMON_PID" 2>/dev/null
    DAEMON_PID=
    [ -z "$(ls -A "$TMP" | grep victim)" ] || { ls -la "$TMP" | grep victim; return 1; }
    daemon_start --group "$GRP" || return 1
    grep -q "victim\|resumed after an interrupted snapshot" "$TMP/lightvmd.log" || true
    t=$(last_tick victim)
    console_has victim "^tick $((t + 2)) " || return 1
    [ "$(gstate victim)" = running ] && $LIGHTVM destroy victim >/dev/null
}

check daemon t_daemon
check "round trip, parked in a served sleep" t_round_trip sleep
check "round trip, parked at a yield" t_round_trip yield
check "round trip, with three threads" t_round_trip threads
check "restored twice" t_twice
check "only touched memory is stored" t_sparse
check "save --leave-running" t_leave_running
check "no overwrite without --force" t_no_overwrite
check "wrong image refused" t_wrong_image
check "bad state files refused" t_bad_files
check "a guest that never parks" t_never_parks
check "clone a running guest" t_clone_guest
check "clone a state file" t_clone_file
check "100 clones share memory" t_clone_memory
check "tenants" t_tenants
check "daemon killed mid-save" t_killed_mid_save
daemon_stop
finish
