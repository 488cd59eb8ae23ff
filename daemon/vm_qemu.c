/*
 * vm_qemu.c: lightvmd's guests under the qemu monitor: a Tinyx image
 * (docs/tinyx.md) booted by QEMU in the guest's own cgroup. Create and
 * restore spawn QEMU and return to the loop; QMP's greeting says QEMU is
 * up (vm_qemu_ops.c), the control channel says when the app is ready and
 * how it ended, the pidfd when QEMU has gone. See vm_qemu.h for what is
 * where.
 */
#include "daemon/vm_qemu.h"
#include "monitors/qemu/qemu_image.h"
#include "tinyx/tinyx.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

_Static_assert(REQUEST_MAX_PORTS == QEMU_MAX_FWDS, "ports and forwards");

struct qvm *qvm_new(struct daemon *d, struct vm *v)
{
    struct qvm *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->d = d;
    q->pidfd = q->ctl_fd = q->op.fd = -1;
    q->ready_ms = -1;
    q->ep_qmp = (struct ep_item){EP_QMP, v};
    q->ep_ctl = (struct ep_item){EP_QCTL, v};
    return q;
}

const struct cgroup *vm_qemu_cgroup(const struct vm *v)
{
    return v->q->have_cg ? &v->q->cg : NULL;
}

static int watch(struct daemon *d, int fd, struct ep_item *it,
                 struct lvm_err *err)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = it};
    if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        return lvm_err_set(err, errno, "watch fd %d", fd);
    return 0;
}

static int connect_unix(const char *path, struct lvm_err *err)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof a.sun_path)
        return lvm_err_set(err, ENAMETOOLONG, "socket path %s", path);
    strcpy(a.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return lvm_err_set(err, errno, "socket");
    /* Queued at once even if QEMU has not accepted yet (or is still busy
     * with the previous daemon's connection). */
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        int e = errno;
        close(fd);
        return lvm_err_set(err, e, "connect to %s", path);
    }
    return fd;
}

int qvm_connect(struct vm *v, struct lvm_err *err)
{
    struct qvm *q = v->q;
    char path[PATH_MAX];
    rundir_path(q->d, v->id, QVM_QMP_SOCK, path, sizeof path);
    int fd = connect_unix(path, err);
    if (fd < 0)
        return -1;
    q->qmp = qmpa_new(fd, qop_event, v);
    if (!q->qmp) {
        close(fd);
        return lvm_err_set(err, ENOMEM, "QMP connection");
    }
    if (watch(q->d, fd, &q->ep_qmp, err) < 0)
        return -1;
    rundir_path(q->d, v->id, QVM_CTL_SOCK, path, sizeof path);
    q->ctl_fd = connect_unix(path, err);
    if (q->ctl_fd < 0)
        return -1;
    return watch(q->d, q->ctl_fd, &q->ep_ctl, err);
}

static void close_qmp(struct qvm *q)
{
    if (!q->qmp)
        return;
    epoll_ctl(q->d->epfd, EPOLL_CTL_DEL, qmpa_fd(q->qmp), NULL);
    qmpa_free(q->qmp);
    q->qmp = NULL;
}

static void close_ctl(struct qvm *q)
{
    if (q->ctl_fd < 0)
        return;
    epoll_ctl(q->d->epfd, EPOLL_CTL_DEL, q->ctl_fd, NULL);
    close(q->ctl_fd);
    q->ctl_fd = -1;
}

int qvm_file_limit(struct vm *v, uint64_t limit)
{
    struct rlimit rl = {limit ? limit : RLIM_INFINITY, RLIM_INFINITY};
    return prlimit(v->pid, RLIMIT_FSIZE, &rl, NULL);
}

/* ---- the control channel: the init's reports ----------------------- */

void qvm_control_line(struct vm *v, const char *line, int live)
{
    struct qvm *q = v->q;
    int was_ready = q->gs.ready;
    if (qemu_control_line(&q->gs, line, host_now_ns()) < 0 || was_ready ||
        !q->gs.ready)
        return;
    if (!live) {
        /* Heard only from the log, after a restart: the guest's own
         * clock is all there is. */
        q->ready_ms = (double)q->gs.ready_ms;
        return;
    }
    q->ready_ms = (double)(q->gs.ready_ns - q->start_ns) / 1e6;
    char path[PATH_MAX];
    rundir_path(q->d, v->id, QVM_READY, path, sizeof path);
    FILE *f = fopen(path, "we");
    if (f) {
        fprintf(f, "%.3f\n", q->ready_ms);
        fclose(f);
    }
}

