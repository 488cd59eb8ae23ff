/*
 * init.c: PID 1 of a Tinyx guest. Mounts the kernel filesystems, loads the
 * modules a stock kernel needs, configures the network from the kernel
 * command line, runs the app (as its own user where the package has one),
 * tells the host through the control channel when the app is ready and how
 * it ended, then reboots, which QEMU (-no-reboot) turns into its exit.
 *
 * Control channel (a second serial port, raw, one line per message):
 *   guest -> host: "tinyx boot MS", "tinyx started PID", "tinyx ready MS",
 *                  "tinyx exit STATUS", "tinyx signal SIG", "tinyx error MSG"
 *   host -> guest: "poweroff", "kill SIG" (signal the app's process
 *                  group), "status" (the init repeats "started" and,
 *                  once the app is ready, "ready": a host that restored
 *                  the guest from a saved state, or missed the first
 *                  reports, learns where it is)
 */
#include "init.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define HEALTH_PERIOD_MS 20
#define POWEROFF_GRACE_S 10
#define DEFAULT_PATH                                                           \
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static int quiet;
static int ctl_fd = -1;

void init_log(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof buf - 2)
        n = sizeof buf - 2;
    buf[n++] = '\n';
    if (write(STDERR_FILENO, "tinyx-init: ", 12) < 0 ||
        write(STDERR_FILENO, buf, (size_t)n) < 0)
        return;
}

static long uptime_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_BOOTTIME, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* One message to the host; waits until the UART has sent it, so that a
 * reboot right after cannot cut it short. */
static void report(const char *fmt, ...)
{
    if (ctl_fd < 0)
        return;
    char buf[300] = "tinyx ";
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + 6, sizeof buf - 8, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    n += 6;
    if ((size_t)n > sizeof buf - 2)
        n = sizeof buf - 2;
    for (int i = 6; i < n; i++)
        if (buf[i] == '\n')
            buf[i] = ' ';
    buf[n++] = '\n';
    if (write(ctl_fd, buf, (size_t)n) < 0)
        return;
    tcdrain(ctl_fd);
}

static void mount_fs(const char *src, const char *dir, const char *type)
{
    mkdir(dir, 0755);
    if (mount(src, dir, type, MS_NOSUID | MS_NOEXEC, NULL) < 0 &&
        errno != EBUSY)
        init_log("mount %s on %s: %s", type, dir, strerror(errno));
}

static void open_console(void)
{
    int fd = open("/dev/console", O_RDWR | O_NOCTTY);
    if (fd < 0)
        return;
    for (int i = 0; i < 3; i++)
        if (fd != i)
            dup2(fd, i);
    if (fd > 2)
        close(fd);
}

/* A stock kernel has virtio as modules; the image lists them in load
 * order. A tiny kernel has them built in and the list is empty. */
