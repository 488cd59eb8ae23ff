#!/bin/bash
# test_systemd.sh: lightvmd.service under systemd, as `make install` puts
# it. This host's PID 1 need not be systemd: the test boots one in a
# container (systemd-nspawn, Debian's systemd-container) from the host's
# own /usr with a fresh /etc and /var (--volatile=yes), so it needs no
# download. The installed tree (a DESTDIR) is bound at /usr/local and
# /etc/lightvm; the unit is enabled and started with systemctl, a guest
# is created, and the unit is restarted: the guest must be adopted by the
# new daemon, which says READY=1 and logs to the journal.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
MACHINE=lvmtest$$
NSPAWN_PID=
trap 'container_stop; lib_cleanup' EXIT

if [ "$BUILD" = build/san ]; then MAKEVARS=(SAN=1); else MAKEVARS=(BUILD="$BUILD"); fi
DEST=$TMP/dest
CTL=$TMP/ctl # shared with the container at /ctl

# inside CMD...: run CMD inside the container (all its namespaces).
inside() {
    nsenter -t "$LEADER" -m -u -i -n -p -- env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        LIGHTVM_CGROUP_ROOT=/run/hostcg LIGHTVM_CGROUP_PARENT="$LIGHTVM_CGROUP_PARENT" "$@"
}

container_stop() {
    [ -n "$NSPAWN_PID" ] || return 0
    # Guests first (they live in this suite's cgroups), then the container.
    [ -n "${LEADER:-}" ] && inside sh -c 'for g in $(lightvm list -q 2>/dev/null); do lightvm destroy "$g"; done' >/dev/null 2>&1
    kill -TERM "$NSPAWN_PID" 2>/dev/null
    local i=0
    while kill -0 "$NSPAWN_PID" 2>/dev/null && [ $i -lt 500 ]; do
        i=$((i + 1))
        read -rt 0.02 <> <(:) 2>/dev/null || true
    done
    kill -KILL "$NSPAWN_PID" 2>/dev/null
    wait "$NSPAWN_PID" 2>/dev/null
    NSPAWN_PID=
}

# Wait until systemd in the container has finished booting.
container_boot() {
    mkdir -p "$CTL" "$TMP/dropin"
    cp "$EXAMPLES/idle/idle.elf" "$CTL/"
    # The test's one change to the unit: guests' cgroups in the host's
    # hierarchies, under this suite's parent.
    printf '[Service]\nEnvironment=LIGHTVM_CGROUP_ROOT=/run/hostcg LIGHTVM_CGROUP_PARENT=%s\n' \
        "$LIGHTVM_CGROUP_PARENT" >"$TMP/dropin/test.conf"
    # A network of its own: the host's packages' services that its first
    # boot starts (nginx, redis...) bind nothing on the host's.
    # The guests' cgroups are the host's, under this suite's parent:
    # inside the container the hierarchies are systemd's, read-only.
    # systemd-nspawn's own system call filter refuses pidfd_getfd, which
    # a daemon uses to signal an adopted guest (a container's limit, not
    # a host's).
    systemd-nspawn --quiet --directory=/ --volatile=yes --register=no \
        --keep-unit --console=passive --machine="$MACHINE" --private-network \
        --capability=all --system-call-filter="pidfd_getfd kcmp" --bind-ro="$DEST/usr/local:/usr/local" \
        --bind-ro="$DEST/etc/lightvm:/etc/lightvm" --bind="$CTL:/ctl" \
        --bind=/sys/fs/cgroup:/run/hostcg \
        --bind-ro="$TMP/dropin:/etc/systemd/system/lightvmd.service.d" \
        --boot -- systemd.firstboot=off systemd.mask=nftables.service \
        >"$TMP/nspawn.log" 2>&1 &
    NSPAWN_PID=$!
    local deadline=$((SECONDS + 60))
    LEADER=
    # The container's PID 1 is systemd-nspawn's child once it runs
    # systemd (an intermediate child comes and goes first).
    while [ -z "$LEADER" ]; do
        LEADER=$(ps -o pid=,comm= --ppid "$NSPAWN_PID" | awk '$2 == "systemd" {print $1}')
        kill -0 "$NSPAWN_PID" 2>/dev/null || { cat "$TMP/nspawn.log"; return 1; }
        [ $SECONDS -lt $deadline ] || { echo "no container"; return 1; }
        read -rt 0.05 <> <(:) 2>/dev/null || true
    done
    until inside systemctl is-system-running --wait >"$TMP/state" 2>&1; do
        grep -q degraded "$TMP/state" && break
        [ $SECONDS -lt $deadline ] || { cat "$TMP/state"; echo "systemd did not boot"; return 1; }
        read -rt 0.1 <> <(:) 2>/dev/null || true
    done
}

