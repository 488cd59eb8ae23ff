/*
 * qemu_qmp.c: the QMP client (see qemu_qmp.h). jansson parses each line;
 * a line is at most QMP_BUF_MAX bytes, anything longer is an error.
 */
#include "toolstack/qemu/qemu_qmp.h"
#include "toolstack/fdpass.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void copy_str(char *dst, size_t len, json_t *v)
{
    const char *s = json_is_string(v) ? json_string_value(v) : "";
    snprintf(dst, len, "%s", s);
}

int qmp_parse(const char *line, size_t len, struct qmp_msg *m)
{
    memset(m, 0, sizeof *m);
    json_error_t je;
    json_t *root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return -1;
    if (!json_is_object(root))
        goto bad;
    m->root = root;
    json_t *v;
    if ((v = json_object_get(root, "return"))) {
        m->kind = QMP_RETURN;
        m->ret = v;
    } else if ((v = json_object_get(root, "error"))) {
        if (!json_is_object(v))
            goto bad;
        m->kind = QMP_ERROR;
        copy_str(m->cls, sizeof m->cls, json_object_get(v, "class"));
        copy_str(m->desc, sizeof m->desc, json_object_get(v, "desc"));
    } else if ((v = json_object_get(root, "event"))) {
        if (!json_is_string(v))
            goto bad;
        m->kind = QMP_EVENT;
        copy_str(m->event, sizeof m->event, v);
        json_t *data = json_object_get(root, "data");
        if (json_is_object(data))
            copy_str(m->status, sizeof m->status,
                     json_object_get(data, "status"));
    } else if (json_is_object(json_object_get(root, "QMP"))) {
        m->kind = QMP_GREETING;
    } else {
        goto bad;
    }
    return 0;
bad:
    json_decref(root);
    m->root = NULL;
    return -1;
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* The next message, waiting until (deadline); events update (q). */
static int read_msg(struct qmp_conn *q, long deadline, struct qmp_msg *m,
                    struct lvm_err *err)
{
    for (;;) {
        char *nl = memchr(q->buf, '\n', q->len);
        if (nl) {
            size_t n = (size_t)(nl - q->buf) + 1;
            int r = qmp_parse(q->buf, n, m);
            memmove(q->buf, q->buf + n, q->len - n);
            q->len -= n;
            if (r < 0)
                return lvm_err_set(err, EPROTO, "QEMU sent a bad QMP message");
            if (m->kind == QMP_EVENT) {
                if (!strcmp(m->event, "MIGRATION"))
                    snprintf(q->migration, sizeof q->migration, "%s",
                             m->status);
                if (!strcmp(m->event, "SHUTDOWN"))
                    q->shutdown = 1;
            }
            return 0;
        }
        if (q->len == sizeof q->buf)
            return lvm_err_set(err, EPROTO, "QMP message too long");
        long left = deadline - now_ms();
        if (left <= 0)
            return lvm_err_set(err, ETIMEDOUT, "no answer from QEMU's QMP");
        struct pollfd p = {q->fd, POLLIN, 0};
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return lvm_err_set(err, errno, "poll QMP");
        if (r == 0)
            continue;
        ssize_t got = read(q->fd, q->buf + q->len, sizeof q->buf - q->len);
        if (got < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (got < 0)
            return lvm_err_set(err, errno, "read QMP");
        if (got == 0)
            return lvm_err_set(err, EPIPE, "QEMU closed QMP (it exited)");
        q->len += (size_t)got;
    }
}

static int send_all(int fd, const char *s, size_t len, int sendfd,
                    struct lvm_err *err)
{
    while (len) {
        ssize_t n = fdpass_send(fd, s, len, &sendfd, sendfd >= 0, 0);
        if (n < 0)
            return lvm_err_set(err, errno, "write QMP");
        s += n;
        len -= (size_t)n;
        sendfd = -1; /* the fd goes with the first byte only */
    }
    return 0;
}

int qmp_exec(struct qmp_conn *q, const char *cmd, json_t *args, int sendfd,
             json_t **ret, struct lvm_err *err)
{
    json_t *req = json_pack("{s:s}", "execute", cmd);
    if (!req) {
        json_decref(args);
        return lvm_err_set(err, ENOMEM, "QMP request");
    }
    if (args)
        json_object_set_new(req, "arguments", args);
    char *text = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    if (!text)
        return lvm_err_set(err, ENOMEM, "QMP request");
    size_t tl = strlen(text);
    int r = send_all(q->fd, text, tl, sendfd, err);
    if (r == 0)
        r = send_all(q->fd, "\n", 1, -1, err);
    free(text);
    if (r < 0)
        return lvm_err_wrap(err, "QMP %s", cmd);
    long deadline = now_ms() + QMP_TIMEOUT_MS;
    for (;;) {
        struct qmp_msg m;
        if (read_msg(q, deadline, &m, err) < 0)
            return lvm_err_wrap(err, "QMP %s", cmd);
        if (m.kind == QMP_RETURN) {
            if (ret)
                *ret = json_incref(m.ret);
            json_decref(m.root);
            return 0;
        }
        if (m.kind == QMP_ERROR) {
            lvm_err_set(err, 0, "QMP %s: %s", cmd, m.desc);
            json_decref(m.root);
            return -1;
        }
        json_decref(m.root); /* an event or a stray greeting */
    }
}

int qmp_connect(struct qmp_conn *q, int fd, struct lvm_err *err)
{
    q->fd = fd;
    q->len = 0;
    q->migration[0] = 0;
    q->shutdown = 0;
    struct qmp_msg m;
    if (read_msg(q, now_ms() + QMP_TIMEOUT_MS, &m, err) < 0)
        return lvm_err_wrap(err, "QMP greeting");
    enum qmp_kind kind = m.kind;
    json_decref(m.root);
    if (kind != QMP_GREETING)
        return lvm_err_set(err, EPROTO, "QMP: no greeting from QEMU");
    return qmp_exec(q, "qmp_capabilities", NULL, -1, NULL, err);
}

int qmp_wait_migration(struct qmp_conn *q, int timeout_ms, struct lvm_err *err)
{
    long deadline = now_ms() + timeout_ms;
    for (;;) {
        if (!strcmp(q->migration, "completed"))
            return 0;
        if (!strcmp(q->migration, "failed") ||
            !strcmp(q->migration, "cancelled"))
            return lvm_err_set(err, EIO, "migration %s", q->migration);
        struct qmp_msg m;
        if (read_msg(q, deadline, &m, err) < 0)
            return lvm_err_wrap(err, "wait for the migration");
        json_decref(m.root);
    }
}
