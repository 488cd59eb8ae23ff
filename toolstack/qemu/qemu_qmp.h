/*
 * qemu_qmp.h: a small QMP client: JSON messages, one per line, over the
 * socketpair handed to QEMU at start. Replies are read synchronously;
 * events seen meanwhile are remembered only as far as callers need them.
 */
#ifndef LVM_QEMU_QMP_H
#define LVM_QEMU_QMP_H

#include "toolstack/error.h"

#include <jansson.h>
#include <stddef.h>

#define QMP_BUF_MAX (256u << 10)
#define QMP_TIMEOUT_MS 30000 /* generous: QEMU may start on a busy host */

enum qmp_kind {
    QMP_GREETING,
    QMP_RETURN,
    QMP_ERROR,
    QMP_EVENT,
};

/* One QMP message, parsed (qmp_parse). */
struct qmp_msg {
    enum qmp_kind kind;
    json_t *root;    /* the whole message; json_decref when done */
    json_t *ret;     /* QMP_RETURN: the "return" value (borrowed) */
    char cls[64];    /* QMP_ERROR: error class */
    char desc[256];  /* QMP_ERROR: description */
    char event[64];  /* QMP_EVENT: name */
    char status[32]; /* QMP_EVENT MIGRATION: data.status */
};

struct qmp_conn {
    int fd;
    char buf[QMP_BUF_MAX];
    size_t len;
    char migration[32]; /* last MIGRATION event status seen */
    int shutdown;       /* a SHUTDOWN event was seen */
};

/* Parse one line of QMP into (m); 0, or -1 if it is not a QMP message.
 * Safe on hostile input (fuzzed by tests/fuzz/fuzz_qemu_qmp.c). */
int qmp_parse(const char *line, size_t len, struct qmp_msg *m);

/* Read the greeting and negotiate capabilities on (fd). */
int qmp_connect(struct qmp_conn *q, int fd, struct lvm_err *err);

/* Run (cmd) with (args) (a JSON object or NULL; its reference is stolen),
 * passing (sendfd) along with it if >= 0 (for getfd). On success *ret, if
 * not NULL, holds a new reference to the "return" value. */
int qmp_exec(struct qmp_conn *q, const char *cmd, json_t *args, int sendfd,
             json_t **ret, struct lvm_err *err);

/* Wait until a MIGRATION event reports "completed" (0) or "failed" (-1). */
int qmp_wait_migration(struct qmp_conn *q, int timeout_ms, struct lvm_err *err);

#endif
