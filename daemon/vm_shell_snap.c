/*
 * vm_shell_snap.c: save and clone for proc and kvm guests in lightvmd.
 *
 * Both start the same way: the guest is asked through its control device
 * to park for a snapshot (LVM_CTRL_SNAPSHOT). The SDK saves its CPU
 * context in its RAM, outside any served system call, and says so in its
 * status page; a timer watches for that (the guest has no doorbell to the
 * daemon), for at most SNAP_PARK_TIMEOUT_NS. Then its RAM is read from its
 * shell (toolstack/snapshot.c) into
 *
 *   save:  a state file (toolstack/snapfile.c), written as the client, and
 *          the guest is destroyed (xl save, virsh save), or resumed with
 *          leave_running (docker checkpoint --leave-running);
 *   clone: a memfd, the guest resumed at once, and count new guests
 *          started from the memfd, which they map copy-on-write.
 *
 * A guest that does not park in time is resumed and the operation fails
 * in one line; one that exits meanwhile ends it too.
 */
#include "daemon/quota.h"
#include "daemon/restore.h"
#include "daemon/vm_shell_snap.h"
#include "toolstack/guest_name.h"
#include "toolstack/snapfile.h"
#include "toolstack/snapshot.h"

#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

/* ---- waiting for the park ------------------------------------------------- */

void snap_free(struct vm *v)
{
    struct svm_snap *op = svm(v)->snap;
    if (!op)
        return;
    if (op->timerfd >= 0)
        close(op->timerfd); /* out of the daemon's epoll set with it */
    if (op->kind == SNAP_OP_SAVE)
        snap_write_abort(&op->wr);
    if (op->mig)
        mig_out_free(op->mig);
    free(op);
    svm(v)->snap = NULL;
}

/* The guest continues as it was: unparked, frozen again if it was. */
void snap_release_guest(struct vm *v)
{
    struct svm_snap *op = svm(v)->snap;
    struct guest *g = guest_of(v);
    struct lvm_err ignore;
    if (!g)
        return;
    guest_control(g, LVM_CTRL_RESUME, &ignore);
    v->watchdog_floor_ns = host_now_ns();
    if (op->was_paused && cgroup_freeze(&g->cg, 1, &ignore) == 0)
        v->state = VM_PAUSED;
}

void shell_snap_cancel(struct daemon *d, struct vm *v, const char *why)
{
    struct svm_snap *op = svm(v)->snap;
    if (!op)
        return;
    char msg[LVM_ERR_MSG_MAX];
    snprintf(msg, sizeof msg, "%s of guest %s failed: %s",
             op->kind == SNAP_OP_SAVE    ? "save"
             : op->kind == SNAP_OP_CLONE ? "clone"
                                         : "migration",
             v->id, why);
    vm_op_done(d, op->w, "failed", msg, NULL);
    snap_free(v);
}

/* Ask (v) to park and watch for it; (op) becomes its operation. */
int snap_begin(struct daemon *d, struct vm *v, struct svm_snap *op,
               struct lvm_err *err)
{
    struct guest *g = guest_of(v);
    op->t0 = host_now_ns();
    op->deadline = op->t0 + SNAP_PARK_TIMEOUT_NS;
    op->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (op->timerfd < 0)
        return lvm_err_set(err, errno, "timerfd");
    struct itimerspec its = {{0, SNAP_POLL_NS}, {0, SNAP_POLL_NS}};
    if (timerfd_settime(op->timerfd, 0, &its, NULL) < 0)
        return lvm_err_set(err, errno, "arm the snapshot timer");
    if (vm_watch(d, v, op->timerfd, &op->ep, SVM_SLOT_SNAP, err) < 0 ||
        guest_control(g, LVM_CTRL_SNAPSHOT, err) < 0)
        return -1;
    /* A frozen guest cannot answer: thawed, with the request already
     * waiting, so that it parks before it does anything else (a paused
     * guest is saved as it was when paused). */
    if (v->state == VM_PAUSED) {
        if (cgroup_freeze(&g->cg, 0, err) < 0) {
            struct lvm_err ignore;
            guest_control(g, LVM_CTRL_RESUME, &ignore);
            return -1;
        }
        v->state = VM_RUNNING;
        op->was_paused = 1;
    }
    svm(v)->snap = op;
    return 0;
}

