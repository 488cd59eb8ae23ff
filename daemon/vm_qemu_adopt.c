/*
 * vm_qemu_adopt.c: a qemu guest found by a restarted daemon (see "Surviving
 * the daemon" in docs/daemon.md). QEMU did not depend on the daemon: it
 * kept serving its sockets, writing its console and logging the init's
 * reports. So a guest whose QEMU still runs is adopted: its pidfd, its
 * sockets connected again, its pause state asked of QMP, its readiness
 * read back. One whose QEMU has gone gets its exit from the init's log.
 */
#include "daemon/vm_qemu.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

static void read_config(struct qvm *q, json_t *cfg)
{
    json_t *qc = json_object_get(cfg, "qemu");
    json_t *ports = json_object_get(qc, "ports");
    size_t i;
    json_t *p;
    json_array_foreach (ports, i, p) {
        if (q->nfwd == QEMU_MAX_FWDS)
            break;
        struct qemu_fwd *f = &q->fwd[q->nfwd++];
        const char *addr = json_string_value(json_object_get(p, "host_addr"));
        snprintf(f->host_addr, sizeof f->host_addr, "%s", addr ? addr : "");
        f->host_port = (uint16_t)json_integer_value(json_object_get(p, "host"));
        f->guest_port =
            (uint16_t)json_integer_value(json_object_get(p, "guest"));
    }
    q->kvm = json_is_true(json_object_get(qc, "kvm"));
    q->restored = json_is_true(json_object_get(qc, "restored"));
    q->console_limit =
        (uint64_t)json_integer_value(json_object_get(qc, "console_limit"));
    if (!q->console_limit)
        q->console_limit = GUEST_CONSOLE_LIMIT_LOG;
}

/* Readiness: the host's measure if the last daemon heard it, else the
 * guest's own from the init's log. */
static void read_ready(struct vm *v)
{
    struct qvm *q = qvm_of(v);
    qvm_replay_ctl_log(v);
    char path[PATH_MAX];
    rundir_path(q->d, v->id, QVM_READY, path, sizeof path);
    FILE *f = fopen(path, "re");
    double ms;
    if (f && fscanf(f, "%lf", &ms) == 1 && q->gs.ready)
        q->ready_ms = ms;
    if (f)
        fclose(f);
}

static int adopt(struct vm *v, struct lvm_err *err)
{
    struct qvm *q = qvm_of(v);
    q->pidfd = (int)syscall(SYS_pidfd_open, v->pid, 0);
    if (q->pidfd < 0)
        return lvm_err_set(err, errno, "pidfd_open %d", (int)v->pid);
    if (vm_watch(q->d, v, q->pidfd, &v->ep, EP_SLOT_PROCESS, err) < 0) {
        close(q->pidfd);
        q->pidfd = -1;
        return -1;
    }
    v->adopted = 1;
    v->state = VM_RUNNING;
    /* ready_ms of a report heard from now on counts from the start */
    double age = daemon_unix_time() - v->created;
    uint64_t now = host_now_ns();
    q->start_ns =
        age > 0 && age * 1e9 < (double)now ? now - (uint64_t)(age * 1e9) : now;
    /* A save cut short by the last daemon's death lifted this. */
    qvm_file_limit(v, q->console_limit);
    /* Without its sockets it can still be destroyed; say why not more. */
    struct lvm_err e2;
    if (qvm_connect(v, &e2) < 0)
        daemon_log("guest %s: %s", v->id, e2.msg);
    else if (qop_start(v, QOP_ADOPT, NULL, &e2) < 0)
        daemon_log("guest %s: %s", v->id, e2.msg);
    return 0;
}

/* Its QEMU ended while no daemon watched: the init's log says how, if it
 * said. */
static void gone(struct vm *v)
{
    struct qvm *q = qvm_of(v);
    struct qemu_exit_facts f = {.gs = &q->gs};
    struct cgroup_stats cs;
    struct lvm_err err;
    if (q->have_cg && cgroup_stats(&q->cg, &cs, &err) == 0)
        f.oom_kills = cs.oom_kills;
    qemu_exit_describe(&f, &v->exit);
    if (v->exit.kind == GUEST_UNKNOWN)
        snprintf(v->exit.detail, sizeof v->exit.detail,
                 "exited while lightvmd was not running");
    v->state = VM_EXITED;
    rundir_write_exit(q->d, v);
}

void qvm_recover(struct daemon *d, struct vm *v, json_t *cfg, int alive)
{
    int exited = v->state == VM_EXITED;
    struct qvm *q = qvm_new(d, v);
    if (!q) {
        daemon_log("guest %s: out of memory", v->id);
        abort(); /* cannot track a running guest: nothing sane to do */
    }
    read_config(q, cfg);
    q->recipe = json_incref(json_object_get(cfg, "recipe"));
    json_t *net = json_object_get(cfg, "net");
    if (net && !exited) /* an exited guest's went when it ended */
        q->net = vm_net_adopt(d, net);
    cgroup_open(&q->cg, v->id);
    q->have_cg = cgroup_exists(&q->cg);
    read_ready(v);
    struct lvm_err err;
    if (!exited && alive && adopt(v, &err) < 0) {
        daemon_log("guest %s: cannot adopt it: %s", v->id, err.msg);
        alive = 0;
    }
    if (!exited && !alive) {
        gone(v);
        qvm_net_release(v); /* its lease and filter entry outlived it */
    }
    if (v->state == VM_EXITED && q->have_cg &&
        cgroup_destroy(&q->cg, &err) == 0)
        q->have_cg = 0;
}
