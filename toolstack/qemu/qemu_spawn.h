/*
 * qemu_spawn.h: starting a QEMU process, shared by the foreground start
 * (qemu_vm.c, channels on socketpairs) and the detached one
 * (qemu_detached.c, channels QEMU serves itself). Internal to the monitor.
 */
#ifndef LVM_QEMU_SPAWN_H
#define LVM_QEMU_SPAWN_H

#include "toolstack/qemu/qemu.h"
#include "toolstack/qemu/qemu_jail.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Where each channel (and file) lands in QEMU's fd table. */
enum {
    QEMU_FD_CONSOLE = 3, /* a socket we read, or the file QEMU appends to */
    QEMU_FD_CTL,
    QEMU_FD_QMP,
    QEMU_FD_TAP,
    QEMU_FD_CTL_LOG, /* the control channel's log (detached) */
    QEMU_FD_KERNEL,  /* an unconfined QEMU boots /proc/self/fd/N; a */
    QEMU_FD_INITRD,  /* confined one finds these in its root instead */
    QEMU_FD_EXEC,    /* the exec channel (tinyx_exec.h), if any */
    QEMU_FD_COUNT = QEMU_FD_EXEC - QEMU_FD_CONSOLE + 1,
    QEMU_FD_DISK0 = QEMU_FD_EXEC + 1 /* disk N is QEMU_FD_DISK0 + 2N, its
                                        read-only twin 2N + 1 */
};
#define QEMU_SPAWN_MAX_JOIN 8

/* Everything a start prepares (qemu_prepare), released by qemu_release. */
struct qemu_start {
    struct qemu_vm_config c; /* the caller's, with ports picked, the boot
                                paths as QEMU sees them and a tap fd */
    int kvm;
    int boot_fd[2];           /* kernel, initramfs */
    int own_boot[2], own_tap; /* opened here: closed by qemu_release */
    /* The disks' files, as the caller has them, and for a writable one
     * a read-only twin (QEMU may ask its fd set for either): disk N's at
     * 2N and 2N + 1 (-1: none). Opened here: closed by release. */
    int disk_fd[2 * QEMU_MAX_DISKS];
    int own_disk[2 * QEMU_MAX_DISKS];
    int ndisk_fds;
    char boot_path[2][32];
    struct qemu_jail jail;
};

/* How the child is set up between clone and exec. */
struct qemu_child {
    int src[QEMU_FD_COUNT]; /* become QEMU's fds 3 to 10 (console, ctl,
                               qmp, tap, ctl log, kernel, initrd, exec);
                               -1: none */
    const int *disk_fds;    /* become QEMU's QEMU_FD_DISK0 and on */
    int ndisks;
    const int *xtap_fds; /* the extra NICs' taps: QEMU's fds right after
                            the disks' (qemu_xtap_fd) */
    int nxtaps;
    int log_fd; /* QEMU's stdout and stderr */
    int die_with_parent;
    const int *join_fds; /* files the child writes "0" to before exec:
                            it joins those cgroups (see cgroup.h) */
    int njoin;
    uint64_t file_limit;          /* soft RLIMIT_FSIZE; 0: none */
    const struct qemu_jail *jail; /* its sandbox (qemu_jail.h) */
};

/* Check (cfg), pick the accelerator and free host ports for forwards left
 * at 0, open the kernel and initramfs (as the caller) unless (boot_fd)
 * holds them already, open a tap named in (cfg), and prepare QEMU's
 * sandbox: (s) is what to start. qemu_release(s) in any case. */
int qemu_prepare(const struct qemu_vm_config *cfg, const int boot_fd[2],
                 struct qemu_start *s, struct lvm_err *err);
void qemu_release(struct qemu_start *s);

/* Clone and exec QEMU with (a) as (ch) says. On success *pid and *pidfd
 * are set; a set-up or exec failure is reported here, anything later by
 * QEMU's exit. */
int qemu_spawn(const struct qemu_argv *a, const struct qemu_child *ch,
               pid_t *pid, int *pidfd, struct lvm_err *err);

uint64_t qemu_now_ns(void);

/* QEMU's fd for its first extra NIC's tap, after (ndisk_fds) disk fds. */
static inline int qemu_xtap_fd(int ndisk_fds)
{
    return QEMU_FD_DISK0 + ndisk_fds;
}

#endif
