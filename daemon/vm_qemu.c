/*
 * vm_qemu.c: lightvmd's guests under the qemu monitor: a Tinyx image
 * (docs/tinyx.md) booted by QEMU in the guest's own cgroup. Here: the
 * connections to QEMU, the control channel (when the app is ready, how
 * it ended), QEMU's exit (its pidfd), deadlines, and the guest's JSON.
 * Creation is in vm_qemu_create.c; see vm_qemu.h for what is where.
 */
#include "daemon/vm_qemu.h"
#include "toolstack/snapfile.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

struct qvm *qvm_new(struct daemon *d, struct vm *v)
{
    struct qvm *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->d = d;
    q->pidfd = q->ctl_fd = q->op.fd = -1;
    q->op.wr.fd = q->op.wr.dirfd = -1;
    q->kernel_fd = q->initrd_fd = -1;
    q->ready_ms = -1;
    v->priv = q;
    return q;
}

static const struct cgroup *qemu_cgroup(const struct vm *v)
{
    const struct qvm *q = qvm_of(v);
    return v->state != VM_EXITED && q->have_cg ? &q->cg : NULL;
}

static int qemu_live(const struct vm *v)
{
    return v->state != VM_EXITED;
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
    struct qvm *q = qvm_of(v);
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
    if (vm_watch(q->d, v, fd, &q->ep_qmp, QVM_SLOT_QMP, err) < 0)
        return -1;
    rundir_path(q->d, v->id, QVM_CTL_SOCK, path, sizeof path);
    q->ctl_fd = connect_unix(path, err);
    if (q->ctl_fd < 0)
        return -1;
    return vm_watch(q->d, v, q->ctl_fd, &q->ep_ctl, QVM_SLOT_CTL, err);
}

int qvm_exec_channel(struct vm *v, int *fd, struct lvm_err *err)
{
    struct qvm *q = qvm_of(v);
    if (v->state == VM_PAUSED)
        return lvm_err_set(err, EBUSY, "guest %s is paused", v->id);
    if (v->state != VM_RUNNING || q->pidfd < 0)
        return lvm_err_invalid(err, "guest %s is not running", v->id);
    char path[PATH_MAX];
    rundir_path(q->d, v->id, QVM_EXEC_SOCK, path, sizeof path);
    /* QEMU serves one client at a time: a second exec waits its turn in
     * the socket's queue (docs/tinyx.md). */
    *fd = connect_unix(path, err);
    if (*fd < 0 && err->code == ENOENT)
        return lvm_err_invalid(err,
                               "guest %s has no exec channel: its image was "
                               "built before lightvm exec existed (build it "
                               "again with lightvm tinyx build)",
                               v->id);
    if (*fd < 0 && err->code == EAGAIN)
        return lvm_err_set(err, EBUSY,
                           "guest %s: too many exec sessions waiting", v->id);
    return *fd < 0 ? -1 : 0;
}

static void close_qmp(struct qvm *q);
static void close_ctl(struct qvm *q);

void qvm_disconnect(struct qvm *q)
{
    close_qmp(q);
    close_ctl(q);
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

/* QEMU's real uid and gid, as the kernel has them (a QEMU adopted from an
 * older daemon may run as root, or under another id base). */
static int qemu_ids(pid_t pid, long *uid, long *gid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    *uid = *gid = -1;
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "Uid:", 4))
            *uid = strtol(line + 4, NULL, 10);
        else if (!strncmp(line, "Gid:", 4))
            *gid = strtol(line + 4, NULL, 10);
    }
    fclose(f);
    return *uid >= 0 && *gid >= 0 ? 0 : -1;
}

/* Set (rl) as QEMU's RLIMIT_FSIZE from a child with QEMU's real uid and
 * gid, which prlimit allows without CAP_SYS_RESOURCE; lightvmd may lack
 * it (in a container), and QEMU runs as a user of its own
 * (docs/security.md). vfork: no copy of the daemon's page tables; the
 * child makes raw system calls only (glibc's setresuid would change the
 * daemon's other threads too). */
static int limit_as_qemu(pid_t qemu, const struct rlimit *rl)
{
    long uid, gid;
    if (qemu_ids(qemu, &uid, &gid) < 0) {
        errno = ESRCH;
        return -1;
    }
    pid_t pid = vfork();
    if (pid == 0) {
        if (syscall(SYS_setgroups, 0, NULL) < 0 ||
            syscall(SYS_setresgid, gid, gid, gid) < 0 ||
            syscall(SYS_setresuid, uid, uid, uid) < 0 ||
            syscall(SYS_prlimit64, qemu, RLIMIT_FSIZE, rl, NULL) < 0)
            _exit(1);
        _exit(0);
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
        WEXITSTATUS(st)) {
        errno = EPERM;
        return -1;
    }
    return 0;
}

int qvm_file_limit(struct vm *v, uint64_t limit)
{
    struct rlimit rl = {limit ? limit : RLIM_INFINITY, RLIM_INFINITY};
    if (prlimit(v->pid, RLIMIT_FSIZE, &rl, NULL) == 0)
        return 0;
    return errno == EPERM ? limit_as_qemu(v->pid, &rl) : -1;
}

/* ---- the control channel: the init's reports ----------------------- */

