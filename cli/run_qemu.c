/*
 * run_qemu.c: `lightvm run` of a Tinyx image without lightvmd: boot it
 * under QEMU in this process (the qemu monitor's library, qemu.h), stream
 * its console, say when it is ready, and exit with the app's exit status.
 * The options are run's (guest_opts.h); cmd_run.c has refused those that
 * do not apply here.
 */
#include "cli/cli.h"
#include "cli/run.h"
#include "toolstack/qemu/qemu_volume.h"
#include "toolstack/guest_policy.h"
#include "toolstack/qemu/qemu.h"
#include "toolstack/qemu/qemu_image.h"
#include "tinyx/kernel.h"
#include "toolstack/host.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

struct qrun {
    struct qemu_vm_config cfg;
    struct tinyx_manifest m;
    struct tinyx_kernel kernel;
    const char *console_path;
    double timeout, ready_timeout;
    int wait_ready, quiet;
    char ip[24];
    struct run_qemu_nic nic; /* --net: a NIC on a lightvm bridge */
    char *runconf;           /* a command or -e given: cfg.runtime_conf */
    int volume_fd[QEMU_MAX_VOLUMES];
    unsigned nvolumes;
    char serial[QEMU_MAX_VOLUMES][8];
};

/* -v FILE:PATH: FILE open (read-only with :ro), a disk "vol<i>" of
 * QEMU's, and its mount line for the init. */
