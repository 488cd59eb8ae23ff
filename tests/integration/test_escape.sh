#!/bin/bash
# test_escape.sh: the escape battery. Guests that make raw system calls
# (not through the SDK) a guest must never get away with: an attack is
# killed by the kernel and reported by name; a harmless call the SDK does
# not serve (open, fork, an AF_INET socket) is answered inside the guest
# with an errno and a console warning (docs/sdk.md). Either way the host
# shows no trace of it. Memory outside the guest's RAM must be unreachable.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
# The cold path: this suite is about lightvm on its own.
export LIGHTVM_NO_DAEMON=1

ESC=$TGUESTS/escape.elf

# escape_killed ATTEMPT SYSCALL [ARG]: killed by the policy, named.
escape_killed() {
    local what=$1 name=$2 arg=${3:-}
    $LIGHTVM run $ESC $what $arg >"$TMP/$what.out" 2>"$TMP/$what.err"
    local rc=$?
    cat "$TMP/$what.out" "$TMP/$what.err"
    if grep -q ESCAPED "$TMP/$what.out"; then
        echo "the $what attempt returned to the guest"
        return 1
    fi
    [ $rc -eq 159 ] || { echo "exit status $rc, expected 159 (SIGSYS)"; return 1; }
    contains "$TMP/$what.err" "killed: forbidden system call $name"
}

# escape_refused ATTEMPT SYSCALL ERRNO [ARG]: answered -ERRNO inside the
# guest, which goes on, with the SDK's one-time warning naming the call.
escape_refused() {
    local what=$1 name=$2 errno=$3 arg=${4:-}
    local num
    num=$(errno_num "$errno") || return 1
    $LIGHTVM run $ESC $what $arg >"$TMP/$what.out" 2>"$TMP/$what.err"
    local rc=$?
    cat "$TMP/$what.out" "$TMP/$what.err"
    [ $rc -eq 0 ] || { echo "exit status $rc, expected 0"; return 1; }
    contains "$TMP/$what.out" "ESCAPED: $what returned -$num" &&
        contains "$TMP/$what.out" "lightvm: $name: not served, returned $errno"
}

errno_num() {
    case $1 in
    ENOENT) echo 2 ;; EROFS) echo 30 ;; ENOSYS) echo 38 ;;
    EAFNOSUPPORT) echo 97 ;; EBADF) echo 9 ;;
    *) echo "unknown errno $1"; return 1 ;;
    esac
}

# escape_crashed ATTEMPT: stopped by a memory fault.
escape_crashed() {
    local what=$1
    $LIGHTVM run $ESC $what >"$TMP/$what.out" 2>"$TMP/$what.err"
    local rc=$?
    cat "$TMP/$what.out" "$TMP/$what.err"
    ! grep -q ESCAPED "$TMP/$what.out" || { echo "the access succeeded"; return 1; }
    [ $rc -eq 139 ] || { echo "exit status $rc, expected 139 (SIGSEGV)"; return 1; }
    contains "$TMP/$what.err" "crashed: SIGSEGV"
}

# File calls are served by the SDK from the guest's own file tree, in
# guest RAM (docs/sdk.md): a host path is simply not there, and a file
# the guest creates never reaches the host.
t_open() {
    $LIGHTVM run $ESC open /etc/passwd >"$TMP/open.out" 2>&1
    local rc=$?
    cat "$TMP/open.out"
    [ $rc -eq 0 ] && contains "$TMP/open.out" "contained: open returned -2"
}

t_creat_no_trace() {
    # In the guest's /tmp: created there, in guest RAM; in a directory
    # only the host has: ENOENT. Neither exists on the host afterwards.
    local f=/tmp/lightvm-escaped-$$
    $LIGHTVM run $ESC creat "$f" >"$TMP/creat.out" 2>&1 &&
        $LIGHTVM run $ESC creat "$TMP/escaped-file" >>"$TMP/creat.out" 2>&1
    local rc=$?
    cat "$TMP/creat.out"
    [ $rc -eq 0 ] && contains "$TMP/creat.out" "contained: creat returned 256" &&
        contains "$TMP/creat.out" "contained: creat returned -2" &&
        [ ! -e "$f" ] && [ ! -e "$TMP/escaped-file" ]
}

