/*
 * init_exec.c: `lightvm exec` inside the guest. The init serves the exec
 * channel (include/lightvm/tinyx_exec.h), a virtio serial port: one
 * command per host connection, its stdin, stdout and stderr carried as
 * frames, its wait status reported at the end. Nothing here may block the
 * init: every fd is non-blocking, and while one frame waits to be written
 * the side that produced it is not read.
 */
#include "init.h"

#include <lightvm/tinyx_exec.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define X_MAX_ITEMS 256

static struct {
    int port;     /* the serial port, or -1 */
    int host_off; /* the host is not connected: wait for SIGIO */
    uint8_t in[LVM_XF_HDR + LVM_XF_MAX];
    size_t inlen;
    /* a stdin frame's data the command has not taken yet */
    uint8_t inpend[LVM_XF_MAX];
    size_t inpend_len, inpend_off;
    int eof_pending;
    uint8_t out[LVM_XF_HDR + LVM_XF_MAX]; /* a frame for the host */
    size_t outlen, outoff;
    pid_t pid; /* the command, 0 when none */
    int in_fd, out_fd, err_fd;
    int reaped, status;
    int done;  /* EXIT or ERROR sent: wait for the host to go */
    int ended; /* its host has gone; forget it once reaped */
} x = {.port = -1, .in_fd = -1, .out_fd = -1, .err_fd = -1};

/* The port's device: the /dev/vportNpM whose sysfs name is ours. */
static int find_port(char *dev, size_t len)
{
    char port[32];
    if (init_sysfs_find("virtio-ports", "name", LVM_XF_PORT, 0, port,
                        sizeof port) < 0)
        return -1;
    snprintf(dev, len, "/dev/%s", port);
    return 0;
}

int init_exec_open(void)
{
    if (x.port >= 0)
        return 0;
    char dev[300];
    if (find_port(dev, sizeof dev) < 0)
        return -1;
    x.port = open(dev, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (x.port < 0) {
        init_log("exec channel %s: %s", dev, strerror(errno));
        return -1;
    }
    /* SIGIO when the host connects or goes: the port polls as hung up
     * while nobody is there, so it is not polled then. Set before the
     * first poll, which says whether a host came before the port was
     * opened (then no SIGIO will). */
    if (fcntl(x.port, F_SETOWN, getpid()) < 0 ||
        fcntl(x.port, F_SETFL, fcntl(x.port, F_GETFL) | O_ASYNC) < 0)
        init_log("exec channel: no SIGIO: %s", strerror(errno));
    x.host_off = 0;
    return 0;
}

void init_exec_sigio(void)
{
    x.host_off = 0; /* poll it again: it says whether someone is there */
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static void queue(int type, const void *data, size_t len)
{
    if (len > LVM_XF_MAX)
        len = LVM_XF_MAX;
    lvm_xf_header(x.out, type, len);
    if (len)
        memcpy(x.out + LVM_XF_HDR, data, len);
    x.outlen = LVM_XF_HDR + len;
    x.outoff = 0;
}

static void flush_out(void)
{
    while (x.outoff < x.outlen) {
        ssize_t n = write(x.port, x.out + x.outoff, x.outlen - x.outoff);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) { /* the host has gone: drop it */
            x.outlen = x.outoff = 0;
            return;
        }
        x.outoff += (size_t)n;
    }
    x.outlen = x.outoff = 0;
}

static void __attribute__((format(printf, 1, 2)))
error_frame(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof msg - 1)
        n = (int)sizeof msg - 1;
    queue(LVM_XF_ERROR, msg, n > 0 ? (size_t)n : 0);
    x.done = 1;
}

/* Forget the command (killing what is left of it) and what it had
 * pending, but not what the host has sent since. */
static void end_command(void)
{
    if (x.pid > 0 && !x.reaped) {
        kill(-x.pid, SIGKILL);
        x.ended = 1; /* init_exec_reaped forgets it */
    } else {
        x.pid = 0;
    }
    close_fd(&x.in_fd);
    close_fd(&x.out_fd);
    close_fd(&x.err_fd);
    x.outlen = x.outoff = 0;
    x.inpend_len = x.inpend_off = 0;
    x.eof_pending = x.done = 0;
}

