/*
 * qemu_xsession.c: one command over a Tinyx guest's exec channel, client
 * side (qemu_xframe.h): `lightvm exec` and lightvm-runtime's exec.
 */
#include "toolstack/qemu/qemu_xframe.h"

/* How long a command may take to start (STARTED or ERROR). */
#define XSESSION_START_MS 30000

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The channel is non-blocking both ways: a command that neither reads
 * its stdin nor stops writing must not wedge us against the guest. */
struct xsess {
    int fd; /* the channel */
    int in_open;
    uint8_t buf[2 * (LVM_XF_HDR + LVM_XF_MAX)]; /* from the guest */
    size_t len;
    uint8_t out[2 * (LVM_XF_HDR + LVM_XF_MAX)]; /* to the guest */
    size_t outlen;
    int code;    /* once known, >= 0 */
    int started; /* STARTED or ERROR came: frames before are an earlier
                    client's, still on their way */
    int in_fd, out_fd, err_fd;
    struct xsession_result *res;
    void (*on_start)(void *arg, const struct xsession_result *res);
    void *arg;
};

/* Queue a frame for the guest; -1 if the queue is full. */
static int queue_frame(struct xsess *s, int type, const void *data, size_t len)
{
    if (s->outlen + LVM_XF_HDR + len > sizeof s->out)
        return -1;
    lvm_xf_header(s->out + s->outlen, type, len);
    if (len)
        memcpy(s->out + s->outlen + LVM_XF_HDR, data, len);
    s->outlen += LVM_XF_HDR + len;
    return 0;
}

