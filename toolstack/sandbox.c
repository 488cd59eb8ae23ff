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
#include "toolstack/fdpass.h"
#include "toolstack/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif

int sandbox_find_shell(char *path, size_t len, struct lvm_err *err)
{
    return fs_find_installed("LIGHTVM_SHELL", "lightvm-shell", X_OK, path, len,
                             err);
}

struct child_args {
    int shell_fd;
    int sock;
    int cg_fds[CGROUP_MAX_ATTACH_FDS]; /* write "0" to join the cgroup */
    int ncg;
    int unshare_from; /* >= 0: fd table shared; keep only fds below this */
};

/*
 * A child that copied its parent's fd table would copy one pidfd per
 * guest in a daemon (about 40 us per thousand guests, twice: at clone and
 * at exec). So a process that creates many shells reserves a window of
 * low fds (sandbox_reserve_fds); the fds a child needs are placed there,
 * the child shares the table (CLONE_FILES) and at once takes a private
 * copy of just the fds below the window's end (CLOSE_RANGE_UNSHARE), then
 * says so ('U') before the window is reused.
 */
#define WINDOW 8
_Static_assert(FDPASS_MAX_FDS >= LVM_PLAN_MAX_FDS,
               "a plan's fds must fit in one message");
static int window_base = -1;
static pthread_mutex_t window_lock = PTHREAD_MUTEX_INITIALIZER;

int sandbox_reserve_fds(struct lvm_err *err)
{
    /* A free run of WINDOW fds at a low number (above what a process
     * usually inherits), held open on /dev/null. */
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null < 0)
        return lvm_err_set(err, errno, "open /dev/null");
    for (int base = 16; base < 1024; base += WINDOW) {
        int free_run = 1;
        for (int i = 0; i < WINDOW && free_run; i++)
            free_run = fcntl(base + i, F_GETFD) < 0 && errno == EBADF;
        if (!free_run)
            continue;
        for (int i = 0; i < WINDOW; i++)
            if (dup3(null, base + i, O_CLOEXEC) < 0) {
                int e = errno;
                while (i-- > 0)
                    close(base + i);
                close(null);
                return lvm_err_set(err, e, "reserve fds");
            }
        close(null);
        window_base = base;
        return 0;
    }
    close(null);
    return lvm_err_set(err, EMFILE, "no free run of %d low fds", WINDOW);
}

#ifndef CLOSE_RANGE_UNSHARE
#define CLOSE_RANGE_UNSHARE (1U << 1)
#endif

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
/* No stack protector or sanitizer: it runs on a stack of its own, with
 * the parent's memory and thread pointer, until it execs. */
__attribute__((no_stack_protector,
               no_sanitize("address", "undefined"))) static int
child_main(void *argp)
{
    const struct child_args *a = argp;
    if (a->unshare_from >= 0) {
        if (RAW(SYS_close_range, a->unshare_from, ~0u, CLOSE_RANGE_UNSHARE, 0,
                0) < 0 ||
            RAW(SYS_write, a->sock, "U", 1, 0, 0) != 1)
            child_exit(126);
    }
    char go = 0;
    if (RAW(SYS_read, a->sock, &go, 1, 0, 0) != 1 || go != 'G')
        child_exit(126);
    for (int i = 0; i < a->ncg; i++)
        if (RAW(SYS_write, a->cg_fds[i], "0", 1, 0, 0) != 1)
            child_exit(126);
    if (RAW(SYS_setresgid, 0, 0, 0, 0, 0) < 0 ||
        RAW(SYS_setresuid, 0, 0, 0, 0, 0) < 0)
        child_exit(126);
    int shell = a->shell_fd;
    if (shell == LVM_SHELL_FD)
        shell =
            (int)RAW(SYS_fcntl, shell, F_DUPFD_CLOEXEC, LVM_SHELL_FD + 1, 0, 0);
    if (shell < 0)
        child_exit(126);
    if (a->sock != LVM_SHELL_FD &&
        RAW(SYS_dup2, a->sock, LVM_SHELL_FD, 0, 0, 0) < 0)
        child_exit(126);
    if (a->sock == LVM_SHELL_FD &&
        RAW(SYS_fcntl, a->sock, F_SETFD, 0, 0, 0) < 0)
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
    return fs_write_str(path, text, err);
}

#define SHELL_TIMEOUT_S 10

