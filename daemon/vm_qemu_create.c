/*
 * vm_qemu_create.c: create and restore a qemu guest in lightvmd. The
 * image is read as the client; the guest's limits, forwards and cgroup,
 * its NIC (vm_qemu_net.c), QEMU's sockets and files in its run directory
 * are made; QEMU is spawned
 * detached and the daemon returns to its loop. The creator is answered
 * when QMP first answers (vm_qemu_ops.c), or when QEMU fails.
 */
#include "daemon/quota.h"
#include "daemon/vm_qemu.h"
#include "toolstack/qemu/qemu_image.h"
#include "toolstack/qemu/tinyx_manifest.h"
#include "toolstack/guest_name.h"
#include "toolstack/loopdev.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

_Static_assert(REQUEST_MAX_PORTS == QEMU_MAX_FWDS, "ports and forwards");

/* What a create asks for that a Tinyx guest cannot have. */
static int refuse_fields(const struct request *r, struct lvm_err *err)
{
    const char *f = r->nblocks       ? "block"
                    : r->console_fd  ? "console \"fd\" (it is a log)"
                    : r->watchdog_ms ? "watchdog_ms"
                                     : NULL;
    if (f) /* errno 0: the message says it all */
        return lvm_err_set(err, 0,
                           "field %s is not supported for the qemu monitor", f);
    return 0;
}

/* The image's manifest, kernel and initramfs, opened as the client:
 * QEMU boots those very files (qemu_detached.kernel_fd), so a client
 * reaches nothing through it that it could not read itself. */
int qvm_image_open(const char *dir, const struct creds *cr,
                   struct qvm_image *im, struct lvm_err *err)
{
    memset(im, 0, sizeof *im);
    im->kernel_fd = im->initrd_fd = -1;
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    int fd = creds_open_data(cr, path, 0, err);
    if (fd < 0) {
        struct lvm_err why = *err;
        return lvm_err_set(err, why.code, "%s is not a Tinyx image (%s)", dir,
                           why.msg);
    }
    char *buf = malloc(1 << 20);
    ssize_t n = buf ? read(fd, buf, (1 << 20) - 1) : -1;
    close(fd);
    if (n < 0) {
        free(buf);
        return lvm_err_set(err, errno, "read %s", path);
    }
    if (tinyx_manifest_parse(buf, (size_t)n, dir, &im->m, err) < 0) {
        free(buf);
        return lvm_err_wrap(err, "%s", path);
    }
    /* Kept for the image's identity (a save's): it is small. */
    im->text = realloc(buf, n ? (size_t)n : 1);
    if (!im->text)
        im->text = buf;
    im->len = (size_t)n;
    im->initrd_fd = creds_open_data(cr, im->m.initramfs, 0, err);
    if (im->initrd_fd < 0) {
        qvm_image_close(im);
        return lvm_err_wrap(err, "image %s: initramfs", dir);
    }
    im->kernel_fd = creds_open_data(cr, im->m.kernel.path, 0, err);
    if (im->kernel_fd < 0) {
        qvm_image_close(im);
        return lvm_err_wrap(err,
                            "image %s: kernel (rebuild the image, or "
                            "the kernel with 'lightvm tinyx kernel')",
                            dir);
    }
    return 0;
}

void qvm_image_close(struct qvm_image *im)
{
    free(im->text);
    im->text = NULL;
    if (im->kernel_fd >= 0)
        close(im->kernel_fd);
    if (im->initrd_fd >= 0)
        close(im->initrd_fd);
    im->kernel_fd = im->initrd_fd = -1;
}

static uint64_t file_size(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* A listening socket QEMU will serve, passed to it open (0600: only the
 * daemon connects by path). */
static int listen_unix(const char *path, struct lvm_err *err)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof a.sun_path)
        return lvm_err_set(err, ENAMETOOLONG,
                           "socket path %s is too long (use a shorter "
                           "--run-dir)",
                           path);
    strcpy(a.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return lvm_err_set(err, errno, "socket");
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        chmod(path, 0600) < 0 || listen(fd, 4) < 0) {
        int e = errno;
        close(fd);
        return lvm_err_set(err, e, "listen on %s", path);
    }
    return fd;
}

