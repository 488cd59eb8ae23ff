/*
 * cmd_more.c: checkpoint (a guest's snapshot, docs/snapshots.md, taken by
 * the runtime itself) and update (the cgroup's limits); exec is in
 * cmd_exec.c.
 */
#include "oci/args.h"
#include "oci/bundle.h"
#include "oci/delegate.h"
#include "oci/oci.h"
#include "oci/state.h"
#include "toolstack/cgroup.h"
#include "toolstack/guest.h"
#include "toolstack/monitor.h"
#include "toolstack/snapfile.h"
#include "toolstack/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PARK_TIMEOUT_MS 5000

static int load(struct oci_state *st, const char *id)
{
    char err[512];
    oci_delegate_if_ours(id);
    if (oci_state_load(st, oci_g.root, id, err, sizeof err) < 0) {
        oci_error("%s", err);
        oci_state_free(st);
        return -1;
    }
    return 0;
}

/* The running guest as the toolstack sees it: its device pages (from the
 * state directory), pidfd, pid, RAM and monitor. */
static int guest_view(const struct oci_state *st, struct guest *g,
                      struct lvm_err *e)
{
    memset(g, 0, sizeof *g);
    g->control_fd = -1;
    g->dev.fd = -1;
    g->sb.sock = -1;
    g->sb.pid = st->pid;
    g->ram_size = st->ram_size;
    snprintf(g->id, sizeof g->id, "%.16s", st->id);
    const struct monitor_ops *m =
        strcmp(st->monitor, "kvm") == 0 ? &monitor_kvm : &monitor_proc;
    g->monitor = m->kind;
    char path[PATH_MAX + 16];
    oci_state_file(st, "devpage", path, sizeof path);
    if (devpage_open(&g->dev, path, e) < 0)
        return -1;
    g->sb.pidfd = (int)syscall(SYS_pidfd_open, st->pid, 0);
    if (g->sb.pidfd < 0 || oci_pid_start(st->pid, NULL) != st->pid_start) {
        devpage_destroy(&g->dev);
        return lvm_err_set(e, ESRCH, "container not running");
    }
    return 0;
}

static void guest_view_free(struct guest *g)
{
    if (g->sb.pidfd >= 0)
        close(g->sb.pidfd);
    devpage_destroy(&g->dev);
}

/* The image the guest runs, read again from the rootfs (its hash names
 * it in the state file). */
