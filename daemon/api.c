/*
 * api.c: lightvmd's operations (docs/api.md). Each request gets exactly
 * one reply, tagged like the request; `wait` replies when the guest exits.
 */
#include "daemon/quota.h"
#include "daemon/restore.h"
#include "daemon/vm_monitor.h"
#include "daemon/vm_qemu.h"
#include "toolstack/cgroup.h"
#include "toolstack/guest_name.h"
#include "toolstack/monitor.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <lvm_version.h>

static json_t *reply_new(const struct request *r, int ok)
{
    json_t *o = json_object();
    if (r && r->has_tag)
        json_object_set_new(o, "tag", json_integer(r->tag));
    json_object_set_new(o, "ok", json_boolean(ok));
    return o;
}

json_t *api_error(const struct request *r, const char *code, const char *msg)
{
    json_t *o = reply_new(r, 0);
    json_object_set_new(o, "error",
                        json_pack("{s:s, s:s}", "code", code ? code : "failed",
                                  "message", msg));
    return o;
}

static const char *const exit_kinds[] = {
    [GUEST_EXITED] = "exited",     [GUEST_ABORTED] = "aborted",
    [GUEST_POLICY] = "policy",     [GUEST_CRASHED] = "crashed",
    [GUEST_OOM] = "oom",           [GUEST_TIMEOUT] = "timeout",
    [GUEST_KILLED] = "killed",     [GUEST_SETUP] = "setup",
    [GUEST_WATCHDOG] = "watchdog", [GUEST_UNKNOWN] = "unknown",
};

json_t *api_exit_json(const struct guest_exit *ex)
{
    char msg[512];
    return json_pack("{s:s, s:i, s:i, s:s}", "kind", exit_kinds[ex->kind],
                     "status", ex->status, "code", ex->code, "message",
                     guest_exit_str(ex, msg, sizeof msg));
}

static const char *state_name(const struct vm *v)
{
    if (vm_live(v) && v->killed_by) /* SIGKILL sent, not yet gone */
        return "dying";
    return v->state == VM_RUNNING    ? "running"
           : v->state == VM_PAUSED   ? "paused"
           : v->state == VM_STARTING ? "starting"
                                     : "exited";
}

static json_t *vm_json(struct daemon *d, struct vm *v, int stats)
{
    char console[PATH_MAX];
    rundir_path(d, v->id, "console.log", console, sizeof console);
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:i, s:I, s:I, s:f, s:f, s:f, s:b, s:b}",
        "id", v->id, "name", v->name, "state", state_name(v), "image",
        v->image ? v->image : "", "monitor", v->monitor, "pid", (int)v->pid,
        "mem", (json_int_t)v->mem, "mem_limit", (json_int_t)v->mem_limit,
        "cpus", v->cpus, "created", v->created, "create_ms", v->create_ms,
        "pooled", v->pooled, "adopted", v->adopted);
    json_object_set_new(o, "owner", json_integer(v->owner));
    if (access(console, F_OK) == 0)
        json_object_set_new(o, "console", json_string(console));
    if (v->watchdog_ms)
        json_object_set_new(o, "watchdog_ms", json_integer(v->watchdog_ms));
    if (v->auto_remove)
        json_object_set_new(o, "auto_remove", json_true());
    vm_restart_json(v, o); /* its policy ("no" unless asked), its count */
    v->mon->describe(d, v, o, stats);
    if (v->state == VM_EXITED)
        json_object_set_new(o, "exit", api_exit_json(&v->exit));
    const struct cgroup *cg = stats ? vm_cgroup(v) : NULL;
    if (cg) {
        struct cgroup_stats cs;
        struct lvm_err err;
        if (cgroup_stats(cg, &cs, &err) == 0)
            json_object_set_new(
                o, "stats",
                json_pack("{s:I, s:I, s:I, s:I}", "cpu_ns",
                          (json_int_t)cs.cpu_ns, "memory_bytes",
                          (json_int_t)cs.memory_bytes, "memory_limit",
                          (json_int_t)cs.memory_max, "oom_kills",
                          (json_int_t)cs.oom_kills));
    }
    return o;
}

json_t *api_guest_json(struct daemon *d, struct vm *v, int stats)
{
    return vm_json(d, v, stats);
}