/* The host has gone: reset for the next one. */
static void end_session(void)
{
    end_command();
    x.inlen = 0;
}

static int resolve_user(const char *spec, const struct init_conf *c, uid_t *uid,
                        gid_t *gid, int *have_groups)
{
    char u[128], *g;
    snprintf(u, sizeof u, "%s", spec);
    g = strchr(u, ':');
    if (g)
        *g++ = 0;
    char *end;
    unsigned long n = strtoul(u, &end, 10);
    struct passwd *pw = NULL;
    if (*u && !*end) {
        *uid = (uid_t)n;
        pw = getpwuid(*uid);
        *gid = pw ? pw->pw_gid : (gid_t)n;
    } else if ((pw = getpwnam(u))) {
        *uid = pw->pw_uid;
        *gid = pw->pw_gid;
    } else {
        return -1;
    }
    *have_groups = 0;
    if (g) {
        n = strtoul(g, &end, 10);
        struct group *gr;
        if (*g && !*end)
            *gid = (gid_t)n;
        else if ((gr = getgrnam(g)))
            *gid = gr->gr_gid;
        else
            return -1;
    }
    (void)c;
    return 0;
}

/* The child: its own session, the pipes as stdio, the user, then exec. */
static _Noreturn void child(const struct init_conf *c, char **argv, char **env,
                            const char *cwd, const char *user, int p_in[2],
                            int p_out[2], int p_err[2], int errfd)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    setsid();
    dup2(p_in[0], 0);
    dup2(p_out[1], 1);
    dup2(p_err[1], 2);
    int e = 0;
    const char *what = "chdir";
    const char *dir = cwd ? cwd : c->cwd ? c->cwd : c->home ? c->home : "/";
    if (chdir(dir) < 0 && (cwd || chdir("/") < 0))
        e = errno;
    if (!e) {
        uid_t uid = c->uid;
        gid_t gid = c->gid;
        int groups = 1;
        what = "user";
        if (user && resolve_user(user, c, &uid, &gid, &groups) < 0)
            e = ENOENT;
        else if (uid != 0 && ((groups ? setgroups((size_t)c->ngroups, c->groups)
                                      : setgroups(0, NULL)) < 0 ||
                              setgid(gid) < 0 || setuid(uid) < 0))
            e = errno;
    }
    if (!e) {
        what = "exec";
        extern char **environ;
        environ = env;
        execvp(argv[0], argv);
        e = errno;
    }
    int msg[2] = {what[0] == 'c' ? 1 : what[0] == 'u' ? 2 : 3, e};
    if (write(errfd, msg, sizeof msg) < 0)
        _exit(127);
    _exit(127);
}

