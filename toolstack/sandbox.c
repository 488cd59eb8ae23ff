/*
 * sandbox.c: create shells.
 *
 * clone() with CLONE_VM (no copy of the caller's page tables, however big
 * the daemon is) and every namespace flag. The parent maps the child's
 * root to an unprivileged host uid of its own (uid_base + pid, so no two
 * guests share one) and moves it into its cgroup; only then does the child
 * exec the static lightvm-shell, which does the rest of its confinement
 * itself after PREPARE.
 */
#include "toolstack/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif

int sandbox_find_shell(char *path, size_t len, struct lvm_err *err)
{
    const char *env = getenv("LIGHTVM_SHELL");
    if (env && *env) {
        snprintf(path, len, "%s", env);
        return 0;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n < 0)
        return lvm_err_set(err, errno, "find the running program");
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = 0;
    const char *candidates[] = {"%s/lightvm-shell",
                                "%s/../lib/lightvm/lightvm-shell"};
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
        snprintf(path, len, candidates[i], exe);
        if (access(path, X_OK) == 0)
            return 0;
    }
    return lvm_err_set(err, ENOENT,
                       "lightvm-shell not found next to %s (set LIGHTVM_SHELL)",
                       exe);
}

struct child_args {
    int shell_fd;
    int sock;
};

/* System calls for the child without errno: it shares the parent's
 * memory, thread pointer included, until it execs. */
static long raw_syscall(long n, long a, long b, long c, long d, long e)
{
    long r;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    __asm__ volatile("syscall"
                     : "=a"(r)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8)
                     : "rcx", "r11", "memory");
    return r;
}

#define RAW(n, a, b, c, d, e)                                                  \
    raw_syscall(n, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e))

static _Noreturn void child_exit(int code)
{
    for (;;)
        RAW(SYS_exit_group, code, 0, 0, 0, 0);
}

/*
 * The child: in its new namespaces, on its own small stack, sharing the
 * parent's memory until exec. It waits until the parent has written its
 * uid and gid maps, becomes root of its user namespace (an unprivileged
 * uid on the host) and execs the shell, which so keeps its capabilities
 * inside the namespaces and has none outside them.
 */
static int child_main(void *argp)
{
    const struct child_args *a = argp;
    char go = 0;
    if (RAW(SYS_read, a->sock, &go, 1, 0, 0) != 1 || go != 'G')
        child_exit(126);
    if (RAW(SYS_setresgid, 0, 0, 0, 0, 0) < 0 ||
        RAW(SYS_setresuid, 0, 0, 0, 0, 0) < 0)
        child_exit(126);
    int shell = a->shell_fd;
    if (shell == LVM_SHELL_FD)
        shell = (int)RAW(SYS_fcntl, shell, F_DUPFD_CLOEXEC, LVM_SHELL_FD + 1,
                         0, 0);
    if (shell < 0)
        child_exit(126);
    if (a->sock != LVM_SHELL_FD &&
        RAW(SYS_dup2, a->sock, LVM_SHELL_FD, 0, 0, 0) < 0)
        child_exit(126);
    if (a->sock == LVM_SHELL_FD && RAW(SYS_fcntl, a->sock, F_SETFD, 0, 0, 0) < 0)
        child_exit(126);
    static char *const argv[] = {"lightvm-shell", NULL};
    static char *const envp[] = {NULL};
    RAW(SYS_execveat, shell, "", argv, envp, AT_EMPTY_PATH);
    child_exit(127);
}

static int write_proc(pid_t pid, const char *file, const char *text,
                      struct lvm_err *err)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return lvm_err_set(err, errno, "open %s", path);
    size_t n = strlen(text);
    ssize_t w = write(fd, text, n);
    int e = errno;
    close(fd);
    if (w != (ssize_t)n)
        return lvm_err_set(err, w < 0 ? e : EIO, "write %s", path);
    return 0;
}

