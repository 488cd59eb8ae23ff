/*
 * shell.c: lightvm-shell, the process a guest runs in.
 *
 * Started by the toolstack in fresh user, pid, mount, ipc, uts and net
 * namespaces with the control socket at LVM_SHELL_FD. It waits for PREPARE
 * (the toolstack has written its uid/gid maps and put it in its cgroup by
 * then), gives itself an empty read-only root and drops every privilege,
 * (for kvm, creates the VM from the /dev/kvm fd that came with PREPARE),
 * answers READY, then waits for the PLAN that turns it into a guest.
 */
#include "shell/shell.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

int shell_sock = -1;

void shell_send(const void *msg, size_t len)
{
    ssize_t n;
    do
        n = send(shell_sock, msg, len, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)len)
        _exit(125);
}

_Noreturn void shell_fail(int err, const char *fmt, ...)
{
    struct lvm_msg_error m;
    memset(&m, 0, sizeof m);
    m.hdr.magic = LVM_PLAN_MAGIC;
    m.hdr.version = LVM_PLAN_VERSION;
    m.hdr.type = LVM_MSG_ERROR;
    m.err = err;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m.msg, sizeof m.msg, fmt, ap);
    va_end(ap);
    if (shell_sock >= 0)
        send(shell_sock, &m, sizeof m, MSG_NOSIGNAL);
    _exit(125);
}

static void send_simple(uint16_t type)
{
    struct lvm_msg_hdr h = {LVM_PLAN_MAGIC, LVM_PLAN_VERSION, type};
    shell_send(&h, sizeof h);
}

/* Receive one message and up to (maxfds) fds; returns its length. */
static size_t recv_msg(void *buf, size_t len, int *fds, int maxfds, int *nfds)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * LVM_PLAN_MAX_FDS)];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {buf, len};
    struct msghdr mh = {.msg_iov = &iov,
                        .msg_iovlen = 1,
                        .msg_control = ctl.buf,
                        .msg_controllen = sizeof ctl.buf};
    ssize_t n;
    do
        n = recvmsg(shell_sock, &mh, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n <= 0)
        _exit(125); /* the toolstack went away: nothing to become */
    if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
        shell_fail(EMSGSIZE, "control message truncated");
    *nfds = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        if (*nfds + k > maxfds)
            shell_fail(EMSGSIZE, "too many fds");
        memcpy(fds + *nfds, CMSG_DATA(c), (size_t)k * sizeof(int));
        *nfds += k;
    }
    if ((size_t)n < sizeof(struct lvm_msg_hdr))
        shell_fail(EPROTO, "short message");
    const struct lvm_msg_hdr *h = buf;
    if (h->magic != LVM_PLAN_MAGIC || h->version != LVM_PLAN_VERSION)
        shell_fail(EPROTO, "protocol mismatch");
    return (size_t)n;
}

/*
 * The toolstack's empty directory, bound read-only, as the root; the
 * host's tree is unmounted. A bind, not a tmpfs of its own: every new
 * superblock registers a memcg-aware shrinker, and every memory cgroup
 * then carries state for every shrinker on the host, so a tmpfs per
 * guest made each guest's cgroup cost more as guests accumulated.
 */
static void empty_root(const char *dir)
{
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        shell_fail(errno, "make mounts private");
    if (mount(dir, dir, NULL, MS_BIND, NULL) < 0)
        shell_fail(errno, "bind empty root %s", dir);
    if (mount(NULL, dir, NULL,
              MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV |
                  MS_NOEXEC,
              NULL) < 0)
        shell_fail(errno, "make the empty root %s read-only", dir);
    if (chdir(dir) < 0)
        shell_fail(errno, "chdir %s", dir);
    if (syscall(SYS_pivot_root, ".", ".") < 0)
        shell_fail(errno, "pivot_root");
    if (umount2(".", MNT_DETACH) < 0)
        shell_fail(errno, "detach old root");
    if (chdir("/") < 0)
        shell_fail(errno, "chdir /");
}