# The tree's descriptors start at 256 (LVM_FS_FD_BASE); a call on a host
# fd number below it that no hypercall owns is still killed.
# Below the file tree's fds: an fd the guest does not have answers EBADF
# (the call never runs); the host's own fds (0-63) are the hypercalls',
# and writing one outside them is killed.
t_write_below_tree() {
    escape_refused write-fd write EBADF 255 && escape_killed write-fd write 63
}

t_execve_no_trace() {
    escape_killed execve execve "touch $TMP/escaped-exec" && [ ! -e "$TMP/escaped-exec" ]
}

t_kill_no_trace() {
    # A host process the guest tries to kill by its host pid survives.
    sleep 300 &
    local victim=$!
    escape_killed kill kill $victim
    local r=$?
    kill -0 $victim 2>/dev/null || { echo "the victim died"; r=1; }
    kill $victim
    wait $victim 2>/dev/null
    return $r
}

t_mount_no_trace() {
    local before
    before=$(wc -l </proc/self/mountinfo)
    escape_killed mount mount && [ "$(wc -l </proc/self/mountinfo)" -eq "$before" ]
}

t_int80() {
    # A 32-bit system call is a different ABI: killed for its architecture.
    # Where the host's kernel itself refuses the gate to every process
    # (a #GP, SIGSEGV: some paravirtualised kernels), that comes first.
    $LIGHTVM run $ESC int80 >"$TMP/int80.out" 2>"$TMP/int80.err"
    local rc=$?
    cat "$TMP/int80.err"
    ! grep -q ESCAPED "$TMP/int80.out" || return 1
    if $BUILD/tests/tools/int80probe 2>/dev/null; then
        [ $rc -eq 159 ] && contains "$TMP/int80.err" "forbidden 32-bit system call"
    else
        echo "this kernel refuses int 0x80 to every process"
        [ $rc -eq 139 ] && contains "$TMP/int80.err" "crashed: SIGSEGV"
    fi
}

# uretprobe (335) and uprobe (336) pass any seccomp filter on Linux 6.11
# and later (docs/security.md): the kernel serves them only from its own
# uprobe trampoline, which a guest has none of.
t_uretprobe() {
    $LIGHTVM run $ESC uretprobe >"$TMP/ur.out" 2>"$TMP/ur.err"
    local rc=$?
    cat "$TMP/ur.out" "$TMP/ur.err"
    ! grep -q ESCAPED "$TMP/ur.out" || return 1
    # Killed by the kernel's own check (SIGILL), or by the filter on a
    # kernel that does not pass it through.
    [ $rc -eq 132 ] && contains "$TMP/ur.err" "crashed: SIGILL" && return 0
    [ $rc -eq 159 ] && contains "$TMP/ur.err" "forbidden system call"
}

t_uprobe_inert() {
    $LIGHTVM run $ESC uprobe >"$TMP/up.out" 2>"$TMP/up.err"
    local rc=$?
    cat "$TMP/up.out" "$TMP/up.err"
    # The kernel answers ENXIO (no trampoline) and does nothing else; an
    # older kernel's filter kills the guest.
    [ $rc -eq 0 ] && contains "$TMP/up.out" "uprobe returned -6" && return 0
    [ $rc -eq 159 ] && contains "$TMP/up.err" "forbidden system call"
}

t_x32() {
    $LIGHTVM run $ESC x32 >"$TMP/x32.out" 2>"$TMP/x32.err"
    local rc=$?
    cat "$TMP/x32.err"
    ! grep -q ESCAPED "$TMP/x32.out" && [ $rc -eq 159 ] &&
        contains "$TMP/x32.err" "killed: forbidden x32 system call openat"
}

