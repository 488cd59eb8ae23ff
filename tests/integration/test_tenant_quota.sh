#!/bin/bash
# test_tenant_quota.sh: lightvmd with the config's quotas, two API members
# and root. A member hits each quota and is refused in one line naming
# the quota, its usage and its limit, before anything is made; the other
# member (with a user override) and root (exempt) are unaffected; an exit
# frees what only a running guest holds, a destroy the rest; a failed
# create leaves nothing (usage, image templates, run directories), even
# for a small file reached through several paths (issue 11, item 4).
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
API=$BUILD/tests/tools/apiclient
IDLE=$EXAMPLES/idle/idle.elf
HELLO=$EXAMPLES/hello/hello.elf
BIG=$TGUESTS/bigbss.elf # a 100 KiB file whose image needs 24 MiB

GRP=lvmq$$
UA=lvmq$$a
UB=lvmq$$b
trap 'daemon_stop; lib_cleanup; tenants_remove' EXIT
tenants_add "$GRP" "$UA" "$UB" ||
    { echo "cannot add test users"; echo "0 passed, 1 failed"; exit 1; }

as() {
    local u=$1
    shift
    setpriv --reuid="$u" --regid="$(id -g "$u")" --init-groups "$@"
}

# Members: 2 guests, 48 MiB of RAM, 64 MiB of memory limits, 2.5 CPUs,
# consoles of 2 MiB each and 3 MiB in all, 16 MiB of templates. B may
# have 3 guests, 8 CPUs and 64 MiB of templates. Root: none.
CONF=$TMP/lightvmd.conf
cat >"$CONF" <<EOF
# test_tenant_quota.sh
{
  "quotas": {
    "members": {"guests": 2, "ram": "48M", "memory_limit": "64M",
                "cpus": 2.5, "console": "2M", "console_total": "3M",
                "templates": "16M"},
    "users": {"$UB": {"guests": 3, "cpus": 8, "templates": "64M",
                      "connections": 3}}
  }
}
EOF

# The daemon's memfds: one per image template it holds.
memfds() { ls -l "/proc/$DAEMON_PID/fd" 2>/dev/null | grep -c 'memfd:'; }
rundirs() { find "$LIGHTVM_RUN_DIR/guests" -mindepth 1 -maxdepth 1 | wc -l; }
# used USER QUOTA: what `lightvm quota --json` says USER uses of QUOTA.
used() {
    as "$1" $LIGHTVM quota --json |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["quotas"][sys.argv[1]]["used"])' "$2"
}
# Destroy every guest (root sees all).
destroy_all() {
    local ids
    ids=$($LIGHTVM list -q)
    [ -z "$ids" ] || $LIGHTVM destroy $ids >/dev/null
}
# refused USER WANT CREATE-ARGS...: the create is refused with one line
# containing WANT, and the member's usage is as before.
refused() {
    local u=$1 want=$2 before after
    shift 2
    before=$(as "$u" $LIGHTVM quota --json)
    ! as "$u" $LIGHTVM create "$@" >/dev/null 2>"$TMP/err" || { echo "created: $*"; return 1; }
    contains "$TMP/err" "$want" || return 1
    [ "$(wc -l <"$TMP/err")" -eq 1 ] || { cat "$TMP/err"; return 1; }
    after=$(as "$u" $LIGHTVM quota --json)
    [ "$before" = "$after" ] || { echo "usage moved: $before -> $after"; return 1; }
}

