/*
 * vm.c: the guests lightvmd manages, whatever their monitor: the tables,
 * the clients waiting on them, destroy, exit, and the tick. Each step a
 * monitor takes is behind its struct vm_monitor (vm_monitor.h); nothing
 * here asks which monitor a guest uses. Nothing here walks all guests on
 * the creation path: lookups are hashed, the listing array is appended to.
 */
#include "daemon/quota.h"
#include "daemon/vm_monitor.h"
#include "toolstack/guest_name.h"
#include "toolstack/monitor.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

static unsigned fnv(unsigned h, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) /* FNV-1a */
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static unsigned hash(const char *s)
{
    return fnv(2166136261u, (const unsigned char *)s, strlen(s)) &
           (HASH_SIZE - 1);
}

/* Names are per owner: two users may both have a guest called web. */
static unsigned hash_name(uid_t owner, const char *name)
{
    unsigned h = fnv(2166136261u, (const unsigned char *)&owner, sizeof owner);
    return fnv(h, (const unsigned char *)name, strlen(name)) & (HASH_SIZE - 1);
}

int vms_init(struct daemon *d, struct lvm_err *err)
{
    d->by_id = calloc(HASH_SIZE, sizeof *d->by_id);
    d->by_name = calloc(HASH_SIZE, sizeof *d->by_name);
    d->cap = 1024;
    d->vms = malloc(d->cap * sizeof *d->vms);
    if (!d->by_id || !d->by_name || !d->vms)
        return lvm_err_set(err, ENOMEM, "allocate the guest tables");
    return 0;
}

void vm_insert(struct daemon *d, struct vm *v)
{
    if (d->nvms == d->cap) {
        struct vm **n = realloc(d->vms, 2 * d->cap * sizeof *n);
        if (!n)
            abort(); /* cannot track a running guest: nothing sane to do */
        d->vms = n;
        d->cap *= 2;
    }
    v->index = d->nvms;
    d->vms[d->nvms++] = v;
    unsigned hi = hash(v->id), hn = hash_name(v->owner, v->name);
    v->next_id = d->by_id[hi];
    d->by_id[hi] = v;
    v->next_name = d->by_name[hn];
    d->by_name[hn] = v;
}

static void vm_remove(struct daemon *d, struct vm *v)
{
    d->vms[v->index] = d->vms[--d->nvms];
    d->vms[v->index]->index = v->index;
    struct vm **p;
    for (p = &d->by_id[hash(v->id)]; *p != v; p = &(*p)->next_id)
        ;
    *p = v->next_id;
    for (p = &d->by_name[hash_name(v->owner, v->name)]; *p != v;
         p = &(*p)->next_name)
        ;
    *p = v->next_name;
}

struct vm *vm_find_name(struct daemon *d, uid_t owner, const char *name)
{
    /* A guest being restarted gives its name to its new self
     * (vm_restart.c). */
    for (struct vm *v = d->by_name[hash_name(owner, name)]; v; v = v->next_name)
        if (v->owner == owner && !strcmp(v->name, name) && !v->restarting)
            return v;
    return NULL;
}

struct vm *vm_find(struct daemon *d, const char *s, uid_t caller,
                   int *ambiguous)
{
    *ambiguous = 0;
    for (struct vm *v = d->by_id[hash(s)]; v; v = v->next_id)
        if (!strcmp(v->id, s))
            return v;
    /* UID/NAME: names hold no '/' (guest_name.h). */
    const char *slash = strchr(s, '/');
    if (slash) {
        char *end;
        unsigned long uid = strtoul(s, &end, 10);
        if (end != slash || slash == s || s[0] < '0' || s[0] > '9' ||
            uid > (uid_t)-2)
            return NULL;
        return vm_find_name(d, (uid_t)uid, slash + 1);
    }
    struct vm *v = vm_find_name(d, caller, s);
    if (v)
        return v;
    /* A unique prefix of an id, as people type them, among the guests
     * the caller may manage: others' must not make its prefixes
     * ambiguous. */
    size_t n = strlen(s);
    if (n < 4 || n >= GUEST_ID_LEN)
        return NULL;
    struct vm *found = NULL;
    for (size_t i = 0; i < d->nvms; i++)
        if ((caller == 0 || d->vms[i]->owner == caller) &&
            !strncmp(d->vms[i]->id, s, n)) {
            if (found) {
                *ambiguous = 1;
                return NULL;
            }
            found = d->vms[i];
        }
    return found;
}

int vm_live(const struct vm *v)
{
    return v->mon->live(v);
}