static void start(const struct init_conf *c, uint8_t *p, size_t len)
{
    char *argv[X_MAX_ITEMS + 1], *env[X_MAX_ITEMS + INIT_MAX_ENV + 8];
    int argc = 0;
    const char *cwd = NULL, *user = NULL;
    init_build_env(c, env, INIT_MAX_ENV + 8);
    int envc = 0;
    while (env[envc])
        envc++;
    if (len == 0 || p[len - 1] != 0) {
        error_frame("exec: malformed start");
        return;
    }
    for (size_t off = 0; off < len;) {
        char *item = (char *)p + off;
        size_t il = strlen(item);
        off += il + 1;
        if (il < 2 || item[1] != ':') {
            error_frame("exec: malformed start item");
            return;
        }
        char *v = item + 2;
        if (item[0] == 'a' && argc < X_MAX_ITEMS) {
            argv[argc++] = v;
        } else if (item[0] == 'e' && strchr(v, '=') && v[0] != '=' &&
                   envc < X_MAX_ITEMS + INIT_MAX_ENV + 7) {
            size_t k = (size_t)(strchr(v, '=') - v) + 1;
            int i;
            for (i = 0; i < envc && strncmp(env[i], v, k); i++)
                ;
            env[i] = v;
            if (i == envc)
                env[++envc] = NULL;
        } else if (item[0] == 'w' && *v) {
            cwd = v;
        } else if (item[0] == 'u' && *v) {
            user = v;
        } else {
            error_frame("exec: malformed or too many start items");
            return;
        }
    }
    argv[argc] = NULL;
    if (!argc) {
        error_frame("exec: no command");
        return;
    }
    int p_in[2], p_out[2], p_err[2], p_e[2];
    if (pipe2(p_in, O_CLOEXEC) < 0 || pipe2(p_out, O_CLOEXEC) < 0 ||
        pipe2(p_err, O_CLOEXEC) < 0 || pipe2(p_e, O_CLOEXEC) < 0) {
        error_frame("exec: pipe: %s", strerror(errno));
        return;
    }
    pid_t pid = fork();
    if (pid == 0)
        child(c, argv, env, cwd, user, p_in, p_out, p_err, p_e[1]);
    close(p_in[0]);
    close(p_out[1]);
    close(p_err[1]);
    close(p_e[1]);
    x.in_fd = p_in[1];
    x.out_fd = p_out[0];
    x.err_fd = p_err[0];
    if (pid < 0) {
        close(p_e[0]);
        error_frame("exec: fork: %s", strerror(errno));
        end_session();
        return;
    }
    int msg[2];
    ssize_t n;
    do
        n = read(p_e[0], msg, sizeof msg);
    while (n < 0 && errno == EINTR);
    close(p_e[0]);
    x.pid = pid;
    x.reaped = x.ended = 0;
    if (n == sizeof msg) { /* it did not start; init_exec_reaped reaps it */
        close_fd(&x.in_fd);
        close_fd(&x.out_fd);
        close_fd(&x.err_fd);
        if (msg[0] == 1)
            error_frame("%s: cannot change directory: %s", cwd ? cwd : "/",
                        strerror(msg[1]));
        else if (msg[0] == 2 && msg[1] == ENOENT)
            error_frame("unable to find user %s: no matching entries in "
                        "passwd file",
                        user);
        else if (msg[0] == 2)
            error_frame("user %s: %s", user ? user : "", strerror(msg[1]));
        else
            error_frame("%s: %s", argv[0], strerror(msg[1]));
        return;
    }
    fcntl(x.in_fd, F_SETFL, O_NONBLOCK);
    fcntl(x.out_fd, F_SETFL, O_NONBLOCK);
    fcntl(x.err_fd, F_SETFL, O_NONBLOCK);
    uint8_t le[4] = {(uint8_t)pid, (uint8_t)(pid >> 8), (uint8_t)(pid >> 16),
                     (uint8_t)(pid >> 24)};
    queue(LVM_XF_STARTED, le, 4);
}

