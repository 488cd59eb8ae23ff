/*
 * vm_shell.c: the lifecycle of proc and kvm guests in lightvmd. Both run
 * in a lightvm-shell (toolstack/guest.c): a prepared shell (from the pool
 * when one is ready) takes the launch plan the toolstack's monitor_ops
 * builds, so the two monitors differ only in their plan and share every
 * step here: create, exit accounting, pause (the cgroup freezer), the
 * control device, the watchdog, adoption after a daemon restart.
 */
#include "daemon/quota.h"
#include "daemon/vm_shell.h"
#include "toolstack/guest_policy.h"
#include "toolstack/monitor.h"
#include "toolstack/snapfile.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- create --------------------------------------------------------------- */

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
    struct guest *g = !r->net.enabled || vm_net_poolable(r)
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
                     const struct request *r, const struct creds *cr,
                     const struct image *img, const struct monitor_ops *mon,
                     const int block_fds[], int console_fd,
                     uint64_t console_limit, const struct guest_net_spec *net,
                     struct netdev_tap *tap, struct lvm_err *err)
{
    int console = console_fd;
    /* Its creator's alone to read (and root's): `lightvm console` reads
     * it as the caller. */
    if (console < 0 &&
        (console = rundir_create_owned(d, v->id, "console.log", cr, err)) < 0)
        return -1;
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
        .resume = r->resume,
    };
    if (tap->fd >= 0) { /* the pool's: dev_net_attach takes it */
        spec.net.taps = tap;
        spec.net.ntaps = 1;
    }
    memcpy(spec.blocks, r->blocks, sizeof r->blocks);
    for (unsigned i = 0; i < r->nblocks; i++)
        spec.blocks[i].fd = block_fds[i];
    g->dev.dp->watchdog_ms = r->watchdog_ms;
    int rc = guest_launch(&d->host, g, img, &spec, err);
    if (console_fd < 0)
        close(console);
    return rc;
}

/* The image's name as this request calls it (a template shared by
 * several paths keeps the first one's): its file name without ".elf". */
static void image_stem(const char *path, char out[64])
{
    const char *base = strrchr(path, '/');
    snprintf(out, 64, "%s", base ? base + 1 : path);
    char *dot = strrchr(out, '.');
    if (dot && !strcmp(dot, ".elf"))
        *dot = 0;
}

static void svm_release(struct daemon *d, struct vm *v)
{
    struct svm *s = svm(v);
    if (!s)
        return;
    if (s->snap)
        shell_snap_cancel(d, v, "the guest is gone");
    if (s->img)
        images_put(d, s->img, v->owner);
    json_decref(s->recipe);
    json_decref(s->image_key);
    snap_base_put(s->base);
    free(s);
    v->priv = NULL;
}

/* A restored guest needs the very image it was saved from. */
int shell_same_image(struct cached_image *ci, const struct snap_info *in,
                     const char *path, struct lvm_err *err)
{
    if (images_hash(ci, err) < 0)
        return -1;
    if (!memcmp(ci->hash, in->image_hash, SNAP_HASH_LEN) &&
        (uint64_t)ci->size == in->image_size)
        return 0;
    char want[65], have[65];
    snap_hash_hex(in->image_hash, want);
    snap_hash_hex(ci->hash, have);
    return lvm_err_set(err, 0,
                       "the state was saved from another image: it needs "
                       "%s (sha256 %.16s..., %llu bytes), %s is sha256 "
                       "%.16s... (%llu bytes)",
                       in->image_name, want, (unsigned long long)in->image_size,
                       path, have, (unsigned long long)ci->size);
}

/* Start the guest (v) describes in a shell; (code) says what kind of
 * failure it was. */