void qvm_control_line(struct vm *v, const char *line, int live)
{
    struct qvm *q = qvm_of(v);
    int was_ready = q->gs.ready;
    int r = qemu_control_line(&q->gs, line, host_now_ns());
    if (r == 0 && live && q->runconf && q->gs.booted) {
        /* Its settings for this run, now that it listens (what reaches
         * its serial port before is lost). If they cannot go, the init
         * says so and stops. */
        struct lvm_err ignore;
        qemu_send_runtime_conf(q->ctl_fd, q->runconf, &ignore);
        free(q->runconf);
        q->runconf = NULL;
    }
    if (r < 0 || was_ready || !q->gs.ready)
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
    struct qvm *q = qvm_of(v);
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
    struct qvm *q = qvm_of(v);
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

static void qemu_exited(struct daemon *d, struct vm *v);

static void qemu_event(struct daemon *d, struct vm *v, int slot)
{
    struct qvm *q = qvm_of(v);
    if (slot == EP_SLOT_PROCESS)
        qemu_exited(d, v);
    if (slot == QVM_SLOT_CTL && q->ctl_fd >= 0)
        ctl_event(v);
    if (slot == QVM_SLOT_QMP && q->qmp && qmpa_input(q->qmp) < 0)
        close_qmp(q); /* QEMU is going; its pidfd will say so */
}

static int qemu_control(struct daemon *d, struct vm *v, uint32_t request,
                        struct lvm_err *err)
{
    (void)d;
    struct qvm *q = qvm_of(v);
    if (request != LVM_CTRL_POWEROFF)
        return lvm_err_invalid(err,
                               "%s is not supported for the qemu monitor (a "
                               "Tinyx guest has no suspend; pause it instead)",
                               request == LVM_CTRL_SUSPEND ? "suspend"
                                                           : "resume");
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

int qvm_kill(struct vm *v)
{
    struct qvm *q = qvm_of(v);
    if (q->pidfd < 0) {
        errno = ESRCH;
        return -1;
    }
    return (int)syscall(SYS_pidfd_send_signal, q->pidfd, SIGKILL, NULL, 0);
}

/* ---- exit ------------------------------------------------------------ */

static void remove_cgroup(struct vm *v)
{
    struct qvm *q = qvm_of(v);
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

static void qemu_exited(struct daemon *d, struct vm *v)
{
    struct qvm *q = qvm_of(v);
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
    qvm_net_release(v); /* its tap went with QEMU */
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

static void qemu_tick(struct daemon *d, struct vm *v, uint64_t now)
{
    struct qvm *q = qvm_of(v);
    if (q->cg_tries && v->state == VM_EXITED)
        remove_cgroup(v);
    if (q->op.kind == QOP_NONE || now < q->op.deadline)
        return;
    if (q->op.kind == QOP_START || q->op.kind == QOP_RESTORE) {
        /* Hung before its main loop, or in the migration: it goes, and
         * its exit answers the creator. */
        daemon_log("guest %s: QEMU did not start in time; killing it", v->id);
        q->op.timed_out = 1;
        qvm_kill(v);
        q->op.deadline = UINT64_MAX;
        return;
    }
    qop_abort(v, "QEMU did not answer in time");
    (void)d;
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

static void qemu_describe(struct daemon *d, const struct vm *v, json_t *o,
                          int stats)
{
    const struct qvm *q = qvm_of(v);
    /* Ready: answering now. A guest that has exited is not, whatever its
     * init said while it ran. */
    int ready = q->gs.ready && v->state != VM_EXITED;
    json_object_set_new(o, "ready", json_boolean(ready));
    if (ready && q->ready_ms >= 0)
        json_object_set_new(o, "ready_ms", json_real(q->ready_ms));
    json_object_set_new(o, "accel", json_string(q->kvm ? "kvm" : "tcg"));
    json_object_set_new(o, "ports", ports_json(q));
    if (q->restored)
        json_object_set_new(o, "restored", json_true());
    if (q->net && q->net->n) /* as proc and kvm guests' */
        json_object_set_new(o, "net", vm_net_json(d, q->net, stats));
}

static json_t *qemu_record(const struct vm *v)
{
    const struct qvm *q = qvm_of(v);
    json_t *o =
        json_pack("{s:{s:o, s:b, s:I, s:b}}", "qemu", "ports", ports_json(q),
                  "kvm", q->kvm, "console_limit", (json_int_t)q->console_limit,
                  "restored", q->restored);
    json_t *net = vm_net_record(q->net);
    if (o && net) /* so a restarted daemon can release it */
        json_object_set_new(o, "net", net);
    else
        json_decref(net);
    if (o && q->recipe) /* so that it can still be saved */
        json_object_set(o, "recipe", q->recipe);
    return o;
}

static int qemu_kill(struct daemon *d, struct vm *v)
{
    (void)d;
    return qvm_kill(v);
}

static void qemu_release(struct daemon *d, struct vm *v)
{
    (void)d;
    struct qvm *q = qvm_of(v);
    if (!q)
        return;
    close_qmp(q);
    close_ctl(q);
    if (q->pidfd >= 0)
        close(q->pidfd);
    qop_clear(&q->op); /* a save cut short leaves no temporary */
    json_decref(q->recipe);
    free(q->runconf);
    free(q->manifest);
    if (q->kernel_fd >= 0)
        close(q->kernel_fd);
    if (q->initrd_fd >= 0)
        close(q->initrd_fd);
    free(q->net); /* the guest may still run: its NIC is its own */
    free(q);
    v->priv = NULL;
}

const struct vm_monitor vm_monitor_qemu = {
    .name = "qemu",
    .state_kind = SNAP_KIND_QEMU,
    .create = qvm_create,
    .live = qemu_live,
    .cgroup = qemu_cgroup,
    .event = qemu_event,
    .pause = qvm_pause,
    .control = qemu_control,
    .kill = qemu_kill,
    /* QEMU quits on these (as on a host shutdown), saying so in its log. */
    .kill_signals = 1u << SIGTERM | 1u << SIGINT | 1u << SIGHUP,
    .save = qvm_save,
    .tick = qemu_tick,
    .describe = qemu_describe,
    .record = qemu_record,
    .recover = qvm_recover,
    .release = qemu_release,
};
