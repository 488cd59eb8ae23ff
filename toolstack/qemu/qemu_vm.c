/*
 * qemu_vm.c: start QEMU for a guest, serve its console and control
 * channel, stop it and say how it ended (see qemu.h).
 */
#include "toolstack/qemu/qemu.h"
#include "toolstack/qemu/qemu_qmp.h"
#include "toolstack/qemu/qemu_spawn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
    return qemu_now_ns();
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* Spawn QEMU with (cfg) and connect QMP; fills vm. */
static int launch(struct qemu_vm *vm, const struct qemu_vm_config *cfg,
                  struct lvm_err *err)
{
    int con[2] = {-1, -1}, ctl[2] = {-1, -1}, qmp[2] = {-1, -1};
    int r = -1;
    struct qemu_start *s = malloc(sizeof *s);
    struct qemu_argv *a = malloc(sizeof *a);
    if (!s || !a) {
        free(s);
        free(a);
        return lvm_err_set(err, ENOMEM, "QEMU command line");
    }
    if (qemu_prepare(cfg, NULL, s, err) < 0)
        goto out;
    vm->accel_kvm = s->kvm;
    memcpy(vm->fwd, s->c.fwd, sizeof vm->fwd);
    vm->nfwd = s->c.nfwd;
    int tap = s->c.net == QEMU_NET_TAP ? s->c.tap_fd : -1;
    int xtaps[QEMU_MAX_XNICS];
    for (unsigned i = 0; i < s->c.nxnics && i < QEMU_MAX_XNICS; i++)
        xtaps[i] = s->c.xnic[i].tap_fd;
    struct qemu_fds fds = {.console = QEMU_FD_CONSOLE,
                           .ctl = QEMU_FD_CTL,
                           .qmp = QEMU_FD_QMP,
                           .tap = tap >= 0 ? QEMU_FD_TAP : -1,
                           .xtap = qemu_xtap_fd(s->ndisk_fds),
                           .exec = cfg->exec && cfg->exec_fd > 0 ? QEMU_FD_EXEC
                                                                 : 0};
    if (qemu_build_argv(&s->c, &fds, s->kvm, s->kvm ? 0 : qemu_host_tsc_khz(),
                        a, err) < 0)
        goto out;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, con) < 0 ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl) < 0 ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, qmp) < 0) {
        lvm_err_set(err, errno, "create QEMU's channels");
        goto out;
    }
    vm->log_fd = memfd_create("qemu-log", MFD_CLOEXEC);
    if (vm->log_fd < 0) {
        lvm_err_set(err, errno, "memfd for QEMU's log");
        goto out;
    }
    int xfd = cfg->exec && cfg->exec_fd > 0 ? cfg->exec_fd : -1;
    struct qemu_child ch = {.src = {con[1], ctl[1], qmp[1], tap, -1,
                                    s->boot_fd[0], s->boot_fd[1], xfd},
                            .disk_fds = s->disk_fd,
                            .xtap_fds = xtaps,
                            .nxtaps = (int)s->c.nxnics,
                            .ndisks = s->ndisk_fds,
                            .log_fd = vm->log_fd,
                            .die_with_parent = s->c.die_with_parent,
                            .jail = &s->jail};
    vm->start_ns = now_ns();
    if (qemu_spawn(a, &ch, &vm->pid, &vm->pidfd, err) < 0) {
        vm->pid = 0;
        goto out;
    }
    pid_t pid = vm->pid;
    vm->console_fd = con[0];
    vm->ctl_fd = ctl[0];
    con[0] = ctl[0] = -1;

    fcntl(vm->console_fd, F_SETFL, O_NONBLOCK);
    fcntl(vm->ctl_fd, F_SETFL, O_NONBLOCK);
    vm->qmp = malloc(sizeof *vm->qmp);
    if (!vm->qmp) {
        lvm_err_set(err, ENOMEM, "QMP");
        goto out;
    }
    /* Close our copies of QEMU's ends now, so that a QEMU dying during
     * start-up shows as end-of-file on QMP. */
    close_fd(&con[1]);
    close_fd(&ctl[1]);
    close_fd(&qmp[1]);
    if (qmp_connect(vm->qmp, qmp[0], err) < 0) {
        char line[300];
        /* dead already, or hung before its main loop: either way */
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        close(vm->pidfd);
        vm->pidfd = -1;
        vm->pid = 0;
        qemu_last_log_line(vm->log_fd, line, sizeof line);
        if (line[0])
            lvm_err_set(err, 0, "QEMU failed: %s", line);
        goto out;
    }
    qmp[0] = -1;
    r = 0;
