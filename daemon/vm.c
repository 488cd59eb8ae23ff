/*
 * vm.c: the guests lightvmd manages: create (in a pooled shell when one is
 * ready), pause, control requests, destroy, and what happens when a guest
 * exits. Nothing here walks all guests on the creation path: lookups are
 * hashed, the listing array is appended to, the pool is a stack per class.
 */
#include "daemon/daemon.h"
#include "toolstack/monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static unsigned hash(const char *s)
{
    unsigned h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h & (HASH_SIZE - 1);
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
    unsigned hi = hash(v->id), hn = hash(v->name);
    v->next_id = d->by_id[hi];
    d->by_id[hi] = v;
    v->next_name = d->by_name[hn];
    d->by_name[hn] = v;
    if (v->watchdog_ms) {
        v->watch_next = d->watched;
        d->watched = v;
    }
}

static void vm_remove(struct daemon *d, struct vm *v)
{
    d->vms[v->index] = d->vms[--d->nvms];
    d->vms[v->index]->index = v->index;
    struct vm **p;
    for (p = &d->by_id[hash(v->id)]; *p != v; p = &(*p)->next_id)
        ;
    *p = v->next_id;
    for (p = &d->by_name[hash(v->name)]; *p != v; p = &(*p)->next_name)
        ;
    *p = v->next_name;
    for (p = &d->watched; *p; p = &(*p)->watch_next)
        if (*p == v) {
            *p = v->watch_next;
            break;
        }
}