const struct cgroup *vm_cgroup(const struct vm *v)
{
    return v->mon->cgroup(v);
}

static void vm_free(struct daemon *d, struct vm *v)
{
    v->mon->release(d, v);
    free(v->image);
    free(v);
}

/* ---- clients waiting for guests ------------------------------------------ */

/* Answer and free every waiter of (list) with the guest's exit. */
static void answer_waiters(struct daemon *d, struct vm *v, struct waiter **list)
{
    while (*list) {
        struct waiter *w = *list;
        *list = w->next;
        vm_op_done(d, w, NULL, NULL,
                   json_pack("{s:s, s:o}", "id", v->id, "exit",
                             api_exit_json(&v->exit)));
    }
}

static void notify_waiters(struct daemon *d, struct vm *v)
{
    answer_waiters(d, v, &v->waiters);
}

struct waiter *vm_waiter_new(struct daemon *d, struct client *c,
                             const struct request *r)
{
    if (c->waits >= CLIENT_MAX_WAITS) {
        server_reply(d, c,
                     api_error(r, "busy",
                               "too many outstanding wait and destroy "
                               "requests"));
        return NULL;
    }
    struct waiter *w = malloc(sizeof *w);
    if (!w) {
        server_reply(d, c, api_error(r, "failed", "out of memory"));
        return NULL;
    }
    w->c = c;
    w->tag = r->tag;
    w->has_tag = r->has_tag;
    w->next = NULL;
    w->extra = NULL;
    c->refs++;
    c->waits++;
    return w;
}

void vm_op_done(struct daemon *d, struct waiter *w, const char *code,
                const char *msg, json_t *fields)
{
    struct request r = {.tag = w->tag, .has_tag = w->has_tag};
    json_t *rep;
    if (w->extra && !code) {
        if (!fields)
            fields = json_object();
        json_object_update(fields, w->extra);
    }
    json_decref(w->extra);
    if (code) {
        rep = api_error(&r, code, msg);
        json_decref(fields);
    } else {
        rep = json_object();
        if (w->has_tag)
            json_object_set_new(rep, "tag", json_integer(w->tag));
        json_object_set_new(rep, "ok", json_true());
        if (fields) {
            json_object_update(rep, fields);
            json_decref(fields);
        }
    }
    if (!w->c->dead)
        server_reply(d, w->c, rep);
    else
        json_decref(rep);
    if (code && w->c->restarter) { /* nobody else hears of it */
        daemon_log("restart failed: %s", msg ? msg : code);
        w->c->restart_failed = 1;
    }
    w->c->waits--;
    server_client_put(d, w->c);
    free(w);
}

void vm_add_waiter(struct daemon *d, struct vm *v, struct client *c,
                   const struct request *r)
{
    struct waiter *w = vm_waiter_new(d, c, r);
    if (!w)
        return;
    w->next = v->waiters;
    v->waiters = w;
    if (v->state == VM_EXITED && !v->audit_pending)
        notify_waiters(d, v);
}

/* ---- creation: what every monitor shares --------------------------------- */

const struct vm_monitor *vm_monitor_find(struct daemon *d, const char *name,
                                         struct lvm_err *err)
{
    static const struct vm_monitor *const all[] = {
        &vm_monitor_proc, &vm_monitor_kvm, &vm_monitor_qemu};
    if (!strcmp(name, "auto")) {
        /* The strongest isolation this host offers for a unikernel. */
        const struct monitor_ops *m = monitor_find("auto", &d->host);
        if (!m)
            return lvm_err_set(err, 0, "no monitor can run on this host"), NULL;
        name = m->name;
    }
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (!strcmp(all[i]->name, name))
            return all[i];
    lvm_err_invalid(err, "unknown monitor '%s' (available: %s, auto)", name,
                    monitor_names());
    return NULL;
}

void vm_default_name(struct vm *v, const struct request *r,
                     const char *image_name)
{
    if (r->name[0]) {
        snprintf(v->name, sizeof v->name, "%s", r->name);
    } else { /* the file's name may be anything: keep to the rule */
        char base[49];
        guest_name_sanitize(image_name, base, sizeof base);
        snprintf(v->name, sizeof v->name, "%s-%.6s", base, v->id);
    }
}