/* Split (len) bytes at (buf) into lines; keep a partial one. */
static void control_input(struct vm *v, char *buf, size_t *len, size_t cap,
                          int live)
{
    buf[*len] = 0;
    char *nl;
    while ((nl = strchr(buf, '\n'))) {
        *nl = 0;
        char *cr = strchr(buf, '\r');
        if (cr)
            *cr = 0;
        qvm_control_line(v, buf, live);
        size_t rest = *len - (size_t)(nl + 1 - buf);
        memmove(buf, nl + 1, rest + 1);
        *len = rest;
    }
    if (*len == cap - 1)
        *len = 0; /* a line too long to be the init's */
}

void qvm_replay_ctl_log(struct vm *v)
{
    struct qvm *q = v->q;
    char path[PATH_MAX];
    rundir_path(q->d, v->id, QVM_CTL_LOG, path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    /* Bounded by QEMU's file limit, so by the console limit. */
    char buf[512];
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        control_input(v, buf, &len, sizeof buf, 0);
    }
    close(fd);
}

static void ctl_event(struct vm *v)
{
    struct qvm *q = v->q;
    for (;;) {
        ssize_t n = read(q->ctl_fd, q->ctlbuf + q->ctllen,
                         sizeof q->ctlbuf - 1 - q->ctllen);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            /* QEMU closed it: it is exiting, and its pidfd will say so. */
            close_ctl(q);
            return;
        }
        q->ctllen += (size_t)n;
        control_input(v, q->ctlbuf, &q->ctllen, sizeof q->ctlbuf, 1);
    }
}

void vm_qemu_event(struct daemon *d, struct vm *v, enum ep_type type)
{
    (void)d;
    struct qvm *q = v->q;
    if (v->dead || !q)
        return;
    if (type == EP_QCTL && q->ctl_fd >= 0)
        ctl_event(v);
    if (type == EP_QMP && q->qmp && qmpa_input(q->qmp) < 0)
        close_qmp(q); /* QEMU is going; its pidfd will say so */
}

int vm_qemu_control(struct daemon *d, struct vm *v, uint32_t request,
                    struct lvm_err *err)
{
    (void)d;
    struct qvm *q = v->q;
    if (request != LVM_CTRL_POWEROFF)
        return lvm_err_set(err, EINVAL,
                           "%s is not supported for the qemu monitor (a "
                           "Tinyx guest has no suspend; pause it instead)",
                           request == LVM_CTRL_SUSPEND ? "suspend" : "resume");
    if (v->state == VM_EXITED)
        return lvm_err_set(err, EINVAL, "guest %s has exited", v->id);
    if (v->killed_by)
        return lvm_err_set(err, EBUSY, "guest %s is being killed", v->id);
    if (v->state == VM_STARTING)
        return lvm_err_set(err, EBUSY, "guest %s is still starting", v->id);
    if (q->ctl_fd < 0)
        return lvm_err_set(err, EIO, "guest %s: its control channel is closed",
                           v->id);
    static const char msg[] = "poweroff\n";
    if (send(q->ctl_fd, msg, sizeof msg - 1, MSG_NOSIGNAL | MSG_DONTWAIT) !=
        (ssize_t)sizeof msg - 1)
        return lvm_err_set(err, errno == EAGAIN ? EBUSY : errno,
                           "ask guest %s to power off", v->id);
    return 0;
}

int vm_qemu_kill(struct vm *v)
{
    struct qvm *q = v->q;
    if (q->pidfd < 0) {
        errno = ESRCH;
        return -1;
    }
    return (int)syscall(SYS_pidfd_send_signal, q->pidfd, SIGKILL, NULL, 0);
}

/* ---- exit ------------------------------------------------------------ */

static void remove_cgroup(struct vm *v)
{
    struct qvm *q = v->q;
    struct lvm_err err;
    if (!q->have_cg)
        return;
    if (cgroup_destroy(&q->cg, &err) == 0) {
        q->have_cg = 0;
        q->cg_tries = 0;
    } else if (!q->cg_tries) {
        q->cg_tries = 20; /* a dying task may hold it a moment */
    } else if (--q->cg_tries == 0) {
        daemon_log("guest %s: %s", v->id, err.msg);
        q->have_cg = 0;
    }
}

