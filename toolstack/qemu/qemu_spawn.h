/*
 * qemu_spawn.h: starting a QEMU process, shared by the foreground start
 * (qemu_vm.c, channels on socketpairs) and the detached one
 * (qemu_detached.c, channels QEMU serves itself). Internal to the monitor.
 */
#ifndef LVM_QEMU_SPAWN_H
#define LVM_QEMU_SPAWN_H

#include "toolstack/qemu/qemu.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Where each channel (and file) lands in QEMU's fd table. */
enum {
    QEMU_FD_CONSOLE = 3,
    QEMU_FD_CTL,
    QEMU_FD_QMP,
    QEMU_FD_TAP,
    QEMU_FD_KERNEL, /* booted as /proc/self/fd/N */
    QEMU_FD_INITRD,
    QEMU_FD_COUNT = QEMU_FD_INITRD - QEMU_FD_CONSOLE + 1
};
#define QEMU_SPAWN_MAX_JOIN 8

/* How the child is set up between fork and exec. */
struct qemu_child {
    int src[QEMU_FD_COUNT]; /* become QEMU's fds 3 to 8 (console, ctl,
                               qmp, tap, kernel, initrd); -1: none */
    int log_fd;             /* QEMU's stdout and stderr */
    int die_with_parent;
    const int *join_fds; /* files the child writes "0" to before exec:
                            it joins those cgroups (see cgroup.h) */
    int njoin;
    uint64_t file_limit; /* soft RLIMIT_FSIZE; 0: none */
};

/* Check (cfg)'s files, pick the accelerator (*kvm) and free host ports for
 * forwards left at 0; (out) is (cfg) with those ports. */
int qemu_prepare(const struct qemu_vm_config *cfg, struct qemu_vm_config *out,
                 int *kvm, struct lvm_err *err);

/* Fork and exec QEMU with (a) as (ch) says. On success *pid and *pidfd
 * are set; an exec failure is reported here, anything later by QEMU's
 * exit. */
int qemu_spawn(const struct qemu_argv *a, const struct qemu_child *ch,
               pid_t *pid, int *pidfd, struct lvm_err *err);

uint64_t qemu_now_ns(void);

#endif