/* Everything a create sets up before QEMU runs, closed once it has. */
struct qsetup {
    struct qvm_image im; /* det's kernel_fd and initrd_fd are its */
    struct qemu_vm_config cfg;
    struct qemu_detached det;
    int join[QVM_MAX_JOIN];
    int tap_fd;                      /* net0's, until QEMU has it */
    char *runconf;                   /* "args" and "env": cfg.runtime_conf */
    int volume_fd[QEMU_MAX_VOLUMES]; /* opened as the client */
    unsigned nvolumes;
    char serial[QEMU_MAX_VOLUMES][8]; /* "vol<i>": the guest's names */
};

static void setup_close(struct qsetup *s)
{
    if (s->det.qmp_listen >= 0)
        close(s->det.qmp_listen);
    if (s->det.ctl_listen >= 0)
        close(s->det.ctl_listen);
    if (s->det.log_fd >= 0)
        close(s->det.log_fd);
    if (s->det.console_fd >= 0)
        close(s->det.console_fd);
    if (s->det.ctl_log_fd >= 0)
        close(s->det.ctl_log_fd);
    if (s->det.exec_listen >= 0)
        close(s->det.exec_listen);
    for (unsigned i = 0; i < s->nvolumes; i++)
        close(s->volume_fd[i]);
    free(s->runconf);
    qvm_image_close(&s->im);
    for (int i = 0; i < s->det.njoin; i++)
        close(s->join[i]);
    qemu_nic_close(&s->cfg, &s->tap_fd);
    free(s);
}

/* The request's volumes, opened as the client (it may attach only files
 * it could open itself, writable only if it could write them), as disks
 * "vol0".. of QEMU's, and their mount lines for the init. */
static int volumes_open(const struct request *r, const struct creds *cr,
                        struct qsetup *s, struct lvm_err *err)
{
    for (unsigned i = 0; i < r->nvolumes; i++) {
        const struct qemu_volume *qv = &r->volumes[i];
        int fd = creds_open_data(cr, qv->path, !qv->readonly, err);
        if (fd < 0 && err->code == EISDIR)
            return lvm_err_set(err, 0,
                               "volume %s is a directory: a Tinyx guest "
                               "mounts a filesystem image (make one: mke2fs "
                               "-t ext4 -d %s IMAGE 256M)",
                               qv->path, qv->path);
        if (fd < 0)
            return lvm_err_wrap(err, "volume");
        s->volume_fd[s->nvolumes++] = fd;
        const char *fstype;
        if (qemu_volume_fstype(fd, qv->path, &fstype, err) < 0 ||
            qemu_volume_lock(fd, qv->path, qv->readonly, err) < 0 ||
            qemu_volume_conf(&s->runconf, i, qv, fstype, err) < 0)
            return -1;
        /* QEMU's own files are bounded by RLIMIT_FSIZE (its console log),
         * which would fail its writes to a volume file past that size: a
         * writable file goes to it as a loop device, which the kernel
         * detaches when QEMU (its last user) has gone. */
        struct stat st;
        if (!qv->readonly && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
            cr->uid != 0)
            /* A loop device over a member's file would be a host block
             * device the host's udev scans (blkid, LVM, md): its
             * superblocks are the member's to craft. */
            return lvm_err_set(err, 0,
                               "volume %s: a writable volume file is root's "
                               "through lightvmd for now (it goes to QEMU as "
                               "a loop device); attach it read-only (:ro)",
                               qv->path);
        if (!qv->readonly && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
            int lfd = loopdev_attach(fd, 0, err);
            if (lfd < 0)
                return lvm_err_wrap(err, "volume %s", qv->path);
            close(fd);
            s->volume_fd[s->nvolumes - 1] = fd = lfd;
        }
        snprintf(s->serial[i], sizeof s->serial[i], "vol%u", i);
        s->cfg.disks[s->cfg.ndisks++] =
            (struct qemu_disk){.path = qv->path,
                               .fd = fd,
                               .readonly = qv->readonly,
                               .serial = s->serial[i]};
    }
    return 0;
}

