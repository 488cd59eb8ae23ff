/*
 * vm_qemu_ops.c: what lightvmd does to a qemu guest through QMP. One
 * operation at a time per guest, each a short chain of commands driven by
 * QEMU's replies and events, so that the loop never waits for QEMU:
 *
 *   start    qmp_capabilities -> record the guest (config.json), reply
 *   restore  qmp_capabilities, migrate-set-capabilities, getfd,
 *            migrate-incoming ... MIGRATION completed, query-status,
 *            cont -> record, reply, ask the init where it is
 *   pause    stop;   unpause   cont
 *   save     stop, migrate-set-capabilities, getfd, migrate ... MIGRATION
 *            completed -> the state file made (vm_qemu_snap.c) -> the
 *            guest destroyed, then the reply; or with leave_running: cont
 *            (if it ran), reply
 *   adopt    qmp_capabilities, query-status (after a daemon restart)
 *
 * A guest left paused by a save (one that was paused, saved with
 * leave_running) is in QEMU's "postmigrate" state: QEMU saves it again
 * only after it ran (`unpause`).
 */
#include "daemon/vm_qemu.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum step {
    S_CAPS,
    S_MIGCAPS,
    S_GETFD,
    S_INCOMING,
    S_MIGRATE,
    S_STATUS,
    S_STOP,
    S_CONT,
    S_CONT_AFTER_FAILURE, /* a failed save gives back the running guest */
};

#define GEN_MASK 0x7fffffu

static const char *const op_names[] = {
    [QOP_NONE] = "nothing",    [QOP_START] = "start",
    [QOP_RESTORE] = "restore", [QOP_PAUSE] = "pause",
    [QOP_UNPAUSE] = "unpause", [QOP_SAVE] = "save",
    [QOP_ADOPT] = "adopt",
};

static void on_reply(void *arg, int what, const struct qmp_msg *m);

static int send_cmd(struct vm *v, const char *cmd, json_t *args, int fd,
                    enum step st, struct lvm_err *err)
{
    struct qvm *q = qvm_of(v);
    if (!q->qmp) {
        json_decref(args);
        return lvm_err_set(err, EPIPE, "QMP is not connected");
    }
    int what = (int)(((q->op.gen & GEN_MASK) << 8) | (unsigned)st);
    return qmpa_send(q->qmp, cmd, args, fd, on_reply, v, what, err);
}

/* End the operation: answer its client with the error (if any), give back
 * what it held. */
static void op_end(struct vm *v, const char *code, const char *msg)
{
    struct qvm *q = qvm_of(v);
    struct qop *op = &q->op;
    if (op->w) {
        if (msg)
            vm_op_done(q->d, op->w, code, msg, NULL);
        else
            vm_op_done(q->d, op->w, NULL, NULL, NULL);
    }
    if (op->kind == QOP_SAVE && q->pidfd >= 0)
        qvm_file_limit(v, q->console_limit);
    unsigned gen = op->gen;
    qop_clear(op);
    op->gen = gen;
}

void qop_clear(struct qop *op)
{
    if (op->fd >= 0)
        close(op->fd);
    snap_write_abort(&op->wr); /* nothing once committed */
    json_decref(op->saved);
    memset(op, 0, sizeof *op);
    op->fd = op->wr.fd = op->wr.dirfd = -1;
}

/* A QMP error or a failed step: the operation ends with (msg). A guest
 * that never came up goes (its exit removes it). */