static int load_image(const struct oci_state *st, struct image **img, int *file,
                      struct lvm_err *e)
{
    int root = open(st->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        return lvm_err_set(e, errno, "rootfs %s", st->rootfs);
    int fd = oci_open_in_root(root, st->program);
    close(root);
    if (fd < 0)
        return lvm_err_set(e, errno, "%s in the rootfs", st->program);
    int r = image_load_fd(fd, st->program, img, e);
    if (r < 0)
        close(fd);
    else
        *file = fd;
    return r;
}

static int sink_writer(void *arg, uint64_t first, uint64_t count,
                       const void *data, struct lvm_err *err)
{
    return snap_write_pages(arg, first, count, data, err);
}

/* Ask the guest to park and wait until it has (or the time is up). */
static int park(struct guest *g, struct lvm_err *e)
{
    if (guest_control(g, LVM_CTRL_SNAPSHOT, e) < 0)
        return -1;
    for (int waited = 0; !snapshot_parked(g); waited++) {
        struct pollfd p = {g->sb.pidfd, POLLIN, 0};
        if (poll(&p, 1, 1) > 0)
            return lvm_err_set(e, ESRCH, "the guest ended before it parked");
        if (waited >= PARK_TIMEOUT_MS)
            return lvm_err_set(e, ETIMEDOUT,
                               "the guest did not park for a checkpoint "
                               "within %d s (it never yields)",
                               PARK_TIMEOUT_MS / 1000);
    }
    return 0;
}

static int write_checkpoint(const struct oci_state *st, struct guest *g,
                            const struct image *img, int file, const char *dir,
                            struct lvm_err *e)
{
    struct snap_info info;
    memset(&info, 0, sizeof info);
    info.version = SNAP_VERSION;
    info.kind = SNAP_KIND_UNIKERNEL;
    snprintf(info.monitor, sizeof info.monitor, "%s", st->monitor);
    info.ram_size = g->ram_size;
    if (snap_hash_file(file, info.image_hash, &info.image_size, e) < 0)
        return -1;
    snprintf(info.image_name, sizeof info.image_name, "%s", img->name);
    snprintf(info.guest_name, sizeof info.guest_name, "%.63s", st->id);
    snprintf(info.guest_id, sizeof info.guest_id, "%.39s", st->id);
    memcpy(&info.status, (const void *)g->dev.st, sizeof info.status);
    memcpy(&info.devpage, (const void *)g->dev.dp, sizeof info.devpage);
    json_t *o = json_pack("{s:s, s:s, s:s}", "oci_id", st->id, "bundle",
                          st->bundle, "program", st->program);
    info.config = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!info.config)
        return lvm_err_set(e, ENOMEM, "the checkpoint's config");
    info.config_len = strlen(info.config);
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/" OCI_CHECKPOINT_FILE, dir);
    struct snap_writer w;
    uint64_t npages = 0;
    int r = -1;
    if (snap_write_begin(&w, AT_FDCWD, path, 1, e) < 0)
        goto out;
    if (snapshot_capture(g, img, -1, sink_writer, &w, &npages, e) < 0 ||
        snap_write_commit(&w, &info, e) < 0) {
        snap_write_abort(&w);
        goto out;
    }
    oci_debug("checkpoint of %s: %llu pages in %s", st->id,
              (unsigned long long)npages, path);
    /* podman restores only a directory holding CRIU's inventory.img:
     * an empty one stands for "a checkpoint is here" (CRIU never reads
     * this directory). */
    snprintf(path, sizeof path, "%s/inventory.img", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        lvm_err_set(e, errno, "create %s", path);
        goto out;
    }
    close(fd);
    r = 0;
out:
    free(info.config);
    return r;
}

int oci_cmd_checkpoint(int argc, char **argv)
{
    const char *image = NULL;
    int leave_running = 0;
    const struct oci_opt opts[] = {
        {"image-path", 0, 1, &image, NULL},
        {"leave-running", 0, 0, NULL, &leave_running},
        {"work-path", 0, 1, NULL, NULL},
        {"parent-path", 0, 1, NULL, NULL},
        {"tcp-established", 0, 0, NULL, NULL},
        {"ext-unix-sk", 0, 0, NULL, NULL},
        {"shell-job", 0, 0, NULL, NULL},
        {"lazy-pages", 0, 0, NULL, NULL},
        {"status-fd", 0, 1, NULL, NULL},
        {"page-server", 0, 1, NULL, NULL},
        {"file-locks", 0, 0, NULL, NULL},
        {"pre-dump", 0, 0, NULL, NULL},
        {"manage-cgroups-mode", 0, 1, NULL, NULL},
        {"empty-ns", 0, 1, NULL, NULL},
        {"auto-dedup", 0, 0, NULL, NULL},
        {NULL, 0, 0, NULL, NULL},
    };
    char *pos[1];
    if (oci_cmd_args(argc, argv, opts, pos, 1, 1,
                     "checkpoint --image-path DIR [--leave-running] ID") < 0)
        return 1;
    if (!image) {
        oci_error("checkpoint: --image-path is needed");
        return 1;
    }
    struct oci_state st;
    if (load(&st, pos[0]) < 0)
        return 1;
    int code = 1;
    struct lvm_err e = {0};
    struct guest g;
    struct image *img = NULL;
    struct cgroup cg;
    cgroup_open_at(&cg, st.cg_parent, st.cg_name);
    enum oci_status s = oci_state_status(&st);
    if (s != OCI_RUNNING && s != OCI_PAUSED) {
        oci_error("container not running");
        goto out;
    }
    if (!strcmp(st.monitor, "qemu")) {
        oci_error("checkpoint: not supported for a VM container (only "
                  "unikernel guests have lightvm snapshots here)");
        goto out;
    }
    if (oci_mkdir_p(image, 0700) < 0) {
        oci_error("--image-path %s: %s", image, strerror(errno));
        goto out;
    }
    if (guest_view(&st, &g, &e) < 0) {
        oci_error("%s", e.msg);
        goto out;
    }
    int file = -1, parked = 0, ok = load_image(&st, &img, &file, &e) == 0;
    /* A frozen guest cannot answer: thawed with the request waiting, it
     * parks before doing anything else (and is frozen again after). */
    if (ok && s == OCI_PAUSED && cgroup_freeze(&cg, 0, &e) < 0)
        ok = 0;
    ok = ok && (parked = park(&g, &e) == 0) &&
         write_checkpoint(&st, &g, img, file, image, &e) == 0;
    if (!ok || leave_running) {
        struct lvm_err ignore;
        if (parked || !ok)
            guest_control(&g, LVM_CTRL_RESUME, &ignore);
        if (s == OCI_PAUSED)
            cgroup_freeze(&cg, 1, &ignore);
    } else {
        /* runc's checkpoint ends the container: its state is in the
         * file now. */
        syscall(SYS_pidfd_send_signal, g.sb.pidfd, SIGKILL, NULL, 0);
        struct pollfd p = {g.sb.pidfd, POLLIN, 0};
        while (poll(&p, 1, 5000) < 0 && errno == EINTR)
            ;
    }
    if (!ok) {
        char buf[LVM_ERR_MSG_MAX + 64];
        oci_error("checkpoint: %s", lvm_err_str(&e, buf, sizeof buf));
    } else {
        code = 0;
    }
    image_free(img);
    if (file >= 0)
        close(file);
    guest_view_free(&g);
out:
    oci_state_free(&st);
    return code;
}