static int start(struct daemon *d, struct vm *v, const struct request *r,
                 const struct creds *cr, const struct monitor_ops *mon,
                 int image_fd, const int block_fds[], int console_fd,
                 const char **code, struct lvm_err *err)
{
    uint64_t t0 = host_now_ns();
    struct svm *s = svm(v);
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
    /* The owner's quotas before anything is made; given back by the
     * caller if the create fails. */
    uint64_t qneed[QUOTA_KINDS];
    quota_need(ram, mem_limit, r->cpus, console_fd < 0 ? console_limit : 0, 0,
               qneed);
    if (quota_charge(d, cr, v, qneed, err) < 0) {
        *code = "quota";
        err->code = 0; /* the message says it all */
        return -1;
    }
    s->img = images_get(d, r->image, image_fd, cr, err);
    if (!s->img) {
        *code = err->code == EDQUOT ? "quota" : "invalid";
        if (err->code == EDQUOT)
            err->code = 0;
        return -1;
    }
    if (r->state && shell_same_image(s->img, r->state, r->image, err) < 0) {
        *code = "invalid";
        return -1;
    }
    struct guest_net_spec net;
    if (vm_net_spec(d, r, &net, err) < 0) {
        *code =
            err->code == EEXIST || err->code == ENOSPC ? "invalid" : "failed";
        return lvm_err_wrap(err, "network");
    }
    /* Execute phase in a prepared shell; else prepare one now. A pooled
     * shell found dead at launch (killed from outside) costs a retry. */
    struct guest *g = NULL;
    uint64_t t_take = 0;
    for (int attempt = 0;; attempt++) {
        int pooled;
        struct netdev_tap tap;
        g = get_shell(d, r, mon, ram, mem_limit, &tap, &pooled, err);
        if (!g)
            return -1;
        v->pooled = pooled;
        t_take = host_now_ns();
        memcpy(v->id, g->id, sizeof v->id);
        char stem[64];
        image_stem(r->image, stem);
        vm_default_name(v, r, stem);
        int rc = rundir_give(d, v->id, cr, err);
        if (rc == 0)
            rc = launch_in(d, v, g, r, cr, s->img->img, mon, block_fds,
                           console_fd, console_limit, &net, &tap, err);
        if (tap.fd >= 0) /* not used: closing its only fd removes it */
            close(tap.fd);
        if (rc == 0)
            break;
        int shell_died = err->code == EPIPE || err->code == ECONNRESET;
        discard_guest(d, g);
        if (r->net.enabled && err->code == ENODEV)
            vm_net_forget_bridge(d, r->net.bridge); /* deleted under us? */
        if (!(pooled && shell_died && attempt < 3)) {
            *code = err->code == ENODEV || err->code == ENOMEM ||
                            err->code == E2BIG || err->code == EINVAL
                        ? "invalid"
                        : "failed";
            return -1;
        }
    }
    guest_shed_fds(g);
    images_launched(s->img);
    s->g = g;
    v->pid = g->sb.pid;
    v->mem = g->ram_size;
    v->mem_limit = g->memory_limit;
    v->cpus = g->cpus;
    v->watchdog_ms = r->watchdog_ms;
    v->auto_remove = r->auto_remove;
    vm_restart_from_request(v, r);
    v->created = daemon_unix_time();
    v->state = VM_RUNNING;
    v->create_ms = (host_now_ns() - t0) / 1e6;
    *code = "failed";
    /* Recorded before the reply: a guest reported created survives a
     * daemon crash, and one that is not has no config.json. */
    if (rundir_write_config(d, v, err) < 0 ||
        vm_watch(d, v, g->sb.pidfd, &v->ep, EP_SLOT_PROCESS, err) < 0) {
        s->g = NULL;
        discard_guest(d, g);
        return -1;
    }
    if (getenv("LIGHTVM_TIMING")) {
        uint64_t t1 = host_now_ns();
        daemon_log("create %s: %.0f us: take %.0f, devices %.0f, plan %.0f, "
                   "launch %.0f, record %.0f",
                   v->id, (t1 - t0) / 1e3, (t_take - t0) / 1e3,
                   (g->t_devices - t_take) / 1e3,
                   (g->t_plan - g->t_devices) / 1e3,
                   (g->t_launch - g->t_plan) / 1e3, (t1 - g->t_launch) / 1e3);
    }
    return 0;
}

