/*
 * qemu_qmpa.h: QMP for an event loop (lightvmd), where nothing may wait for
 * QEMU. Commands are sent at once and their callbacks run when the reply
 * arrives (matched by the "id" QMP echoes); events go to one callback.
 * The caller polls qmpa_fd() and calls qmpa_input() when it is readable.
 */
#ifndef LVM_QEMU_QMPA_H
#define LVM_QEMU_QMPA_H

#include "toolstack/qemu/qemu_qmp.h"

#include <stdint.h>

#define QMPA_MAX_PENDING 16

struct qmpa;

/* A reply (QMP_RETURN or QMP_ERROR) to the command sent with (what). */
typedef void (*qmpa_reply_fn)(void *arg, int what, const struct qmp_msg *m);
/* An asynchronous event (QMP_EVENT). */
typedef void (*qmpa_event_fn)(void *arg, const struct qmp_msg *m);

/* A connection on (fd) (connected, non-blocking; owned from now on).
 * Capabilities are negotiated by the caller's first command. */
struct qmpa *qmpa_new(int fd, qmpa_event_fn on_event, void *arg);

int qmpa_fd(const struct qmpa *q);

/* Send (cmd) with (args) (a JSON object or NULL; stolen), and (sendfd) as
 * SCM_RIGHTS if >= 0; (fn)(arg, what, reply) runs when the reply comes.
 * Fails if QEMU has QMPA_MAX_PENDING commands unanswered. */
int qmpa_send(struct qmpa *q, const char *cmd, json_t *args, int sendfd,
              qmpa_reply_fn fn, void *arg, int what, struct lvm_err *err);

/* Read what QEMU sent and run the callbacks. -1 when the connection has
 * ended (QEMU closed it or broke the protocol): close it with qmpa_free;
 * unanswered commands never get their callbacks. Callbacks may send, but
 * must not free the connection. */
int qmpa_input(struct qmpa *q);

/* Commands sent and not yet answered. */
int qmpa_pending(const struct qmpa *q);

void qmpa_free(struct qmpa *q);

#endif