t_guests() {
    as "$UA" $LIGHTVM create --name a1 $IDLE >/dev/null &&
        as "$UA" $LIGHTVM create --name a2 $IDLE >/dev/null || return 1
    local dirs
    dirs=$(rundirs)
    refused "$UA" "quota guests exceeded: 2 in use + 1 asked, limit 2 (see 'lightvm quota')" \
        --name a3 $IDLE || return 1
    [ "$(rundirs)" -eq "$dirs" ] || { echo "a refused create made a run directory"; return 1; }
    # The API's code is "quota".
    as "$UA" $API "$LIGHTVM_SOCKET" "{\"op\":\"create\",\"image\":\"$IDLE\"}" >"$TMP/reply"
    contains "$TMP/reply" '"code":"quota"' || return 1
    # B (its own override) and root are unaffected by A's usage.
    for n in 1 2 3; do
        as "$UB" $LIGHTVM create --name b$n $IDLE >/dev/null || { echo "B's guest $n"; return 1; }
    done
    refused "$UB" "quota guests exceeded: 3 in use + 1 asked, limit 3" $IDLE || return 1
    for n in 1 2 3 4; do
        $LIGHTVM create --name r$n $IDLE >/dev/null || { echo "root's guest $n"; return 1; }
    done
    # Destroying one frees its place.
    as "$UA" $LIGHTVM destroy a1 >/dev/null &&
        as "$UA" $LIGHTVM create --name a1 $IDLE >/dev/null || return 1
    destroy_all
    [ "$(used "$UA" guests)" = 0 ] && [ "$(used "$UB" guests)" = 0 ]
}

t_ram() {
    as "$UA" $LIGHTVM create --mem 40M $IDLE >/dev/null || return 1
    refused "$UA" "quota ram exceeded: 40.0 MiB in use + 16.0 MiB asked, limit 48.0 MiB" \
        $IDLE || return 1
    as "$UB" $LIGHTVM create --mem 40M $IDLE >/dev/null || return 1
    destroy_all
}

t_memory_limit() {
    # The reported case: limits adding up past what the member may hold.
    as "$UA" $LIGHTVM create --mem-limit 60M $IDLE >/dev/null || return 1
    refused "$UA" "quota memory_limit exceeded: 60.0 MiB in use + 21.0 MiB asked, limit 64.0 MiB" \
        $IDLE || return 1
    refused "$UA" "quota memory_limit exceeded" --mem-limit 1G $IDLE || return 1
    destroy_all
    refused "$UA" "quota memory_limit exceeded: 0.0 MiB in use + 1.0 GiB asked" \
        --mem-limit 1G $IDLE
}

t_cpus() {
    as "$UA" $LIGHTVM create --cpus 2 $IDLE >/dev/null || return 1
    # A guest without a CPU quota counts one CPU.
    refused "$UA" "quota cpus exceeded: 2.00 CPUs in use + 1.00 CPUs asked, limit 2.50 CPUs" \
        $IDLE || return 1
    as "$UA" $LIGHTVM create --cpus 0.5 $IDLE >/dev/null || return 1
    destroy_all
}

t_console() {
    # The reported case: a console log of up to 1 GiB.
    refused "$UA" "quota console exceeded: console_limit 1.0 GiB asked, limit 2.0 MiB per guest" \
        --console-limit 1G $IDLE || return 1
    as "$UA" $LIGHTVM create --console-limit 2M $IDLE >/dev/null || return 1
    refused "$UA" "quota console_total exceeded: 2.0 MiB in use + 2.0 MiB asked, limit 3.0 MiB" \
        --console-limit 2M $IDLE || return 1
    # Root may ask for any.
    $LIGHTVM create --console-limit 1G $IDLE >/dev/null || return 1
    destroy_all
}

t_exit_and_destroy() {
    # An exited guest's RAM, limits and CPU are free; its record and log
    # count until it is destroyed.
    as "$UA" $LIGHTVM create --name h $HELLO >/dev/null &&
        as "$UA" $LIGHTVM wait h >/dev/null || return 1
    [ "$(used "$UA" ram)" = 0 ] && [ "$(used "$UA" memory_limit)" = 0 ] &&
        [ "$(used "$UA" cpus)" = 0.0 ] || { as "$UA" $LIGHTVM quota; return 1; }
    [ "$(used "$UA" guests)" = 1 ] && [ "$(used "$UA" console_total)" = 1048576 ] ||
        { as "$UA" $LIGHTVM quota; return 1; }
    as "$UA" $LIGHTVM destroy h >/dev/null || return 1
    local q
    for q in guests ram memory_limit console_total templates; do
        [ "$(used "$UA" $q)" = 0 ] || { echo "$q still used"; return 1; }
    done
}

