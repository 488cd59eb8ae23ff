/*
 * qemu_spawn.c: start a QEMU process (see qemu_spawn.h): accelerator and
 * file checks, free ports for forwards, and the child's set-up between
 * fork and exec.
 */
#include "toolstack/qemu/qemu_spawn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

uint64_t qemu_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A free TCP port on (addr) for a forward the caller left at 0. */
static int free_port(const char *addr, uint16_t *port, struct lvm_err *err)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return lvm_err_set(err, errno, "socket");
    struct sockaddr_in sin = {.sin_family = AF_INET};
    if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1) {
        close(s);
        return lvm_err_set(err, EINVAL, "'%s' is not an IPv4 address", addr);
    }
    socklen_t len = sizeof sin;
    if (bind(s, (struct sockaddr *)&sin, sizeof sin) < 0 ||
        getsockname(s, (struct sockaddr *)&sin, &len) < 0) {
        lvm_err_set(err, errno, "find a free port on %s", addr);
        close(s);
        return -1;
    }
    *port = ntohs(sin.sin_port);
    close(s);
    return 0;
}

void qemu_last_log_line(int log_fd, char *buf, size_t len)
{
    buf[0] = 0;
    off_t size = lseek(log_fd, 0, SEEK_END);
    if (size <= 0)
        return;
    char tail[1024];
    off_t from =
        size > (off_t)sizeof tail - 1 ? size - (off_t)sizeof tail + 1 : 0;
    ssize_t n = pread(log_fd, tail, (size_t)(size - from), from);
    if (n <= 0)
        return;
    tail[n] = 0;
    while (n > 0 && (tail[n - 1] == '\n' || tail[n - 1] == '\r'))
        tail[--n] = 0;
    char *line = strrchr(tail, '\n');
    snprintf(buf, len, "%s", line ? line + 1 : tail);
}

/* What the child could not do, for the parent's message. */
enum { FAIL_EXEC, FAIL_CGROUP, FAIL_RLIMIT };

static void child_fail(int errfd, int stage, int e)
{
    int msg[2] = {stage, e};
    if (write(errfd, msg, sizeof msg) < 0)
        _exit(127);
    _exit(127);
}

/* Child: join its cgroups, limits, channels at their fixed numbers, exec.
 * Only async-signal-safe calls: the caller may have threads. */
static void exec_qemu(const struct qemu_argv *a, const struct qemu_child *ch,
                      int errfd, pid_t parent)
{
    if (ch->die_with_parent) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
    }
    /* Its own session: a terminal's Ctrl-C goes to lightvm, which asks
     * the guest to power off, not straight to QEMU. */
    setsid();
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    /* Into its cgroups before it allocates anything: memory charged
     * elsewhere would stay there. */
    for (int i = 0; i < ch->njoin; i++)
        if (write(ch->join_fds[i], "0", 1) != 1)
            child_fail(errfd, FAIL_CGROUP, errno);
    if (ch->file_limit) {
        /* The files QEMU writes itself (console, logs) stay bounded; a
         * write beyond fails (EFBIG) and QEMU drops that output instead
         * of dying of SIGXFSZ. The hard limit stays open so that the
         * caller can lift the soft one for a save (prlimit). */
        struct rlimit rl = {ch->file_limit, RLIM_INFINITY};
        signal(SIGXFSZ, SIG_IGN);
        if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
            child_fail(errfd, FAIL_RLIMIT, errno);
    }
    int hi[QEMU_FD_COUNT];
    for (int i = 0; i < QEMU_FD_COUNT; i++)
        hi[i] = ch->src[i] >= 0 ? fcntl(ch->src[i], F_DUPFD, 64) : -1;
    int nul = open("/dev/null", O_RDONLY);
    dup2(nul, 0);
    dup2(ch->log_fd, 1);
    dup2(ch->log_fd, 2);
    for (int i = 0; i < QEMU_FD_COUNT; i++)
        if (hi[i] >= 0)
            dup2(hi[i], QEMU_FD_CONSOLE + i);
    /* Nothing else of ours leaks into QEMU; errfd is CLOEXEC and goes
     * at exec. */
    syscall(SYS_close_range, QEMU_FD_INITRD + 1, (unsigned)errfd - 1, 0);
    syscall(SYS_close_range, (unsigned)errfd + 1, ~0u, 0);
    execvp(a->argv[0], a->argv);
    child_fail(errfd, FAIL_EXEC, errno);
}