# The sandbox as the host sees it while a guest runs.
t_sandbox_state() {
    $LIGHTVM run $EXAMPLES/idle/idle.elf >"$TMP/idle.out" 2>&1 &
    local cli=$!
    wait_for_file_text "$TMP/idle.out" "waiting for poweroff" || return 1
    local pid
    pid=$(pgrep -P $cli)
    local r=0
    # Only its console (1, 2) and control eventfd (3): no stdin, no shell fds.
    [ "$(ls /proc/$pid/fd | tr '\n' ' ')" = "1 2 3 " ] || { ls -l /proc/$pid/fd; r=1; }
    grep -q '^NoNewPrivs:[[:space:]]*1' /proc/$pid/status || r=1
    grep -q '^Seccomp:[[:space:]]*2' /proc/$pid/status || r=1
    grep -q '^CapEff:[[:space:]]*0000000000000000' /proc/$pid/status || r=1
    grep -q '^CapBnd:[[:space:]]*0000000000000000' /proc/$pid/status || r=1
    # A host uid of its own, not root.
    local uid
    uid=$(awk '/^Uid:/ {print $2}' /proc/$pid/status)
    [ "$uid" -ne 0 ] || r=1
    # Fresh namespaces: none shared with the host.
    for ns in user pid mnt ipc uts net cgroup; do
        [ "$(readlink /proc/$pid/ns/$ns)" != "$(readlink /proc/self/ns/$ns)" ] ||
            { echo "shares the host's $ns namespace"; r=1; }
    done
    # Its own cgroup, with limits.
    grep -q "memory:/$LIGHTVM_CGROUP_PARENT/" /proc/$pid/cgroup || { cat /proc/$pid/cgroup; r=1; }
    # One mount only, its root: read-only, no devices, nothing executable,
    # and empty.
    [ "$(wc -l </proc/$pid/mountinfo)" -eq 1 ] || { cat /proc/$pid/mountinfo; r=1; }
    awk '{print $5, $6}' /proc/$pid/mountinfo | grep -qE '^/ ro,nosuid,nodev,noexec' ||
        { cat /proc/$pid/mountinfo; r=1; }
    [ -z "$(ls -A /proc/$pid/root/ 2>&1)" ] || { ls -A /proc/$pid/root/; r=1; }
    # Nothing of the shell left in its address space: the monitor pages, the
    # image from its template, RAM, and the kernel's vsyscall page only.
    if grep -vE '^3ff0[0-3]000-|memfd:lightvm-image|^4[0-9a-f]{7}-4[0-9a-f]{7} rw-p 00000000 00:00 0|\[vsyscall\]' \
        /proc/$pid/maps; then
        echo "unexpected mappings above"
        r=1
    fi
    kill -INT $cli
    wait $cli
    return $r
}

check sandbox_state t_sandbox_state
check open t_open
check creat_no_trace t_creat_no_trace
check write_below_tree t_write_below_tree
check fork escape_refused fork fork ENOSYS
check clone escape_refused clone clone ENOSYS
check clone3 escape_refused clone3 clone3 ENOSYS
check vfork escape_refused vfork vfork ENOSYS
check execve_no_trace t_execve_no_trace
check socket escape_refused socket socket EAFNOSUPPORT
check socket_raw escape_killed socket-raw socket
check socket_packet escape_killed socket-packet socket
check clone_newns escape_killed clone-newns clone
check mmap_exec escape_killed mmap-exec mmap
check mprotect escape_killed mprotect mprotect
check ptrace escape_killed ptrace ptrace
check kill_no_trace t_kill_no_trace
check write_foreign_fd escape_killed write-fd write 7
check write_stdin escape_killed write-stdin write
check mount_no_trace t_mount_no_trace
check unshare escape_killed unshare unshare
check setns escape_killed setns setns
check chroot escape_killed chroot chroot
check bpf escape_killed bpf bpf
check io_uring escape_killed io_uring io_uring_setup
check userfaultfd escape_killed userfaultfd userfaultfd
check process_vm_readv escape_killed process_vm_readv process_vm_readv
check perf_event_open escape_killed perf_event_open perf_event_open
check init_module escape_killed init_module init_module
check keyctl escape_killed keyctl keyctl
check ppoll_sigmask escape_killed ppoll-sigmask ppoll
check clock_settime escape_killed clock-bad clock_settime
check int80 t_int80
check x32 t_x32
check uretprobe t_uretprobe
check uprobe_inert t_uprobe_inert
check read_below_ram escape_crashed read-low
check read_past_ram escape_crashed read-high
check read_host_stack escape_crashed read-stack
check read_vsyscall escape_crashed read-vsyscall
check write_devpage escape_crashed write-devpage
check write_text escape_crashed write-text
check exec_heap escape_crashed exec-heap
finish