static void drop_privileges(void)
{
    /* Up to the last capability this kernel has (EINVAL beyond it). */
    for (int cap = 0; cap <= 63; cap++) {
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0)
            continue;
        if (errno == EINVAL && cap > 0)
            break;
        shell_fail(errno, "drop capability %d from the bounding set", cap);
    }
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
        shell_fail(errno, "clear ambient capabilities");
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    if (syscall(SYS_capset, &hdr, data) < 0)
        shell_fail(errno, "drop capabilities");
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        shell_fail(errno, "set no_new_privs");
    /* Not dumpable: no core files, /proc entries owned by the host's root,
     * no ptrace by anything but the host's root. */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
        shell_fail(errno, "clear dumpable");
}

static void prepare(const struct lvm_msg_prepare *p)
{
    char root[sizeof p->root_dir + 1];
    memcpy(root, p->root_dir, sizeof p->root_dir);
    root[sizeof p->root_dir] = 0;
    if (p->flags & LVM_PREP_CGROUPNS) {
        if (unshare(CLONE_NEWCGROUP) < 0)
            shell_fail(errno, "unshare the cgroup namespace");
    }
    if (p->hostname[0]) {
        size_t n = strnlen(p->hostname, sizeof p->hostname);
        if (sethostname(p->hostname, n) < 0)
            shell_fail(errno, "sethostname");
    }
    if (p->flags & LVM_PREP_ROOT_READY) {
        if (chdir("/") < 0) /* cloned from the toolstack's template */
            shell_fail(errno, "chdir /");
    } else {
        empty_root(root);
    }
    drop_privileges();
}

static _Alignas(
    16) char planbuf[sizeof(struct lvm_msg_plan) + LVM_PLAN_MAX_DATA];

/* Nothing the toolstack's caller ignored or blocked (nohup, a shell's
 * job control) reaches the guest: every disposition to its default. The
 * mask stays full until the jump, which empties it. */
static void reset_signals(void)
{
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    /* The raw system call: libc's sigaction() refuses the signals it
     * keeps for itself (musl: 32-34), which a caller may still ignore. */
    struct {
        unsigned long handler, flags, restorer, mask;
    } dfl = {0, 0, 0, 0}; /* SIG_DFL */
    for (int sig = 1; sig <= 64; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            syscall(SYS_rt_sigaction, sig, &dfl, NULL, 8);
}

int main(void)
{
    reset_signals();
    /* Keep the socket out of the range the guest's fds will use. */
    shell_sock = fcntl(LVM_SHELL_FD, F_DUPFD_CLOEXEC, 256);
    if (shell_sock < 0)
        _exit(125);
    close(LVM_SHELL_FD);

    int fds[LVM_PLAN_MAX_FDS], nfds;
    struct lvm_msg_prepare prep;
    memset(&prep, 0, sizeof prep);
    size_t n = recv_msg(&prep, sizeof prep, fds, 1, &nfds);
    if (n != sizeof prep || prep.hdr.type != LVM_MSG_PREPARE)
        shell_fail(EPROTO, "expected PREPARE");
    if (nfds != (prep.monitor == LVM_MONITOR_KVM))
        shell_fail(EPROTO, "PREPARE carries %d fds", nfds);
    prepare(&prep);
    /* A kvm shell is a VM before it has a guest (the pool's point). */
    if (prep.monitor == LVM_MONITOR_KVM)
        kvm_prepare(fds[0], prep.ram_size);
    send_simple(LVM_MSG_READY);

    n = recv_msg(planbuf, sizeof planbuf, fds, LVM_PLAN_MAX_FDS, &nfds);
    const struct lvm_msg_plan *plan = (const void *)planbuf;
    if (n < sizeof *plan || plan->hdr.type != LVM_MSG_PLAN)
        shell_fail(EPROTO, "expected PLAN");
    if (n != sizeof *plan + plan->data_len)
        shell_fail(EPROTO, "plan length %zu does not match its data", n);
    if (plan->monitor == LVM_MONITOR_PROC && prep.monitor == LVM_MONITOR_PROC)
        proc_exec(plan, fds, nfds);
    if (plan->monitor == LVM_MONITOR_KVM && prep.monitor == LVM_MONITOR_KVM)
        kvm_exec(plan, fds, nfds);
    shell_fail(EPROTO, "unsupported monitor %u", plan->monitor);
}
