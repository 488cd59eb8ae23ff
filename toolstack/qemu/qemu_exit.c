/*
 * qemu_exit.c: how a guest under QEMU ended, from the sources there are:
 * what its init reported on the control channel, whether the caller
 * killed QEMU, and QEMU's own wait status when it is known. Pure (no
 * I/O), shared by qemu_vm_reap and lightvmd.
 */
#include "toolstack/qemu/qemu.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

static void crash_or_kill(struct guest_exit *ex, int sig)
{
    ex->status = sig;
    ex->code = 128 + sig;
    int crash = sig == SIGSEGV || sig == SIGBUS || sig == SIGILL ||
                sig == SIGFPE || sig == SIGTRAP || sig == SIGABRT ||
                sig == SIGSYS;
    ex->kind = crash ? GUEST_CRASHED : GUEST_KILLED;
    snprintf(ex->detail, sizeof ex->detail, "SIG%s (signal %d)",
             sigabbrev_np(sig) ? sigabbrev_np(sig) : "?", sig);
}

void qemu_exit_describe(const struct qemu_exit_facts *f, struct guest_exit *ex)
{
    const struct qemu_guest_state *gs = f->gs;
    memset(ex, 0, sizeof *ex);
    ex->syscall = -1;
    if (f->killed) {
        ex->kind = f->timed_out ? GUEST_TIMEOUT : GUEST_KILLED;
        ex->status = SIGKILL;
        ex->code = f->timed_out ? 124 : 128 + SIGKILL;
        snprintf(ex->detail, sizeof ex->detail, "SIGKILL");
    } else if (gs->have_exit && !gs->signaled) {
        ex->kind = GUEST_EXITED;
        ex->status = ex->code = gs->exit_status;
    } else if (gs->have_exit) {
        crash_or_kill(ex, gs->exit_status);
    } else if (gs->error[0]) {
        ex->kind = GUEST_SETUP;
        ex->code = 125;
        snprintf(ex->detail, sizeof ex->detail, "%s", gs->error);
    } else if (f->oom_kills) {
        /* QEMU itself, killed by its cgroup's memory limit */
        ex->kind = GUEST_OOM;
        ex->status = SIGKILL;
        ex->code = 128 + SIGKILL;
    } else if (!f->have_status) {
        ex->kind = GUEST_UNKNOWN;
        ex->code = 255;
        snprintf(ex->detail, sizeof ex->detail,
                 "QEMU ended without a report from the guest's init, and "
                 "its own exit status is unknown (it outlived its daemon)");
    } else if (f->wait_code != CLD_EXITED || f->wait_status != 0) {
        const char *line = f->log_line ? f->log_line : "";
        ex->kind = GUEST_SETUP;
        ex->code = 125;
        snprintf(ex->detail, sizeof ex->detail, "QEMU %s %d%s%s",
                 f->wait_code == CLD_EXITED ? "exited with status"
                                            : "killed by signal",
                 f->wait_status, line[0] ? ": " : "", line);
    } else {
        /* QEMU exits 0 on a guest reboot: the init reboots only after its
         * report, so this is a kernel panic (panic=-1) or an init that
         * never ran. */
        ex->kind = GUEST_ABORTED;
        ex->code = 125;
        snprintf(ex->detail, sizeof ex->detail, "%s",
                 gs->booted ? "the guest rebooted before its app ended "
                              "(kernel panic?)"
                            : "the guest kernel stopped before its init ran "
                              "(see the console)");
    }
}