/* For root, whose bare name reaches only its own guests: other users'
 * guests of that name, as (msg) goes on to say. Only on this error path
 * are all guests walked. */
static void hint_others(struct daemon *d, const char *name, char *msg,
                        size_t len)
{
    if (strchr(name, '/') || !guest_name_valid(name))
        return;
    size_t n = 0, found = 0;
    for (size_t i = 0; i < d->nvms && n < len; i++) {
        const struct vm *v = d->vms[i];
        if (v->owner == 0 || strcmp(v->name, name))
            continue;
        if (found++ == 3) {
            n += (size_t)snprintf(msg + n, len - n, ", ...");
            break;
        }
        n += (size_t)snprintf(msg + n, len - n, "%s%u/%s",
                              found == 1 ? " of root's; other users have "
                                         : ", ",
                              (unsigned)v->owner, v->name);
    }
    if (found && n < len)
        snprintf(msg + n, len - n, " (name one as UID/NAME, or by its id)");
}

/* The guest a request names, or an error reply already sent. */
static struct vm *target(struct daemon *d, struct client *c,
                         const struct request *r)
{
    int ambiguous = 0;
    struct vm *v = vm_find(d, r->target, c->uid, &ambiguous);
    /* Clients other than root see and manage only their own guests: an
     * id is no secret (the cgroup tree shows them all). */
    if (v && c->uid != 0 && v->owner != c->uid)
        v = NULL;
    if (!v) {
        /* Echo the name only if it is printable: replies are one line. */
        char msg[320];
        int ok = 1;
        for (const char *p = r->target; *p; p++)
            ok &= (unsigned char)*p >= 0x20 && *p < 0x7f && *p != '\'';
        int n = snprintf(msg, sizeof msg,
                         ambiguous ? "'%s' matches more than one guest"
                                   : "no guest '%s'",
                         ok ? r->target : "(unprintable)");
        if (!ambiguous && c->uid == 0)
            hint_others(d, r->target, msg + n, sizeof msg - (size_t)n);
        server_reply(d, c,
                     api_error(r, ambiguous ? "ambiguous" : "not_found", msg));
    }
    return v;
}

static void op_list(struct daemon *d, struct client *c, const struct request *r)
{
    json_t *o = reply_new(r, 1), *a = json_array();
    if (c->uid == 0) {
        size_t end = r->offset + (size_t)r->limit;
        if (end > d->nvms)
            end = d->nvms;
        for (size_t i = r->offset; i < end; i++)
            json_array_append_new(a, vm_json(d, d->vms[i], r->stats));
        json_object_set_new(o, "total", json_integer((json_int_t)d->nvms));
        json_object_set_new(o, "next",
                            end < d->nvms ? json_integer((json_int_t)end)
                                          : json_null());
    } else {
        /* Only its own guests: offsets count those. */
        size_t seen = 0, total = 0;
        for (size_t i = 0; i < d->nvms; i++) {
            if (d->vms[i]->owner != c->uid)
                continue;
            if (total >= r->offset && seen < r->limit) {
                json_array_append_new(a, vm_json(d, d->vms[i], r->stats));
                seen++;
            }
            total++;
        }
        size_t end = r->offset + seen;
        json_object_set_new(o, "total", json_integer((json_int_t)total));
        json_object_set_new(o, "next",
                            end < total ? json_integer((json_int_t)end)
                                        : json_null());
    }
    json_object_set_new(o, "guests", a);
    server_reply(d, c, o);
}

static void op_pool(struct daemon *d, struct client *c, const struct request *r)
{
    json_t *o = reply_new(r, 1), *a = json_array();
    pthread_mutex_lock(&d->pool.lock);
    for (unsigned i = 0; i < d->pool.nclasses; i++) {
        const struct pool_class *k = &d->pool.cls[i];
        json_array_append_new(
            a, json_pack("{s:I, s:i, s:i, s:i, s:b, s:s}", "mem",
                         (json_int_t)k->ram, "target", k->target, "ready",
                         k->nready, "preparing", k->preparing, "net", k->net,
                         "monitor", monitor_of(k->monitor)->name));
    }
    json_object_set_new(o, "classes", a);
    json_object_set_new(o, "rate", json_real(d->pool.rate));
    json_object_set_new(o, "counters",
                        json_pack("{s:I, s:I, s:I, s:I}", "made",
                                  (json_int_t)d->pool.made, "taken",
                                  (json_int_t)d->pool.taken, "missed",
                                  (json_int_t)d->pool.missed, "failed",
                                  (json_int_t)d->pool.failed));
    if (d->pool.last_error[0])
        json_object_set_new(o, "last_error", json_string(d->pool.last_error));
    pthread_mutex_unlock(&d->pool.lock);
    server_reply(d, c, o);
}