/* The guest's limits, forwards and QEMU's configuration. */
static int configure(struct vm *v, const struct request *r, struct qsetup *s,
                     const struct creds *cr, struct lvm_err *err)
{
    struct qvm *q = qvm_of(v);
    enum guest_kernel kernel = guest_kernel_of(s->im.m.kernel.kind);
    uint64_t ram;
    /* A restored guest has the RAM it was saved with. */
    uint64_t want = r->mem || !r->state ? r->mem : r->state->ram_size;
    if (guest_ram_pick(GUEST_MON_QEMU, kernel, want, s->im.m.mem, &ram, err) <
        0)
        return -1;
    /* The image's suggestion is the client's too: the request's bound. */
    if (ram > LVM_RAM_MAX)
        return lvm_err_set(err, 0,
                           "mem: the image asks for %llu MiB; a guest gets "
                           "at most %llu MiB",
                           (unsigned long long)ram >> 20,
                           (unsigned long long)LVM_RAM_MAX >> 20);
    q->console_limit = guest_console_limit(r->console_limit, 1);
    /* QEMU's page cache for the console log (a tmpfs, most often) is
     * charged to it, like its copies of the kernel and initramfs. */
    struct guest_mem_need need = {.mon = GUEST_MON_QEMU,
                                  .ram = ram,
                                  .console_file = 1,
                                  .console_limit = q->console_limit,
                                  .kernel_size = file_size(s->det.kernel_fd),
                                  .initrd_size = file_size(s->det.initrd_fd),
                                  .kernel = kernel};
    uint64_t limit = r->mem_limit ? r->mem_limit : guest_memory_limit(&need);
    if (limit <= ram)
        return lvm_err_set(err, 0,
                           "mem_limit must leave room for QEMU beyond the "
                           "guest's %llu MiB of RAM",
                           (unsigned long long)ram >> 20);
    qemu_config_from_image(&s->im.m, &s->cfg);
    s->cfg.name = v->name;
    s->cfg.mem = ram;
    s->cfg.quiet = 1;
    /* The quota is the guest's CPU time; it gets as many vCPUs as that
     * can use (a tiny kernel without SMP uses one). */
    s->cfg.cpus = guest_qemu_vcpus(r->cpus);
    s->cfg.nfwd = 0; /* forwards only as asked for */
    for (unsigned i = 0; i < r->nports; i++) {
        if (qemu_fwd_parse(r->ports[i], &s->cfg.fwd[i]) < 0)
            return lvm_err_set(err, 0,
                               "ports: '%s' is not [ADDR:]HOST:GUEST (a host "
                               "port 0 picks a free one)",
                               r->ports[i]);
        s->cfg.nfwd++;
    }
    /* A command and environment of its own: sent to an init that reads
     * them (a restored guest is past that: its recipe says what it had). */
    if ((r->argc || r->envc || r->nvolumes) && !s->im.m.init_config)
        return lvm_err_set(err, 0,
                           "image %s was built before args, env or volumes "
                           "could be given at create time: build it again "
                           "(lightvm tinyx build)",
                           r->image);
    if (r->nvolumes && r->state)
        return lvm_err_set(err, 0,
                           "volumes: a restored guest has none (a guest with "
                           "volumes cannot be saved)");
    if ((r->argc || r->envc) && !r->state &&
        qemu_runtime_conf(r->argv, r->argc, r->envp, r->envc, &s->runconf,
                          err) < 0)
        return -1;
    if (volumes_open(r, cr, s, err) < 0)
        return -1;
    s->cfg.runtime_conf = s->runconf;
    s->cfg.exec = s->im.m.init_exec;
    /* Networking: user-mode with forwards, unless "net" asks for a NIC on
     * a bridge (prepare: qvm_net_attach). */
    s->cfg.net = QEMU_NET_USER;
    s->cfg.tap_fd = -1;
    v->mem = ram;
    v->mem_limit = limit;
    v->cpus = r->cpus;
    v->auto_remove = r->auto_remove;
    return 0;
}

