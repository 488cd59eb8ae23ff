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
        return lvm_err_set(err, EINVAL, "too many cgroup files");
    struct qemu_vm_config c;
    if (qemu_prepare(cfg, &c, &out->kvm, err) < 0)
        return -1;
    c.die_with_parent = 0;
    /* Files the caller opened (as its client): QEMU boots exactly those,
     * whatever the paths name by now. */
    char kernel[32], initrd[32];
    if (det->kernel_fd >= 0) {
        snprintf(kernel, sizeof kernel, "/proc/self/fd/%d", QEMU_FD_KERNEL);
        c.kernel = kernel;
    }
    if (det->initrd_fd >= 0) {
        snprintf(initrd, sizeof initrd, "/proc/self/fd/%d", QEMU_FD_INITRD);
        c.initrd = initrd;
    }
    memcpy(out->fwd, c.fwd, sizeof out->fwd);
    out->nfwd = c.nfwd;
    int tap = c.net == QEMU_NET_TAP && c.tap_fd >= 0 ? c.tap_fd : -1;
    struct qemu_fds fds = {.console = -1,
                           .ctl = QEMU_FD_CTL,
                           .qmp = QEMU_FD_QMP,
                           .tap = tap >= 0 ? QEMU_FD_TAP : -1,
                           .listen = 1,
                           .console_file = det->console_path,
                           .ctl_log = det->ctl_log_path};
    struct qemu_argv *a = malloc(sizeof *a);
    if (!a)
        return lvm_err_set(err, ENOMEM, "QEMU command line");
    int r = qemu_build_argv(&c, &fds, out->kvm,
                            out->kvm ? 0 : qemu_host_tsc_khz(), a, err);
    if (r == 0) {
        struct qemu_child ch = {.src = {-1, det->ctl_listen, det->qmp_listen,
                                        tap, det->kernel_fd, det->initrd_fd},
                                .log_fd = det->log_fd,
                                .join_fds = det->join_fds,
                                .njoin = det->njoin,
                                .file_limit = det->file_limit};
        out->start_ns = qemu_now_ns();
        r = qemu_spawn(a, &ch, &out->pid, &out->pidfd, err);
    }
    free(a);
    return r;
}