struct vm *vm_find(struct daemon *d, const char *s, int *ambiguous)
{
    *ambiguous = 0;
    for (struct vm *v = d->by_id[hash(s)]; v; v = v->next_id)
        if (!strcmp(v->id, s))
            return v;
    for (struct vm *v = d->by_name[hash(s)]; v; v = v->next_name)
        if (!strcmp(v->name, s))
            return v;
    /* A unique prefix of an id, as people type them. */
    size_t n = strlen(s);
    if (n < 4 || n >= GUEST_ID_LEN)
        return NULL;
    struct vm *found = NULL;
    for (size_t i = 0; i < d->nvms; i++)
        if (!strncmp(d->vms[i]->id, s, n)) {
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
    return v->g != NULL || (v->q && v->state != VM_EXITED);
}

const struct cgroup *vm_cgroup(const struct vm *v)
{
    if (v->g)
        return v->g->have_cg ? &v->g->cg : NULL;
    return v->q && v->state != VM_EXITED ? vm_qemu_cgroup(v) : NULL;
}

static void vm_free(struct daemon *d, struct vm *v)
{
    if (v->q)
        vm_qemu_free(v);
    if (v->img)
        images_put(d, v->img);
    free(v->image);
    free(v);
}

/* Answer and free every waiter of (list) with the guest's exit. */
static void answer_waiters(struct daemon *d, struct vm *v, struct waiter **list)
{
    while (*list) {
        struct waiter *w = *list;
        *list = w->next;
        if (!w->c->dead) {
            json_t *o = json_object();
            if (w->has_tag)
                json_object_set_new(o, "tag", json_integer(w->tag));
            json_object_set_new(o, "ok", json_true());
            json_object_set_new(o, "id", json_string(v->id));
            json_object_set_new(o, "exit", api_exit_json(&v->exit));
            server_reply(d, w->c, o);
        }
        w->c->waits--;
        server_client_put(d, w->c);
        free(w);
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
    c->refs++;
    c->waits++;
    return w;
}

static void waiter_free(struct daemon *d, struct waiter *w)
{
    w->c->waits--;
    server_client_put(d, w->c);
    free(w);
}

void vm_waiter_ok(struct daemon *d, struct waiter *w, json_t *o)
{
    json_t *rep = json_object();
    if (w->has_tag)
        json_object_set_new(rep, "tag", json_integer(w->tag));
    json_object_set_new(rep, "ok", json_true());
    if (o) {
        json_object_update(rep, o);
        json_decref(o);
    }
    if (!w->c->dead)
        server_reply(d, w->c, rep);
    else
        json_decref(rep);
    waiter_free(d, w);
}

void vm_waiter_error(struct daemon *d, struct waiter *w, const char *code,
                     const char *msg)
{
    struct request r = {.tag = w->tag, .has_tag = w->has_tag};
    if (!w->c->dead)
        server_reply(d, w->c, api_error(&r, code, msg));
    waiter_free(d, w);
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

/* Turn a shell and a request into a running guest. */
static int vm_create_files(struct daemon *d, const struct request *r,
                           const struct creds *cr, int image_fd,
                           const int block_fds[], int console_fd,
                           struct vm **out, const char **code,
                           struct lvm_err *err);

/* Open what the request names, as the client: its image and its block
 * files (closed by the caller). */
static int open_client_files(const struct request *r, const struct creds *cr,
                             int *image_fd, int block_fds[GUEST_MAX_BLOCKS],
                             struct lvm_err *err)
{
    for (unsigned i = 0; i < GUEST_MAX_BLOCKS; i++)
        block_fds[i] = -1;
    *image_fd = creds_open_data(cr, r->image, 0, err);
    if (*image_fd < 0)
        return -1;
    for (unsigned i = 0; i < r->nblocks; i++) {
        block_fds[i] =
            creds_open_data(cr, r->blocks[i].path, !r->blocks[i].readonly, err);
        if (block_fds[i] < 0)
            return lvm_err_wrap(err, "block device %s", r->blocks[i].name);
    }
    return 0;
}

static void close_client_files(int image_fd, const int block_fds[])
{
    if (image_fd >= 0)
        close(image_fd);
    for (unsigned i = 0; i < GUEST_MAX_BLOCKS; i++)
        if (block_fds[i] >= 0)
            close(block_fds[i]);
}

int vm_create(struct daemon *d, const struct request *r, const struct creds *cr,
              int console_fd, struct vm **out, const char **code,
              struct lvm_err *err)
{
    int image_fd, block_fds[GUEST_MAX_BLOCKS];
    if (open_client_files(r, cr, &image_fd, block_fds, err) < 0) {
        close_client_files(image_fd, block_fds);
        *code = "invalid";
        return -1;
    }
    int rc = vm_create_files(d, r, cr, image_fd, block_fds, console_fd, out,
                             code, err);
    close_client_files(image_fd, block_fds);
    return rc;
}

/* Kill a shell or guest that will not be used, and remove all it had. */
static void discard_guest(struct daemon *d, struct guest *g)
{
    char id[GUEST_ID_LEN + 1];
    memcpy(id, g->id, sizeof id);
    if (g->sb.pid > 0) {
        guest_kill(g);
        siginfo_t si;
        waitid(P_PIDFD, (id_t)g->sb.pidfd, &si, WEXITED);
    }
    guest_free(g);
    rundir_remove(d, id);
}

static void limits_of(const struct request *r, uint64_t mem_limit,
                      struct cgroup_limits *lim)
{
    memset(lim, 0, sizeof *lim);
    lim->memory_max = mem_limit;
    guest_cpu_limits(r->cpus, lim);
}

/* A shell for (r): from the pool, with the request's limits applied, or
 * prepared now. */
static struct guest *get_shell(struct daemon *d, const struct request *r,
                               const struct monitor_ops *mon, uint64_t ram,
                               uint64_t mem_limit, struct netdev_tap *tap,
                               int *pooled, struct lvm_err *err)
{
    /* A guest with NICs on the default bridge takes a shell that comes
     * with its tap; others a plain one. */
    tap->fd = -1;
    struct guest *g =
        !r->net.enabled || (mon->kind == LVM_MONITOR_PROC && vm_net_poolable(r))
            ? pool_take(d, ram, r->net.enabled, mon->kind, tap)
            : NULL;
    *pooled = g != NULL;
    if (g) {
        if (r->cpus > 0 || mem_limit != g->memory_limit) {
            struct cgroup_limits lim;
            limits_of(r, mem_limit, &lim);
            if (cgroup_set_limits(&g->cg, &lim, g->sb.pid, err) < 0) {
                discard_guest(d, g);
                return NULL;
            }
            g->cpus = r->cpus;
            g->memory_limit = mem_limit;
        }
        return g;
    }
    char id[GUEST_ID_LEN + 1], devpage[PATH_MAX];
    guest_new_id(id);
    if (rundir_make(d, id, err) < 0)
        return NULL;
    rundir_path(d, id, "devpage", devpage, sizeof devpage);
    struct guest_class c = {.ram_size = ram,
                            .memory_limit = mem_limit,
                            .cpus = r->cpus,
                            .monitor = mon->kind,
                            .devpage_path = devpage,
                            .id = id};
    if (guest_prepare(&d->host, &c, &g, err) < 0) {
        rundir_remove(d, id);
        return NULL;
    }
    rundir_write_shell(d, g); /* so a crash now leaves nothing behind */
    return g;
}

/* The execute phase proper: console, spec, plan, go. */
static int launch_in(struct daemon *d, struct vm *v, struct guest *g,
                     const struct request *r, struct cached_image *ci,
                     const struct monitor_ops *mon, const int block_fds[],
                     int console_fd, uint64_t console_limit,
                     const struct guest_net_spec *net, struct netdev_tap *tap,
                     struct lvm_err *err)
{
    int console = console_fd;
    if (console < 0) {
        char path[PATH_MAX];
        rundir_path(d, v->id, "console.log", path, sizeof path);
        console = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
        if (console < 0)
            return lvm_err_set(err, errno, "create %s", path);
        /* The API group may read its guests' consoles. */
        if (d->api_gid != (gid_t)-1 && fchown(console, 0, d->api_gid) < 0) {
            close(console);
            return lvm_err_set(err, errno, "give %s to the API group", path);
        }
    }
    char *argv[REQUEST_MAX_ARGS + 1];
    argv[0] = r->argv0[0] ? (char *)r->argv0 : v->image;
    for (int i = 0; i < r->argc; i++)
        argv[i + 1] = r->argv[i];
    struct guest_spec spec = {
        .name = v->name,
        .ram_size = g->ram_size,
        .memory_limit = g->memory_limit,
        .cpus = r->cpus,
        .argc = r->argc + 1,
        .argv = argv,
        .envc = r->envc,
        .envp = (char *const *)r->envp,
        .console_fd = console,
        .console_limit = console_limit,
        .nblocks = r->nblocks,
        .monitor = mon->kind,
        .net = *net,
    };
    if (tap->fd >= 0) { /* the pool's: dev_net_attach takes it */
        spec.net.taps = tap;
        spec.net.ntaps = 1;
    }
    memcpy(spec.blocks, r->blocks, sizeof r->blocks);
    for (unsigned i = 0; i < r->nblocks; i++)
        spec.blocks[i].fd = block_fds[i];
    g->dev.dp->watchdog_ms = r->watchdog_ms;
    int rc = guest_launch(&d->host, g, ci->img, &spec, err);
    if (console_fd < 0)
        close(console);
    return rc;
}

static int vm_create_files(struct daemon *d, const struct request *r,
                           const struct creds *cr, int image_fd,
                           const int block_fds[], int console_fd,
                           struct vm **out, const char **code,
                           struct lvm_err *err)
{
    uint64_t t0 = host_now_ns();
    const struct monitor_ops *mon =
        monitor_find(r->monitor[0] ? r->monitor : "proc", &d->host);
    if (!mon) {
        *code = "invalid";
        return lvm_err_set(err, 0, "unknown monitor '%s' (available: %s, auto)",
                           r->monitor, monitor_names());
    }
    int ambiguous;
    if (r->name[0] && vm_find(d, r->name, &ambiguous)) {
        *code = "exists";
        return lvm_err_set(err, EEXIST, "a guest named '%s' exists", r->name);
    }
    struct cached_image *ci = images_get(d, r->image, image_fd, err);
    if (!ci) {
        *code = "invalid";
        return -1;
    }
    uint64_t ram = r->mem ? r->mem : guest_ram_range(mon->kind, 0).def;
    /* A console log lives in the run directory (a tmpfs, /run, on most
     * hosts): its default size is small, and it counts towards the
     * guest's memory, whose page cache it is. */
    uint64_t console_limit =
        guest_console_limit(r->console_limit, console_fd < 0);
    struct guest_mem_need need = {
        .mon = mon->kind,
        .ram = ram,
        .console_file = console_fd < 0 || guest_console_is_file(console_fd),
        .console_limit = console_limit};
    uint64_t mem_limit =
        r->mem_limit ? r->mem_limit : guest_memory_limit(&need);
    struct guest_net_spec net;
    if (vm_net_spec(d, r, &net, err) < 0) {
        images_put(d, ci);
        *code =
            err->code == EEXIST || err->code == ENOSPC ? "invalid" : "failed";
        return lvm_err_wrap(err, "network");
    }
    struct vm *v = calloc(1, sizeof *v);
    if (!v) {
        images_put(d, ci);
        return lvm_err_set(err, ENOMEM, "allocate a guest");
    }
    v->img = ci;
    v->image = strdup(r->image);
    snprintf(v->monitor, sizeof v->monitor, "%s", mon->name);

    /* Execute phase in a prepared shell; else prepare one now. A pooled
     * shell found dead at launch (killed from outside) costs a retry. */
    struct guest *g = NULL;
    uint64_t t_take = 0;
    for (int attempt = 0;; attempt++) {
        int pooled;
        struct netdev_tap tap;
        g = get_shell(d, r, mon, ram, mem_limit, &tap, &pooled, err);
        if (!g)
            goto fail;
        v->g = g;
        v->pooled = pooled;
        t_take = host_now_ns();
        memcpy(v->id, g->id, sizeof v->id);
        if (r->name[0])
            snprintf(v->name, sizeof v->name, "%s", r->name);
        else
            snprintf(v->name, sizeof v->name, "%.48s-%.6s", ci->img->name,
                     v->id);
        int rc = launch_in(d, v, g, r, ci, mon, block_fds, console_fd,
                           console_limit, &net, &tap, err);
        if (tap.fd >= 0) /* not used: closing its only fd removes it */
            close(tap.fd);
        if (rc == 0)
            break;
        int shell_died = err->code == EPIPE || err->code == ECONNRESET;
        discard_guest(d, g);
        v->g = g = NULL;
        if (r->net.enabled && err->code == ENODEV)
            vm_net_forget_bridge(d, r->net.bridge); /* deleted under us? */
        if (!(pooled && shell_died && attempt < 3)) {
            *code = err->code == ENODEV || err->code == ENOMEM ||
                            err->code == E2BIG || err->code == EINVAL
                        ? "invalid"
                        : "failed";
            goto fail;
        }
    }
    guest_shed_fds(g);
    v->pid = g->sb.pid;
    v->owner = cr->uid;
    v->mem = g->ram_size;
    v->mem_limit = g->memory_limit;
    v->cpus = g->cpus;
    v->watchdog_ms = r->watchdog_ms;
    v->created = daemon_unix_time();
    v->state = VM_RUNNING;
    v->create_ms = (host_now_ns() - t0) / 1e6;
    /* Recorded before the reply: a guest reported created survives a
     * daemon crash, and one that is not has no config.json. */
    if (rundir_write_config(d, v, err) < 0) {
        guest_kill(g);
        goto fail_guest;
    }
    v->ep = (struct ep_item){EP_PIDFD, v};
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &v->ep};
    if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, g->sb.pidfd, &ev) < 0) {
        lvm_err_set(err, errno, "watch the guest");
        guest_kill(g);
        goto fail_guest;
    }
    vm_insert(d, v);
    d->created++;
    if (getenv("LIGHTVM_TIMING")) {
        uint64_t t1 = host_now_ns();
        daemon_log("create %s: %.0f us: take %.0f, devices %.0f, plan %.0f, "
                   "launch %.0f, record %.0f",
                   v->id, (t1 - t0) / 1e3, (t_take - t0) / 1e3,
                   (g->t_devices - t_take) / 1e3,
                   (g->t_plan - g->t_devices) / 1e3,
                   (g->t_launch - g->t_plan) / 1e3, (t1 - g->t_launch) / 1e3);
    }
    *out = v;
    return 0;
fail_guest:
    discard_guest(d, g);
fail:
    vm_free(d, v);
    return -1;
}