/* The guest's cgroup, run directory files and QEMU's channels. */
static int prepare(struct daemon *d, struct vm *v, const struct request *r,
                   const struct creds *cr, struct qsetup *s,
                   struct lvm_err *err)
{
    struct qvm *q = qvm_of(v);
    struct cgroup_limits lim = {.memory_max = v->mem_limit,
                                .pids_max = QVM_PIDS_MAX};
    guest_cpu_limits(r->cpus, &lim);
    if (cgroup_create(&q->cg, v->id, &lim, err) < 0)
        return -1;
    q->have_cg = 1;
    int n = cgroup_join_fds(&q->cg, s->join, QVM_MAX_JOIN, err);
    if (n < 0)
        return -1;
    s->det.join_fds = s->join;
    s->det.njoin = n;
    char path[PATH_MAX];
    rundir_path(d, v->id, QVM_QMP_SOCK, path, sizeof path);
    if ((s->det.qmp_listen = listen_unix(path, err)) < 0)
        return -1;
    rundir_path(d, v->id, QVM_CTL_SOCK, path, sizeof path);
    if ((s->det.ctl_listen = listen_unix(path, err)) < 0)
        return -1;
    rundir_path(d, v->id, QVM_EXEC_SOCK, path, sizeof path);
    if (s->cfg.exec && (s->det.exec_listen = listen_unix(path, err)) < 0)
        return -1;
    /* QEMU's output, its console and the init's reports: made here as
     * the creator's alone to read, and handed to QEMU open (it runs as a
     * user of its own, which may not open them). */
    if ((s->det.log_fd = rundir_create_owned(d, v->id, QVM_QEMU_LOG, cr, err)) <
            0 ||
        (s->det.console_fd =
             rundir_create_owned(d, v->id, "console.log", cr, err)) < 0 ||
        (s->det.ctl_log_fd =
             rundir_create_owned(d, v->id, QVM_CTL_LOG, cr, err)) < 0)
        return -1;
    /* Its sockets are made (0600): now the creator may pass. */
    if (rundir_give(d, v->id, cr, err) < 0)
        return -1;
    s->det.file_limit = q->console_limit;
    /* QEMU inherits the tap's fd and keeps it (across daemon restarts
     * too); the daemon closes its copy once QEMU runs. */
    return qvm_net_attach(d, v, r, &s->cfg, &s->tap_fd, err);
}

/* Undo a create that failed before it was in the daemon's tables. */
static void discard(struct daemon *d, struct vm *v)
{
    struct qvm *q = qvm_of(v);
    qvm_disconnect(q);
    if (q->pidfd >= 0) {
        syscall(SYS_pidfd_send_signal, q->pidfd, SIGKILL, NULL, 0);
        siginfo_t si;
        waitid(P_PIDFD, (id_t)q->pidfd, &si, WEXITED);
        close(q->pidfd);
        q->pidfd = -1;
    }
    if (q->op.fd >= 0)
        close(q->op.fd);
    q->op.fd = -1;
    struct lvm_err ignore;
    if (q->have_cg)
        cgroup_destroy(&q->cg, &ignore);
    q->have_cg = 0;
    rundir_remove(d, v->id);
    quota_release(d, v, QUOTA_ALL);
    free(v->image);
    qvm_net_release(v);
    vm_monitor_qemu.release(d, v);
    free(v);
}

static void reply_error(struct daemon *d, struct waiter *w, const char *code,
                        const struct lvm_err *err)
{
    char buf[LVM_ERR_MSG_MAX + 64];
    vm_op_done(d, w, code, lvm_err_str(err, buf, sizeof buf), NULL);
}