int vm_name_taken(struct daemon *d, uid_t uid, const char *name, char *msg,
                  size_t len)
{
    if (!name[0])
        return 0;
    if (vm_find_name(d, uid, name)) {
        snprintf(msg, len, "you have a guest named '%s'", name);
        return 1;
    }
    /* A name that is the start of a guest's id would name two guests:
     * commands take ids and their prefixes too (vm_find). */
    int amb = 0;
    const struct vm *v = strspn(name, "0123456789abcdef") == strlen(name)
                             ? vm_find(d, name, uid, &amb)
                             : NULL;
    if (v || amb) {
        snprintf(msg, len,
                 "'%s' is %s of guest %s, not a free name (pick one that "
                 "is not a guest's id)",
                 name,
                 strlen(name) == GUEST_ID_LEN ? "the id"
                                              : "the start of the id",
                 v ? v->id : "(several)");
        return 1;
    }
    return 0;
}

int vm_name_free(struct daemon *d, struct waiter *w, const struct request *r)
{
    char msg[192];
    if (!vm_name_taken(d, w->c->cr.uid, r->name, msg, sizeof msg))
        return 0;
    vm_op_done(d, w, "exists", msg, NULL);
    return -1;
}

int vm_watch(struct daemon *d, struct vm *v, int fd, struct ep_item *it,
             int slot, struct lvm_err *err)
{
    *it = (struct ep_item){EP_GUEST, v, slot};
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = it};
    if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        return lvm_err_set(err, errno, "watch guest %s", v->id);
    return 0;
}

void vm_create(struct daemon *d, struct client *c, const struct request *r,
               int fd)
{
    struct lvm_err err;
    /* A restore's monitor is its state file's unless it names one
     * (restore.c). */
    const char *name = r->monitor[0] ? r->monitor : VM_MONITOR_DEFAULT;
    const struct vm_monitor *mon = vm_monitor_find(d, name, &err);
    if (!mon) {
        if (fd >= 0)
            close(fd);
        char buf[LVM_ERR_MSG_MAX + 64];
        server_reply(
            d, c, api_error(r, "invalid", lvm_err_str(&err, buf, sizeof buf)));
        return;
    }
    struct waiter *w = vm_waiter_new(d, c, r);
    if (!w) {
        if (fd >= 0)
            close(fd);
        return;
    }
    mon->create(d, w, r, fd);
}

/* ---- operations ----------------------------------------------------------- */

/* 0 if (v) can take an operation now; else (w) is answered. */
static int can_operate(struct daemon *d, struct vm *v, struct waiter *w)
{
    char msg[160];
    const char *code = NULL;
    if (v->state == VM_EXITED) {
        code = "invalid";
        snprintf(msg, sizeof msg, "guest %s has exited", v->id);
    } else if (v->killed_by) { /* freezing it now would keep it from dying */
        code = "busy";
        snprintf(msg, sizeof msg, "guest %s is being killed", v->id);
    } else if (v->state == VM_STARTING) {
        code = "busy";
        snprintf(msg, sizeof msg, "guest %s is still starting", v->id);
    }
    if (code)
        vm_op_done(d, w, code, msg, NULL);
    return code ? -1 : 0;
}

void vm_pause(struct daemon *d, struct vm *v, struct client *c,
              const struct request *r, int pause)
{
    struct waiter *w = vm_waiter_new(d, c, r);
    if (w && can_operate(d, v, w) == 0)
        v->mon->pause(d, v, w, pause);
}

void vm_save(struct daemon *d, struct vm *v, struct client *c,
             const struct request *r)
{
    struct waiter *w = vm_waiter_new(d, c, r);
    if (!w)
        return;
    if (!v->mon->save) {
        char msg[160];
        snprintf(msg, sizeof msg,
                 "save is not supported for the %s monitor (guest %s)",
                 v->mon->name, v->id);
        vm_op_done(d, w, "invalid", msg, NULL);
        return;
    }
    if (can_operate(d, v, w) == 0)
        v->mon->save(d, v, w, r);
}

void vm_migrate(struct daemon *d, struct vm *v, struct client *c,
                const struct request *r, int fd)
{
    struct waiter *w = vm_waiter_new(d, c, r);
    if (!w) {
        if (fd >= 0)
            close(fd);
        return;
    }
    if (!v->mon->migrate) {
        char msg[160];
        snprintf(msg, sizeof msg,
                 "migrate is not supported for the %s monitor (guest %s)",
                 v->mon->name, v->id);
        if (fd >= 0)
            close(fd);
        vm_op_done(d, w, "invalid", msg, NULL);
        return;
    }
    if (can_operate(d, v, w) == 0)
        v->mon->migrate(d, v, w, r, fd);
    else if (fd >= 0)
        close(fd);
}