t_install() {
    make -s --no-print-directory "${MAKEVARS[@]}" DESTDIR="$DEST" install >"$TMP/make.log" 2>&1 ||
        { tail -20 "$TMP/make.log"; return 1; }
}

t_boot() {
    command -v systemd-nspawn >/dev/null || { echo "systemd-nspawn missing (scripts/deps.sh)"; return 1; }
    container_boot
}

t_enable_start() {
    # As an operator would: the unit is found in /usr/local, enabled and
    # started; start returns once lightvmd said READY=1. (A first boot
    # applies the presets, which may have started it already.)
    inside systemctl daemon-reload &&
        inside systemctl enable lightvmd.service &&
        inside systemctl restart lightvmd.service || { inside systemctl status lightvmd; return 1; }
    inside systemctl is-active lightvmd >"$TMP/a" && contains "$TMP/a" active || return 1
    inside systemctl show -p Type -p MainPID -p StatusText lightvmd >"$TMP/show" || return 1
    contains "$TMP/show" "Type=notify" && contains "$TMP/show" "StatusText=0 guests" || return 1
    # The socket answers as soon as start returned.
    inside lightvm version >"$TMP/v" && contains "$TMP/v" "lightvmd: $(./scripts/version.sh)"
}

t_journal() {
    inside journalctl -u lightvmd --no-pager -o cat >"$TMP/journal" || return 1
    contains "$TMP/journal" "ready on /run/lightvm/lightvmd.sock" || return 1
    # At info priority, and without our own timestamp in the message.
    inside journalctl -u lightvmd --no-pager -p info -o cat | grep -q "^ready on" || return 1
}

t_restart_adopts() {
    local id pid1 mpid1 mpid2
    id=$(inside lightvm create --name keep /ctl/idle.elf) || return 1
    pid1=$(inside lightvm list --json | sed -n 's/.*"pid":\([0-9]*\).*/\1/p')
    mpid1=$(inside systemctl show -p MainPID --value lightvmd)
    inside systemctl restart lightvmd || return 1
    mpid2=$(inside systemctl show -p MainPID --value lightvmd)
    [ "$mpid1" != "$mpid2" ] || { echo "MainPID $mpid1 did not change"; return 1; }
    inside systemctl show -p StatusText lightvmd >"$TMP/show" && contains "$TMP/show" "StatusText=1 guests" || return 1
    inside lightvm list --json >"$TMP/list" || return 1
    # The same guest (id and process), running, adopted.
    contains "$TMP/list" "\"id\":\"$id\"" && contains "$TMP/list" '"state":"running"' &&
        contains "$TMP/list" '"adopted":true' && contains "$TMP/list" "\"pid\":$pid1," || return 1
    # The guest still answers: poweroff through the new daemon, then wait.
    inside lightvm poweroff keep && inside lightvm wait keep >/dev/null || return 1
    inside lightvm destroy keep >/dev/null
}

t_stop_leaves_guests() {
    local id pid
    id=$(inside lightvm create --name stays /ctl/idle.elf) || return 1
    pid=$(inside lightvm list --json | sed -n 's/.*"pid":\([0-9]*\).*/\1/p')
    inside systemctl stop lightvmd || return 1
    # Stopped: the guest runs on, and its run directory is kept.
    inside kill -0 "$pid" || { echo "guest $pid died with the unit"; return 1; }
    inside test -d "/run/lightvm/guests/$id" || { echo "run directory removed"; return 1; }
    inside systemctl start lightvmd && inside lightvm list >"$TMP/l" && contains "$TMP/l" stays || return 1
    inside lightvm destroy stays >/dev/null
}

check install t_install
check boot t_boot
check enable_start t_enable_start
check journal t_journal
check restart_adopts t_restart_adopts
check stop_leaves_guests t_stop_leaves_guests
finish