void qvm_create(struct daemon *d, struct waiter *w, const struct request *r,
                int fd)
{
    uint64_t t0 = host_now_ns();
    int restore = r->op == OP_RESTORE;
    const struct creds *cr = &w->c->cr;
    struct lvm_err err;
    if (fd >= 0)
        close(fd); /* files are opened as the client, by path */
    if (refuse_fields(r, &err) < 0 || qvm_net_check(r, &err) < 0) {
        reply_error(d, w, "invalid", &err);
        return;
    }
    if (vm_name_free(d, w, r) < 0)
        return;
    struct qsetup *s = calloc(1, sizeof *s);
    struct vm *v = calloc(1, sizeof *v);
    if (!s || !v) {
        free(s);
        free(v);
        lvm_err_set(&err, ENOMEM, "allocate a guest");
        reply_error(d, w, "failed", &err);
        return;
    }
    s->det.qmp_listen = s->det.ctl_listen = s->det.log_fd = -1;
    s->det.console_fd = s->det.ctl_log_fd = s->det.exec_listen = -1;
    s->im.kernel_fd = s->im.initrd_fd = -1;
    s->tap_fd = -1;
    /* A restore: the state is this image's, with this request, before
     * anything is made. */
    if (qvm_image_open(r->image, cr, &s->im, &err) < 0 ||
        (restore && qvm_restore_check(r, &s->im, &err) < 0)) {
        setup_close(s);
        free(v);
        reply_error(d, w, "invalid", &err);
        return;
    }
    s->det.kernel_fd = s->im.kernel_fd;
    s->det.initrd_fd = s->im.initrd_fd;
    v->mon = &vm_monitor_qemu;
    struct qvm *q = qvm_new(d, v);
    v->image = strdup(r->image);
    guest_new_id(v->id);
    vm_default_name(v, r, s->im.m.name);
    snprintf(v->monitor, sizeof v->monitor, "qemu");
    v->owner = cr->uid;
    vm_restart_from_request(v, r);
    v->owner_gid = cr->gid;
    v->state = VM_STARTING;
    const char *code = "invalid";
    if (!q || !v->image) {
        lvm_err_set(&err, ENOMEM, "allocate a guest");
        goto fail_early;
    }
    if (configure(v, r, s, cr, &err) < 0)
        goto fail_early;
    /* The owner's quotas before anything is made. Its logs: the console,
     * QEMU's and the init's, each bounded by console_limit. */
    uint64_t need[QUOTA_KINDS];
    quota_need(v->mem, v->mem_limit, r->cpus, 3 * q->console_limit, r->nports,
               need);
    need[QUOTA_CONSOLE] = q->console_limit;
    if (quota_charge(d, cr, v, need, &err) < 0) {
        code = "quota";
        err.code = 0; /* the message says it all */
        goto fail_early;
    }
    if (restore) {
        /* QEMU reads its stream from the state file restore.c checked,
         * starting at the blob (it stops at the stream's end). */
        q->op.fd = fcntl(r->state_fd, F_DUPFD_CLOEXEC, 3);
        if (q->op.fd < 0 ||
            lseek(q->op.fd, (off_t)r->state->blob_off, SEEK_SET) < 0) {
            lvm_err_set(&err, errno, "restore from %s", r->path);
            goto fail_early;
        }
        q->restored = 1;
        s->cfg.incoming = r->path; /* -incoming defer */
        snprintf(q->op.path, sizeof q->op.path, "%s", r->path);
    }
    code = "failed";
    if (rundir_make(d, v->id, &err) < 0)
        goto fail_early;
    if (prepare(d, v, r, cr, s, &err) < 0)
        goto fail;
    struct qemu_proc p;
    if (qemu_start_detached(&s->cfg, &s->det, &p, &err) < 0) {
        code = err.code == ENODEV || err.code == EINVAL ? "invalid"
               : err.code == EACCES                     ? "denied"
                                                        : "failed";
        goto fail;
    }
    q->pidfd = p.pidfd;
    q->child = 1;
    q->kvm = p.kvm;
    q->start_ns = p.start_ns;
    memcpy(q->fwd, p.fwd, sizeof q->fwd);
    q->nfwd = p.nfwd;
    v->pid = p.pid;
    v->created = daemon_unix_time();
    if (vm_watch(d, v, q->pidfd, &v->ep, EP_SLOT_PROCESS, &err) < 0 ||
        qvm_connect(v, &err) < 0)
        goto fail;
    q->runconf = s->runconf; /* sent when the init has booted */
    s->runconf = NULL;
    q->volumes = s->nvolumes;
    qvm_keep_image(v, r, &s->im);
    setup_close(s);
    s = NULL;
    /* In the tables now (its name is taken; `list` shows it starting);
     * reported created once QEMU is up (vm_qemu_ops.c). */
    vm_insert(d, v);
    d->created++;
    if (qop_start(v, restore ? QOP_RESTORE : QOP_START, w, &err) < 0) {
        /* Never reported: its exit removes it. */
        vm_op_done(d, w, "failed", err.msg, NULL);
        qvm_kill(v);
        return;
    }
    q->op.t0 = t0; /* create_ms counts from the request */
    return;
fail:
    reply_error(d, w, code, &err);
    setup_close(s);
    discard(d, v);
    return;
fail_early:
    reply_error(d, w, code, &err);
    quota_release(d, v, QUOTA_ALL);
    setup_close(s);
    if (q && q->op.fd >= 0)
        close(q->op.fd);
    free(v->image);
    free(q);
    free(v);
}