/* A restore, or a clone of a state file: the file read and merged with
 * the guest's recipe (restore.c), the policy, then the monitor. */
static void restore_request(struct daemon *d, struct client *c,
                            const struct request *r, int fd)
{
    struct lvm_err err;
    char buf[LVM_ERR_MSG_MAX + 64];
    const char *code;
    struct restore_ctx *x = malloc(sizeof *x);
    if (!x) {
        if (fd >= 0)
            close(fd);
        server_reply(d, c, api_error(r, "failed", "out of memory"));
        return;
    }
    if (restore_prepare(d, &c->cr, r, x, &code, &err) < 0) {
        free(x);
        if (fd >= 0)
            close(fd);
        server_reply(d, c,
                     api_error(r, code, lvm_err_str(&err, buf, sizeof buf)));
        return;
    }
    x->req.tag = r->tag;
    x->req.has_tag = r->has_tag;
    if (vm_policy_apply(d, c, &x->req, &err) < 0) {
        if (fd >= 0)
            close(fd);
        server_reply(
            d, c,
            err.code == EPERM
                ? api_error(r, "denied", err.msg)
                : api_error(r, "failed", lvm_err_str(&err, buf, sizeof buf)));
    } else if (r->op == OP_RESTORE) {
        vm_create(d, c, &x->req, fd);
    } else {
        if (fd >= 0)
            close(fd);
        const struct vm_monitor *mon = vm_monitor_find(d, x->req.monitor, &err);
        struct waiter *w = mon && mon->clone ? vm_waiter_new(d, c, r) : NULL;
        if (w)
            mon->clone(d, NULL, w, &x->req);
        else if (!mon || !mon->clone)
            server_reply(d, c,
                         api_error(r, "invalid",
                                   mon ? "clone is not supported for this "
                                         "monitor"
                                       : err.msg));
    }
    restore_done(x);
    free(x);
}

static void clone_guest(struct daemon *d, struct vm *v, struct client *c,
                        const struct request *r)
{
    if (!v->mon->clone) {
        char msg[160];
        snprintf(msg, sizeof msg,
                 "clone is not supported for the %s monitor (guest %s)",
                 v->mon->name, v->id);
        server_reply(d, c, api_error(r, "invalid", msg));
        return;
    }
    struct waiter *w = vm_waiter_new(d, c, r);
    if (w)
        v->mon->clone(d, v, w, r);
}

