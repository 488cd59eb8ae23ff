/*
 * vm_super.c: a VM container's supervisor (vm_super.h).
 */
#include "oci/vm_super.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

/* Signals relayed to the app: those a container's process would get
 * from `kill` (SIGKILL and SIGSTOP cannot be caught: SIGKILL ends the
 * supervisor, and QEMU with it). */
static const int relayed[] = {SIGTERM, SIGINT,  SIGHUP,   SIGQUIT,
                              SIGUSR1, SIGUSR2, SIGWINCH, SIGALRM};

static void say(int fd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void say(int fd, const char *fmt, ...)
{
    char buf[600];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof buf - 2)
        n = sizeof buf - 2;
    buf[n++] = '\n';
    /* The console is the container's output (podman logs) and stderr
     * is conmon's log: say it on both. */
    if (write(fd, buf, (size_t)n) < 0 ||
        (fd != 2 && write(2, buf, (size_t)n) < 0))
        return;
}

void oci_vm_supervise(struct oci_vm_super *s)
{
    signal(SIGPIPE, SIG_IGN);
    sigset_t mask;
    sigemptyset(&mask);
    for (size_t i = 0; i < sizeof relayed / sizeof relayed[0]; i++)
        sigaddset(&mask, relayed[i]);
    /* At the gate, a signal ends the container as it would a process
     * that has not run yet: left to its default action. */
    char b;
    if (write(s->ready_fd, "1", 1) != 1)
        _exit(125);
    close(s->ready_fd);
    ssize_t n;
    do
        n = read(s->gate_fd, &b, 1);
    while (n < 0 && errno == EINTR);
    close(s->gate_fd);
    if (n != 1)
        _exit(125);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    struct qemu_vm *vm = NULL;
    struct lvm_err e = {0};
    if (sfd < 0 || qemu_vm_start(&s->cfg, s->console, &vm, &e) < 0) {
        say(s->console, "lightvm-runtime: start the VM: %s",
            sfd < 0 ? strerror(errno) : e.msg);
        _exit(125);
    }
    while (!vm->exited) {
        struct pollfd p[4];
        int np = qemu_vm_pollfds(vm, p);
        p[np] = (struct pollfd){sfd, POLLIN, 0};
        if (poll(p, (nfds_t)np + 1, -1) < 0 && errno != EINTR)
            break;
        qemu_vm_service(vm, p, np);
        struct signalfd_siginfo si;
        while (read(sfd, &si, sizeof si) == sizeof si) {
            /* To the app's process group, through the init. */
            char line[32];
            int len = snprintf(line, sizeof line, "kill %u\n", si.ssi_signo);
            if (write(vm->ctl_fd, line, (size_t)len) != len)
                qemu_vm_kill(vm, 0);
        }
    }
    struct guest_exit ex;
    memset(&ex, 0, sizeof ex);
    if (qemu_vm_reap(vm, &ex, &e) < 0) {
        say(s->console, "lightvm-runtime: %s", e.msg);
        _exit(125);
    }
    if (ex.code >= 124 && ex.detail[0] && !vm->gs.have_exit)
        say(s->console, "lightvm-runtime: %s", ex.detail);
    qemu_vm_free(vm);
    _exit(ex.code);
}