out:
    if (r < 0 && vm->qmp) {
        free(vm->qmp);
        vm->qmp = NULL;
    }
    close_fd(&con[0]);
    close_fd(&con[1]);
    close_fd(&ctl[0]);
    close_fd(&ctl[1]);
    close_fd(&qmp[0]);
    close_fd(&qmp[1]);
    qemu_release(s);
    free(s);
    free(a);
    return r;
}

static struct qemu_vm *vm_new(const struct qemu_vm_config *cfg, int console_out)
{
    struct qemu_vm *vm = calloc(1, sizeof *vm);
    if (!vm)
        return NULL;
    vm->pidfd = vm->console_fd = vm->ctl_fd = vm->log_fd = -1;
    vm->console_out = console_out;
    snprintf(vm->name, sizeof vm->name, "%s", cfg->name ? cfg->name : "qemu");
    return vm;
}

int qemu_vm_start(const struct qemu_vm_config *cfg, int console_out,
                  struct qemu_vm **out, struct lvm_err *err)
{
    *out = NULL;
    struct qemu_vm *vm = vm_new(cfg, console_out);
    if (!vm)
        return lvm_err_set(err, ENOMEM, "new guest");
    /* Sent when the init says it has booted: what reaches its serial port
     * before it opens it is lost. */
    if (cfg->runtime_conf && !(vm->runconf = strdup(cfg->runtime_conf))) {
        qemu_vm_free(vm);
        return lvm_err_set(err, ENOMEM, "new guest");
    }
    if (launch(vm, cfg, err) < 0) {
        qemu_vm_free(vm);
        return lvm_err_wrap(err, "start guest %s", cfg->name ? cfg->name : "");
    }
    *out = vm;
    return 0;
}

static void read_control(struct qemu_vm *vm)
{
    for (;;) {
        ssize_t n = read(vm->ctl_fd, vm->ctlbuf + vm->ctllen,
                         sizeof vm->ctlbuf - 1 - vm->ctllen);
        if (n <= 0)
            return;
        vm->ctllen += (size_t)n;
        vm->ctlbuf[vm->ctllen] = 0;
        char *nl;
        while ((nl = strchr(vm->ctlbuf, '\n'))) {
            *nl = 0;
            char *cr = strchr(vm->ctlbuf, '\r');
            if (cr)
                *cr = 0;
            qemu_control_line(&vm->gs, vm->ctlbuf, now_ns());
            if (vm->runconf && vm->gs.booted) {
                struct lvm_err ignore; /* the init says if it got nothing */
                qemu_send_runtime_conf(vm->ctl_fd, vm->runconf, &ignore);
                free(vm->runconf);
                vm->runconf = NULL;
            }
            size_t rest = vm->ctllen - (size_t)(nl + 1 - vm->ctlbuf);
            memmove(vm->ctlbuf, nl + 1, rest + 1);
            vm->ctllen = rest;
        }
        if (vm->ctllen == sizeof vm->ctlbuf - 1)
            vm->ctllen = 0; /* a line too long to be ours */
    }
}

static void copy_console(struct qemu_vm *vm)
{
    char buf[16384];
    for (;;) {
        ssize_t n = read(vm->console_fd, buf, sizeof buf);
        if (n <= 0)
            return;
        if (vm->console_out < 0)
            continue;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(vm->console_out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                break; /* a closed terminal must not stop the guest */
            off += w;
        }
    }
}

int qemu_vm_pollfds(const struct qemu_vm *vm, struct pollfd *fds)
{
    fds[0] = (struct pollfd){vm->pidfd, POLLIN, 0};
    fds[1] = (struct pollfd){vm->console_fd, POLLIN, 0};
    fds[2] = (struct pollfd){vm->ctl_fd, POLLIN, 0};
    return 3;
}

void qemu_vm_service(struct qemu_vm *vm, const struct pollfd *fds, int n)
{
    if (n > 1 && fds[1].revents)
        copy_console(vm);
    if (n > 2 && fds[2].revents)
        read_control(vm);
    if (fds[0].revents & (POLLIN | POLLHUP)) {
        /* QEMU is gone: what it left in the channels is still readable */
        copy_console(vm);
        read_control(vm);
        vm->exited = 1;
    }
}