/* Refuse what cannot be snapshotted now; answers (w) then. */
int snap_can(struct daemon *d, struct vm *v, struct waiter *w, const char *what)
{
    char msg[LVM_ERR_MSG_MAX + 160];
    struct lvm_err err;
    const char *code = "invalid";
    if (!guest_of(v))
        snprintf(msg, sizeof msg, "guest %s has exited", v->id);
    else if (svm(v)->migration == SVM_MIGRATION_IN)
        code = "busy",
        snprintf(msg, sizeof msg,
                 "guest %s is coming in by migration: held until its source "
                 "commits",
                 v->id);
    else if (svm(v)->snap)
        code = "busy",
        snprintf(msg, sizeof msg,
                 "guest %s is busy with a save, clone or migration", v->id);
    else if (!svm(v)->img && shell_reload_image(d, v, &w->c->cr, &err) < 0)
        snprintf(msg, sizeof msg,
                 "guest %s was adopted after a daemon restart and its image "
                 "cannot be loaded again, so it cannot be %s: %s",
                 v->id, what, err.msg);
    else
        return 0;
    vm_op_done(d, w, code, msg, NULL);
    return -1;
}

/* ---- save ----------------------------------------------------------------- */

static int sink_writer(void *arg, uint64_t first, uint64_t count,
                       const void *data, struct lvm_err *err)
{
    return snap_write_pages(arg, first, count, data, err);
}

/* What the state file says of (v), besides its pages. */
int snap_fill_info(struct vm *v, struct snap_info *info, struct lvm_err *err)
{
    struct svm *s = svm(v);
    const struct guest *g = s->g;
    memset(info, 0, sizeof *info);
    if (images_hash(s->img, err) < 0)
        return -1;
    info->version = SNAP_VERSION;
    info->kind = SNAP_KIND_UNIKERNEL;
    snprintf(info->monitor, sizeof info->monitor, "%s", v->monitor);
    info->ram_size = g->ram_size;
    memcpy(info->image_hash, s->img->hash, SNAP_HASH_LEN);
    info->image_size = (uint64_t)s->img->size;
    snprintf(info->image_name, sizeof info->image_name, "%s",
             s->img->img->name);
    snprintf(info->guest_name, sizeof info->guest_name, "%s", v->name);
    snprintf(info->guest_id, sizeof info->guest_id, "%s", v->id);
    info->saved_unix_ms = (uint64_t)(daemon_unix_time() * 1000);
    memcpy(&info->status, (const void *)g->dev.st, sizeof info->status);
    memcpy(&info->devpage, (const void *)g->dev.dp, sizeof info->devpage);
    info->config = state_recipe_text(v, svm(v)->recipe, NULL);
    if (!info->config)
        return lvm_err_set(err, ENOMEM, "the guest's recipe");
    info->config_len = strlen(info->config);
    return 0;
}

/* For the tests of a daemon that dies in the middle of a save: with
 * LIGHTVM_FAULT=save-killed it is SIGKILLed once the guest's pages are in
 * the (unnamed) state file and before it is linked in. */
void fault_point(const char *name)
{
    const char *f = getenv("LIGHTVM_FAULT");
    if (f && !strcmp(f, name))
        raise(SIGKILL);
    /* NAME-stall: wait (this thread only) until the file
     * $LIGHTVM_FAULT_RELEASE exists, at most 30 s: a stage held open. */
    size_t n = strlen(name);
    const char *rel = getenv("LIGHTVM_FAULT_RELEASE");
    if (f && rel && !strncmp(f, name, n) && !strcmp(f + n, "-stall"))
        for (int i = 0; i < 3000 && access(rel, F_OK) < 0; i++)
            nanosleep(&(struct timespec){0, 10000000}, NULL);
}