struct vm *shell_make(struct daemon *d, const struct creds *cr,
                      const struct request *r, int fd,
                      const struct vm_monitor *vmon, const char **code,
                      struct lvm_err *err)
{
    const struct monitor_ops *mon = monitor_find(vmon->name, NULL);
    int image_fd = -1, block_fds[GUEST_MAX_BLOCKS];
    for (unsigned i = 0; i < GUEST_MAX_BLOCKS; i++)
        block_fds[i] = -1;
    struct vm *v = NULL;
    *code = "invalid";
    if (r->op == OP_RESTORE && !r->resume) {
        lvm_err_set(err, 0,
                    "this state file is not a %s guest's (restore it "
                    "without --monitor)",
                    mon->name);
        return NULL;
    }
    if (!r->image[0]) {
        lvm_err_set(err, 0, "no image: field 'image' is required");
        return NULL;
    }
    if (r->nports) {
        lvm_err_set(err, 0,
                    "field 'ports' (-p/--publish) is for qemu guests; proc "
                    "and kvm guests get an address of their own with --net");
        return NULL;
    }
    if (r->nvolumes) {
        lvm_err_set(err, 0,
                    "field 'volumes' (-v/--volume) is for qemu guests; proc "
                    "and kvm guests take block devices ('block', --block)");
        return NULL;
    }
    if (r->console_fd && fd < 0) {
        *code = "bad_request";
        lvm_err_set(err, 0, "console \"fd\" needs an fd with the request");
        return NULL;
    }
    char taken[192];
    if (vm_name_taken(d, cr->uid, r->name, taken, sizeof taken)) {
        *code = "exists";
        lvm_err_set(err, 0, "%s", taken);
        return NULL;
    }
    if (open_client_files(r, cr, &image_fd, block_fds, err) < 0)
        goto fail;
    v = calloc(1, sizeof *v);
    struct svm *s = calloc(1, sizeof *s);
    if (!v || !s || !(v->image = strdup(r->image))) {
        free(s);
        lvm_err_set(err, ENOMEM, "allocate a guest");
        *code = "failed";
        goto fail;
    }
    v->mon = vmon;
    v->priv = s;
    s->recipe = json_incref(r->json);
    v->owner = cr->uid;
    v->owner_gid = cr->gid;
    snprintf(v->monitor, sizeof v->monitor, "%s", mon->name);
    if (start(d, v, r, cr, mon, image_fd, block_fds, r->console_fd ? fd : -1,
              code, err) < 0)
        goto fail;
    if (r->base) {
        s->base = r->base;
        r->base->refs++;
    }
    vm_insert(d, v);
    d->created++;
    close_client_files(image_fd, block_fds);
    return v;
fail:
    if (v) { /* a failed create: nothing of it stays, nor its charges */
        quota_release(d, v, QUOTA_ALL);
        svm_release(d, v);
        free(v->image);
        free(v);
    }
    close_client_files(image_fd, block_fds);
    return NULL;
}

static void shell_create(struct daemon *d, struct waiter *w,
                         const struct request *r, int fd,
                         const struct vm_monitor *vmon)
{
    struct lvm_err err;
    char buf[LVM_ERR_MSG_MAX + 64];
    const char *code;
    struct vm *v = shell_make(d, &w->c->cr, r, fd, vmon, &code, &err);
    if (fd >= 0)
        close(fd); /* the guest holds its own copy */
    if (!v) {
        vm_op_done(d, w, code, lvm_err_str(&err, buf, sizeof buf), NULL);
        return;
    }
    vm_op_done(d, w, NULL, NULL,
               json_pack("{s:o}", "guest", api_guest_json(d, v, 0)));
}