/* The guest has exited (its pidfd is readable): account for it, release
 * its resources, keep its record until it is destroyed. */
static void finish_destroy(struct daemon *d, struct vm *v);

static void finish_exit(struct daemon *d, struct vm *v)
{
    int killed_by_us = v->killed_by;
    struct guest *g = v->g;
    if (!g)
        return;
    /* The newest kill record for this pid since the guest started (an
     * older one is another process that had the pid). */
    unsigned n = d->nkills < 1024 ? d->nkills : 1024;
    for (unsigned k = 0; k < n; k++) {
        unsigned i = (d->nkills - 1 - k) % 1024;
        if (d->kills[i].pid == g->sb.pid && d->kills[i].at >= g->started_ns) {
            g->killed_syscall = d->kills[i].nr;
            break;
        }
    }
    struct lvm_err err;
    int rr = guest_reap(g, -1, 0, &v->exit, &err);
    if (rr < 0) {
        v->exit.kind = GUEST_UNKNOWN;
        snprintf(v->exit.detail, sizeof v->exit.detail, "%s", err.msg);
    }
    if (rr == 1 && !killed_by_us) {
        /* Adopted and not yet reaped by its new parent: ask again on
         * the next ticks (its pidfd stays readable, so stop polling it). */
        if (!v->reap_pending) {
            v->reap_pending = 1;
            v->reap_deadline = host_now_ns() + 2000000000ull;
            epoll_ctl(d->epfd, EPOLL_CTL_DEL, g->sb.pidfd, NULL);
        }
        if (host_now_ns() < v->reap_deadline)
            return;
    }
    v->reap_pending = 0;
    if (killed_by_us == KILLED_BY_WATCHDOG) {
        v->exit.kind = GUEST_WATCHDOG;
        snprintf(v->exit.detail, sizeof v->exit.detail, "no ping for %u ms",
                 v->watchdog_ms);
    }
    if (v->exit.kind == GUEST_POLICY && v->exit.syscall == -1) {
        /* The audit record may still be on its way. */
        v->audit_pending = 1;
        v->audit_deadline = host_now_ns() + 1000000000ull;
    }
    epoll_ctl(d->epfd, EPOLL_CTL_DEL, g->sb.pidfd, NULL);
    guest_free(g); /* removes its cgroup, unmaps its pages */
    v->g = NULL;
    vm_ended(d, v);
}