void vm_qemu_exited(struct daemon *d, struct vm *v)
{
    struct qvm *q = v->q;
    if (q->pidfd < 0)
        return;
    /* Whatever the init said before QEMU went: the socket may not have
     * been connected all along, the log has it all. */
    if (q->ctl_fd >= 0)
        ctl_event(v);
    qvm_replay_ctl_log(v);
    struct qemu_exit_facts f = {.gs = &q->gs,
                                .killed = v->killed_by != KILLED_BY_NONE ||
                                          q->op.timed_out,
                                .timed_out = q->op.timed_out};
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (q->child &&
        waitid(P_PIDFD, (id_t)q->pidfd, &si, WEXITED | WNOHANG) == 0 &&
        si.si_pid) {
        f.have_status = 1;
        f.wait_code = si.si_code;
        f.wait_status = si.si_status;
    }
    struct cgroup_stats cs;
    struct lvm_err err;
    if (q->have_cg && cgroup_stats(&q->cg, &cs, &err) == 0)
        f.oom_kills = cs.oom_kills;
    char path[PATH_MAX], line[300] = "";
    rundir_path(d, v->id, QVM_QEMU_LOG, path, sizeof path);
    int log = open(path, O_RDONLY | O_CLOEXEC);
    if (log >= 0) {
        qemu_last_log_line(log, line, sizeof line);
        close(log);
    }
    f.log_line = line;
    qemu_exit_describe(&f, &v->exit);
    if (v->exit.kind == GUEST_OOM)
        snprintf(v->exit.detail, sizeof v->exit.detail, "memory limit %llu KiB",
                 (unsigned long long)v->mem_limit >> 10);

    epoll_ctl(d->epfd, EPOLL_CTL_DEL, q->pidfd, NULL);
    close(q->pidfd);
    q->pidfd = -1;
    close_qmp(q);
    close_ctl(q);
    remove_cgroup(v);
    int reported = v->state != VM_STARTING;
    char why[LVM_ERR_MSG_MAX];
    if (v->exit.kind == GUEST_SETUP)
        snprintf(why, sizeof why, "%s", v->exit.detail);
    else
        guest_exit_str(&v->exit, why, sizeof why);
    qop_abort(v, why);
    if (reported) {
        vm_ended(d, v);
    } else {
        /* Never reported created: nothing of it is kept. */
        v->state = VM_EXITED;
        vm_forget(d, v);
    }
}

void vm_qemu_tick(struct daemon *d, struct vm *v, uint64_t now)
{
    struct qvm *q = v->q;
    if (q->cg_tries && v->state == VM_EXITED)
        remove_cgroup(v);
    if (q->op.kind == QOP_NONE || now < q->op.deadline)
        return;
    if (q->op.kind == QOP_START || q->op.kind == QOP_RESTORE) {
        /* Hung before its main loop, or in the migration: it goes, and
         * its exit answers the creator. */
        daemon_log("guest %s: QEMU did not start in time; killing it", v->id);
        q->op.timed_out = 1;
        vm_qemu_kill(v);
        q->op.deadline = UINT64_MAX;
        return;
    }
    qop_abort(v, "QEMU did not answer in time");
    (void)d;
}

/* ---- create ---------------------------------------------------------- */

/* What a create asks for that a Tinyx guest cannot have. */
static int refuse_fields(const struct request *r, struct lvm_err *err)
{
    const char *f = r->argc          ? "args (the image's command runs)"
                    : r->envc        ? "env (set it in the image)"
                    : r->nblocks     ? "block"
                    : r->console_fd  ? "console \"fd\" (it is a log)"
                    : r->watchdog_ms ? "watchdog_ms"
                                     : NULL;
    if (f) /* errno 0: the message says it all */
        return lvm_err_set(err, 0,
                           "field %s is not supported for the qemu monitor", f);
    return 0;
}

/* The image's manifest, kernel and initramfs, opened as the client:
 * QEMU (root) boots those very files (qemu_detached.kernel_fd), so a
 * client reaches nothing through it that it could not read itself. */