static int volumes(const struct guest_opts *g, struct qrun *q,
                   struct lvm_err *err)
{
    for (unsigned i = 0; i < g->nvolumes; i++) {
        const struct qemu_volume *v = &g->volumes[i];
        int fd = open(v->path, (v->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
        if (fd < 0 && errno == EISDIR) /* qemu_volume_fstype says what to do */
            fd = open(v->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
            return lvm_err_set(err, errno, "volume %s", v->path);
        q->volume_fd[q->nvolumes++] = fd;
        const char *fstype;
        if (qemu_volume_fstype(fd, v->path, &fstype, err) < 0 ||
            qemu_volume_lock(fd, v->path, v->readonly, err) < 0 ||
            qemu_volume_conf(&q->runconf, i, v, fstype, err) < 0)
            return -1;
        snprintf(q->serial[i], sizeof q->serial[i], "vol%u", i);
        q->cfg.disks[q->cfg.ndisks++] =
            (struct qemu_disk){.path = v->path,
                               .fd = fd,
                               .readonly = v->readonly,
                               .serial = q->serial[i]};
    }
    return 0;
}

/* The image's settings, then the options on top. 0, or -1 with (err). */
static int configure(const struct run_opts *o, struct qrun *q,
                     struct lvm_err *err)
{
    const struct guest_opts *g = &o->g;
    struct qemu_vm_config *cfg = &q->cfg;
    if (tinyx_manifest_load(g->argv[0], &q->m, err) < 0)
        return -1;
    struct qemu_vm_config img;
    qemu_config_from_image(&q->m, &img);
    cfg->name = g->name ? g->name : q->m.name;
    cfg->kernel = img.kernel;
    cfg->initrd = img.initrd;
    cfg->acpi = img.acpi;
    /* As lightvmd does: a quiet kernel (the console is the app's), and
     * as many vCPUs as the CPU quota can use. */
    cfg->quiet = 1;
    cfg->cpus = guest_qemu_vcpus(g->cpus);
    cfg->die_with_parent = 1;
    cfg->accel = (enum qemu_accel)g->accel;
    for (int i = 0; i < g->nports; i++)
        qemu_fwd_parse(g->ports[i], &cfg->fwd[cfg->nfwd++]); /* checked */
    cfg->net = g->no_net ? QEMU_NET_NONE : QEMU_NET_USER;
    cfg->tap_fd = g->tap_fd;
    if (g->tap || g->tap_fd >= 0) {
        cfg->net = QEMU_NET_TAP;
        cfg->tap_ifname = g->tap;
    }
    if (g->ip_arg) /* with a tap (guest_opts_check) */
        snprintf(cfg->guest_ip, sizeof cfg->guest_ip, "%s%s", g->ip_arg,
                 g->ip_prefix ? "" : "/24");
    if (g->gateway)
        snprintf(cfg->gateway, sizeof cfg->gateway, "%s", g->gateway);
    if (g->dns)
        snprintf(cfg->dns, sizeof cfg->dns, "%s", g->dns);
    if (g->mac)
        snprintf(cfg->mac, sizeof cfg->mac, "%s", g->mac);
    if (g->kernel) {
        if (kernel_from_path(g->kernel, &q->kernel, err) < 0)
            return -1;
        cfg->kernel = q->kernel.path;
        cfg->acpi = q->kernel.acpi;
    }
    /* RAM within the policy's range for the kernel that boots (Debian's
     * stock kernel needs more than a tiny one). */
    const char *kind = g->kernel ? q->kernel.kind : q->m.kernel.kind;
    if (guest_ram_pick(GUEST_MON_QEMU, guest_kernel_of(kind), g->mem, img.mem,
                       &cfg->mem, err) < 0)
        return -1;
    /* A command after the image, or -e: this run's settings, for an
     * init that reads them. */
    if (g->argc > 1 || g->nenv || g->nvolumes) {
        if (!q->m.init_config)
            return lvm_err_set(err, 0,
                               "image %s was built before a command, -e or "
                               "-v could be given at run time: build it "
                               "again (lightvm tinyx build)",
                               g->argv[0]);
        if ((g->argc > 1 || g->nenv) &&
            qemu_runtime_conf(g->argv + 1, g->argc - 1, g->env, g->nenv,
                              &q->runconf, err) < 0)
            return -1;
        if (volumes(g, q, err) < 0)
            return -1;
        cfg->runtime_conf = q->runconf;
    }
    q->console_path = o->console_path;
    q->timeout = o->timeout;
    q->quiet = o->quiet;
    q->wait_ready = g->wait_ready;
    q->ready_timeout = g->ready_timeout;
    if (q->wait_ready && q->m.health == TINYX_HEALTH_NONE)
        return lvm_err_set(err, 0,
                           "--wait-ready: image %s has no health check "
                           "(tinyx build --health)",
                           g->argv[0]);
    return 0;
}

struct loop {
    struct qemu_vm *vm;
    struct qrun *q;
    int sigfd, timerfd, readyfd;
    int interrupts, reported;
};

static void on_signal(struct loop *l)
{
    struct signalfd_siginfo si;
    while (read(l->sigfd, &si, sizeof si) == sizeof si) {
        struct lvm_err err;
        if (l->interrupts++ == 0) {
            cli_msg("asking guest %s to power off (interrupt again to kill "
                    "it)",
                    l->vm->name);
            if (qemu_vm_poweroff(l->vm, &err) < 0)
                qemu_vm_kill(l->vm, 0);
        } else {
            qemu_vm_kill(l->vm, 0);
        }
    }
}

/* The guest said it is ready: confirm from the host when the health port
 * is published, then say how long it took. */
static void on_ready(struct loop *l)
{
    struct qemu_vm *vm = l->vm;
    l->reported = 1;
    struct itimerspec off = {{0, 0}, {0, 0}};
    timerfd_settime(l->readyfd, 0, &off, NULL);
    struct lvm_err err;
    if (qemu_vm_wait_answer(vm, &l->q->m, 10000, &err) < 0) {
        cli_error(&err);
        return;
    }
    double secs = (double)(host_now_ns() - vm->start_ns) / 1e9;
    uint16_t hp = l->q->m.health == TINYX_HEALTH_TCP
                      ? qemu_vm_host_port(vm, (uint16_t)l->q->m.health_port)
                      : 0;
    char where[64] = "";
    if (hp)
        snprintf(where, sizeof where, ", host port %u", hp);
    if (l->q->m.health == TINYX_HEALTH_TCP)
        cli_msg("guest %s ready in %.3f s (TCP port %u answers%s; %s)",
                vm->name, secs, l->q->m.health_port, where,
                vm->accel_kvm ? "KVM" : "TCG");
    else
        cli_msg("guest %s ready in %.3f s (health command passed; %s)",
                vm->name, secs, vm->accel_kvm ? "KVM" : "TCG");
}

static void run_loop(struct loop *l)
{
    struct qemu_vm *vm = l->vm;
    while (!vm->exited) {
        struct pollfd p[6];
        int n = qemu_vm_pollfds(vm, p);
        p[n++] = (struct pollfd){l->sigfd, POLLIN, 0};
        p[n++] = (struct pollfd){l->timerfd, POLLIN, 0};
        p[n++] = (struct pollfd){l->readyfd, POLLIN, 0};
        int r = poll(p, (nfds_t)n, -1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return;
        qemu_vm_service(vm, p, 3);
        if (p[3].revents & POLLIN)
            on_signal(l);
        uint64_t x;
        if ((p[4].revents & POLLIN) && read(l->timerfd, &x, sizeof x) > 0)
            qemu_vm_kill(vm, 1);
        if ((p[5].revents & POLLIN) && read(l->readyfd, &x, sizeof x) > 0 &&
            !vm->gs.ready) {
            cli_msg("guest %s not ready after %.0f s: stopping it", vm->name,
                    l->q->ready_timeout);
            qemu_vm_kill(vm, 0);
            l->reported = -1;
        }
        if (vm->gs.ready && !l->reported && !vm->exited)
            on_ready(l);
    }
}

static int arm(int fd, double secs)
{
    struct itimerspec its = {{0, 0},
                             {(time_t)secs, (long)(fmod(secs, 1.0) * 1e9)}};
    return timerfd_settime(fd, 0, &its, NULL);
}

int run_qemu_cold(struct run_opts *o)
{
    struct qrun *q = calloc(1, sizeof *q);
    if (!q)
        return CLI_EXIT_ERROR;
    struct lvm_err err;
    struct loop l = {.q = q, .sigfd = -1, .timerfd = -1, .readyfd = -1};
    q->nic.tap_fd = -1;
    int code = CLI_EXIT_ERROR, console = STDOUT_FILENO;
    if (configure(o, q, &err) < 0)
        goto fail;
    if (q->console_path) {
        console = open(q->console_path,
                       O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (console < 0) {
            lvm_err_set(&err, errno, "open console file %s", q->console_path);
            goto fail;
        }
    }
    /* Signals and the timeout as run's other engines have them; the
     * readiness deadline is this engine's own. */
    struct waitset ws;
    if (waitset_open(&ws, q->timeout, &err) < 0)
        goto fail;
    l.sigfd = ws.sigfd;
    l.timerfd = ws.timerfd; /* -1 without --timeout: poll skips it */
    l.readyfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (l.readyfd < 0 ||
        (q->wait_ready && arm(l.readyfd, q->ready_timeout) < 0)) {
        lvm_err_set(&err, errno, "set up the readiness deadline");
        goto fail;
    }
    if (o->g.net.enabled && run_qemu_nic(&o->g.net, &q->cfg, &q->nic, &err) < 0)
        goto fail;
    uint64_t t0 = host_now_ns();
    int started = qemu_vm_start(&q->cfg, console, &l.vm, &err);
    if (o->g.net.enabled) /* QEMU has its own copies */
        qemu_nic_close(&q->cfg, &q->nic.tap_fd);
    if (started < 0)
        goto fail;
    if (getenv("LIGHTVM_TIMING"))
        fprintf(stderr, "lightvm: timing (us): start %.0f (until QEMU is up)\n",
                (double)(host_now_ns() - t0) / 1e3);
    run_loop(&l);
    struct guest_exit ex;
    if (qemu_vm_reap(l.vm, &ex, &err) < 0)
        goto fail;
    if (l.reported < 0) {
        code = CLI_EXIT_ERROR;
        goto out;
    }
    if (ex.kind != GUEST_EXITED || (ex.status != 0 && !q->quiet)) {
        char buf[512];
        cli_msg("guest %s %s", l.vm->name,
                guest_exit_str(&ex, buf, sizeof buf));
    }
    code = ex.code;
    goto out;
fail:
    cli_error(&err);
out:
    qemu_vm_free(l.vm);
    run_qemu_nic_release(&q->nic); /* tap, lease, filter entry */
    if (console != STDOUT_FILENO && console >= 0)
        close(console);
    if (l.sigfd >= 0)
        close(l.sigfd);
    if (l.timerfd >= 0)
        close(l.timerfd);
    if (l.readyfd >= 0)
        close(l.readyfd);
    free(q->runconf);
    for (unsigned i = 0; i < q->nvolumes; i++)
        close(q->volume_fd[i]);
    free(q);
    return code;
}