t_failed_create_leaves_nothing() {
    # A small file reached through several paths (a hard link, a
    # symlink, another spelling), created from until it fails.
    local dir=$TMP/imgs m0 d0
    mkdir -p "$dir" && chmod 755 "$dir" && cp "$BIG" "$dir/big.elf" &&
        ln "$dir/big.elf" "$dir/hard.elf" && ln -s big.elf "$dir/sym.elf" &&
        chmod 644 "$dir/big.elf" || return 1
    m0=$(memfds)
    d0=$(rundirs)
    local p
    for p in "$dir/big.elf" "$dir/hard.elf" "$dir/sym.elf" "$dir/./big.elf" "$dir/../imgs/hard.elf"; do
        # A: beyond its templates quota (24 MiB > 16 MiB).
        refused "$UA" "quota templates exceeded: 0.0 MiB in use + 24." "$p" || return 1
        # B: the template fits, the guest's RAM does not.
        ! as "$UB" $LIGHTVM create "$p" 2>"$TMP/err" >/dev/null || return 1
        contains "$TMP/err" "too little for this image" || return 1
        [ "$(memfds)" -eq "$m0" ] || { echo "$(memfds) memfds, $m0 before ($p)"; return 1; }
    done
    [ "$(rundirs)" -eq "$d0" ] || { echo "run directories left"; return 1; }
    for q in guests ram memory_limit cpus console_total templates; do
        [ "$(used "$UB" $q)" = 0 ] || [ "$(used "$UB" $q)" = 0.0 ] ||
            { echo "B's $q still used"; return 1; }
    done
}

t_shared_template() {
    # One file through two paths: one template, charged once; with its
    # last guest gone it is charged to nobody (kept warm by the daemon,
    # within its own bound: images.c).
    local dir=$TMP/shared m0
    mkdir -p "$dir" && chmod 755 "$dir" && cp "$IDLE" "$dir/idle.elf" &&
        ln "$dir/idle.elf" "$dir/link.elf" && chmod 644 "$dir/idle.elf" || return 1
    m0=$(memfds)
    as "$UA" $LIGHTVM create --name s1 "$dir/idle.elf" >/dev/null || return 1
    local t1
    t1=$(used "$UA" templates)
    as "$UA" $LIGHTVM create "$dir/link.elf" >/dev/null || return 1
    [ "$(memfds)" -eq $((m0 + 1)) ] || { echo "$(memfds) memfds, $m0 before"; return 1; }
    [ "$t1" -gt 0 ] && [ "$(used "$UA" templates)" = "$t1" ] || return 1
    # Named after the path each was created from.
    as "$UA" $LIGHTVM list | grep -q ' link-' || { as "$UA" $LIGHTVM list; return 1; }
    destroy_all
    [ "$(memfds)" -le $((m0 + 1)) ] && [ "$(used "$UA" templates)" = 0 ]
}

t_template_holds_its_file() {
    # A template is known by its file's inode: the daemon keeps the file
    # open while it holds the template (in use or warm), so a deleted
    # image's inode is never freed and handed to another user's file made
    # to match its size and mtime.
    local f=$TMP/held.elf
    cp "$IDLE" "$f" && chmod 644 "$f" || return 1
    as "$UA" $LIGHTVM create --name held "$f" >/dev/null || return 1
    as "$UA" $LIGHTVM destroy held >/dev/null || return 1
    rm -f "$f"
    ls -l "/proc/$DAEMON_PID/fd" | grep -qF "$f (deleted)" ||
        { ls -l "/proc/$DAEMON_PID/fd"; return 1; }
}