static void load_modules(const struct init_conf *c)
{
    for (int i = 0; i < c->nmodules; i++) {
        int fd = open(c->modules[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            init_log("module %s: %s", c->modules[i], strerror(errno));
            continue;
        }
        if (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST)
            init_log("load module %s: %s", c->modules[i], strerror(errno));
        close(fd);
    }
}

static void make_dirs(const struct init_conf *c)
{
    for (int i = 0; i < c->ndirs; i++) {
        const struct init_dir *d = &c->dirs[i];
        if (mkdir(d->path, d->mode) < 0 && errno != EEXIST)
            init_log("mkdir %s: %s", d->path, strerror(errno));
        else if (chown(d->path, d->uid, d->gid) < 0 ||
                 chmod(d->path, d->mode) < 0)
            init_log("chown %s: %s", d->path, strerror(errno));
    }
}

static void open_control(const struct init_conf *c)
{
    if (!c->ctl[0] || strchr(c->ctl, '/'))
        return;
    char path[64];
    snprintf(path, sizeof path, "/dev/%s", c->ctl);
    ctl_fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
    if (ctl_fd < 0) {
        init_log("control channel %s: %s", path, strerror(errno));
        return;
    }
    struct termios t;
    if (tcgetattr(ctl_fd, &t) == 0) {
        cfmakeraw(&t);
        cfsetspeed(&t, B115200);
        tcsetattr(ctl_fd, TCSANOW, &t);
    }
}

void init_build_env(const struct init_conf *c, char **env, size_t max)
{
    static char home[300], user[100], path[] = "PATH=" DEFAULT_PATH;
    size_t n = 0;
    env[n++] = path;
    snprintf(home, sizeof home, "HOME=%s", c->home ? c->home : "/");
    env[n++] = home;
    snprintf(user, sizeof user, "USER=%s", c->user ? c->user : "root");
    env[n++] = user;
    for (int i = 0; i < c->envc && n + 1 < max; i++) {
        /* a configured PATH, HOME or USER replaces the default */
        if (!strncmp(c->env[i], "PATH=", 5))
            env[0] = c->env[i];
        else if (!strncmp(c->env[i], "HOME=", 5))
            env[1] = c->env[i];
        else if (!strncmp(c->env[i], "USER=", 5))
            env[2] = c->env[i];
        else
            env[n++] = c->env[i];
    }
    env[n] = NULL;
}

/* execve (argv), a name without a slash looked up in the PATH of (env)
 * as execvp(3) does (a container's process.args[0] may be "redis-server").
 * Returns the errno of the failure that says most. */
static int exec_path(char *const *argv, char *const *env)
{
    if (strchr(argv[0], '/')) {
        execve(argv[0], argv, env);
        return errno;
    }
    const char *path = DEFAULT_PATH;
    for (int i = 0; env[i]; i++)
        if (!strncmp(env[i], "PATH=", 5))
            path = env[i] + 5;
    int e = ENOENT;
    for (const char *p = path; *p;) {
        size_t n = strcspn(p, ":");
        char full[512];
        if (snprintf(full, sizeof full, "%.*s/%s", (int)n, n ? p : ".",
                     argv[0]) < (int)sizeof full) {
            execve(full, argv, env);
            if (errno != ENOENT && errno != ENOTDIR)
                e = errno;
        }
        p += n;
        if (*p == ':')
            p++;
    }
    return e;
}

/* Child side of spawn(): become the app's user and exec; on failure send
 * errno through (errfd) so the parent can say why. */
static void exec_child(const struct init_conf *c, char *const *argv,
                       int as_user, int errfd, int devnull_out)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    setsid();
    int nul = open("/dev/null", O_RDWR);
    if (nul >= 0) {
        dup2(nul, 0);
        if (devnull_out) {
            dup2(nul, 1);
            dup2(nul, 2);
        }
    }
    if (chdir(c->cwd ? c->cwd : c->home ? c->home : "/") < 0 && chdir("/"))
        _exit(127);
    int e = 0;
    /* The app's own limits ("rlimit" lines), set while still root. */
    for (int i = 0; as_user && i < c->nrlimits; i++) {
        const struct init_rlimit *r = &c->rlimits[i];
        struct rlimit rl = {r->soft == ~0ull ? RLIM_INFINITY : (rlim_t)r->soft,
                            r->hard == ~0ull ? RLIM_INFINITY : (rlim_t)r->hard};
        if (setrlimit(r->resource, &rl) < 0)
            e = errno;
    }
    if (!e && as_user && c->uid != 0) {
        if (setgroups((size_t)c->ngroups, c->groups) < 0 ||
            setgid(c->gid) < 0 || setuid(c->uid) < 0)
            e = errno;
    }
    char *env[INIT_MAX_ENV + 8];
    init_build_env(c, env, sizeof env / sizeof env[0]);
    if (!e)
        e = exec_path(argv, env);
    if (write(errfd, &e, sizeof e) < 0)
        _exit(127);
    _exit(127);
}

/* Start (argv); returns its pid, or -1 with *exec_errno set when exec
 * failed. */
static pid_t spawn(const struct init_conf *c, char *const *argv, int as_user,
                   int devnull_out, int *exec_errno)
{
    int p[2];
    *exec_errno = 0;
    if (pipe2(p, O_CLOEXEC) < 0) {
        *exec_errno = errno;
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0)
        exec_child(c, argv, as_user, p[1], devnull_out);
    close(p[1]);
    if (pid < 0) {
        *exec_errno = errno;
        close(p[0]);
        return -1;
    }
    int e;
    ssize_t n;
    do
        n = read(p[0], &e, sizeof e);
    while (n < 0 && errno == EINTR);
    close(p[0]);
    if (n == sizeof e) {
        /* exec failed: the child exits at once, reap it here */
        waitpid(pid, NULL, 0);
        *exec_errno = e;
        return -1;
    }
    return pid;
}

static int tcp_answers(unsigned addr, int port)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return 0;
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(addr)};
    int ok = connect(s, (struct sockaddr *)&sin, sizeof sin) == 0;
    close(s);
    return ok;
}

