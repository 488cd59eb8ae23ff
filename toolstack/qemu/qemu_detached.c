/*
 * qemu_detached.c: start a QEMU that outlives its caller (see "a QEMU
 * that outlives its caller" in qemu.h): lightvmd's guests.
 */
#include "toolstack/qemu/qemu.h"
#include "toolstack/qemu/qemu_spawn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int qemu_start_detached(const struct qemu_vm_config *cfg,
                        const struct qemu_detached *det, struct qemu_proc *out,
                        struct lvm_err *err)
{
    memset(out, 0, sizeof *out);
    out->pidfd = -1;
    if (det->njoin > QEMU_SPAWN_MAX_JOIN)
        return lvm_err_invalid(err, "too many cgroup files");
    struct qemu_start *s = malloc(sizeof *s);
    struct qemu_argv *a = malloc(sizeof *a);
    int r = -1;
    if (!s || !a) {
        lvm_err_set(err, ENOMEM, "QEMU command line");
        goto out;
    }
    /* Files the caller opened (as its client): QEMU boots exactly those,
     * whatever the paths name by now. */
    int boot[2] = {det->kernel_fd, det->initrd_fd};
    if (qemu_prepare(cfg, boot, s, err) < 0)
        goto out;
    s->c.die_with_parent = 0;
    out->kvm = s->kvm;
    memcpy(out->fwd, s->c.fwd, sizeof out->fwd);
    out->nfwd = s->c.nfwd;
    int tap = s->c.net == QEMU_NET_TAP ? s->c.tap_fd : -1;
    int xtaps[QEMU_MAX_XNICS];
    for (unsigned i = 0; i < s->c.nxnics && i < QEMU_MAX_XNICS; i++)
        xtaps[i] = s->c.xnic[i].tap_fd;
    struct qemu_fds fds = {.console = QEMU_FD_CONSOLE,
                           .ctl = QEMU_FD_CTL,
                           .qmp = QEMU_FD_QMP,
                           .tap = tap >= 0 ? QEMU_FD_TAP : -1,
                           .xtap = qemu_xtap_fd(s->ndisk_fds),
                           .listen = 1,
                           .console_file = 1,
                           .ctl_log =
                               det->ctl_log_fd >= 0 ? QEMU_FD_CTL_LOG : 0,
                           .exec = det->exec_listen >= 0 ? QEMU_FD_EXEC : 0};
    r = qemu_build_argv(&s->c, &fds, s->kvm, s->kvm ? 0 : qemu_host_tsc_khz(),
                        a, err);
    if (r == 0) {
        struct qemu_child ch = {.src = {det->console_fd, det->ctl_listen,
                                        det->qmp_listen, tap, det->ctl_log_fd,
                                        s->boot_fd[0], s->boot_fd[1],
                                        det->exec_listen},
                                .disk_fds = s->disk_fd,
                                .xtap_fds = xtaps,
                                .nxtaps = (int)s->c.nxnics,
                                .ndisks = s->ndisk_fds,
                                .log_fd = det->log_fd,
                                .join_fds = det->join_fds,
                                .njoin = det->njoin,
                                .file_limit = det->file_limit,
                                .jail = &s->jail};
        out->start_ns = qemu_now_ns();
        r = qemu_spawn(a, &ch, &out->pid, &out->pidfd, err);
    }
out:
    if (s)
        qemu_release(s);
    free(s);
    free(a);
    return r;
}