t_quota_command() {
    as "$UA" $LIGHTVM create --name q $IDLE >/dev/null || return 1
    as "$UA" $LIGHTVM quota >"$TMP/q" || return 1
    contains "$TMP/q" "QUOTA" &&
        grep -qE '^guests +1 +2$' "$TMP/q" &&
        grep -qE '^memory_limit +21.0 MiB +64.0 MiB$' "$TMP/q" &&
        grep -qE '^console +- +2.0 MiB  \(per guest\)$' "$TMP/q" || { cat "$TMP/q"; return 1; }
    as "$UA" $LIGHTVM quota --json >"$TMP/qj" || return 1
    contains "$TMP/qj" "\"uid\":$(id -u "$UA")" &&
        contains "$TMP/qj" '"guests":{"limit":2,"used":1}' || return 1
    # Each sees its own; root has no limits unless configured.
    [ "$(used "$UB" guests)" = 0 ] || return 1
    $LIGHTVM quota >"$TMP/qr" || return 1
    grep -qE '^guests +0 +unlimited$' "$TMP/qr" || { cat "$TMP/qr"; return 1; }
    destroy_all
}

t_bad_config() {
    local f=$TMP/bad.conf
    echo '{"quotas": {"members": {"ram": "lots"}}}' >"$f"
    expect_status 2 $LIGHTVMD --run-dir "$TMP/badrun" --config "$f" 2>"$TMP/bad.err" || return 1
    contains "$TMP/bad.err" "field quotas.members.ram: 'lots' is not a size" || return 1
    [ "$(wc -l <"$TMP/bad.err")" -eq 1 ] || return 1
    echo '{"quotas": {"users": {"lvmq-nobody": {"guests": 1}}}}' >"$f"
    expect_status 2 $LIGHTVMD --run-dir "$TMP/badrun" --config "$f" 2>"$TMP/bad.err" || return 1
    contains "$TMP/bad.err" "field quotas.users: no user 'lvmq-nobody'"
}

t_connections() {
    # B may hold 3 connections (its quota, under the daemon's own cap of
    # 64 a member): the fourth is refused, naming the limit; A and root
    # still connect, and B's usage shows in its quota.
    local fifo=$TMP/hold.fifo out=$TMP/hold.out r=0
    mkfifo "$fifo" || return 1
    as "$UB" $BUILD/tests/tools/flood "$LIGHTVM_SOCKET" hold 5 <"$fifo" >"$out" 2>&1 &
    local pid=$!
    exec {hold}>"$fifo"
    wait_for_file_text "$out" holding 20 || { cat "$out"; r=1; }
    cat "$out"
    grep -q "^admitted 3$" "$out" || r=1
    grep -q "too many connections for uid $(id -u "$UB") (limit 3)" "$out" || r=1
    as "$UA" $LIGHTVM list >/dev/null || { echo "A refused"; r=1; }
    $LIGHTVM list >/dev/null || { echo "root refused"; r=1; }
    exec {hold}>&-
    wait $pid
    [ "$(as "$UB" $LIGHTVM quota --json | python3 -c 'import json,sys; q=json.load(sys.stdin)["quotas"]["connections"]; print(q["limit"], q["used"])')" = "3 1" ] ||
        { as "$UB" $LIGHTVM quota --json; r=1; }
    return $r
}

check bad_config t_bad_config
daemon_start --group "$GRP" --config "$CONF" --pool 0 || { echo "0 passed, 1 failed"; exit 1; }
# Each test starts with no guests: one that failed leaves none behind.
qcheck() {
    destroy_all
    check "$@"
}
qcheck guests t_guests
qcheck ram t_ram
qcheck memory_limit t_memory_limit
qcheck cpus t_cpus
qcheck console t_console
qcheck exit_and_destroy t_exit_and_destroy
qcheck failed_create_leaves_nothing t_failed_create_leaves_nothing
qcheck shared_template t_shared_template
qcheck template_holds_its_file t_template_holds_its_file
qcheck quota_command t_quota_command
check connections t_connections
destroy_all
check no_leftovers no_new_leftovers
finish
