/*
 * qemu_spawn.c: start a QEMU process (see qemu_spawn.h): accelerator and
 * boot files, free ports for forwards, a tap by name, and the child's
 * set-up between clone and exec (its sandbox: qemu_jail.c).
 */
#include "toolstack/qemu/qemu_spawn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
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
        return lvm_err_invalid(err, "'%s' is not an IPv4 address", addr);
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

/* Fail, saying so, if TCP (port) on (addr) is taken: QEMU's own words
 * for that are "Could not set up host forwarding rule". Another may take
 * it before QEMU does; QEMU's message stands then. */
static int port_free(const char *addr, uint16_t port, struct lvm_err *err)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return lvm_err_set(err, errno, "socket");
    /* As QEMU binds: a port in TIME_WAIT is not in use. */
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
    int rc = 0;
    if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1)
        rc = lvm_err_invalid(err, "'%s' is not an IPv4 address", addr);
    else if (bind(s, (struct sockaddr *)&sin, sizeof sin) < 0 &&
             errno == EADDRINUSE)
        rc = lvm_err_set(err, 0,
                         "port %u on %s is in use (another program or guest "
                         "has it): publish another, or 0 for a free one",
                         port, addr);
    close(s);
    return rc;
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
enum { FAIL_EXEC, FAIL_CGROUP, FAIL_RLIMIT, FAIL_JAIL, FAIL_NNP };

static void child_fail(int errfd, int stage, int step, int e)
{
    int msg[3] = {stage, step, e};
    if (write(errfd, msg, sizeof msg) < 0)
        _exit(127);
    _exit(127);
}

/* Child: join its cgroups, limits, its sandbox, channels at their fixed
 * numbers, exec. System calls only: the caller may have threads, and
 * this copy of it has none of them (raw clone3, no fork handlers). */