static int load_image(const struct request *r, const struct creds *cr,
                      struct tinyx_manifest *m, int *kernel_fd, int *initrd_fd,
                      struct lvm_err *err)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/manifest.json", r->image);
    int fd = creds_open_data(cr, path, 0, err);
    if (fd < 0) {
        struct lvm_err why = *err;
        return lvm_err_set(err, why.code, "%s is not a Tinyx image (%s)",
                           r->image, why.msg);
    }
    char *buf = malloc(1 << 20);
    ssize_t n = buf ? read(fd, buf, (1 << 20) - 1) : -1;
    close(fd);
    if (n < 0) {
        free(buf);
        return lvm_err_set(err, errno, "read %s", path);
    }
    int rc = tinyx_manifest_parse(buf, (size_t)n, r->image, m, err);
    free(buf);
    if (rc < 0)
        return lvm_err_wrap(err, "%s", path);
    *initrd_fd = creds_open_data(cr, m->initramfs, 0, err);
    if (*initrd_fd < 0)
        return lvm_err_wrap(err, "image %s: initramfs", r->image);
    *kernel_fd = creds_open_data(cr, m->kernel.path, 0, err);
    if (*kernel_fd < 0)
        return lvm_err_wrap(err,
                            "image %s: kernel (rebuild the image, or "
                            "the kernel with 'lightvm tinyx kernel')",
                            r->image);
    return 0;
}

static uint64_t file_size(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* A listening socket QEMU will serve (0600: root's QEMU, root's daemon). */
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
    struct tinyx_manifest m;
    struct qemu_vm_config cfg;
    struct qemu_detached det;
    int join[QVM_MAX_JOIN];
    char console[PATH_MAX], ctl_log[PATH_MAX];
};

static void setup_close(struct qsetup *s)
{
    if (s->det.qmp_listen >= 0)
        close(s->det.qmp_listen);
    if (s->det.ctl_listen >= 0)
        close(s->det.ctl_listen);
    if (s->det.log_fd >= 0)
        close(s->det.log_fd);
    if (s->det.kernel_fd >= 0)
        close(s->det.kernel_fd);
    if (s->det.initrd_fd >= 0)
        close(s->det.initrd_fd);
    for (int i = 0; i < s->det.njoin; i++)
        close(s->join[i]);
    free(s);
}

/* The guest's limits, forwards and QEMU's configuration. */
static int configure(struct vm *v, const struct request *r, struct qsetup *s,
                     struct lvm_err *err)
{
    struct qvm *q = v->q;
    uint64_t ram = r->mem ? r->mem : s->m.mem ? s->m.mem : QEMU_MEM_DEFAULT;
    if (ram < (32ull << 20))
        return lvm_err_set(err, 0, "mem: a qemu guest needs at least 32 MiB");
    /* The image's suggestion is the client's too: the request's bound. */
    if (ram > LVM_RAM_MAX)
        return lvm_err_set(err, 0,
                           "mem: the image asks for %llu MiB; a guest gets "
                           "at most %llu MiB",
                           (unsigned long long)ram >> 20,
                           (unsigned long long)LVM_RAM_MAX >> 20);
    q->console_limit =
        r->console_limit ? r->console_limit : DAEMON_CONSOLE_LIMIT_DEFAULT;
    /* QEMU's page cache for the console log (a tmpfs, most often) is
     * charged to it, like its copies of the kernel and initramfs (which
     * must fit in the guest's RAM, or QEMU refuses them). */
    uint64_t files = file_size(s->det.kernel_fd) + file_size(s->det.initrd_fd);
    uint64_t limit = r->mem_limit
                         ? r->mem_limit
                         : ram + QVM_MEMORY_OVERHEAD +
                               (files < ram ? files : ram) + q->console_limit;
    if (limit <= ram)
        return lvm_err_set(err, 0,
                           "mem_limit must leave room for QEMU beyond the "
                           "guest's %llu MiB of RAM",
                           (unsigned long long)ram >> 20);
    qemu_config_from_image(&s->m, &s->cfg);
    s->cfg.name = v->name;
    s->cfg.mem = ram;
    s->cfg.quiet = 1;
    /* The quota is the guest's CPU time; it gets as many vCPUs as that
     * can use (a tiny kernel without SMP uses one). */
    s->cfg.cpus = r->cpus > 64 ? 64 : r->cpus > 1 ? (unsigned)ceil(r->cpus) : 1;
    s->cfg.nfwd = 0; /* forwards only as asked for */
    for (unsigned i = 0; i < r->nports; i++) {
        if (qemu_fwd_parse(r->ports[i], &s->cfg.fwd[i]) < 0)
            return lvm_err_set(err, 0,
                               "ports: '%s' is not [ADDR:]HOST:GUEST (a host "
                               "port 0 picks a free one)",
                               r->ports[i]);
        s->cfg.nfwd++;
    }
    /* Networking: user-mode with forwards. A tap made by the toolstack
     * (docs/daemon.md) would go in s->cfg.tap_fd, with QEMU_NET_TAP. */
    s->cfg.net = QEMU_NET_USER;
    s->cfg.tap_fd = -1;
    v->mem = ram;
    v->mem_limit = limit;
    v->cpus = r->cpus;
    return 0;
}