/* update --resources FILE|-: the LinuxResources JSON containerd and
 * podman send (memory.limit, cpu.quota/period, pids.limit). */
int oci_cmd_update(int argc, char **argv)
{
    const char *res = NULL, *memory = NULL;
    const struct oci_opt opts[] = {
        {"resources", 'r', 1, &res, NULL},
        {"memory", 'm', 1, &memory, NULL},
        {NULL, 0, 0, NULL, NULL},
    };
    char *pos[1];
    if (oci_cmd_args(argc, argv, opts, pos, 1, 1,
                     "update --resources FILE|- ID") < 0)
        return 1;
    struct oci_state st;
    if (load(&st, pos[0]) < 0)
        return 1;
    int code = 1;
    json_t *o = NULL;
    struct cgroup_limits l = {0};
    if (res) {
        json_error_t je;
        o = strcmp(res, "-") == 0 ? json_loadf(stdin, 0, &je)
                                  : json_load_file(res, 0, &je);
        if (!o || !json_is_object(o)) {
            oci_error("update: --resources: %s", o ? "not an object" : je.text);
            goto out;
        }
        json_t *m = json_object_get(json_object_get(o, "memory"), "limit");
        if (json_is_integer(m) && json_integer_value(m) > 0)
            l.memory_max = (uint64_t)json_integer_value(m);
        json_t *cpu = json_object_get(o, "cpu");
        json_t *q = json_object_get(cpu, "quota"),
               *p = json_object_get(cpu, "period");
        if (json_is_integer(q) && json_integer_value(q) > 0) {
            l.cpu_quota_us = (uint64_t)json_integer_value(q);
            l.cpu_period_us = json_is_integer(p) && json_integer_value(p) > 0
                                  ? (uint64_t)json_integer_value(p)
                                  : 100000;
        }
        json_t *pids = json_object_get(json_object_get(o, "pids"), "limit");
        (void)pids; /* a guest is one process: its limit stays */
    }
    if (memory) {
        char *end;
        unsigned long long v = strtoull(memory, &end, 10);
        if (!*memory || *end || v == 0) {
            oci_error("update: --memory %s is not a number of bytes", memory);
            goto out;
        }
        l.memory_max = v;
    }
    if (oci_state_status(&st) == OCI_STOPPED) {
        oci_error("container not running");
        goto out;
    }
    struct cgroup cg;
    struct lvm_err e;
    cgroup_open_at(&cg, st.cg_parent, st.cg_name);
    if (cgroup_set_limits(&cg, &l, st.pid, &e) < 0) {
        oci_error("update: %s", e.msg);
        goto out;
    }
    code = 0;
out:
    json_decref(o);
    oci_state_free(&st);
    return code;
}