void api_handle(struct daemon *d, struct client *c, struct request *r, int fd)
{
    struct lvm_err err;
    char buf[LVM_ERR_MSG_MAX + 64];
    if (r->op != OP_CREATE && r->op != OP_RESTORE && r->op != OP_MIGRATE &&
        fd >= 0) {
        close(fd);
        server_reply(d, c,
                     api_error(r, "bad_request",
                               "only create, restore and migrate take an fd"));
        return;
    }
    if (r->op == OP_MIGRATE_IN) { /* the connection is the stream now */
        migrate_in_take(d, c);
        return;
    }
    if (r->op == OP_RESTORE || (r->op == OP_CLONE && r->path[0])) {
        restore_request(d, c, r, fd); /* answers itself */
        return;
    }
    if (r->op == OP_CREATE) {
        /* The operator's policy first: nothing is made for a request it
         * refuses (a refusal names the field; EPERM: "denied"). */
        if (vm_policy_apply(d, c, r, &err) < 0) {
            if (fd >= 0)
                close(fd);
            server_reply(d, c,
                         err.code == EPERM
                             ? api_error(r, "denied", err.msg)
                             : api_error(r, "failed",
                                         lvm_err_str(&err, buf, sizeof buf)));
            return;
        }
        vm_create(d, c, r, fd); /* answers itself */
        return;
    }
    if (r->op == OP_LIST) {
        op_list(d, c, r);
        return;
    }
    if (r->op == OP_POOL) {
        op_pool(d, c, r);
        return;
    }
    if (r->op == OP_QUOTA) { /* the caller's own, nobody else's */
        json_t *o = reply_new(r, 1);
        json_object_set_new(o, "uid", json_integer(c->cr.uid));
        json_object_set_new(o, "quotas", quota_json(d, &c->cr));
        server_reply(d, c, o);
        return;
    }
    if (r->op == OP_VERSION) {
        json_t *o = reply_new(r, 1);
        json_object_set_new(o, "version", json_string(LVM_VERSION));
        json_object_set_new(o, "abi", json_integer(LVM_ABI_VERSION));
        json_object_set_new(o, "pid", json_integer(getpid()));
        json_object_set_new(o, "guests", json_integer((json_int_t)d->nvms));
        server_reply(d, c, o);
        return;
    }
    struct vm *v = target(d, c, r);
    if (!v) {
        if (fd >= 0)
            close(fd);
        return;
    }
    int rc = 0;
    json_t *o = NULL;
    switch (r->op) {
    case OP_INFO:
        o = reply_new(r, 1);
        json_object_set_new(o, "guest", vm_json(d, v, 1));
        break;
    case OP_DESTROY:
        vm_destroy(d, v, c, r); /* answers when the guest is gone */
        return;
    case OP_PAUSE:
    case OP_UNPAUSE:
        vm_pause(d, v, c, r, r->op == OP_PAUSE); /* answers itself */
        return;
    case OP_POWEROFF:
    case OP_SUSPEND:
    case OP_RESUME:
        rc = vm_control(d, v,
                        r->op == OP_POWEROFF  ? LVM_CTRL_POWEROFF
                        : r->op == OP_SUSPEND ? LVM_CTRL_SUSPEND
                                              : LVM_CTRL_RESUME,
                        &err);
        if (rc == 0)
            o = reply_new(r, 1);
        /* Stopped by a client: not restarted by its policy (docker). */
        if (rc == 0 && r->op == OP_POWEROFF)
            v->stopped = 1;
        break;
    case OP_RECIPE: { /* the create request that made it: restart */
        json_t *rec = v->mon->record ? v->mon->record(v) : NULL;
        json_t *recipe = json_object_get(rec, "recipe");
        if (recipe) {
            o = reply_new(r, 1);
            json_object_set(o, "recipe", recipe);
        } else {
            rc = lvm_err_invalid(&err,
                                 "guest %s has no recipe (made by an older "
                                 "lightvmd)",
                                 v->id);
        }
        json_decref(rec);
        break;
    }
    case OP_KILL:
        rc = vm_signal(d, v, r->signal, &err);
        if (rc == 0)
            o = reply_new(r, 1);
        break;
    case OP_EXEC: {
        /* Only the guest's owner (or root) gets here (target()). */
        int xfd = -1;
        if (v->mon != &vm_monitor_qemu)
            rc = lvm_err_invalid(
                &err,
                "guest %s runs under the %s monitor: exec is for "
                "Tinyx guests (a unikernel is one program)",
                v->id, v->mon->name);
        else
            rc = qvm_exec_channel(v, &xfd, &err);
        if (rc == 0) {
            server_reply_fd(d, c, reply_new(r, 1), xfd);
            return;
        }
        /* The message says it all (no errno text after it). */
        server_reply(
            d, c,
            api_error(r, err.code == EBUSY ? "busy" : "invalid", err.msg));
        return;
    }
    case OP_WAIT: vm_add_waiter(d, v, c, r); return;
    case OP_SAVE: vm_save(d, v, c, r); return; /* answers once saved */
    case OP_CLONE: clone_guest(d, v, c, r); return;
    case OP_MIGRATE: vm_migrate(d, v, c, r, fd); return;
    default: lvm_err_invalid(&err, "not implemented"); rc = -1;
    }
    if (rc < 0)
        o = api_error(r,
                      err.code == ENOENT   ? "not_found"
                      : err.code == EBUSY  ? "busy"
                      : err.code == EINVAL ? "invalid"
                                           : "failed",
                      lvm_err_str(&err, buf, sizeof buf));
    server_reply(d, c, o);
}