static void save_parked(struct daemon *d, struct vm *v)
{
    struct svm *s = svm(v);
    struct svm_snap *op = s->snap;
    struct lvm_err err;
    char buf[LVM_ERR_MSG_MAX + 64];
    struct snap_info info;
    uint64_t npages = 0;
    int ok = snap_fill_info(v, &info, &err) == 0 &&
             snapshot_capture(s->g, s->img->img, s->base ? s->base->fd : -1,
                              sink_writer, &op->wr, &npages, &err) == 0;
    uint64_t t_captured = host_now_ns();
    fault_point("save-killed");
    if (ok) {
        ok = state_write_commit(&op->cr, &op->wr, &info, &err) == 0;
    }
    free(info.config);
    if (!ok) {
        snap_release_guest(v);
        shell_snap_cancel(d, v, lvm_err_str(&err, buf, sizeof buf));
        return;
    }
    uint64_t t1 = host_now_ns();
    /* The size written, never a stat of the path (a member may have
     * swapped a directory on it for a link to another's file). */
    json_t *saved = json_pack(
        "{s:s, s:I, s:I, s:f, s:f, s:f}", "path", op->path, "pages",
        (json_int_t)npages, "bytes", (json_int_t)op->wr.committed_len, "ms",
        (t1 - op->t0) / 1e6, "park_ms", (op->t_parked - op->t0) / 1e6,
        "capture_ms", (t_captured - op->t_parked) / 1e6);
    struct waiter *w = op->w;
    int keep = op->leave_running;
    if (keep)
        snap_release_guest(v);
    snap_free(v); /* the writer is committed: nothing to undo */
    if (keep) {
        vm_op_done(d, w, NULL, NULL, json_pack("{s:o}", "saved", saved));
        return;
    }
    /* Its state is in the file now: the guest goes, and its name is free
     * for the restore by the time the client hears. */
    w->extra = json_pack("{s:o}", "saved", saved);
    vm_destroy_for(d, v, w);
    if (v->killed_by == KILLED_BY_DESTROY) /* who follows it hears why */
        v->killed_by = KILLED_BY_SAVE;
}

/* A new operation of (kind) for (w), or NULL (then (w) is answered). */
struct svm_snap *snap_op_new(struct daemon *d, struct waiter *w, int kind)
{
    struct svm_snap *op = calloc(1, sizeof *op);
    if (!op) {
        vm_op_done(d, w, "failed", "out of memory", NULL);
        return NULL;
    }
    op->kind = kind;
    op->w = w;
    op->cr = w->c->cr;
    op->timerfd = -1;
    op->wr.fd = -1;
    return op;
}

void shell_save(struct daemon *d, struct vm *v, struct waiter *w,
                const struct request *r)
{
    if (snap_can(d, v, w, "saved") < 0)
        return;
    struct lvm_err err;
    char buf[LVM_ERR_MSG_MAX + 64];
    struct svm_snap *op = snap_op_new(d, w, SNAP_OP_SAVE);
    if (!op)
        return;
    op->leave_running = r->leave_running;
    snprintf(op->path, sizeof op->path, "%s", r->path);
    /* The file first, as the client: a path it may not write, or one
     * that exists, is refused before the guest is disturbed. */
    if (state_write_begin(&op->cr, &op->wr, r->path, r->force, &err) < 0) {
        free(op);
        vm_op_done(d, w, err.code == EEXIST ? "exists" : "invalid",
                   lvm_err_str(&err, buf, sizeof buf), NULL);
        return;
    }
    if (snap_begin(d, v, op, &err) < 0) {
        snap_write_abort(&op->wr);
        if (op->timerfd >= 0)
            close(op->timerfd);
        free(op);
        vm_op_done(d, w, "failed", lvm_err_str(&err, buf, sizeof buf), NULL);
    }
}

/* ---- clone ---------------------------------------------------------------- */