void vm_ended(struct daemon *d, struct vm *v)
{
    v->state = VM_EXITED;
    rundir_write_exit(d, v);
    if (v->destroyers || v->killed_by == KILLED_BY_DESTROY)
        finish_destroy(d, v);
    else if (!v->audit_pending)
        notify_waiters(d, v);
}

void vm_exited(struct daemon *d, struct vm *v)
{
    if (v->dead)
        return;
    if (v->q)
        vm_qemu_exited(d, v);
    else
        finish_exit(d, v);
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
    if (vm_live(v) && !v->killed_by) {
        struct lvm_err ignore;
        /* frozen tasks ignore SIGKILL (v1); QMP-stopped QEMU does not */
        if (v->g && v->state == VM_PAUSED)
            cgroup_freeze(&v->g->cg, 0, &ignore);
        if ((v->g ? guest_kill(v->g) : vm_qemu_kill(v)) < 0 && errno != ESRCH) {
            char buf[LVM_ERR_MSG_MAX + 64];
            snprintf(buf, sizeof buf, "kill guest %s: %s", v->id,
                     strerror(errno));
            server_reply(d, c, api_error(r, "failed", buf));
            return;
        }
        v->killed_by = KILLED_BY_DESTROY;
    }
    if (vm_live(v) && !v->destroyers)
        v->kill_deadline = host_now_ns() + 10000000000ull;
    struct waiter *w = vm_waiter_new(d, c, r);
    if (!w)
        return;
    w->next = v->destroyers;
    v->destroyers = w;
    if (!vm_live(v)) /* already exited */
        finish_destroy(d, v);
}