static void proc_create(struct daemon *d, struct waiter *w,
                        const struct request *r, int fd)
{
    shell_create(d, w, r, fd, &vm_monitor_proc);
}

static void kvm_create(struct daemon *d, struct waiter *w,
                       const struct request *r, int fd)
{
    shell_create(d, w, r, fd, &vm_monitor_kvm);
}

/* ---- exit ----------------------------------------------------------------- */

/* The guest has exited (its pidfd is readable): account for it, release
 * its resources, keep its record until it is destroyed. */
static void finish_exit(struct daemon *d, struct vm *v)
{
    struct svm *s = svm(v);
    struct guest *g = s->g;
    if (!g)
        return;
    long nr = vm_audit_lookup(d, g->sb.pid, g->started_ns);
    if (nr != -1)
        g->killed_syscall = nr;
    struct lvm_err err;
    int rr = guest_reap(g, -1, 0, &v->exit, &err);
    if (rr < 0) {
        v->exit.kind = GUEST_UNKNOWN;
        snprintf(v->exit.detail, sizeof v->exit.detail, "%s", err.msg);
    }
    if (rr == 1 && !v->killed_by) {
        /* Adopted and not yet reaped by its new parent: ask again on
         * the next ticks (its pidfd stays readable, so stop polling it). */
        if (!s->reap_pending) {
            s->reap_pending = 1;
            s->reap_deadline = host_now_ns() + 2000000000ull;
            epoll_ctl(d->epfd, EPOLL_CTL_DEL, g->sb.pidfd, NULL);
        }
        if (host_now_ns() < s->reap_deadline)
            return;
    }
    s->reap_pending = 0;
    if (v->killed_by == KILLED_BY_SAVE) { /* its state lives on in a file */
        v->exit.kind = GUEST_KILLED;
        snprintf(v->exit.detail, sizeof v->exit.detail,
                 "lightvm save (its state is in the file)");
    }
    if (v->killed_by == KILLED_BY_MIGRATE) {
        v->exit.kind = GUEST_KILLED;
        snprintf(v->exit.detail, sizeof v->exit.detail,
                 "lightvm migrate (it runs on the destination)");
    }
    /* An operation on it ends now, before its state goes (a migration's
     * thread reads its memory). */
    if (s->snap)
        shell_snap_cancel(d, v, "the guest exited");
    if (v->killed_by == KILLED_BY_WATCHDOG) {
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
    s->g = NULL;
    if (s->img) { /* no longer used by it: freed if no other guest does */
        images_put(d, s->img, v->owner);
        s->img = NULL;
    }
    vm_ended(d, v);
}

static void shell_event(struct daemon *d, struct vm *v, int slot)
{
    if (slot == SVM_SLOT_SNAP)
        shell_snap_event(d, v);
    else if (slot == SVM_SLOT_MIG)
        shell_mig_event(d, v);
    else
        finish_exit(d, v);
}

const struct vm *shell_mac_owner(struct daemon *d, const uint8_t mac[6])
{
    for (size_t i = 0; i < d->nvms; i++) {
        const struct vm *v = d->vms[i];
        if (v->mon != &vm_monitor_proc && v->mon != &vm_monitor_kvm)
            continue;
        const struct guest *g = guest_of(v);
        for (unsigned k = 0; g && g->net && k < g->net->n; k++)
            if (!memcmp(g->net->nic[k].mac, mac, 6))
                return v;
    }
    return NULL;
}

void snap_base_put(struct snap_base *b)
{
    if (b && --b->refs == 0) {
        close(b->fd);
        free(b);
    }
}

static int shell_live(const struct vm *v)
{
    return guest_of(v) != NULL;
}

static const struct cgroup *shell_cgroup(const struct vm *v)
{
    const struct guest *g = guest_of(v);
    return g && g->have_cg ? &g->cg : NULL;
}

static int shell_kill(struct daemon *d, struct vm *v)
{
    (void)d;
    struct guest *g = guest_of(v);
    if (!g) {
        errno = ESRCH;
        return -1;
    }
    struct lvm_err ignore;
    if (v->state == VM_PAUSED) /* frozen tasks ignore SIGKILL (v1) */
        cgroup_freeze(&g->cg, 0, &ignore);
    return guest_kill(g);
}

/* ---- operations ----------------------------------------------------------- */

static void shell_pause(struct daemon *d, struct vm *v, struct waiter *w,
                        int pause)
{
    struct lvm_err err;
    char buf[LVM_ERR_MSG_MAX + 64];
    struct guest *g = guest_of(v);
    if (svm(v)->migration == SVM_MIGRATION_IN) {
        char msg[160];
        snprintf(msg, sizeof msg,
                 "guest %s is coming in by migration: held until its source "
                 "commits",
                 v->id);
        vm_op_done(d, w, "busy", msg, NULL);
        return;
    }
    if (!g || cgroup_freeze(&g->cg, pause, &err) < 0) {
        if (!g)
            lvm_err_invalid(&err, "guest %s has exited", v->id);
        vm_op_done(d, w, "failed", lvm_err_str(&err, buf, sizeof buf), NULL);
        return;
    }
    v->state = pause ? VM_PAUSED : VM_RUNNING;
    if (!pause) /* it could not ping while frozen */
        v->watchdog_floor_ns = host_now_ns();
    if (!pause && !svm(v)->snap && g->dev.st->suspended) {
        /* Left parked (a migration in doubt, the user's call now) or
         * suspended: it runs again. */
        if (guest_control(g, LVM_CTRL_RESUME, &err) < 0) {
            vm_op_done(d, w, "failed", lvm_err_str(&err, buf, sizeof buf),
                       NULL);
            return;
        }
        if (svm(v)->migration) {
            svm(v)->migration = SVM_MIGRATION_NONE;
            rundir_update_config(d, v, &err);
        }
    }
    vm_op_done(d, w, NULL, NULL,
               json_pack("{s:s}", "state", pause ? "paused" : "running"));
}

static int shell_control(struct daemon *d, struct vm *v, uint32_t request,
                         struct lvm_err *err)
{
    (void)d;
    struct guest *g = guest_of(v);
    if (!g)
        return lvm_err_invalid(err, "guest %s has exited", v->id);
    /* A migration's held copy runs only on its source's commit. */
    if (svm(v)->migration == SVM_MIGRATION_IN && request != LVM_CTRL_POWEROFF)
        return lvm_err_set(err, EBUSY,
                           "guest %s is coming in by migration: held until "
                           "its source commits",
                           v->id);
    return guest_control(g, request, err);
}

/* Watchdogs (the SDK pings at every yield), and adopted guests waiting
 * to be reaped by their new parent. */
static void shell_tick(struct daemon *d, struct vm *v, uint64_t now)
{
    struct svm *s = svm(v);
    if (s->reap_pending) {
        finish_exit(d, v);
        return;
    }
    struct guest *g = s->g;
    if (!v->watchdog_ms || !g || v->state != VM_RUNNING || v->killed_by)
        return;
    uint64_t last = g->dev.st->watchdog_ns;
    if (last < g->started_ns)
        last = g->started_ns;
    if (last < v->watchdog_floor_ns)
        last = v->watchdog_floor_ns;
    if (now > last + (uint64_t)v->watchdog_ms * 1000000ull) {
        daemon_log("guest %s (%s): watchdog expired, killing it", v->id,
                   v->name);
        guest_kill(g); /* finished when its pidfd says so */
        v->killed_by = KILLED_BY_WATCHDOG;
    }
}

/* ---- records -------------------------------------------------------------- */

static void shell_describe(struct daemon *d, const struct vm *v, json_t *o,
                           int stats)
{
    const struct guest *g = guest_of(v);
    if (g && g->dev.st) {
        json_object_set_new(o, "suspended",
                            json_boolean(g->dev.st->suspended != 0));
        /* When it ran (again, if restored or cloned): 0 until then. */
        uint64_t first = g->dev.st->first_insn_ns;
        json_object_set_new(o, "first_insn_ns",
                            json_integer((json_int_t)first));
    }
    if (g && g->net && g->net->n)
        json_object_set_new(o, "net", vm_net_json(d, g->net, stats));
}

static json_t *image_key(dev_t dev, ino_t ino, off_t size, long long mtime);

static json_t *shell_record(const struct vm *v)
{
    const struct guest *g = guest_of(v);
    json_t *o = json_object();
    json_t *net = g ? vm_net_record(g->net) : NULL;
    if (net) /* so a restarted daemon can release them */
        json_object_set_new(o, "net", net);
    if (svm(v)->recipe) /* so that it can still be saved */
        json_object_set(o, "recipe", svm(v)->recipe);
    if (svm(v)->migration)
        json_object_set_new(
            o, "migration",
            json_string(svm(v)->migration == SVM_MIGRATION_OUT ? "out" : "in"));
    const struct cached_image *ci = svm(v)->img;
    if (ci)
        json_object_set_new(
            o, "image_key",
            image_key(ci->dev, ci->ino, ci->size, ci->mtime_ns));
    return o;
}

static json_t *image_key(dev_t dev, ino_t ino, off_t size, long long mtime)
{
    return json_pack("{s:I, s:I, s:I, s:I}", "dev", (json_int_t)dev, "ino",
                     (json_int_t)ino, "size", (json_int_t)size, "mtime_ns",
                     (json_int_t)mtime);
}

int shell_reload_image(struct daemon *d, struct vm *v, const struct creds *cr,
                       struct lvm_err *err)
{
    struct svm *s = svm(v);
    int fd = creds_open_data(cr, v->image, 0, err);
    if (fd < 0)
        return -1;
    struct stat st;
    json_t *now = NULL;
    if (fstat(fd, &st) == 0)
        now = image_key(st.st_dev, st.st_ino, st.st_size,
                        (long long)st.st_mtim.tv_sec * 1000000000ll +
                            st.st_mtim.tv_nsec);
    int same = now && s->image_key && json_equal(now, s->image_key);
    json_decref(now);
    if (!same) {
        close(fd);
        return lvm_err_set(err, 0,
                           "%s is no longer the file guest %s was created "
                           "from",
                           v->image, v->id);
    }
    struct creds owner = {.uid = v->owner, .gid = v->owner_gid};
    s->img = images_get(d, v->image, fd, &owner, err);
    close(fd);
    return s->img ? 0 : -1;
}

/* Take the running guest of (v)'s record back. */
static int adopt(struct daemon *d, struct vm *v, struct lvm_err *err)
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
    g->monitor = monitor_find(v->mon->name, NULL)->kind;
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
    svm(v)->g = g;
    v->adopted = 1;
    if (vm_watch(d, v, g->sb.pidfd, &v->ep, EP_SLOT_PROCESS, err) < 0) {
        guest_free(g);
        svm(v)->g = NULL;
        return -1;
    }
    return 0;
}