/* A name for clone (k) of (stem) that (owner) does not use yet. */
static void clone_name(struct daemon *d, uid_t owner, const char *stem,
                       unsigned *k, char out[64])
{
    for (;; (*k)++) {
        snprintf(out, 64, "%.50s-%u", stem, *k);
        if (!vm_find_name(d, owner, out))
            return;
    }
}

/* Start r->count guests resuming from (r->resume), as (cr); answer (w)
 * with those that started, or the first error if none did. */
static void start_clones(struct daemon *d, struct waiter *w,
                         const struct creds *cr, const struct request *base_req,
                         const char *stem)
{
    struct request *r = malloc(sizeof *r);
    if (!r) {
        vm_op_done(d, w, "failed", "out of memory", NULL);
        return;
    }
    json_t *guests = json_array();
    const char *code = NULL;
    struct lvm_err err;
    char buf[LVM_ERR_MSG_MAX + 64];
    unsigned k = 1;
    for (unsigned i = 0; i < base_req->count; i++) {
        memcpy(r, base_req, sizeof *r);
        clone_name(d, cr->uid, stem, &k, r->name);
        const struct vm_monitor *mon = vm_monitor_find(d, r->monitor, &err);
        struct vm *v = mon ? shell_make(d, cr, r, -1, mon, &code, &err) : NULL;
        if (!mon)
            code = "invalid";
        if (!v)
            break;
        json_array_append_new(guests, api_guest_json(d, v, 0));
    }
    free(r);
    size_t n = json_array_size(guests);
    if (n == 0) {
        json_decref(guests);
        vm_op_done(d, w, code, lvm_err_str(&err, buf, sizeof buf), NULL);
        return;
    }
    json_t *o = json_pack("{s:o}", "guests", guests);
    if (n < base_req->count) /* some started: say why the rest did not */
        json_object_set_new(o, "error",
                            json_pack("{s:s, s:s}", "code", code, "message",
                                      lvm_err_str(&err, buf, sizeof buf)));
    vm_op_done(d, w, NULL, NULL, o);
}

static void clone_parked(struct daemon *d, struct vm *v)
{
    struct svm *s = svm(v);
    struct svm_snap *op = s->snap;
    struct lvm_err err;
    char buf[LVM_ERR_MSG_MAX + 64];
    uint64_t npages = 0;
    int fd = snapshot_memfd(s->g->ram_size, &err);
    struct snap_info info;
    int ok = fd >= 0 && snap_fill_info(v, &info, &err) == 0;
    if (ok)
        ok = snapshot_capture(s->g, s->img->img, s->base ? s->base->fd : -1,
                              snapshot_sink_memfd, &fd, &npages, &err) == 0;
    /* The original goes on at once; the clones need only the copy. */
    snap_release_guest(v);
    if (!ok) {
        if (fd >= 0)
            close(fd);
        shell_snap_cancel(d, v, lvm_err_str(&err, buf, sizeof buf));
        return;
    }
    free(info.config);
    info.config = NULL;
    struct snap_base *b = malloc(sizeof *b);
    struct request *r = calloc(1, sizeof *r);
    if (!b || !r) {
        free(b);
        free(r);
        close(fd);
        shell_snap_cancel(d, v, "out of memory");
        return;
    }
    *b = (struct snap_base){fd, 1};
    struct guest_resume res = {fd, &info.status, LVM_RESUME_CLONED};
    /* Made as the original was: its recipe, its image (the same file:
     * shell_make checks its hash), its RAM; no fixed address. */
    r->op = OP_RESTORE;
    snprintf(r->image, sizeof r->image, "%s", v->image);
    r->mem = s->g->ram_size;
    r->mem_limit = v->mem_limit;
    r->cpus = v->cpus;
    r->watchdog_ms = v->watchdog_ms;
    r->json = s->recipe;
    r->resume = &res;
    r->state = &info;
    r->state_fd = -1; /* from memory, not a file */
    snprintf(r->monitor, sizeof r->monitor, "%s", v->monitor);
    r->base = b;
    r->count = op->count;
    if (s->g->net && s->g->net->n) {
        r->net.enabled = 1;
        snprintf(r->net.bridge, sizeof r->net.bridge, "%s",
                 s->g->net->nic[0].bridge);
        r->net.dhcp = s->g->net->nic[0].addr == 0;
        /* Its other NICs each on their own bridge, in their own mode, as
         * the original's (not all on the first's). */
        for (unsigned i = 1; i < s->g->net->n && i < GUEST_MAX_NICS; i++) {
            const struct guest_nic *nic = &s->g->net->nic[i];
            struct guest_nic_spec *one = &r->net.nics[r->net.nnics++];
            memset(one, 0, sizeof *one);
            snprintf(one->dev, sizeof one->dev, "%s", nic->dev);
            snprintf(one->bridge, sizeof one->bridge, "%s", nic->bridge);
            one->forward = nic->forward;
        }
    }
    char stem[64];
    snprintf(stem, sizeof stem, "%s", op->stem[0] ? op->stem : v->name);
    struct waiter *w = op->w;
    op->w = NULL;
    snap_free(v);
    /* Made as the original's owner, whoever asked (root may clone a
     * member's guest): its recipe's files are the owner's to open, and
     * the clones are the owner's, charged to its quotas. */
    struct creds owner;
    vm_owner_creds(v, &owner);
    start_clones(d, w, &owner, r, stem);
    snap_base_put(b);
    free(r);
}

