/*
 * guest_fds.c: what every monitor does to the shell's process before its
 * guest runs, whatever runs the guest: the guest's fds in place and
 * nothing else of the shell's below them, belt-and-braces limits, and the
 * guest's name as the process's.
 */
#include "shell/shell.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

int shell_install_fds(const struct lvm_msg_plan *p, const int *fds, int nfds)
{
    int high[LVM_PLAN_MAX_FDS];
    /* Move everything received out of the way first, so no target
     * clobbers an fd still to be installed (raw: musl's fcntl adds an
     * F_SETFD we do not need). */
    for (int i = 0; i < nfds; i++) {
        high[i] =
            (int)syscall(SYS_fcntl, fds[i], F_DUPFD_CLOEXEC, SHELL_HIGH_FD);
        if (high[i] < 0)
            shell_fail(errno, "move a guest fd");
        close(fds[i]);
    }
    int max_target = -1;
    char is_target[SHELL_HIGH_FD] = {0};
    for (uint32_t i = 0; i < p->nfds; i++) {
        int t = p->fds[i].target, k = p->fds[i].fd_index;
        if (k < 0 || k >= nfds || t < 0 || t >= SHELL_HIGH_FD)
            shell_fail(EINVAL, "fd entry %u is invalid", i);
        // cppcheck-suppress negativeIndex ; shell_fail never returns
        if (dup3(high[k], t, 0) < 0)
            shell_fail(errno, "install guest fd %d", t);
        is_target[t] = 1;
        if (t > max_target)
            max_target = t;
    }
    /* Nothing inherited stays open below the guest's fds (a terminal on
     * stdin, say); what is above is closed after STARTED. */
    for (int fd = 0; fd < max_target; fd++)
        if (!is_target[fd])
            close(fd);
    return max_target;
}

static void set_limit(int res, uint64_t v)
{
    struct rlimit r = {v, v};
    if (setrlimit(res, &r) < 0)
        shell_fail(errno, "set resource limit %d", res);
}

void shell_set_limits(const struct lvm_msg_plan *p, int max_fd)
{
    /* Under the seccomp filter: no files beyond the guest's, no
     * processes, locked memory or core dumps, a bounded console file. */
    set_limit(RLIMIT_NOFILE, (uint64_t)max_fd + 1);
    set_limit(RLIMIT_NPROC, 0);
    set_limit(RLIMIT_CORE, 0);
    set_limit(RLIMIT_MEMLOCK, 0);
    set_limit(RLIMIT_MSGQUEUE, 0);
    set_limit(RLIMIT_FSIZE, p->rlimit_fsize);
    char comm[sizeof p->comm + 1];
    memcpy(comm, p->comm, sizeof p->comm);
    comm[sizeof p->comm] = 0;
    prctl(PR_SET_NAME, comm, 0, 0, 0);
}

int shell_take_gate(const struct lvm_msg_plan *p, const int *fds, int nfds)
{
    if (p->gate_fd_index < 0)
        return -1;
    if (p->gate_fd_index >= nfds)
        shell_fail(EINVAL, "the gate names a missing fd");
    int g = (int)syscall(SYS_fcntl, fds[p->gate_fd_index], F_DUPFD_CLOEXEC,
                         SHELL_HIGH_FD);
    if (g < 0)
        shell_fail(errno, "move the gate fd");
    return g;
}

void shell_wait_gate(int gate)
{
    if (gate < 0)
        return;
    /* Every signal is blocked here (but SIGKILL, SIGSTOP): only the
     * byte, or the runtime's kill, moves the shell on. */
    char c;
    ssize_t n;
    do
        n = read(gate, &c, 1);
    while (n < 0 && errno == EINTR);
    if (n != 1)
        _exit(125);
    close(gate);
}