int vm_control(struct daemon *d, struct vm *v, uint32_t request,
               struct lvm_err *err)
{
    if (v->state == VM_EXITED)
        return lvm_err_invalid(err, "guest %s has exited", v->id);
    if (v->killed_by)
        return lvm_err_set(err, EBUSY, "guest %s is being killed", v->id);
    if (v->state == VM_STARTING)
        return lvm_err_set(err, EBUSY, "guest %s is still starting", v->id);
    if (request == LVM_CTRL_RESUME) /* its state may have been restored */
        v->watchdog_floor_ns = host_now_ns();
    return v->mon->control(d, v, request, err);
}

void vm_event(struct daemon *d, struct vm *v, int slot)
{
    if (!v->dead)
        v->mon->event(d, v, slot);
}

/* ---- exit and destroy ----------------------------------------------------- */

static void finish_destroy(struct daemon *d, struct vm *v);

void vm_ended(struct daemon *d, struct vm *v)
{
    v->state = VM_EXITED;
    /* Its RAM, limits and ports are free again; its record and logs
     * count until it is destroyed. */
    quota_release(d, v, QUOTA_RUNNING);
    if (v->destroyers || v->killed_by == KILLED_BY_DESTROY ||
        (v->auto_remove && !v->audit_pending)) {
        /* Its record goes at once: no exit.json written only to be
         * removed (its waiters hear how it ended from memory). */
        finish_destroy(d, v); /* its waiters hear how it ended */
        return;
    }
    rundir_write_exit(d, v);
    if (!v->audit_pending)
        notify_waiters(d, v);
    vm_restart_exited(d, v);
}

void vm_bury(struct daemon *d)
{
    while (d->graveyard) {
        struct vm *v = d->graveyard;
        d->graveyard = v->grave_next;
        vm_free(d, v);
    }
}

void vm_forget(struct daemon *d, struct vm *v)
{
    finish_destroy(d, v);
}

/* The guest is gone: answer everyone, forget it. */
static void finish_destroy(struct daemon *d, struct vm *v)
{
    v->audit_pending = 0;
    /* Gone before anyone hears so: a client that looks finds nothing. */
    rundir_remove(d, v->id);
    quota_release(d, v, QUOTA_ALL);
    notify_waiters(d, v);
    answer_waiters(d, v, &v->destroyers);
    vm_remove(d, v);
    v->dead = 1;
    v->grave_next = d->graveyard;
    d->graveyard = v;
    d->destroyed++;
}

void vm_destroy(struct daemon *d, struct vm *v, struct client *c,
                const struct request *r)
{
    struct waiter *w = vm_waiter_new(d, c, r);
    if (w)
        vm_destroy_for(d, v, w);
}

/* A destroyed guest's end yields to guests being made: once killed, the
 * kernel tears its process down (its memory, its namespaces) in its own
 * tasks, some 20 ms of CPU on a quiet host, which at a new guest every
 * 10 ms competed with creation on equal terms. Its tasks go to
 * SCHED_BATCH at nice POOL_NICE first, as the pool's shells are prepared
 * (pool.c says why not SCHED_IDLE: a task that holds kernel locks others
 * wait for must still get CPU). Best effort: a task that is gone, or a
 * daemon without CAP_SYS_NICE, leaves it as it was. */
static void lower_for_teardown(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *dir = opendir(path);
    if (!dir)
        return;
    struct sched_param batch = {0};
    for (struct dirent *e; (e = readdir(dir));) {
        pid_t tid = (pid_t)atoi(e->d_name);
        if (tid <= 0)
            continue;
        sched_setscheduler(tid, SCHED_BATCH, &batch);
        setpriority(PRIO_PROCESS, (id_t)tid, POOL_NICE);
    }
    closedir(dir);
}

void vm_destroy_for(struct daemon *d, struct vm *v, struct waiter *w)
{
    if (vm_live(v) && !v->killed_by) {
        if (v->pid > 0)
            lower_for_teardown(v->pid);
        if (v->mon->kill(d, v) < 0 && errno != ESRCH) {
            char buf[LVM_ERR_MSG_MAX + 64];
            snprintf(buf, sizeof buf, "kill guest %s: %s", v->id,
                     strerror(errno));
            vm_op_done(d, w, "failed", buf, NULL);
            return;
        }
        v->killed_by = KILLED_BY_DESTROY;
    }
    if (vm_live(v) && !v->destroyers)
        v->kill_deadline = host_now_ns() + 10000000000ull;
    w->next = v->destroyers;
    v->destroyers = w;
    if (!vm_live(v)) /* already exited */
        finish_destroy(d, v);
}