/* The guest's cgroup, run directory files and QEMU's channels. */
static int prepare(struct daemon *d, struct vm *v, const struct request *r,
                   struct qsetup *s, struct lvm_err *err)
{
    struct qvm *q = v->q;
    struct cgroup_limits lim = {.memory_max = v->mem_limit,
                                .pids_max = QVM_PIDS_MAX};
    if (r->cpus > 0) {
        lim.cpu_period_us = 100000;
        lim.cpu_quota_us = (uint64_t)(r->cpus * 100000.0 + 0.5);
        if (lim.cpu_quota_us < 1000)
            lim.cpu_quota_us = 1000; /* the kernel's minimum */
    }
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
    rundir_path(d, v->id, QVM_QEMU_LOG, path, sizeof path);
    s->det.log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (s->det.log_fd < 0)
        return lvm_err_set(err, errno, "create %s", path);
    /* Made here so that the API group may read it; QEMU appends. */
    rundir_path(d, v->id, "console.log", s->console, sizeof s->console);
    int con = open(s->console, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (con < 0)
        return lvm_err_set(err, errno, "create %s", s->console);
    int bad = d->api_gid != (gid_t)-1 && fchown(con, 0, d->api_gid) < 0;
    close(con);
    if (bad)
        return lvm_err_set(err, errno, "give %s to the API group", s->console);
    rundir_path(d, v->id, QVM_CTL_LOG, s->ctl_log, sizeof s->ctl_log);
    s->det.console_path = s->console;
    s->det.ctl_log_path = s->ctl_log;
    s->det.file_limit = q->console_limit;
    return 0;
}

/* Undo a create that failed before it was in the daemon's tables. */
static void discard(struct daemon *d, struct vm *v)
{
    struct qvm *q = v->q;
    close_qmp(q);
    close_ctl(q);
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
    free(v->image);
    vm_qemu_free(v);
    free(v);
}

static void reply_error(struct daemon *d, struct client *c,
                        const struct request *r, const char *code,
                        const struct lvm_err *err)
{
    char buf[LVM_ERR_MSG_MAX + 64];
    server_reply(d, c, api_error(r, code, lvm_err_str(err, buf, sizeof buf)));
}

void vm_qemu_create(struct daemon *d, struct client *c, const struct request *r,
                    int restore)
{
    uint64_t t0 = host_now_ns();
    struct lvm_err err;
    int ambiguous;
    if (refuse_fields(r, &err) < 0) {
        reply_error(d, c, r, "invalid", &err);
        return;
    }
    if (r->name[0] && vm_find(d, r->name, &ambiguous)) {
        lvm_err_set(&err, EEXIST, "a guest named '%s' exists", r->name);
        reply_error(d, c, r, "exists", &err);
        return;
    }
    struct qsetup *s = calloc(1, sizeof *s);
    struct vm *v = calloc(1, sizeof *v);
    if (!s || !v) {
        free(s);
        free(v);
        lvm_err_set(&err, ENOMEM, "allocate a guest");
        reply_error(d, c, r, "failed", &err);
        return;
    }
    s->det.qmp_listen = s->det.ctl_listen = s->det.log_fd = -1;
    s->det.kernel_fd = s->det.initrd_fd = -1;
    if (load_image(r, &c->cr, &s->m, &s->det.kernel_fd, &s->det.initrd_fd,
                   &err) < 0) {
        setup_close(s);
        free(v);
        reply_error(d, c, r, "invalid", &err);
        return;
    }
    v->q = qvm_new(d, v);
    v->image = strdup(r->image);
    guest_new_id(v->id);
    if (r->name[0])
        snprintf(v->name, sizeof v->name, "%s", r->name);
    else
        snprintf(v->name, sizeof v->name, "%.48s-%.6s", s->m.name, v->id);
    snprintf(v->monitor, sizeof v->monitor, "qemu");
    v->owner = c->cr.uid;
    v->state = VM_STARTING;
    struct qvm *q = v->q;
    const char *code = "invalid";
    if (!q || !v->image) {
        lvm_err_set(&err, ENOMEM, "allocate a guest");
        goto fail_early;
    }
    if (configure(v, r, s, &err) < 0)
        goto fail_early;
    if (restore) {
        q->op.fd = creds_open_data(&c->cr, r->path, 0, &err);
        if (q->op.fd < 0) {
            lvm_err_wrap(&err, "restore");
            goto fail_early;
        }
        q->restored = 1;
        s->cfg.incoming = r->path; /* -incoming defer */
        snprintf(q->op.path, sizeof q->op.path, "%s", r->path);
    }
    code = "failed";
    if (rundir_make(d, v->id, &err) < 0)
        goto fail_early;
    if (prepare(d, v, r, s, &err) < 0)
        goto fail;
    struct qemu_proc p;
    if (qemu_start_detached(&s->cfg, &s->det, &p, &err) < 0) {
        code = err.code == ENODEV || err.code == EINVAL ? "invalid" : "failed";
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
    v->ep = (struct ep_item){EP_PIDFD, v};
    struct waiter *w;
    if (watch(d, q->pidfd, &v->ep, &err) < 0 || qvm_connect(v, &err) < 0)
        goto fail;
    setup_close(s);
    s = NULL;
    if (!(w = vm_waiter_new(d, c, r))) { /* replied */
        discard(d, v);
        return;
    }
    /* In the tables now (its name is taken; `list` shows it starting);
     * reported created once QEMU is up (vm_qemu_ops.c). */
    vm_insert(d, v);
    d->created++;
    if (qop_start(v, restore ? QOP_RESTORE : QOP_START, w, &err) < 0) {
        /* Never reported: its exit removes it. */
        vm_waiter_error(d, w, "failed", err.msg);
        vm_qemu_kill(v);
        return;
    }
    q->op.t0 = t0; /* create_ms counts from the request */
    return;
fail:
    reply_error(d, c, r, code, &err);
    setup_close(s);
    discard(d, v);
    return;
fail_early:
    reply_error(d, c, r, code, &err);
    setup_close(s);
    if (q && q->op.fd >= 0)
        close(q->op.fd);
    free(v->image);
    free(q);
    free(v);
}

/* ---- replies and records --------------------------------------------- */

static json_t *ports_json(const struct qvm *q)
{
    json_t *a = json_array();
    for (unsigned i = 0; i < q->nfwd; i++)
        json_array_append_new(a, json_pack("{s:s, s:i, s:i}", "host_addr",
                                           q->fwd[i].host_addr, "host",
                                           q->fwd[i].host_port, "guest",
                                           q->fwd[i].guest_port));
    return a;
}

void vm_qemu_json(const struct vm *v, json_t *o)
{
    const struct qvm *q = v->q;
    json_object_set_new(o, "ready", json_boolean(q->gs.ready));
    if (q->gs.ready && q->ready_ms >= 0)
        json_object_set_new(o, "ready_ms", json_real(q->ready_ms));
    json_object_set_new(o, "accel", json_string(q->kvm ? "kvm" : "tcg"));
    json_object_set_new(o, "ports", ports_json(q));
    if (q->restored)
        json_object_set_new(o, "restored", json_true());
}

json_t *vm_qemu_config_json(const struct vm *v)
{
    const struct qvm *q = v->q;
    return json_pack("{s:o, s:b, s:I, s:b}", "ports", ports_json(q), "kvm",
                     q->kvm, "console_limit", (json_int_t)q->console_limit,
                     "restored", q->restored);
}

void vm_qemu_free(struct vm *v)
{
    struct qvm *q = v->q;
    if (!q)
        return;
    close_qmp(q);
    close_ctl(q);
    if (q->pidfd >= 0)
        close(q->pidfd);
    if (q->op.fd >= 0)
        close(q->op.fd);
    free(q);
    v->q = NULL;
}