/* Poll and service until (done) says so, QEMU exits or time runs out. */
static int pump(struct qemu_vm *vm, int timeout_ms,
                int (*done)(const struct qemu_vm *))
{
    uint64_t deadline =
        now_ns() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms) * 1000000ull;
    while (!vm->exited && !done(vm)) {
        int wait = -1;
        if (timeout_ms >= 0) {
            uint64_t t = now_ns();
            if (t >= deadline)
                return -1;
            wait = (int)((deadline - t) / 1000000ull) + 1;
        }
        struct pollfd p[3];
        int n = qemu_vm_pollfds(vm, p);
        int r = poll(p, (nfds_t)n, wait);
        if (r < 0 && errno != EINTR)
            return -1;
        if (r > 0)
            qemu_vm_service(vm, p, n);
    }
    return 0;
}

static int is_ready(const struct qemu_vm *vm)
{
    return vm->gs.ready;
}

static int never(const struct qemu_vm *vm)
{
    return 0;
}

int qemu_vm_wait_ready(struct qemu_vm *vm, int timeout_ms, struct lvm_err *err)
{
    if (pump(vm, timeout_ms, is_ready) < 0)
        return lvm_err_set(err, ETIMEDOUT, "guest %s not ready after %d ms",
                           vm->name, timeout_ms);
    if (!vm->gs.ready)
        return lvm_err_set(err, 0, "guest %s ended before it was ready",
                           vm->name);
    return 0;
}

int qemu_vm_wait(struct qemu_vm *vm, int timeout_ms, struct lvm_err *err)
{
    if (pump(vm, timeout_ms, never) < 0 || !vm->exited)
        return lvm_err_set(err, ETIMEDOUT, "guest %s still runs after %d ms",
                           vm->name, timeout_ms);
    return 0;
}

double qemu_vm_ready_seconds(const struct qemu_vm *vm)
{
    if (!vm->gs.ready || !vm->gs.ready_ns)
        return -1;
    return (double)(vm->gs.ready_ns - vm->start_ns) / 1e9;
}

int qemu_vm_poweroff(struct qemu_vm *vm, struct lvm_err *err)
{
    static const char msg[] = "poweroff\n";
    if (vm->exited)
        return 0;
    if (write(vm->ctl_fd, msg, sizeof msg - 1) != (ssize_t)sizeof msg - 1)
        return lvm_err_set(err, errno, "ask guest %s to power off", vm->name);
    return 0;
}

void qemu_vm_kill(struct qemu_vm *vm, int timed_out)
{
    if (vm->pidfd < 0 || vm->exited)
        return;
    vm->killed = 1;
    vm->timed_out |= timed_out;
    syscall(SYS_pidfd_send_signal, vm->pidfd, SIGKILL, NULL, 0);
}

int qemu_vm_stop(struct qemu_vm *vm, int grace_ms, struct lvm_err *err)
{
    struct lvm_err ignore;
    if (vm->paused)
        qemu_vm_resume(vm, &ignore);
    if (qemu_vm_poweroff(vm, &ignore) < 0 ||
        qemu_vm_wait(vm, grace_ms, &ignore) < 0) {
        qemu_vm_kill(vm, 0);
        if (qemu_vm_wait(vm, 5000, err) < 0)
            return -1;
    }
    return 0;
}

int qemu_vm_reap(struct qemu_vm *vm, struct guest_exit *ex, struct lvm_err *err)
{
    memset(ex, 0, sizeof *ex);
    ex->syscall = -1;
    siginfo_t si;
    memset(&si, 0, sizeof si);
    int r;
    do
        r = waitid(P_PIDFD, (id_t)vm->pidfd, &si, WEXITED);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return lvm_err_set(err, errno, "wait for QEMU of guest %s", vm->name);
    vm->pid = 0;
    vm->exited = 1;
    char line[300];
    qemu_last_log_line(vm->log_fd, line, sizeof line);
    struct qemu_exit_facts f = {.gs = &vm->gs,
                                .killed = vm->killed,
                                .timed_out = vm->timed_out,
                                .have_status = 1,
                                .wait_code = si.si_code,
                                .wait_status = si.si_status,
                                .log_line = line};
    qemu_exit_describe(&f, ex);
    return 0;
}

void qemu_vm_free(struct qemu_vm *vm)
{
    if (!vm)
        return;
    if (vm->pid > 0 && vm->pidfd >= 0) {
        syscall(SYS_pidfd_send_signal, vm->pidfd, SIGKILL, NULL, 0);
        siginfo_t si;
        waitid(P_PIDFD, (id_t)vm->pidfd, &si, WEXITED);
    }
    if (vm->qmp) {
        close(vm->qmp->fd);
        free(vm->qmp);
    }
    close_fd(&vm->pidfd);
    close_fd(&vm->console_fd);
    close_fd(&vm->ctl_fd);
    free(vm->runconf);
    close_fd(&vm->log_fd);
    free(vm);
}