static int pick_accel(const struct qemu_vm_config *cfg, int *kvm,
                      struct lvm_err *err)
{
    enum qemu_accel want = cfg->accel;
    const char *env = getenv("LIGHTVM_QEMU_ACCEL");
    if (want == QEMU_ACCEL_AUTO && env && *env) {
        if (!strcmp(env, "kvm"))
            want = QEMU_ACCEL_KVM;
        else if (!strcmp(env, "tcg"))
            want = QEMU_ACCEL_TCG;
        else if (strcmp(env, "auto"))
            return lvm_err_set(err, EINVAL,
                               "LIGHTVM_QEMU_ACCEL=%s: use kvm, tcg or auto",
                               env);
    }
    char why[200];
    if (want == QEMU_ACCEL_TCG) {
        *kvm = 0;
    } else if (qemu_kvm_usable(why, sizeof why)) {
        *kvm = 1;
    } else if (want == QEMU_ACCEL_KVM) {
        return lvm_err_set(err, ENODEV, "KVM asked for but not usable: %s",
                           why);
    } else {
        *kvm = 0;
    }
    return 0;
}

static int check_file(const char *what, const char *path, struct lvm_err *err)
{
    if (access(path, R_OK) < 0)
        return lvm_err_set(err, errno, "%s %s", what, path);
    return 0;
}

int qemu_prepare(const struct qemu_vm_config *cfg, struct qemu_vm_config *c,
                 int *kvm, struct lvm_err *err)
{
    if (pick_accel(cfg, kvm, err) < 0)
        return -1;
    if (check_file("kernel", cfg->kernel, err) < 0 ||
        check_file("initramfs", cfg->initrd, err) < 0 ||
        (cfg->disk && check_file("disk", cfg->disk, err) < 0))
        return -1;
    *c = *cfg;
    if (!c->qemu || !*c->qemu) /* documented in docs/tinyx.md */
        c->qemu = getenv("LIGHTVM_QEMU");
    for (unsigned i = 0; i < c->nfwd && i < QEMU_MAX_FWDS; i++) {
        if (!c->fwd[i].host_addr[0])
            snprintf(c->fwd[i].host_addr, sizeof c->fwd[i].host_addr,
                     "127.0.0.1");
        if (!c->fwd[i].host_port &&
            free_port(c->fwd[i].host_addr, &c->fwd[i].host_port, err) < 0)
            return -1;
    }
    return 0;
}

int qemu_spawn(const struct qemu_argv *a, const struct qemu_child *ch,
               pid_t *pid_out, int *pidfd_out, struct lvm_err *err)
{
    int errp[2];
    if (pipe2(errp, O_CLOEXEC) < 0)
        return lvm_err_set(err, errno, "pipe");
    /* The exec-error pipe must survive close_range in the child. */
    int hi = fcntl(errp[1], F_DUPFD_CLOEXEC, 1000);
    if (hi < 0) {
        lvm_err_set(err, errno, "dup");
        close(errp[0]);
        close(errp[1]);
        return -1;
    }
    close(errp[1]);
    errp[1] = hi;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        lvm_err_set(err, errno, "fork QEMU");
        close(errp[0]);
        close(errp[1]);
        return -1;
    }
    if (pid == 0)
        exec_qemu(a, ch, errp[1], parent);
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    int pidfd_errno = errno;
    close(errp[1]);
    int msg[2];
    ssize_t n;
    do
        n = read(errp[0], msg, sizeof msg);
    while (n < 0 && errno == EINTR);
    close(errp[0]);
    if (n == sizeof msg) {
        waitpid(pid, NULL, 0);
        if (pidfd >= 0)
            close(pidfd);
        if (msg[0] == FAIL_CGROUP)
            return lvm_err_set(err, msg[1], "move QEMU into its cgroup");
        if (msg[0] == FAIL_RLIMIT)
            return lvm_err_set(err, msg[1], "limit QEMU's file sizes");
        return lvm_err_set(
            err, msg[1], "run %s (is qemu-system-x86 installed?)", a->argv[0]);
    }
    if (pidfd < 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return lvm_err_set(err, pidfd_errno, "pidfd_open");
    }
    *pid_out = pid;
    *pidfd_out = pidfd;
    return 0;
}