struct state {
    struct init_conf *conf;
    pid_t app, health;
    int app_done, app_status;
    int ready, stopping;
    long ready_ms;
    int sigfd, timerfd, killfd;
    int exec_tries; /* looks for the exec channel's port left */
    char ctlbuf[512];
    size_t ctllen;
};

static void stop_app(struct state *s)
{
    if (s->stopping || s->app_done)
        return;
    s->stopping = 1;
    kill(s->app, SIGTERM);
    struct itimerspec its = {{0, 0}, {POWEROFF_GRACE_S, 0}};
    timerfd_settime(s->killfd, 0, &its, NULL);
}

static void reap(struct state *s)
{
    int st;
    pid_t pid;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        if (init_exec_reaped(pid, st))
            continue;
        if (pid == s->app) {
            s->app_done = 1;
            s->app_status = st;
        } else if (pid == s->health) {
            s->health = 0;
            if (WIFEXITED(st) && WEXITSTATUS(st) == 0 && !s->ready) {
                s->ready = 1;
                s->ready_ms = uptime_ms();
                report("ready %ld", s->ready_ms);
            }
        }
    }
}

static void health_tick(struct state *s)
{
    uint64_t n;
    if (read(s->timerfd, &n, sizeof n) < 0 || s->ready)
        return;
    struct init_conf *c = s->conf;
    if (c->health_port) {
        if (tcp_answers(init_net_self(c), c->health_port)) {
            s->ready = 1;
            s->ready_ms = uptime_ms();
            report("ready %ld", s->ready_ms);
        }
    } else if (c->health_argc && !s->health) {
        int e;
        pid_t pid = spawn(c, c->health_argv, 1, 1, &e);
        if (pid > 0)
            s->health = pid;
    }
    if (s->ready) {
        struct itimerspec off = {{0, 0}, {0, 0}};
        timerfd_settime(s->timerfd, 0, &off, NULL);
    }
}

static void control_lines(struct state *s);

static void control_input(struct state *s)
{
    ssize_t n =
        read(ctl_fd, s->ctlbuf + s->ctllen, sizeof s->ctlbuf - 1 - s->ctllen);
    if (n <= 0)
        return;
    s->ctllen += (size_t)n;
    s->ctlbuf[s->ctllen] = 0;
    control_lines(s);
}

static void control_lines(struct state *s)
{
    char *nl;
    while ((nl = strchr(s->ctlbuf, '\n'))) {
        *nl = 0;
        if (!strncmp(s->ctlbuf, "poweroff", 8)) {
            stop_app(s);
        } else if (!strncmp(s->ctlbuf, "kill ", 5)) {
            /* A signal for the app (lightvm-runtime's kill of a VM
             * container): to its process group, as a terminal's would. */
            int sig = atoi(s->ctlbuf + 5);
            if (sig > 0 && sig < 65 && !s->app_done)
                kill(-s->app, sig);
        } else if (!strncmp(s->ctlbuf, "status", 6)) {
            report("started %d", (int)s->app);
            if (s->ready)
                report("ready %ld", s->ready_ms);
        }
        size_t rest = s->ctllen - (size_t)(nl + 1 - s->ctlbuf);
        memmove(s->ctlbuf, nl + 1, rest + 1);
        s->ctllen = rest;
    }
    if (s->ctllen == sizeof s->ctlbuf - 1)
        s->ctllen = 0; /* garbage without newline: drop it */
}