int vm_pause(struct daemon *d, struct vm *v, int pause, struct lvm_err *err)
{
    (void)d;
    if (!v->g || v->state == VM_EXITED)
        return lvm_err_set(err, EINVAL, "guest %s has exited", v->id);
    if (v->killed_by) /* freezing it now would keep it from dying */
        return lvm_err_set(err, EBUSY, "guest %s is being killed", v->id);
    if (cgroup_freeze(&v->g->cg, pause, err) < 0)
        return -1;
    v->state = pause ? VM_PAUSED : VM_RUNNING;
    if (!pause) /* it could not ping while frozen */
        v->watchdog_floor_ns = host_now_ns();
    return 0;
}

int vm_control(struct daemon *d, struct vm *v, uint32_t request,
               struct lvm_err *err)
{
    if (v->q)
        return vm_qemu_control(d, v, request, err);
    if (!v->g || v->state == VM_EXITED)
        return lvm_err_set(err, EINVAL, "guest %s has exited", v->id);
    if (v->killed_by) /* freezing it now would keep it from dying */
        return lvm_err_set(err, EBUSY, "guest %s is being killed", v->id);
    if (request == LVM_CTRL_RESUME) /* its state may have been restored */
        v->watchdog_floor_ns = host_now_ns();
    return guest_control(v->g, request, err);
}

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
            notify_waiters(d, v);
        }
    }
}