int vm_signal(struct daemon *d, struct vm *v, int sig, struct lvm_err *err)
{
    if (!vm_live(v))
        return lvm_err_invalid(err, "guest %s is not running", v->id);
    if (sig != SIGKILL && !(v->mon->kill_signals & 1u << sig))
        return lvm_err_invalid(
            err,
            "a %s guest takes %s only (the init of its own PID namespace "
            "drops the others; 'lightvm stop' asks it to end)",
            v->monitor,
            v->mon->kill_signals ? "SIGKILL, SIGTERM, SIGINT and SIGHUP"
                                 : "SIGKILL");
    if (sig == SIGKILL)
        return v->mon->kill(d, v) < 0 && errno != ESRCH
                   ? lvm_err_set(err, errno, "kill guest %s", v->id)
                   : 0;
    /* Through a pidfd of the live process: it has not been reaped (it is
     * live), so (v->pid) is still it. */
    int fd = (int)syscall(SYS_pidfd_open, v->pid, 0);
    if (fd < 0)
        return lvm_err_set(err, errno, "signal guest %s", v->id);
    int rc = (int)syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0);
    int e = errno;
    close(fd);
    return rc < 0 ? lvm_err_set(err, e, "signal guest %s", v->id) : 0;
}

/* ---- seccomp kills, from the audit socket --------------------------------- */

void vm_audit_record(struct daemon *d, pid_t pid, long nr)
{
    unsigned slot = d->nkills++ % 1024;
    d->kills[slot].pid = pid;
    d->kills[slot].nr = nr;
    d->kills[slot].at = host_now_ns();
    if (d->nkills >= 2048)
        d->nkills -= 1024; /* stay in range, keep the ring full */
    /* A guest that already exited waits for exactly this. */
    for (size_t i = 0; i < d->nvms; i++) {
        struct vm *v = d->vms[i];
        if (v->audit_pending && v->pid == pid) {
            v->exit.syscall = nr;
            v->audit_pending = 0;
            rundir_write_exit(d, v);
            if (v->auto_remove)
                finish_destroy(d, v);
            else
                notify_waiters(d, v);
        }
    }
}

long vm_audit_lookup(const struct daemon *d, pid_t pid, uint64_t since)
{
    /* The newest record for this pid since (since): an older one is
     * another process that had the pid. */
    unsigned n = d->nkills < 1024 ? d->nkills : 1024;
    for (unsigned k = 0; k < n; k++) {
        unsigned i = (d->nkills - 1 - k) % 1024;
        if (d->kills[i].pid == pid && d->kills[i].at >= since)
            return d->kills[i].nr;
    }
    return -1;
}

/* ---- the tick ------------------------------------------------------------- */

/* A guest that outlives SIGKILL for long (uninterruptible sleep in a
 * broken driver or filesystem) is not waited for by its destroyers; it
 * is still removed when it finally dies. */
static void give_up_destroy(struct daemon *d, struct vm *v)
{
    while (v->destroyers) {
        struct waiter *w = v->destroyers;
        v->destroyers = w->next;
        char msg[128];
        snprintf(msg, sizeof msg,
                 "guest %s is still dying 10 s after SIGKILL; it will be "
                 "removed when it does",
                 v->id);
        vm_op_done(d, w, "busy", msg, NULL);
    }
}

void vm_tick(struct daemon *d)
{
    uint64_t now = host_now_ns();
    if (++d->ticks % 10 == 0)
        pool_check(d);
    /* Backwards: a guest forgotten here moves the last one into slot i. */
    for (size_t i = d->nvms; i-- > 0;) {
        struct vm *v = d->vms[i];
        if (v->destroyers && vm_live(v) && now > v->kill_deadline)
            give_up_destroy(d, v);
        if (v->audit_pending && now > v->audit_deadline) {
            v->audit_pending = 0;
            if (v->auto_remove) {
                finish_destroy(d, v);
                continue; /* forgotten: slot i holds another now */
            }
            notify_waiters(d, v);
        }
        if (v->mon->tick)
            v->mon->tick(d, v, now);
        if (v->restart_at)
            vm_restart_tick(d, v, now);
    }
}

/* ---- after a daemon restart ----------------------------------------------- */

void vm_recover(struct daemon *d, struct vm *v, json_t *cfg, int alive)
{
    struct lvm_err err;
    v->mon = vm_monitor_find(d, v->monitor, &err);
    if (!v->mon) { /* recorded by a daemon that knew another monitor */
        v->mon = &vm_monitor_proc;
        alive = 0;
    }
    vm_restart_load(v, cfg);
    v->mon->recover(d, v, cfg, alive);
    quota_recover(d, v, json_object_get(cfg, "quota"));
    vm_insert(d, v);
    vm_restart_recovered(d, v);
}