static void op_fail(struct vm *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void op_fail(struct vm *v, const char *fmt, ...)
{
    struct qvm *q = qvm_of(v);
    char msg[LVM_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    enum qop_kind kind = q->op.kind;
    int resume = kind == QOP_SAVE && q->op.was_running;
    daemon_log("guest %s: %s: %s", v->id, op_names[kind], msg);
    op_end(v, "failed", msg);
    struct lvm_err err;
    if (kind == QOP_START || kind == QOP_RESTORE)
        qvm_kill(v);
    else if (resume &&
             send_cmd(v, "cont", NULL, -1, S_CONT_AFTER_FAILURE, &err) < 0)
        daemon_log("guest %s: cannot resume it: %s", v->id, err.msg);
}

void qop_abort(struct vm *v, const char *why)
{
    struct qvm *q = qvm_of(v);
    char msg[LVM_ERR_MSG_MAX + 64];
    switch (q->op.kind) {
    case QOP_NONE: return;
    case QOP_START:
    case QOP_RESTORE:
        if (q->op.timed_out)
            snprintf(msg, sizeof msg,
                     "QEMU of guest %s did not %s within "
                     "%d s",
                     v->id, q->op.kind == QOP_START ? "start" : "restore",
                     q->op.kind == QOP_START ? QVM_START_S : QVM_MIGRATE_S);
        else if (q->op.kind == QOP_RESTORE)
            snprintf(msg, sizeof msg,
                     "restore from %s failed (QEMU could not load the "
                     "state): %s",
                     q->op.path, why);
        else
            snprintf(msg, sizeof msg, "guest %s ended before it was up: %s",
                     v->id, why);
        op_end(v, "failed", msg);
        return;
    default:
        snprintf(msg, sizeof msg, "%s of guest %s: %s", op_names[q->op.kind],
                 v->id, why);
        op_end(v, q->pidfd >= 0 ? "busy" : "failed", msg);
    }
}

int qop_start(struct vm *v, enum qop_kind kind, struct waiter *w,
              struct lvm_err *err)
{
    struct qop *op = &qvm_of(v)->op;
    uint64_t now = host_now_ns();
    int secs = kind == QOP_START || kind == QOP_ADOPT    ? QVM_START_S
               : kind == QOP_SAVE || kind == QOP_RESTORE ? QVM_MIGRATE_S
                                                         : QVM_QMP_S;
    op->kind = kind;
    op->gen++;
    op->w = w;
    op->t0 = now;
    op->deadline = now + (uint64_t)secs * 1000000000ull;
    int r;
    switch (kind) {
    case QOP_START:
    case QOP_RESTORE:
    case QOP_ADOPT:
        /* QMP answers only after its greeting, once QEMU's main loop
         * runs: this reply says QEMU is up. */
        r = send_cmd(v, "qmp_capabilities", NULL, -1, S_CAPS, err);
        break;
    case QOP_PAUSE: r = send_cmd(v, "stop", NULL, -1, S_STOP, err); break;
    case QOP_UNPAUSE: r = send_cmd(v, "cont", NULL, -1, S_CONT, err); break;
    case QOP_SAVE:
        r = op->was_running
                ? send_cmd(v, "stop", NULL, -1, S_STOP, err)
                : send_cmd(v, "migrate-set-capabilities",
                           json_pack("{s:[{s:s,s:b}]}", "capabilities",
                                     "capability", "events", "state", 1),
                           -1, S_MIGCAPS, err);
        break;
    default: r = lvm_err_invalid(err, "no such operation");
    }
    if (r < 0) {
        op->w = NULL; /* the caller answers */
        op_end(v, NULL, NULL);
    }
    return r;
}

/* Created or restored: on record before anyone hears of it. */
static void up(struct vm *v)
{
    struct qvm *q = qvm_of(v);
    struct lvm_err err;
    v->create_ms = (double)(host_now_ns() - q->op.t0) / 1e6;
    if (rundir_write_config(q->d, v, &err) < 0) {
        op_fail(v, "%s", err.msg); /* still starting: its exit removes it */
        return;
    }
    v->state = VM_RUNNING;
    struct waiter *w = q->op.w;
    q->op.w = NULL;
    if (w)
        vm_op_done(q->d, w, NULL, NULL,
                   json_pack("{s:o}", "guest", api_guest_json(q->d, v, 0)));
    op_end(v, NULL, NULL);
    if (q->restored && q->ctl_fd >= 0) {
        /* The restored init knows whether its app is ready; we do not. */
        static const char msg[] = "status\n";
        if (send(q->ctl_fd, msg, sizeof msg - 1, MSG_NOSIGNAL | MSG_DONTWAIT) <
            0)
            daemon_log("guest %s: cannot ask its init for its status", v->id);
    }
}

/* The guest after its save: resumed if it ran and should go on, then the
 * client hears. */
static void save_done(struct vm *v)
{
    struct qvm *q = qvm_of(v);
    struct qop *op = &q->op;
    struct waiter *w = op->w;
    json_t *saved = json_pack("{s:O}", "saved", op->saved);
    int keep = op->leave_running;
    op->w = NULL;
    op_end(v, NULL, NULL);
    if (keep) {
        if (w)
            vm_op_done(q->d, w, NULL, NULL, saved);
        else
            json_decref(saved);
        return;
    }
    /* Its state is in the file now: the guest goes (as `xl save` does),
     * and its name is free for the restore by the time the client hears. */
    if (!w) {
        json_decref(saved);
        qvm_kill(v);
        return;
    }
    w->extra = saved;
    vm_destroy_for(q->d, v, w);
}

static void saved(struct vm *v)
{
    struct qvm *q = qvm_of(v);
    struct qop *op = &q->op;
    struct lvm_err err;
    char buf[LVM_ERR_MSG_MAX + 64];
    qvm_file_limit(v, q->console_limit);
    v->state = VM_PAUSED;
    q->saved_stopped = 1;
    if (qvm_save_commit(v, &err) < 0) {
        op_fail(v, "%s", lvm_err_str(&err, buf, sizeof buf));
        return;
    }
    if (!op->leave_running || !op->was_running) {
        save_done(v);
        return;
    }
    /* Saved: a cont that fails now is said so, not tried again. */
    op->was_running = 0;
    if (send_cmd(v, "cont", NULL, -1, S_CONT, &err) < 0)
        op_fail(v,
                "the state is saved in %s, but the guest was not resumed: %s",
                op->path, err.msg);
}

/* The next command of a save or restore after (st) succeeded. */
static void migration_step(struct vm *v, enum step st, const json_t *ret)
{
    struct qvm *q = qvm_of(v);
    struct qop *op = &q->op;
    int restore = op->kind == QOP_RESTORE;
    const char *name = restore ? "lvm-restore" : "lvm-save";
    struct lvm_err err;
    int r = 0;
    switch (st) {
    case S_CAPS:
    case S_STOP:
        if (st == S_STOP)
            v->state = VM_PAUSED;
        /* MIGRATION events say when it is done */
        r = send_cmd(v, "migrate-set-capabilities",
                     json_pack("{s:[{s:s,s:b}]}", "capabilities", "capability",
                               "events", "state", 1),
                     -1, S_MIGCAPS, &err);
        break;
    case S_MIGCAPS:
        /* Restore: the state file at its blob; save: the state file's
         * temporary, where the blob goes (vm_qemu_snap.c). */
        r = send_cmd(v, "getfd", json_pack("{s:s}", "fdname", name),
                     restore ? op->fd : op->wr.fd, S_GETFD, &err);
        if (r == 0 && restore) {
            close(op->fd); /* QEMU has its own copy */
            op->fd = -1;
        }
        break;
    case S_GETFD: {
        char uri[32];
        snprintf(uri, sizeof uri, "fd:%s", name);
        op->migrating = 1;
        r = send_cmd(v, restore ? "migrate-incoming" : "migrate",
                     json_pack("{s:s}", "uri", uri), -1,
                     restore ? S_INCOMING : S_MIGRATE, &err);
        break;
    }
    case S_INCOMING:
    case S_MIGRATE: break; /* a MIGRATION event follows */
    case S_STATUS:
        /* A saved guest was stopped; QEMU may keep it so after the
         * migration. */
        if (json_is_true(json_object_get(ret, "running")))
            up(v);
        else
            r = send_cmd(v, "cont", NULL, -1, S_CONT, &err);
        break;
    case S_CONT:
        if (restore) {
            up(v);
        } else { /* a save with leave_running */
            v->state = VM_RUNNING;
            q->saved_stopped = 0;
            save_done(v);
        }
        break;
    default: break;
    }
    if (r < 0)
        op_fail(v, "%s", err.msg);
}

static void on_reply(void *arg, int what, const struct qmp_msg *m)
{
    struct vm *v = arg;
    struct qvm *q = qvm_of(v);
    enum step st = (enum step)(what & 0xff);
    if (st == S_CONT_AFTER_FAILURE) {
        if (m->kind == QMP_RETURN && q->op.kind == QOP_NONE &&
            v->state == VM_PAUSED) {
            v->state = VM_RUNNING;
            q->saved_stopped = 0;
        }
        return;
    }
    if (q->op.kind == QOP_NONE || (unsigned)what >> 8 != (q->op.gen & GEN_MASK))
        return; /* the answer to an operation that has ended (timed out) */
    if (m->kind == QMP_ERROR) {
        if (q->op.kind == QOP_SAVE && st == S_CONT)
            op_fail(v,
                    "the state is saved in %s, but the guest was not "
                    "resumed: QEMU: %s",
                    q->op.path, m->desc);
        else
            op_fail(v, "QEMU: %s", m->desc);
        return;
    }
    struct lvm_err err;
    switch (q->op.kind) {
    case QOP_START: up(v); break;
    case QOP_ADOPT:
        if (st == S_CAPS) {
            if (send_cmd(v, "query-status", NULL, -1, S_STATUS, &err) < 0)
                op_fail(v, "%s", err.msg);
        } else {
            /* Paused by the last daemon, or left stopped by a save. */
            if (!json_is_true(json_object_get(m->ret, "running")) &&
                v->state == VM_RUNNING)
                v->state = VM_PAUSED;
            const char *run =
                json_string_value(json_object_get(m->ret, "status"));
            q->saved_stopped = run && !strcmp(run, "postmigrate");
            op_end(v, NULL, NULL);
        }
        break;
    case QOP_PAUSE:
    case QOP_UNPAUSE: {
        int pause = q->op.kind == QOP_PAUSE;
        v->state = pause ? VM_PAUSED : VM_RUNNING;
        if (!pause)
            q->saved_stopped = 0;
        struct waiter *w = q->op.w;
        q->op.w = NULL;
        if (w)
            vm_op_done(
                q->d, w, NULL, NULL,
                json_pack("{s:s}", "state", pause ? "paused" : "running"));
        op_end(v, NULL, NULL);
        break;
    }
    case QOP_RESTORE:
    case QOP_SAVE: migration_step(v, st, m->ret); break;
    default: break;
    }
}

void qop_event(void *arg, const struct qmp_msg *m)
{
    struct vm *v = arg;
    struct qvm *q = qvm_of(v);
    if (strcmp(m->event, "MIGRATION") || !q->op.migrating)
        return;
    struct lvm_err err;
    if (!strcmp(m->status, "completed")) {
        q->op.migrating = 0;
        if (q->op.kind == QOP_SAVE)
            saved(v);
        else if (send_cmd(v, "query-status", NULL, -1, S_STATUS, &err) < 0)
            op_fail(v, "%s", err.msg);
    } else if (!strcmp(m->status, "failed") ||
               !strcmp(m->status, "cancelled")) {
        q->op.migrating = 0;
        /* An incoming migration that fails ends QEMU, which says why on
         * its way out: its exit answers the restore. */
        if (q->op.kind != QOP_RESTORE)
            op_fail(v, "migration %s (QEMU's log: %s/%s/" QVM_QEMU_LOG ")",
                    m->status, q->d->guests_dir, v->id);
    }
}

/* ---- the operations' entry points ----------------------------------- */

/* Whether (v) can take a QMP operation now; else (w) is answered. The
 * core has checked that it runs and is not being killed. */
static int can_operate(struct daemon *d, struct vm *v, struct waiter *w)
{
    struct qvm *q = qvm_of(v);
    const char *code = NULL;
    char msg[200];
    if (q->op.kind != QOP_NONE) {
        code = "busy";
        snprintf(msg, sizeof msg, "guest %s is busy with a %s", v->id,
                 op_names[q->op.kind]);
    } else if (!q->qmp) {
        code = "failed";
        snprintf(msg, sizeof msg, "guest %s: QEMU's QMP is not connected",
                 v->id);
    }
    if (code)
        vm_op_done(d, w, code, msg, NULL);
    return code == NULL;
}

void qvm_pause(struct daemon *d, struct vm *v, struct waiter *w, int pause)
{
    if (!can_operate(d, v, w))
        return;
    struct lvm_err err;
    if (qop_start(v, pause ? QOP_PAUSE : QOP_UNPAUSE, w, &err) < 0)
        vm_op_done(d, w, "failed", err.msg, NULL);
}

void qvm_save(struct daemon *d, struct vm *v, struct waiter *w,
              const struct request *r)
{
    uint64_t t0 = host_now_ns();
    if (!can_operate(d, v, w))
        return;
    if (qvm_of(v)->saved_stopped) {
        char msg[200];
        snprintf(msg, sizeof msg,
                 "guest %s is still stopped by its last save (QEMU saves a "
                 "guest again only after it ran): unpause it first",
                 v->id);
        vm_op_done(d, w, "busy", msg, NULL);
        return;
    }
    struct qvm *q = qvm_of(v);
    if (q->net) {
        char msg[240];
        snprintf(msg, sizeof msg,
                 "guest %s has a NIC on a bridge (net): a qemu guest with one "
                 "cannot be restored, so it is not saved",
                 v->id);
        vm_op_done(d, w, "invalid", msg, NULL);
        return;
    }
    if (q->volumes || json_array_size(json_object_get(q->recipe, "volumes"))) {
        /* Its disks' contents are not in the state, and a guest with a
         * filesystem's cache in RAM must never meet a disk that moved on
         * (or two guests share one). */
        char msg[240];
        snprintf(msg, sizeof msg,
                 "guest %s has volumes: their contents are not in a state "
                 "file, so it is not saved",
                 v->id);
        vm_op_done(d, w, "invalid", msg, NULL);
        return;
    }
    struct qop *op = &q->op;
    struct lvm_err err;
    char buf[LVM_ERR_MSG_MAX + 64];
    /* The state file's temporary first, as the client: a path it may not
     * write, or one that exists, is refused before the guest is touched;
     * a failed save leaves nothing behind. */
    if (qvm_save_begin(v, r, &w->c->cr, &err) < 0) {
        const char *code = err.code == EEXIST ? "exists" : "invalid";
        op_end(v, NULL, NULL);
        vm_op_done(d, w, code, lvm_err_str(&err, buf, sizeof buf), NULL);
        return;
    }
    op->was_running = v->state == VM_RUNNING;
    /* QEMU's own files are bounded by a soft RLIMIT_FSIZE; this one is
     * as large as the guest's RAM. Put back when the save ends. */
    if (qvm_file_limit(v, 0) < 0) {
        lvm_err_set(&err, errno, "lift QEMU's file size limit");
        op_end(v, NULL, NULL);
        vm_op_done(d, w, "failed", lvm_err_str(&err, buf, sizeof buf), NULL);
        return;
    }
    if (qop_start(v, QOP_SAVE, w, &err) < 0) /* cleaned up, limit back */
        vm_op_done(d, w, "failed", lvm_err_str(&err, buf, sizeof buf), NULL);
    else
        op->t0 = t0; /* "ms" counts from the request */
}