/* The daemon died while (v) was parked for a save or a clone: nothing
 * will take its snapshot now, so it goes on. (A save whose file was
 * complete leaves the guest running too, as --leave-running would.) */
static void resume_interrupted_snapshot(struct vm *v)
{
    struct guest *g = guest_of(v);
    struct lvm_err err;
    if (!g || !g->dev.st || g->dev.st->suspended != LVM_SUSPENDED_SNAPSHOT)
        return;
    if (v->state == VM_PAUSED) /* thawed for the snapshot, frozen again */
        cgroup_freeze(&g->cg, 0, &err);
    if (guest_control(g, LVM_CTRL_RESUME, &err) < 0)
        daemon_log("guest %s: cannot resume it after an interrupted "
                   "snapshot: %s",
                   v->id, err.msg);
    else
        daemon_log("guest %s: resumed after an interrupted snapshot", v->id);
}

/* A migration the daemon died in the middle of: the destination's held
 * copy goes (the source still has the guest, or the user decides); the
 * source's committing copy stays parked, shown as paused, for the user
 * to destroy or unpause (the destination may run it). Any other guest
 * parked for a snapshot goes on. */
static void recover_migration(struct vm *v, const char *migration)
{
    struct guest *g = guest_of(v);
    if (migration && !strcmp(migration, "in")) {
        daemon_log("guest %s: its migration into this daemon did not "
                   "commit: removed",
                   v->id);
        guest_kill(g);
        v->killed_by = KILLED_BY_DESTROY;
        return;
    }
    if (migration && !strcmp(migration, "out") && g->dev.st &&
        g->dev.st->suspended == LVM_SUSPENDED_SNAPSHOT) {
        svm(v)->migration = SVM_MIGRATION_OUT;
        v->state = VM_PAUSED;
        daemon_log("guest %s: the daemon stopped while migrating it out; it "
                   "stays stopped (shown as paused): destroy it if the "
                   "destination runs it, else unpause it",
                   v->id);
        return;
    }
    resume_interrupted_snapshot(v);
}