/* Hand the command what stdin data is pending; 1 when all is taken. */
static int feed_stdin(void)
{
    while (x.inpend_off < x.inpend_len) {
        if (x.in_fd < 0) { /* it closed its stdin: drop the rest */
            x.inpend_off = x.inpend_len;
            break;
        }
        ssize_t n = write(x.in_fd, x.inpend + x.inpend_off,
                          x.inpend_len - x.inpend_off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return 0;
        if (n < 0) {
            close_fd(&x.in_fd);
            continue;
        }
        x.inpend_off += (size_t)n;
    }
    x.inpend_len = x.inpend_off = 0;
    if (x.eof_pending) {
        close_fd(&x.in_fd);
        x.eof_pending = 0;
    }
    return 1;
}

/* Handle the complete frames in x.in. */
static void frames(const struct init_conf *c)
{
    while (x.inlen >= LVM_XF_HDR && !x.outlen && !x.inpend_len) {
        size_t len = lvm_xf_len(x.in);
        if (len > LVM_XF_MAX) { /* not our peer: hang up on it */
            end_session();
            return;
        }
        if (x.inlen < LVM_XF_HDR + len)
            return;
        int type = x.in[0];
        uint8_t *p = x.in + LVM_XF_HDR;
        if (type == LVM_XF_START) {
            /* A new host, even if the old one's going went unnoticed (it
             * left and the next came between two polls): one client at a
             * time, so the old command is over. Frames of it still on
             * their way are ignored by the host until STARTED. */
            if (x.pid || x.done)
                end_command();
            start(c, p, len);
        } else if (type == LVM_XF_STDIN && x.pid && len) {
            memcpy(x.inpend, p, len);
            x.inpend_len = len;
            x.inpend_off = 0;
        } else if (type == LVM_XF_EOF && x.pid) {
            x.eof_pending = 1;
        } else if (type == LVM_XF_SIGNAL && x.pid && !x.reaped && len == 1 &&
                   p[0] > 0 && p[0] < 65) {
            kill(-x.pid, p[0]);
        }
        /* anything else is dropped */
        memmove(x.in, x.in + LVM_XF_HDR + len, x.inlen - LVM_XF_HDR - len);
        x.inlen -= LVM_XF_HDR + len;
        if (x.inpend_len || x.eof_pending)
            feed_stdin();
    }
}

/* Move the command's output into a frame, or report its end. */
static void pump_output(int *fd, int type)
{
    if (*fd < 0 || x.outlen)
        return;
    uint8_t buf[LVM_XF_MAX];
    ssize_t n = read(*fd, buf, sizeof buf);
    if (n > 0)
        queue(type, buf, (size_t)n);
    else if (n == 0 || (errno != EAGAIN && errno != EINTR))
        close_fd(fd);
}

static void maybe_exit_frame(void)
{
    if (x.pid && x.reaped && !x.done && x.out_fd < 0 && x.err_fd < 0 &&
        !x.outlen) {
        uint32_t s = (uint32_t)x.status;
        uint8_t le[4] = {(uint8_t)s, (uint8_t)(s >> 8), (uint8_t)(s >> 16),
                         (uint8_t)(s >> 24)};
        queue(LVM_XF_EXIT, le, 4);
        x.done = 1;
    }
}

int init_exec_pollfds(struct pollfd *p)
{
    int n = 0;
    if (x.port < 0)
        return 0;
    if (!x.host_off) {
        short ev = x.outlen ? POLLOUT : 0;
        if (!x.outlen && !x.inpend_len && x.inlen < sizeof x.in)
            ev |= POLLIN;
        p[n++] = (struct pollfd){x.port, ev, 0};
    }
    if (x.inpend_len && x.in_fd >= 0)
        p[n++] = (struct pollfd){x.in_fd, POLLOUT, 0};
    if (!x.outlen) {
        if (x.out_fd >= 0)
            p[n++] = (struct pollfd){x.out_fd, POLLIN, 0};
        if (x.err_fd >= 0)
            p[n++] = (struct pollfd){x.err_fd, POLLIN, 0};
    }
    return n;
}

void init_exec_service(const struct init_conf *c, const struct pollfd *p, int n)
{
    for (int i = 0; i < n; i++) {
        if (!p[i].revents)
            continue;
        if (p[i].fd == x.port) {
            if (p[i].revents & POLLOUT)
                flush_out();
            ssize_t r = 1;
            if (p[i].revents & POLLIN) {
                r = read(x.port, x.in + x.inlen, sizeof x.in - x.inlen);
                if (r > 0)
                    x.inlen += (size_t)r;
            }
            /* Nobody there (any more): the port polls readable and hung
             * up at once, and reads end-of-file. Not polled again until
             * SIGIO says a host came: an idle guest must not spin. */
            if ((p[i].revents & POLLHUP) && r <= 0) {
                end_session();
                x.host_off = 1;
            }
        } else if (p[i].fd == x.in_fd) {
            feed_stdin();
        } else if (p[i].fd == x.out_fd) {
            pump_output(&x.out_fd, LVM_XF_STDOUT);
        } else if (p[i].fd == x.err_fd) {
            pump_output(&x.err_fd, LVM_XF_STDERR);
        }
    }
    if (x.port < 0)
        return;
    /* Each step may free the next: a frame flushed lets the frames that
     * waited behind it go (the last stdin, its end), and so on. */
    for (;;) {
        size_t inlen = x.inlen;
        int had_out = x.outlen != 0;
        frames(c);
        maybe_exit_frame();
        if (x.outlen && !x.host_off)
            flush_out();
        if (x.outlen || (x.inlen == inlen && !had_out))
            break;
    }
}

int init_exec_reaped(pid_t pid, int status)
{
    if (!x.pid || pid != x.pid)
        return 0;
    x.reaped = 1;
    x.status = status;
    if (x.ended) { /* its host went first */
        x.pid = 0;
        x.ended = 0;
        return 1;
    }
    maybe_exit_frame();
    if (x.outlen && !x.host_off)
        flush_out();
    return 1;
}