/* Wait for a reply of (type); an ERROR from the shell becomes (err). */
static int expect(struct sandbox *sb, uint16_t type, struct lvm_err *err)
{
    struct lvm_msg_error m;
    /* Until the shell has exec'd, the toolstack holds the other end of
     * the socket too: a child that dies before then never closes it, so
     * watch the child itself as well. */
    for (;;) {
        struct pollfd p[2] = {{sb->sock, POLLIN, 0}, {sb->pidfd, POLLIN, 0}};
        int r = poll(p, sb->pidfd >= 0 ? 2 : 1, -1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return lvm_err_set(err, errno, "wait for the shell");
        if (p[0].revents)
            break;
        siginfo_t si;
        memset(&si, 0, sizeof si);
        waitid(P_PIDFD, (id_t)sb->pidfd, &si, WEXITED | WNOWAIT);
        return lvm_err_set(err, ECHILD,
                           "the shell %s %d during set-up (126: its "
                           "namespaces, 127: exec of lightvm-shell)",
                           si.si_code == CLD_EXITED ? "exited with status"
                                                    : "was killed by signal",
                           si.si_status);
    }
    ssize_t n;
    do
        n = recv(sb->sock, &m, sizeof m, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return lvm_err_set(err, errno, "read from the shell");
    if (n == 0)
        return lvm_err_set(err, EPIPE, "the shell exited during set-up");
    if ((size_t)n < sizeof m.hdr || m.hdr.magic != LVM_PLAN_MAGIC)
        return lvm_err_set(err, EPROTO, "bad message from the shell");
    if (m.hdr.type == LVM_MSG_ERROR && (size_t)n == sizeof m) {
        m.msg[sizeof m.msg - 1] = 0;
        return lvm_err_set(err, m.err, "shell: %s", m.msg);
    }
    if (m.hdr.type != type)
        return lvm_err_set(err, EPROTO, "unexpected message %u from the shell",
                           m.hdr.type);
    return 0;
}

/* Send (len) bytes of (msg) with (nfds) fds; 0, or -1 with errno. */
static int send_fds(int sock, const void *msg, size_t len, const int *fds,
                    int nfds)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * LVM_PLAN_MAX_FDS)];
        struct cmsghdr align;
    } ctl;
    memset(&ctl, 0, sizeof ctl);
    struct iovec iov = {(void *)msg, len};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (nfds > 0) {
        mh.msg_control = ctl.buf;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
    }
    ssize_t n;
    do
        n = sendmsg(sock, &mh, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)len) {
        if (n >= 0)
            errno = EMSGSIZE;
        return -1;
    }
    return 0;
}

#define CHILD_STACK (64 << 10)

int sandbox_spawn(const struct sandbox_opts *o, struct sandbox *sb,
                  struct lvm_err *err)
{
    memset(sb, 0, sizeof *sb);
    sb->pid = -1;
    sb->pidfd = -1;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return lvm_err_set(err, errno, "socketpair");
    sb->sock = sv[0];
    void *stack = mmap(NULL, CHILD_STACK, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) {
        int e = errno;
        close(sv[0]);
        close(sv[1]);
        return lvm_err_set(err, e, "allocate a stack for the shell");
    }

    /* CLONE_VM: no copy of the caller's page tables, however large the
     * daemon grows; the child only execs. */
    struct child_args a = {o->shell_fd, sv[1]};
    int flags = CLONE_VM | CLONE_PIDFD | CLONE_NEWUSER | CLONE_NEWPID |
                CLONE_NEWNS | CLONE_NEWUTS | SIGCHLD;
    if (o->ipc_ns)
        flags |= CLONE_NEWIPC;
    if (o->net_ns)
        flags |= CLONE_NEWNET;
    int pidfd = -1;
    pid_t pid = clone(child_main, (char *)stack + CHILD_STACK, flags, &a,
                      &pidfd);
    if (pid < 0) {
        int e = errno;
        munmap(stack, CHILD_STACK);
        close(sv[0]);
        close(sv[1]);
        return lvm_err_set(err, e, "create the guest's namespaces (clone)");
    }
    sb->pid = pid;
    sb->pidfd = pidfd;