/* Send what is queued, as far as the channel takes it; -1 if it closed. */
static int flush_out(struct xsess *s)
{
    while (s->outlen) {
        ssize_t n = send(s->fd, s->out, s->outlen, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return 0;
        if (n <= 0)
            return -1;
        memmove(s->out, s->out + n, s->outlen - (size_t)n);
        s->outlen -= (size_t)n;
    }
    return 0;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* What the guest said; sets s->code once the command is over. */
static void on_frame(struct xsess *s, const struct xframe *f)
{
    if (f->type == LVM_XF_STARTED || f->type == LVM_XF_ERROR)
        s->started = 1;
    if (!s->started)
        return;
    switch (f->type) {
    case LVM_XF_STARTED:
        s->res->pid = (int)xframe_u32(f);
        if (s->on_start)
            s->on_start(s->arg, s->res);
        break;
    case LVM_XF_STDOUT: write_all(s->out_fd, f->data, f->len); break;
    case LVM_XF_STDERR: write_all(s->err_fd, f->data, f->len); break;
    case LVM_XF_EXIT: {
        int st = (int)xframe_u32(f);
        s->code = WIFEXITED(st)     ? WEXITSTATUS(st)
                  : WIFSIGNALED(st) ? 128 + WTERMSIG(st)
                                    : 125;
        break;
    }
    case LVM_XF_ERROR: {
        char msg[LVM_XF_MAX + 1];
        size_t n = 0;
        for (size_t i = 0; i < f->len; i++) /* printable only: one line */
            if (f->data[i] >= 0x20 && f->data[i] < 0x7f)
                msg[n++] = (char)f->data[i];
        msg[n] = 0;
        snprintf(s->res->error, sizeof s->res->error, "%s", msg);
        s->code = strstr(msg, "No such file or directory") &&
                          !strstr(msg, "cannot change directory")
                      ? 127
                      : 126;
        if (s->on_start)
            s->on_start(s->arg, s->res);
        break;
    }
    default: break;
    }
}

/* Read what the guest sent; -1 if the channel closed or lied. */
static int on_channel(struct xsess *s)
{
    ssize_t n = recv(s->fd, s->buf + s->len, sizeof s->buf - s->len, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return 0;
    if (n <= 0) {
        snprintf(s->res->error, sizeof s->res->error,
                 "the guest closed the exec channel (it stopped?)");
        return -1;
    }
    s->len += (size_t)n;
    size_t off = 0;
    while (s->code < 0) {
        struct xframe f;
        struct lvm_err err;
        long used = xframe_next(s->buf + off, s->len - off, &f, &err);
        if (used < 0) {
            snprintf(s->res->error, sizeof s->res->error, "%s", err.msg);
            return -1;
        }
        if (used == 0)
            break;
        on_frame(s, &f);
        off += (size_t)used;
    }
    memmove(s->buf, s->buf + off, s->len - off);
    s->len -= off;
    return 0;
}

static void on_stdin(struct xsess *s)
{
    uint8_t b[LVM_XF_MAX];
    ssize_t n = read(s->in_fd, b, sizeof b);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n > 0) {
        queue_frame(s, LVM_XF_STDIN, b, (size_t)n); /* room: see session */
        return;
    }
    queue_frame(s, LVM_XF_EOF, NULL, 0);
    s->in_open = 0;
}

int qemu_xsession_run(int fd, const uint8_t *start, size_t start_len,
                      const struct xsession_io *io, struct xsession_result *res)
{
    memset(res, 0, sizeof *res);
    res->code = -1;
    struct xsess s = {.fd = fd,
                      .in_open = io->in_fd >= 0,
                      .code = -1,
                      .in_fd = io->in_fd,
                      .out_fd = io->out_fd,
                      .err_fd = io->err_fd,
                      .res = res,
                      .on_start = io->on_start,
                      .arg = io->arg};
    if (start_len > sizeof s.out) {
        snprintf(res->error, sizeof res->error, "exec: start frame too big");
        return -1;
    }
    memcpy(s.out, start, start_len);
    s.outlen = start_len;
    if (!s.in_open)
        queue_frame(&s, LVM_XF_EOF, NULL, 0);
    /* A guest that never answers (no init on the channel, or one too
     * busy) is given up on, not waited for forever. */
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (s.code < 0) {
        int timeout = -1;
        if (!s.started) {
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            long ms = (now.tv_sec - t0.tv_sec) * 1000L +
                      (now.tv_nsec - t0.tv_nsec) / 1000000L;
            if (ms >= XSESSION_START_MS) {
                snprintf(res->error, sizeof res->error,
                         "the guest did not answer on its exec channel "
                         "within %d s",
                         XSESSION_START_MS / 1000);
                break;
            }
            timeout = (int)(XSESSION_START_MS - ms);
        }
        /* stdin is read only when a whole frame of it fits the queue */
        int want_in = s.in_open && s.outlen == 0;
        struct pollfd p[3] = {{fd, POLLIN | (s.outlen ? POLLOUT : 0), 0},
                              {io->sig_fd, POLLIN, 0},
                              {io->in_fd, POLLIN, 0}};
        if (io->sig_fd < 0)
            p[1].fd = -1; /* poll skips it */
        if (poll(p, want_in ? 3 : 2, timeout) < 0) {
            if (errno == EINTR)
                continue;
            snprintf(res->error, sizeof res->error, "poll: %s",
                     strerror(errno));
            break;
        }
        if ((p[0].revents & POLLOUT) && flush_out(&s) < 0) {
            snprintf(res->error, sizeof res->error,
                     "the guest closed the exec channel");
            break;
        }
        if ((p[0].revents & (POLLIN | POLLHUP | POLLERR)) && on_channel(&s) < 0)
            break;
        if (p[1].revents & POLLIN) {
            /* Passed on to the command's process group, as a terminal
             * would; the guest reports how it ended. */
            struct signalfd_siginfo si;
            if (read(io->sig_fd, &si, sizeof si) == sizeof si) {
                uint8_t sig = (uint8_t)si.ssi_signo;
                queue_frame(&s, LVM_XF_SIGNAL, &sig, 1);
            }
        }
        if (want_in && p[2].revents)
            on_stdin(&s);
        if (s.outlen && flush_out(&s) < 0) {
            snprintf(res->error, sizeof res->error,
                     "the guest closed the exec channel");
            break;
        }
    }
    res->code = s.code;
    return s.code >= 0 ? 0 : -1;
}
