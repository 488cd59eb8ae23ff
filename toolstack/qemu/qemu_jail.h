/*
 * qemu_jail.h: QEMU's sandbox (docs/security.md, "QEMU's sandbox"): a
 * host uid and gid of its own, fresh mount, pid, ipc, uts and cgroup
 * namespaces (and net without user-mode networking), a root holding only
 * /usr read-only, its boot files and three devices, no capabilities.
 * Prepared by the parent, which may allocate and read files; entered by
 * the child between clone and exec, with system calls only. Internal to
 * the monitor.
 */
#ifndef LVM_QEMU_JAIL_H
#define LVM_QEMU_JAIL_H

#include "toolstack/error.h"

#include <limits.h>
#include <sys/types.h>

#define QEMU_JAIL_TOP_MAX 4

/* Where QEMU finds its kernel and initramfs inside its root. */
#define QEMU_JAIL_KERNEL "/kernel"
#define QEMU_JAIL_INITRD "/initrd"

/* An entry of the host's / that the loader needs (lib, lib64, ...): a
 * symlink repeated (merged /usr: lib -> usr/lib), or a directory bound
 * read-only (target ""). */
struct qemu_jail_top {
    char name[8];
    char target[64];
};

struct qemu_jail {
    int on; /* 0: the caller is not root; QEMU runs as the caller, with
               no_new_privs and -sandbox only */
    unsigned long ns_flags; /* CLONE_NEW* for the clone */
    uid_t uid_base;         /* QEMU's uid and gid: uid_base + its pid */
    int cap_last;           /* the highest capability the kernel knows */
    int kvm;                /* /dev/kvm goes in */
    char root[PATH_MAX];    /* an empty directory: its root's mount point */
    char exe[PATH_MAX];     /* QEMU's binary, a real path under /usr */
    char tmpfs_opts[64];    /* its root's size */
    int boot_tree[2];       /* the kernel and initrd as detached mounts
                               (open_tree), to attach in its root; -1:
                               not readable by QEMU's uid, copied in */
    struct qemu_jail_top top[QEMU_JAIL_TOP_MAX];
    int ntop;
};

/* Prepare (j) for the QEMU named (qemu) (looked up in PATH unless it has
 * a slash) booting (boot_fd) (kernel, initrd), with /dev/kvm if (kvm), in
 * a network namespace of its own if (netns). Without root, (j)->on is 0. */
int qemu_jail_prepare(struct qemu_jail *j, const char *qemu, int kvm, int netns,
                      const int boot_fd[2], struct lvm_err *err);
void qemu_jail_release(struct qemu_jail *j);

/* In the child, root in (j)'s fresh namespaces, with (boot_fd) and
 * (j)'s fds still at the parent's numbers: build and enter QEMU's root, become its uid and
 * drop every capability. 0, or -1 with errno set and (*step) saying what
 * failed (qemu_jail_step_name). System calls only. */
int qemu_jail_enter(const struct qemu_jail *j, const int boot_fd[2], int *step);

/* What step (from qemu_jail_enter) was, for a message. */
const char *qemu_jail_step_name(int step);

#endif