    char map[64];
    sb->host_uid = o->uid_base + (uid_t)pid;
    snprintf(map, sizeof map, "0 %u 1\n", (unsigned)sb->host_uid);
    if (write_proc(pid, "setgroups", "deny", err) < 0 ||
        write_proc(pid, "uid_map", map, err) < 0 ||
        write_proc(pid, "gid_map", map, err) < 0) {
        lvm_err_wrap(err, "map the guest's user namespace");
        goto fail;
    }
    if (o->cg && cgroup_attach(o->cg, pid, err) < 0)
        goto fail;
    if (send(sb->sock, "G", 1, MSG_NOSIGNAL) != 1) {
        lvm_err_set(err, errno, "start the shell");
        goto fail;
    }

    struct lvm_msg_prepare prep;
    memset(&prep, 0, sizeof prep);
    prep.hdr = (struct lvm_msg_hdr){LVM_PLAN_MAGIC, LVM_PLAN_VERSION,
                                    LVM_MSG_PREPARE};
    prep.monitor = o->monitor;
    prep.flags = o->cg ? LVM_PREP_CGROUPNS : 0;
    snprintf(prep.root_dir, sizeof prep.root_dir, "%s", o->root_dir);
    if (o->hostname)
        snprintf(prep.hostname, sizeof prep.hostname, "%s", o->hostname);
    prep.ram_size = o->ram_size;
    /* A kvm shell gets /dev/kvm now: it makes its VM before its guest. */
    if (send_fds(sb->sock, &prep, sizeof prep, &o->kvm_fd,
                 o->monitor == LVM_MONITOR_KVM ? 1 : 0) < 0) {
        lvm_err_set(err, errno, "send PREPARE to the shell");
        goto fail;
    }
    /* READY comes from the exec'd shell: the child's stack is free then. */
    if (expect(sb, LVM_MSG_READY, err) < 0)
        goto fail;
    /* A kvm shell's VM may have brought a kernel thread into the guest's
     * cgroup, where it would keep pause from ever completing. */
    if (o->monitor == LVM_MONITOR_KVM && o->cg &&
        cgroup_evict_kthreads(o->cg, err) < 0) {
        lvm_err_wrap(err, "move KVM's worker thread out of the guest's "
                          "cgroup");
        goto fail;
    }
    close(sv[1]);
    munmap(stack, CHILD_STACK);
    return 0;
fail:
    sandbox_close(sb);
    waitpid(pid, NULL, __WALL);
    close(sv[1]);
    munmap(stack, CHILD_STACK);
    sb->pid = -1;
    return -1;
}

int sandbox_launch(struct sandbox *sb, const struct lvm_msg_plan *plan,
                   size_t len, const int *fds, int nfds, struct lvm_err *err)
{
    if (nfds > LVM_PLAN_MAX_FDS)
        return lvm_err_set(err, EINVAL, "too many fds for a plan");
    if (send_fds(sb->sock, plan, len, fds, nfds) < 0)
        return lvm_err_set(err, errno, "send the plan to the shell");
    if (expect(sb, LVM_MSG_STARTED, err) < 0)
        return -1;
    close(sb->sock);
    sb->sock = -1;
    return 0;
}

void sandbox_close(struct sandbox *sb)
{
    if (sb->pidfd >= 0) {
        syscall(SYS_pidfd_send_signal, sb->pidfd, SIGKILL, NULL, 0);
        close(sb->pidfd);
    } else if (sb->pid > 0) {
        kill(sb->pid, SIGKILL);
    }
    if (sb->sock >= 0)
        close(sb->sock);
    sb->pidfd = -1;
    sb->sock = -1;
}
