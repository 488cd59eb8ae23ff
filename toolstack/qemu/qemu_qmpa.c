/*
 * qemu_qmpa.c: asynchronous QMP (see qemu_qmpa.h). Input is split into
 * lines and parsed by qmp_parse; a line longer than QMP_BUF_MAX ends the
 * connection rather than growing without bound.
 */
#include "toolstack/qemu/qemu_qmpa.h"
#include "toolstack/fdpass.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct pending {
    json_int_t id;
    qmpa_reply_fn fn;
    void *arg;
    int what;
};

struct qmpa {
    int fd;
    qmpa_event_fn on_event;
    void *arg;
    json_int_t next_id;
    struct pending pend[QMPA_MAX_PENDING];
    int npend;
    char *buf;
    size_t len, cap;
};

struct qmpa *qmpa_new(int fd, qmpa_event_fn on_event, void *arg)
{
    struct qmpa *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->fd = fd;
    q->on_event = on_event;
    q->arg = arg;
    q->next_id = 1;
    return q;
}

int qmpa_fd(const struct qmpa *q)
{
    return q->fd;
}

int qmpa_pending(const struct qmpa *q)
{
    return q->npend;
}

void qmpa_free(struct qmpa *q)
{
    if (!q)
        return;
    if (q->fd >= 0)
        close(q->fd);
    free(q->buf);
    free(q);
}

/* All of (s) at once: commands are small and at most QMPA_MAX_PENDING are
 * in flight, so a socket buffer that cannot take one means QEMU stopped
 * reading; a partial write would corrupt the stream, so it is an error. */
static int send_line(int fd, const char *s, size_t len, int sendfd,
                     struct lvm_err *err)
{
    ssize_t n = fdpass_send(fd, s, len, &sendfd, sendfd >= 0, MSG_DONTWAIT);
    if (n < 0)
        return lvm_err_set(err, errno, "send to QMP");
    if ((size_t)n != len)
        return lvm_err_set(err, EAGAIN, "QMP does not take commands");
    return 0;
}

int qmpa_send(struct qmpa *q, const char *cmd, json_t *args, int sendfd,
              qmpa_reply_fn fn, void *arg, int what, struct lvm_err *err)
{
    if (q->npend == QMPA_MAX_PENDING) {
        json_decref(args);
        return lvm_err_set(err, EBUSY, "QEMU has not answered %d commands",
                           QMPA_MAX_PENDING);
    }
    json_int_t id = q->next_id++;
    json_t *req = json_pack("{s:s, s:I}", "execute", cmd, "id", id);
    if (!req) {
        json_decref(args);
        return lvm_err_set(err, ENOMEM, "QMP request");
    }
    if (args)
        json_object_set_new(req, "arguments", args);
    char *s = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    if (!s)
        return lvm_err_set(err, ENOMEM, "QMP request");
    size_t n = strlen(s);
    char *line = realloc(s, n + 2);
    if (!line) {
        free(s);
        return lvm_err_set(err, ENOMEM, "QMP request");
    }
    line[n] = '\n';
    line[n + 1] = 0;
    int r = send_line(q->fd, line, n + 1, sendfd, err);
    free(line);
    if (r < 0)
        return lvm_err_wrap(err, "QMP %s", cmd);
    q->pend[q->npend++] = (struct pending){id, fn, arg, what};
    return 0;
}

/* One message: an event, or the reply to a pending command. */
static int dispatch(struct qmpa *q, const struct qmp_msg *m)
{
    if (m->kind == QMP_GREETING)
        return 0;
    if (m->kind == QMP_EVENT) {
        if (q->on_event)
            q->on_event(q->arg, m);
        return 0;
    }
    json_t *idv = json_object_get(m->root, "id");
    if (!json_is_integer(idv))
        return -1; /* we always send one: not our QMP */
    json_int_t id = json_integer_value(idv);
    for (int i = 0; i < q->npend; i++) {
        if (q->pend[i].id != id)
            continue;
        struct pending p = q->pend[i];
        memmove(&q->pend[i], &q->pend[i + 1],
                (size_t)(q->npend - i - 1) * sizeof *q->pend);
        q->npend--;
        if (p.fn)
            p.fn(p.arg, p.what, m);
        return 0;
    }
    return -1;
}

int qmpa_input(struct qmpa *q)
{
    for (;;) {
        if (q->len == q->cap) {
            if (q->cap >= QMP_BUF_MAX)
                return -1; /* a line too long to be QMP's */
            size_t cap = q->cap ? 2 * q->cap : 4096;
            char *b = realloc(q->buf, cap);
            if (!b)
                return -1;
            q->buf = b;
            q->cap = cap;
        }
        ssize_t n = read(q->fd, q->buf + q->len, q->cap - q->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return 0;
        if (n <= 0)
            return -1;
        q->len += (size_t)n;
        char *nl;
        while ((nl = memchr(q->buf, '\n', q->len))) {
            size_t line = (size_t)(nl - q->buf) + 1;
            struct qmp_msg m;
            int r = qmp_parse(q->buf, line, &m);
            memmove(q->buf, q->buf + line, q->len - line);
            q->len -= line;
            if (r < 0)
                return -1;
            r = dispatch(q, &m);
            json_decref(m.root);
            if (r < 0)
                return -1;
        }
    }
}