/* A guest that outlives SIGKILL for long (uninterruptible sleep in a
 * broken driver or filesystem) is not waited for by its destroyers; it
 * is still removed when it finally dies. */
static void give_up_destroy(struct daemon *d, struct vm *v)
{
    while (v->destroyers) {
        struct waiter *w = v->destroyers;
        v->destroyers = w->next;
        if (!w->c->dead) {
            char msg[128];
            snprintf(msg, sizeof msg,
                     "guest %s is still dying 10 s after SIGKILL; it will be "
                     "removed when it does",
                     v->id);
            struct request r = {.tag = w->tag, .has_tag = w->has_tag};
            server_reply(d, w->c, api_error(&r, "busy", msg));
        }
        w->c->waits--;
        server_client_put(d, w->c);
        free(w);
    }
}

void vm_tick(struct daemon *d)
{
    uint64_t now = host_now_ns();
    if (++d->ticks % 10 == 0)
        pool_check(d);
    for (size_t i = 0; i < d->nvms; i++) {
        struct vm *v = d->vms[i];
        if (v->destroyers && vm_live(v) && now > v->kill_deadline)
            give_up_destroy(d, v);
    }
    /* Backwards: a qemu guest that failed to start is forgotten, and the
     * last guest moves into slot i. */
    for (size_t i = d->nvms; i-- > 0;)
        if (d->vms[i]->q)
            vm_qemu_tick(d, d->vms[i], now);
    /* Backwards: finishing a destroy moves the last guest into slot i. */
    for (size_t i = d->nvms; i-- > 0;) {
        struct vm *v = d->vms[i];
        if (v->reap_pending)
            finish_exit(d, v);
        else if (v->audit_pending && now > v->audit_deadline) {
            v->audit_pending = 0;
            notify_waiters(d, v);
        }
    }
    /* Watchdogs: the SDK pings at every yield. */
    for (struct vm *v = d->watched; v;) {
        struct vm *next = v->watch_next;
        if (v->g && v->state == VM_RUNNING && !v->killed_by) {
            uint64_t last = v->g->dev.st->watchdog_ns;
            if (last < v->g->started_ns)
                last = v->g->started_ns;
            if (last < v->watchdog_floor_ns)
                last = v->watchdog_floor_ns;
            if (now > last + (uint64_t)v->watchdog_ms * 1000000ull) {
                daemon_log("guest %s (%s): watchdog expired, killing it", v->id,
                           v->name);
                guest_kill(v->g); /* finished when its pidfd says so */
                v->killed_by = KILLED_BY_WATCHDOG;
            }
        }
        v = next;
    }
}

int vm_adopt(struct daemon *d, struct vm *v, struct lvm_err *err)
{
    struct guest *g = calloc(1, sizeof *g);
    if (!g)
        return lvm_err_set(err, ENOMEM, "allocate a guest");
    g->control_fd = -1;
    g->dev.fd = -1;
    g->sb.sock = -1;
    g->killed_syscall = -1;
    memcpy(g->id, v->id, sizeof g->id);
    snprintf(g->name, sizeof g->name, "%s", v->name);
    g->sb.pid = v->pid;
    g->ram_size = v->mem;
    g->memory_limit = v->mem_limit;
    g->cpus = v->cpus;
    g->started_ns = host_now_ns();
    g->sb.pidfd = (int)syscall(SYS_pidfd_open, v->pid, 0);
    if (g->sb.pidfd < 0) {
        free(g);
        return lvm_err_set(err, errno, "pidfd_open %d", (int)v->pid);
    }
    char path[PATH_MAX];
    rundir_path(d, v->id, "devpage", path, sizeof path);
    if (devpage_open(&g->dev, path, err) < 0) {
        close(g->sb.pidfd);
        free(g);
        return -1;
    }
    guest_shed_fds(g);
    cgroup_open(&g->cg, v->id);
    g->have_cg = cgroup_exists(&g->cg);
    struct cgroup_stats cs;
    struct lvm_err ignore;
    if (g->have_cg && cgroup_stats(&g->cg, &cs, &ignore) == 0 && cs.frozen)
        v->state = VM_PAUSED;
    v->g = g;
    v->adopted = 1;
    v->ep = (struct ep_item){EP_PIDFD, v};
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &v->ep};
    if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, g->sb.pidfd, &ev) < 0) {
        guest_free(g);
        v->g = NULL;
        return lvm_err_set(err, errno, "watch guest %s", v->id);
    }
    return 0;
}