static void run_loop(struct state *s)
{
    while (!s->app_done) {
        struct pollfd p[8] = {{s->sigfd, POLLIN, 0},
                              {s->timerfd, POLLIN, 0},
                              {s->killfd, POLLIN, 0},
                              {ctl_fd, POLLIN, 0}};
        int nbase = ctl_fd >= 0 ? 4 : 3;
        int nx = init_exec_pollfds(p + nbase);
        /* The exec channel's port shows up shortly after its driver
         * loads; look again every 20 ms for a while. */
        int timeout = -1;
        if (s->exec_tries > 0) {
            if (init_exec_open() == 0)
                s->exec_tries = 0;
            else if (--s->exec_tries == 0)
                init_log("no exec channel: lightvm exec will not work");
            else
                timeout = 20;
        }
        if (poll(p, (nfds_t)(nbase + nx), timeout) < 0)
            continue;
        if (p[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            while (read(s->sigfd, &si, sizeof si) == sizeof si)
                if (si.ssi_signo == SIGIO)
                    init_exec_sigio();
                else if (si.ssi_signo != SIGCHLD)
                    stop_app(s);
            reap(s);
        }
        if (nx)
            init_exec_service(s->conf, p + nbase, nx);
        if (p[1].revents & POLLIN)
            health_tick(s);
        if (p[2].revents & POLLIN) {
            uint64_t n;
            if (read(s->killfd, &n, sizeof n) > 0)
                kill(s->app, SIGKILL);
        }
        if (ctl_fd >= 0 && (p[3].revents & POLLIN))
            control_input(s);
    }
}

static void finish(int status_known, int st)
{
    if (status_known && WIFEXITED(st)) {
        report("exit %d", WEXITSTATUS(st));
        if (!quiet || WEXITSTATUS(st))
            init_log("app exited with status %d", WEXITSTATUS(st));
    } else if (status_known && WIFSIGNALED(st)) {
        report("signal %d", WTERMSIG(st));
        init_log("app killed by signal %d (%s)", WTERMSIG(st),
                 strsignal(WTERMSIG(st)));
    }
    kill(-1, SIGKILL);
    sync();
    /* QEMU runs with -no-reboot: a reboot ends it at once, with or
     * without ACPI in the kernel. */
    reboot(RB_AUTOBOOT);
    _exit(1);
}

static void fail(const char *what, int e)
{
    report("error %s: %s", what, strerror(e));
    init_log("%s: %s", what, strerror(e));
    finish(0, 0);
}

int main(void)
{
    mount_fs("devtmpfs", "/dev", "devtmpfs");
    open_console();
    mount_fs("proc", "/proc", "proc");
    mount_fs("sysfs", "/sys", "sysfs");
    mkdir("/tmp", 01777);
    mkdir("/run", 0755);

    struct init_conf conf;
    if (init_conf_load(&conf) < 0) {
        init_conf_cmdline(&conf, "");
        finish(0, 0);
    }
    quiet = conf.quiet;
    open_control(&conf);
    report("boot %ld", uptime_ms());
    /* This run's settings from the host: what the image says, overridden
     * (lightvm create -e, a command after the image). */
    char rest[512];
    size_t restlen = 0;
    if (conf.runtime && (ctl_fd < 0 ||
                         init_conf_runtime(&conf, ctl_fd, 10000, rest, &restlen,
                                           sizeof rest - 1) < 0 ||
                         conf.argc == 0))
        fail("host settings", EINVAL);

    load_modules(&conf);
    /* Disks, overlays and the switch into the app's root (after the
     * modules: a stock kernel has virtio_blk and overlay as modules). */
    char why[300];
    if (init_mount_all(&conf, why, sizeof why) < 0) {
        report("error %s", why);
        init_log("%s", why);
        finish(0, 0);
    }
    if (conf.hostname && sethostname(conf.hostname, strlen(conf.hostname)))
        init_log("sethostname: %s", strerror(errno));
    make_dirs(&conf);
    /* Servers like redis size their client tables from RLIMIT_NOFILE;
     * raise it while still root, since the app's user cannot. */
    struct rlimit rl = {65536, 65536};
    setrlimit(RLIMIT_NOFILE, &rl);
    if (init_net_setup(&conf) < 0)
        fail("network set-up", EINVAL);

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGPWR);
    sigaddset(&mask, SIGIO);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    struct state s = {.conf = &conf};
    memcpy(s.ctlbuf, rest, restlen);
    s.ctllen = restlen;
    s.ctlbuf[restlen] = 0;
    if (conf.exec && init_exec_open() < 0)
        s.exec_tries = 250;
    s.sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    s.timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    s.killfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (s.sigfd < 0 || s.timerfd < 0 || s.killfd < 0)
        fail("signalfd/timerfd", errno);

    int e;
    s.app = spawn(&conf, conf.argv, 1, 0, &e);
    if (s.app < 0) {
        char what[300];
        snprintf(what, sizeof what, "exec %s", conf.argv[0]);
        fail(what, e);
    }
    report("started %d", (int)s.app);
    control_lines(&s); /* what the host sent right after its settings */
    if (conf.health_port || conf.health_argc) {
        struct itimerspec its = {{0, HEALTH_PERIOD_MS * 1000000L},
                                 {0, 1000000L}};
        timerfd_settime(s.timerfd, 0, &its, NULL);
    }
    run_loop(&s);
    finish(1, s.app_status);
    return 0;
}