static void shell_recover(struct daemon *d, struct vm *v, json_t *cfg,
                          int alive)
{
    struct svm *s = calloc(1, sizeof *s);
    if (!s) {
        daemon_log("guest %s: out of memory", v->id);
        abort(); /* cannot track a running guest: nothing sane to do */
    }
    v->priv = s;
    s->recipe = json_incref(json_object_get(cfg, "recipe"));
    s->image_key = json_incref(json_object_get(cfg, "image_key"));
    json_t *net = json_object_get(cfg, "net");
    struct lvm_err err;
    if (v->state == VM_EXITED)
        return; /* recorded already */
    if (alive) {
        v->state = VM_RUNNING;
        if (adopt(d, v, &err) < 0) {
            daemon_log("guest %s: cannot adopt it: %s", v->id, err.msg);
            v->state = VM_EXITED;
            v->exit.kind = GUEST_UNKNOWN;
            snprintf(v->exit.detail, sizeof v->exit.detail, "%s", err.msg);
        } else {
            if (net)
                s->g->net = vm_net_adopt(d, net); /* released when it goes */
            recover_migration(
                v, json_string_value(json_object_get(cfg, "migration")));
        }
        return;
    }
    /* It ended while no daemon was watching. */
    v->state = VM_EXITED;
    v->exit.kind = GUEST_UNKNOWN;
    v->exit.code = 255;
    v->exit.syscall = -1;
    snprintf(v->exit.detail, sizeof v->exit.detail,
             "exited while lightvmd was not running");
    struct cgroup cg;
    cgroup_open(&cg, v->id);
    cgroup_destroy(&cg, &err);
    struct guest_net *gn = net ? vm_net_adopt(d, net) : NULL;
    nic_release(gn, v->id); /* its lease and filter entry outlived it */
    free(gn);
    rundir_write_exit(d, v);
}

#define SHELL_MONITOR(NAME, CREATE)                                            \
    {                                                                          \
        .name = NAME, .state_kind = SNAP_KIND_UNIKERNEL, .create = CREATE,     \
        .live = shell_live, .cgroup = shell_cgroup, .event = shell_event,      \
        .pause = shell_pause, .control = shell_control, .kill = shell_kill,    \
        .save = shell_save, .clone = shell_clone, .migrate = shell_migrate,    \
        .tick = shell_tick, .describe = shell_describe,                        \
        .record = shell_record, .recover = shell_recover,                      \
        .release = svm_release,                                                \
    }

const struct vm_monitor vm_monitor_proc = SHELL_MONITOR("proc", proc_create);
const struct vm_monitor vm_monitor_kvm = SHELL_MONITOR("kvm", kvm_create);