void shell_clone(struct daemon *d, struct vm *src, struct waiter *w,
                 const struct request *r)
{
    if (!src) { /* from a state file: restore.c read it */
        /* The file's name for its guest is the client's word: kept to
         * the name rule, as a name it asked for would be. */
        char stem[49];
        guest_name_sanitize(r->name[0] ? r->name : r->state->guest_name, stem,
                            sizeof stem);
        start_clones(d, w, &w->c->cr, r, stem);
        return;
    }
    if (snap_can(d, src, w, "cloned") < 0)
        return;
    struct lvm_err err;
    char buf[LVM_ERR_MSG_MAX + 64];
    struct svm_snap *op = snap_op_new(d, w, SNAP_OP_CLONE);
    if (!op)
        return;
    op->count = r->count;
    snprintf(op->stem, sizeof op->stem, "%s", r->name);
    if (snap_begin(d, src, op, &err) < 0) {
        if (op->timerfd >= 0)
            close(op->timerfd);
        free(op);
        vm_op_done(d, w, "failed", lvm_err_str(&err, buf, sizeof buf), NULL);
    }
}

/* ---- the timer ------------------------------------------------------------ */

void shell_snap_event(struct daemon *d, struct vm *v)
{
    struct svm_snap *op = svm(v)->snap;
    if (!op)
        return;
    uint64_t ticks;
    if (read(op->timerfd, &ticks, sizeof ticks) < 0 && errno != EAGAIN)
        return;
    /* A guest parks within a millisecond when it can: look often at
     * first, then every 5 ms, so that guests that never park (or many
     * saves at once) cost the daemon little. */
    if (host_now_ns() - op->t0 > 10000000ull && !op->slow) {
        struct itimerspec its = {{0, 5000000}, {0, 5000000}};
        timerfd_settime(op->timerfd, 0, &its, NULL);
        op->slow = 1;
    }
    struct guest *g = guest_of(v);
    if (!g || v->state == VM_EXITED || v->killed_by) {
        shell_snap_cancel(d, v, "the guest exited");
        return;
    }
    if (op->t_parked) /* a migration's: parked, its thread copies */
        return;
    if (snapshot_parked(g)) {
        op->t_parked = host_now_ns();
        if (op->kind == SNAP_OP_SAVE)
            save_parked(d, v);
        else if (op->kind == SNAP_OP_CLONE)
            clone_parked(d, v);
        else
            mig_out_parked(d, v);
        return;
    }
    if (host_now_ns() > op->deadline) {
        snap_release_guest(v);
        shell_snap_cancel(d, v,
                          "it did not stop for the snapshot within 5 s (a "
                          "guest is saved when it yields or makes a system "
                          "call; one that only computes never does)");
    }
}
