/*
 * host.h: what the toolstack needs to know about the host once, before it
 * creates guests: where lightvm-shell is, its run directory, the uid range
 * guests are mapped to and what the CPU offers.
 */
#ifndef LVM_TS_HOST_H
#define LVM_TS_HOST_H

#include "toolstack/error.h"

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HOST_RUN_DIR_DEFAULT "/run/lightvm"
#define HOST_UID_BASE_DEFAULT 0x40000000u /* host uid of a guest: base + pid */

struct lvm_host {
    int shell_fd; /* lightvm-shell, O_PATH */
    char shell_path[PATH_MAX];
    char run_dir[PATH_MAX];  /* $LIGHTVM_RUN_DIR or /run/lightvm */
    char root_dir[PATH_MAX]; /* run_dir/empty: guests' root mount point */
    uid_t uid_base;          /* $LIGHTVM_UID_BASE */
    int fsgsbase;            /* user-mode wrfsbase enabled */
    /* The guests' template mount namespace (host_use_template_mntns), our
     * own and our working directory; -1 without a template. */
    int mntns_fd, host_mntns_fd, host_cwd_fd;
    uint64_t hwcap;
};

int host_init(struct lvm_host *h, struct lvm_err *err);

/* $LIGHTVM_RUN_DIR (or the default) into (run_dir) and its "empty"
 * directory, made if missing and reachable by unprivileged users, into
 * (root_dir): the mount point of every sandbox's root. */
int host_root_dir(char *run_dir, size_t run_len, char *root_dir,
                  size_t root_len, struct lvm_err *err);

/* The base of the host ids sandboxed processes run as (base + their pid:
 * proc and kvm shells, QEMU), $LIGHTVM_UID_BASE or the default, checked
 * to hold no host user, group or subordinate id (idrange.h). */
int host_uid_base(uid_t *base, struct lvm_err *err);

/* For a long-lived toolstack (the daemon): make the template mount
 * namespace shells are cloned from (sandbox_template_mntns). Costs a
 * fork and a pivot_root once; every shell then skips its own. */
int host_use_template_mntns(struct lvm_host *h, struct lvm_err *err);
void host_fini(struct lvm_host *h);

/* Monotonic clock in nanoseconds. */
uint64_t host_now_ns(void);

#endif