static void exec_qemu(const struct qemu_argv *a, const struct qemu_child *ch,
                      int errfd, int errfd_read)
{
    /* Only the parent holds the read end now: a write end polling as an
     * error means it has died. */
    close(errfd_read);
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
            child_fail(errfd, FAIL_CGROUP, 0, errno);
    /* A core file would hold the guest's RAM. */
    struct rlimit no_core = {0, 0};
    if (setrlimit(RLIMIT_CORE, &no_core) < 0)
        child_fail(errfd, FAIL_RLIMIT, 0, errno);
    const struct qemu_jail *j = ch->jail;
    int boot[2] = {ch->src[QEMU_FD_KERNEL - QEMU_FD_CONSOLE],
                   ch->src[QEMU_FD_INITRD - QEMU_FD_CONSOLE]};
    int step = 0;
    if (j->on && qemu_jail_enter(j, boot, &step) < 0)
        child_fail(errfd, FAIL_JAIL, step, errno);
    if (ch->file_limit) {
        /* After its root is made (a private boot file is copied there).
         * The files QEMU writes itself (console, logs) stay bounded; a
         * write beyond fails (EFBIG) and QEMU drops that output instead
         * of dying of SIGXFSZ. The hard limit stays open so that the
         * caller can lift the soft one for a save (prlimit). */
        struct rlimit rl = {ch->file_limit, RLIM_INFINITY};
        signal(SIGXFSZ, SIG_IGN);
        if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
            child_fail(errfd, FAIL_RLIMIT, 0, errno);
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        child_fail(errfd, FAIL_NNP, 0, errno);
    if (ch->die_with_parent) {
        /* Set after the uid change, which clears it; a parent that died
         * before has closed the pipe's read end. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        struct pollfd p = {errfd, 0, 0};
        if (poll(&p, 1, 0) != 0)
            _exit(127);
    }
    int hi[QEMU_FD_COUNT];
    for (int i = 0; i < QEMU_FD_COUNT; i++) {
        int boot_file = i + QEMU_FD_CONSOLE == QEMU_FD_KERNEL ||
                        i + QEMU_FD_CONSOLE == QEMU_FD_INITRD;
        hi[i] = ch->src[i] >= 0 && !(boot_file && j->on)
                    ? fcntl(ch->src[i], F_DUPFD, 64)
                    : -1;
    }
    int disk_hi[2 * QEMU_MAX_DISKS];
    for (int i = 0; i < ch->ndisks; i++)
        disk_hi[i] = ch->disk_fds[i] >= 0 ? fcntl(ch->disk_fds[i], F_DUPFD, 64)
                                          : -2; /* no twin: nothing there */
    int xtap_hi[QEMU_MAX_XNICS];
    for (int i = 0; i < ch->nxtaps && i < QEMU_MAX_XNICS; i++)
        xtap_hi[i] = fcntl(ch->xtap_fds[i], F_DUPFD, 64);
    int nul = open("/dev/null", O_RDONLY);
    dup2(nul, 0);
    dup2(ch->log_fd, 1);
    dup2(ch->log_fd, 2);
    for (int i = 0; i < QEMU_FD_COUNT; i++)
        if (hi[i] >= 0)
            dup2(hi[i], QEMU_FD_CONSOLE + i);
        else /* nothing of ours sits where QEMU looks for a channel */
            close(QEMU_FD_CONSOLE + i);
    for (int i = 0; i < ch->ndisks; i++)
        if (disk_hi[i] == -2)
            close(QEMU_FD_DISK0 + i);
        else if (disk_hi[i] < 0 || dup2(disk_hi[i], QEMU_FD_DISK0 + i) < 0)
            child_fail(errfd, FAIL_EXEC, 0, EBADF);
    int nx = ch->nxtaps < QEMU_MAX_XNICS ? ch->nxtaps : QEMU_MAX_XNICS;
    for (int i = 0; i < nx; i++)
        if (xtap_hi[i] < 0 ||
            dup2(xtap_hi[i], qemu_xtap_fd(ch->ndisks) + i) < 0)
            child_fail(errfd, FAIL_EXEC, 0, EBADF);
    /* Nothing else of ours leaks into QEMU; errfd is CLOEXEC and goes
     * at exec. */
    syscall(SYS_close_range, qemu_xtap_fd(ch->ndisks) + nx, (unsigned)errfd - 1,
            0);
    syscall(SYS_close_range, (unsigned)errfd + 1, ~0u, 0);
    if (j->on) {
        /* Nothing of the caller's environment (LD_*, sanitizer options)
         * reaches a confined QEMU. */
        static char *const envp[] = {NULL};
        execve(j->exe, a->argv, envp);
    } else {
        execvp(a->argv[0], a->argv);
    }
    child_fail(errfd, FAIL_EXEC, 0, errno);
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
            return lvm_err_invalid(
                err, "LIGHTVM_QEMU_ACCEL=%s: use kvm, tcg or auto", env);
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

/* A tap device by name, opened here: a confined QEMU may not. */
static int tap_open(const char *name, struct lvm_err *err)
{
    if (!name || !*name || strlen(name) >= IFNAMSIZ)
        return lvm_err_invalid(err,
                               "tap networking needs a tap device name or fd");
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return lvm_err_set(err, errno, "open /dev/net/tun");
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        int e = errno;
        close(fd);
        return lvm_err_set(err, e, "open tap %s", name);
    }
    return fd;
}

/* The lowest port an unprivileged process may listen on. */
static unsigned unprivileged_port_start(void)
{
    unsigned start = 1024;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_unprivileged_port_start", "re");
    if (f) {
        if (fscanf(f, "%u", &start) != 1)
            start = 1024;
        fclose(f);
    }
    return start;
}

/* Host ports for forwards, and none QEMU could not listen on: it runs
 * unprivileged (docs/security.md, "QEMU's sandbox"), so say so now
 * rather than leave the guest without its port. */
static int pick_ports(struct qemu_vm_config *c, struct lvm_err *err)
{
    unsigned low = c->nfwd ? unprivileged_port_start() : 0;
    for (unsigned i = 0; i < c->nfwd && i < QEMU_MAX_FWDS; i++) {
        struct qemu_fwd *f = &c->fwd[i];
        if (!f->host_addr[0])
            snprintf(f->host_addr, sizeof f->host_addr, "127.0.0.1");
        if (f->host_port && f->host_port < low)
            return lvm_err_set(err, EACCES,
                               "port %u: QEMU runs as an unprivileged user "
                               "and cannot listen below port %u",
                               f->host_port, low);
        if (!f->host_port && free_port(f->host_addr, &f->host_port, err) < 0)
            return -1;
        else if (f->host_port && port_free(f->host_addr, f->host_port, err) < 0)
            return -1;
    }
    return 0;
}

void qemu_release(struct qemu_start *s)
{
    for (int i = 0; i < 2; i++)
        if (s->own_boot[i] >= 0)
            close(s->own_boot[i]);
    if (s->own_tap >= 0)
        close(s->own_tap);
    for (int i = 0; i < 2 * QEMU_MAX_DISKS; i++)
        if (s->own_disk[i] >= 0)
            close(s->own_disk[i]);
    qemu_jail_release(&s->jail);
    s->own_boot[0] = s->own_boot[1] = s->own_tap = -1;
    for (int i = 0; i < 2 * QEMU_MAX_DISKS; i++)
        s->own_disk[i] = -1;
}

/* Open (c)'s disks as the caller (unless given open) and renumber them
 * as QEMU will see them (QEMU_FD_DISK0 + N). */
static int open_disks(struct qemu_vm_config *c, struct qemu_start *s,
                      struct lvm_err *err)
{
    if (c->ndisks > QEMU_MAX_DISKS)
        return lvm_err_invalid(err, "at most %d disks", QEMU_MAX_DISKS);
    for (unsigned n = 0; n < c->ndisks; n++) {
        struct qemu_disk *d = &c->disks[n];
        unsigned i = 2 * n; /* its slot in disk_fd */
        s->disk_fd[i] = d->fd;
        if (d->fd < 0) {
            if (!d->path || !*d->path)
                return lvm_err_invalid(err, "disk %u: no file", n);
            s->disk_fd[i] = s->own_disk[i] =
                open(d->path, (d->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
            if (s->disk_fd[i] < 0)
                return lvm_err_set(err, errno, "disk %s", d->path);
        } else {
            /* QEMU opens /dev/fdset/N with the drive's access mode and
             * finds no fd unless the modes agree: say it here. */
            int fl = fcntl(d->fd, F_GETFL);
            if (fl < 0)
                return lvm_err_set(err, errno, "disk %u", n);
            if (!d->readonly && (fl & O_ACCMODE) != O_RDWR)
                return lvm_err_invalid(err,
                                       "disk %u is writable but its file is "
                                       "open read-only",
                                       n);
            if (d->readonly && (fl & O_ACCMODE) != O_RDONLY)
                return lvm_err_invalid(err,
                                       "disk %u is read-only: pass it opened "
                                       "O_RDONLY",
                                       n);
        }
        struct stat st;
        if (fstat(s->disk_fd[i], &st) < 0)
            return lvm_err_set(err, errno, "disk %u", n);
        if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
            return lvm_err_invalid(err,
                                   "disk %s is not a file or a block device",
                                   d->path ? d->path : "(fd)");
        d->blockdev = S_ISBLK(st.st_mode);
        /* A writable drive's image is opened by QEMU read-only as well
         * (its block layer asks its fd set for either mode): a twin of
         * the same file, reopened read-only. */
        s->disk_fd[i + 1] = -1;
        d->ro_fd = -1;
        if (!d->readonly) {
            char self[64];
            snprintf(self, sizeof self, "/proc/self/fd/%d", s->disk_fd[i]);
            s->disk_fd[i + 1] = s->own_disk[i + 1] =
                open(self, O_RDONLY | O_CLOEXEC);
            if (s->disk_fd[i + 1] < 0)
                return lvm_err_set(err, errno, "disk %u: reopen read-only", n);
            d->ro_fd = QEMU_FD_DISK0 + (int)i + 1;
        }
        d->fd = QEMU_FD_DISK0 + (int)i;
        s->ndisk_fds = (int)i + 2;
    }
    return 0;
}

int qemu_prepare(const struct qemu_vm_config *cfg, const int boot_fd[2],
                 struct qemu_start *s, struct lvm_err *err)
{
    memset(s, 0, sizeof *s);
    s->own_boot[0] = s->own_boot[1] = s->own_tap = -1;
    for (int i = 0; i < 2 * QEMU_MAX_DISKS; i++)
        s->own_disk[i] = s->disk_fd[i] = -1;
    s->jail.boot_tree[0] = s->jail.boot_tree[1] = -1;
    if (pick_accel(cfg, &s->kvm, err) < 0)
        return -1;
    s->c = *cfg;
    struct qemu_vm_config *c = &s->c;
    if (!c->qemu || !*c->qemu) /* documented in docs/tinyx.md */
        c->qemu = getenv("LIGHTVM_QEMU");
    if (!c->qemu || !*c->qemu)
        c->qemu = "qemu-system-x86_64";
    /* Opened as the caller: QEMU boots exactly these files. */
    const char *what[2] = {"kernel", "initramfs"};
    const char *path[2] = {cfg->kernel, cfg->initrd};
    for (int i = 0; i < 2; i++) {
        s->boot_fd[i] = boot_fd ? boot_fd[i] : -1;
        if (s->boot_fd[i] >= 0)
            continue;
        if (!path[i] || !*path[i])
            return lvm_err_invalid(err, "no %s given", what[i]);
        s->boot_fd[i] = s->own_boot[i] = open(path[i], O_RDONLY | O_CLOEXEC);
        if (s->boot_fd[i] < 0)
            return lvm_err_set(err, errno, "%s %s", what[i], path[i]);
    }
    if (pick_ports(c, err) < 0)
        return -1;
    if (c->net == QEMU_NET_TAP && c->tap_fd < 0) {
        if ((s->own_tap = c->tap_fd = tap_open(c->tap_ifname, err)) < 0)
            return -1;
    }
    if (qemu_jail_prepare(&s->jail, c->qemu, s->kvm, c->net != QEMU_NET_USER,
                          s->boot_fd, err) < 0)
        return -1;
    if (open_disks(c, s, err) < 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        if (s->jail.on)
            snprintf(s->boot_path[i], sizeof s->boot_path[i], "%s",
                     i ? QEMU_JAIL_INITRD : QEMU_JAIL_KERNEL);
        else
            snprintf(s->boot_path[i], sizeof s->boot_path[i],
                     "/proc/self/fd/%d", i ? QEMU_FD_INITRD : QEMU_FD_KERNEL);
    }
    c->kernel = s->boot_path[0];
    c->initrd = s->boot_path[1];
    return 0;
}

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif

/* clone3's arguments (linux/sched.h, version 0). */
struct clone_args_v0 {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack,
        stack_size, tls;
};

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
    /* Like fork, in QEMU's namespaces from the start (its pid namespace
     * can only be entered so), with a pidfd from the same call. */
    int pidfd = -1;
    struct clone_args_v0 ca = {.flags = CLONE_PIDFD |
                                        (ch->jail->on ? ch->jail->ns_flags : 0),
                               .pidfd = (uint64_t)(uintptr_t)&pidfd,
                               .exit_signal = SIGCHLD};
    pid_t pid = (pid_t)syscall(SYS_clone3, &ca, sizeof ca);
    if (pid < 0) {
        lvm_err_set(err, errno, "start QEMU (clone3)");
        close(errp[0]);
        close(errp[1]);
        return -1;
    }
    if (pid == 0)
        exec_qemu(a, ch, errp[1], errp[0]);
    close(errp[1]);
    int msg[3];
    ssize_t n;
    do
        n = read(errp[0], msg, sizeof msg);
    while (n < 0 && errno == EINTR);
    close(errp[0]);
    if (n == sizeof msg) {
        waitpid(pid, NULL, 0);
        close(pidfd);
        if (msg[0] == FAIL_CGROUP)
            return lvm_err_set(err, msg[2], "move QEMU into its cgroup");
        if (msg[0] == FAIL_RLIMIT)
            return lvm_err_set(err, msg[2], "limit QEMU's file sizes");
        if (msg[0] == FAIL_JAIL)
            return lvm_err_set(err, msg[2], "confine QEMU: %s",
                               qemu_jail_step_name(msg[1]));
        if (msg[0] == FAIL_NNP)
            return lvm_err_set(err, msg[2], "set QEMU's no_new_privs");
        return lvm_err_set(
            err, msg[2], "run %s (is qemu-system-x86 installed?)", a->argv[0]);
    }
    *pid_out = pid;
    *pidfd_out = pidfd;
    return 0;
}