/* Wait for a reply of (type); an ERROR from the shell becomes (err). */
static int expect(struct sandbox *sb, uint16_t type, struct lvm_err *err)
{
    struct lvm_msg_error m;
    /* Until the shell has exec'd, the toolstack holds the other end of
     * the socket too: a child that dies before then never closes it, so
     * watch the child itself as well. */
    for (;;) {
        struct pollfd p[2] = {{sb->sock, POLLIN, 0}, {sb->pidfd, POLLIN, 0}};
        int r = poll(p, sb->pidfd >= 0 ? 2 : 1, SHELL_TIMEOUT_S * 1000);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return lvm_err_set(err, errno, "wait for the shell");
        if (r == 0)
            return lvm_err_set(err, ETIMEDOUT,
                               "the shell did not answer in %d s",
                               SHELL_TIMEOUT_S);
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
    if (n < 0 && errno == EAGAIN)
        return lvm_err_set(err, ETIMEDOUT, "the shell did not answer in %d s",
                           SHELL_TIMEOUT_S);
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
    ssize_t n = fdpass_send(sock, msg, len, fds, nfds, 0);
    if (n != (ssize_t)len) {
        if (n >= 0)
            errno = EMSGSIZE;
        return -1;
    }
    return 0;
}

#define CHILD_STACK (64 << 10)

int sandbox_template_mntns(const char *root_dir, int *mntns_fd,
                           int *host_mntns_fd, int *host_cwd_fd,
                           struct lvm_err *err)
{
    *mntns_fd = *host_mntns_fd = *host_cwd_fd = -1;
    int ready[2], done[2];
    if (pipe2(ready, O_CLOEXEC) < 0)
        return lvm_err_set(err, errno, "pipe");
    if (pipe2(done, O_CLOEXEC) < 0) {
        int e = errno;
        close(ready[0]);
        close(ready[1]);
        return lvm_err_set(err, e, "pipe");
    }
    pid_t pid = fork();
    if (pid == 0) {
        /* What a shell would do for itself (shell/shell.c). */
        close(ready[0]);
        close(done[1]); /* so the parent's close reads as end of file */
        char c = 'R';
        if (unshare(CLONE_NEWNS) < 0 ||
            mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
            mount(root_dir, root_dir, NULL, MS_BIND, NULL) < 0 ||
            mount(NULL, root_dir, NULL,
                  MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV |
                      MS_NOEXEC,
                  NULL) < 0 ||
            chdir(root_dir) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 ||
            umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
            c = 'E';
        if (write(ready[1], &c, 1) == 1)
            (void)!read(done[0], &c, 1); /* held until opened */
        _exit(0);
    }
    close(ready[1]);
    close(done[0]);
    char c = 0;
    int r = 0;
    if (pid < 0)
        r = lvm_err_set(err, errno, "fork");
    else if (read(ready[0], &c, 1) != 1 || c != 'R')
        r = lvm_err_set(err, EPERM,
                        "could not make the guests' mount namespace");
    if (r == 0) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/ns/mnt", (int)pid);
        *mntns_fd = open(path, O_RDONLY | O_CLOEXEC);
        *host_mntns_fd = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
        *host_cwd_fd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (*mntns_fd < 0 || *host_mntns_fd < 0 || *host_cwd_fd < 0) {
            r = lvm_err_set(err, errno, "open the mount namespaces");
            for (int *fd = mntns_fd; fd; fd = fd == mntns_fd ? host_mntns_fd
                                              : fd == host_mntns_fd
                                                  ? host_cwd_fd
                                                  : NULL)
                if (*fd >= 0) {
                    close(*fd);
                    *fd = -1;
                }
        }
    }
    close(done[1]); /* lets the child go */
    close(ready[0]);
    if (pid > 0)
        waitpid(pid, NULL, 0);
    return r;
}

/* setns(CLONE_NEWNS) needs a thread that shares no filesystem context
 * (root, cwd) with others: each thread unshares it once. */
static int own_fs_context(void)
{
    static __thread int done;
    if (!done && unshare(CLONE_FS) < 0)
        return -1;
    done = 1;
    return 0;
}

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
    /* Our shell answers in microseconds; one that is stopped or wedged
     * must not hold the caller (the daemon's loop) forever. */
    struct timeval tmo = {SHELL_TIMEOUT_S, 0};
    setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof tmo);
    setsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &tmo, sizeof tmo);
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
    struct child_args a = {
        .shell_fd = o->shell_fd, .sock = sv[1], .unshare_from = -1};
    if (o->cg) {
        a.ncg =
            cgroup_self_attach_fds(o->cg, a.cg_fds, CGROUP_MAX_ATTACH_FDS, err);
        if (a.ncg < 0) {
            munmap(stack, CHILD_STACK);
            close(sv[0]);
            close(sv[1]);
            return -1;
        }
    }
    int windowed = window_base >= 0 && a.ncg + 2 <= WINDOW;
    if (windowed) {
        pthread_mutex_lock(&window_lock);
        int slot = window_base;
        if (dup3(sv[1], slot, O_CLOEXEC) < 0 ||
            dup3(o->shell_fd, slot + 1, O_CLOEXEC) < 0) {
            windowed = 0; /* fall back to copying the table */
        } else {
            a.sock = slot;
            a.shell_fd = slot + 1;
            for (int i = 0; windowed && i < a.ncg; i++) {
                if (dup3(a.cg_fds[i], slot + 2 + i, O_CLOEXEC) < 0)
                    windowed = 0;
                else {
                    close(a.cg_fds[i]);
                    a.cg_fds[i] = slot + 2 + i;
                }
            }
            a.unshare_from = window_base + WINDOW;
        }
        if (!windowed)
            pthread_mutex_unlock(&window_lock);
    }
    int flags = CLONE_VM | CLONE_PIDFD | CLONE_NEWUSER | CLONE_NEWPID |
                CLONE_NEWNS | CLONE_NEWUTS | SIGCHLD;
    if (windowed)
        flags |= CLONE_FILES;
    if (o->ipc_ns)
        flags |= CLONE_NEWIPC;
    if (o->net_ns)
        flags |= CLONE_NEWNET;
    /* Every signal blocked across the clone: a handler of ours must never
     * run in the child, on its stack, with our memory. The shell resets
     * them all. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    /* Cloned from the template, the child's mount namespace is a copy
     * of one with the empty root already: nothing for it to unmount. */
    int from_template = o->mntns_fd >= 0 && own_fs_context() == 0 &&
                        setns(o->mntns_fd, CLONE_NEWNS) == 0;
    int pidfd = -1;
    pid_t pid =
        clone(child_main, (char *)stack + CHILD_STACK, flags, &a, &pidfd);
    int clone_errno = errno;
    if (from_template && (setns(o->host_mntns_fd, CLONE_NEWNS) < 0 ||
                          fchdir(o->host_cwd_fd) < 0))
        abort(); /* cannot go on in the guests' empty namespace */
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (windowed && pid > 0) {
        /* Wait until the child has its own table, then free the window
         * (holding its end of the socket would hide the child's exit). */
        char u = 0;
        ssize_t n;
        do
            n = recv(sv[0], &u, 1, 0);
        while (n < 0 && errno == EINTR);
        if (n != 1 || u != 'U')
            pid = -pid; /* it died: treated below */
    }
    if (windowed) {
        for (int i = 0; i < a.ncg + 2; i++)
            dup3(window_base + WINDOW - 1, window_base + i, O_CLOEXEC);
        pthread_mutex_unlock(&window_lock);
    } else {
        for (int i = 0; i < a.ncg; i++)
            close(a.cg_fds[i]); /* the child has its copies */
    }
    if (pid < -1) {
        pid = -pid;
        sb->pid = pid;
        sb->pidfd = pidfd;
        lvm_err_set(err, EPIPE, "the shell died while setting up its fds");
        goto fail;
    }
    if (pid < 0) {
        munmap(stack, CHILD_STACK);
        close(sv[0]);
        close(sv[1]);
        return lvm_err_set(err, clone_errno,
                           "create the guest's namespaces (clone)");
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
    /* On v2 the parent moves the child (the child moves itself on v1). */
    if (o->cg && a.ncg == 0 && cgroup_attach(o->cg, pid, err) < 0)
        goto fail;
    if (send(sb->sock, "G", 1, MSG_NOSIGNAL) != 1) {
        lvm_err_set(err, errno, "start the shell");
        goto fail;
    }

    struct lvm_msg_prepare prep;
    memset(&prep, 0, sizeof prep);
    prep.hdr =
        (struct lvm_msg_hdr){LVM_PLAN_MAGIC, LVM_PLAN_VERSION, LVM_MSG_PREPARE};
    prep.monitor = o->monitor;
    prep.flags = (o->cg ? LVM_PREP_CGROUPNS : 0) |
                 (from_template ? LVM_PREP_ROOT_READY : 0);
    snprintf(prep.root_dir, sizeof prep.root_dir, "%s", o->root_dir);
    if (o->hostname)
        snprintf(prep.hostname, sizeof prep.hostname, "%s", o->hostname);
    prep.ram_size = o->ram_size;
    /* A kvm shell gets /dev/kvm now: it makes its VM before its guest. */
    if (send_fds(sb->sock, &prep, sizeof prep, &o->prepare_fd,
                 o->prepare_fd >= 0 ? 1 : 0) < 0) {
        lvm_err_set(err, errno, "send PREPARE to the shell");
        goto fail;
    }
    /* READY comes from the exec'd shell: the child's stack is free then. */
    if (expect(sb, LVM_MSG_READY, err) < 0)
        goto fail;
    /* A kvm shell's VM may have brought a kernel thread into the guest's
     * cgroup, where it would keep pause from ever completing. */
    if (o->evict_kthreads && o->cg && cgroup_evict_kthreads(o->cg, err) < 0) {
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
        return lvm_err_invalid(err, "too many fds for a plan");
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
