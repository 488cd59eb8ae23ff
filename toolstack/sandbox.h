/*
 * sandbox.h: create a shell (the process a guest will run in) in fresh
 * namespaces, and talk to it (shell/plan.h).
 */
#ifndef LVM_TS_SANDBOX_H
#define LVM_TS_SANDBOX_H

#include "shell/plan.h"
#include "toolstack/cgroup.h"
#include "toolstack/error.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct sandbox_opts {
    int shell_fd;         /* lightvm-shell, opened O_PATH */
    unsigned monitor;     /* enum lvm_monitor_kind */
    uid_t uid_base;       /* host uid = uid_base + pid (same for gid) */
    const char *root_dir; /* empty directory for the guest's root */
    const char *hostname;
    const struct cgroup *cg; /* cgroup to join, or NULL */
    int ipc_ns, net_ns;      /* 1: fresh ipc and net namespaces */
    int prepare_fd;          /* sent with PREPARE (kvm: /dev/kvm), or -1 */
    int evict_kthreads;      /* the monitor's kernel threads leave the cgroup */
    /* A mount namespace whose root is the empty root already (see
     * sandbox_template_mntns), with the caller's own to come back to:
     * shells cloned from it need no pivot_root of their own, which walks
     * every task on the host. mntns_fd -1: none. */
    int mntns_fd, host_mntns_fd, host_cwd_fd;
    uint64_t ram_size; /* kvm shells: RAM slot to make ahead, 0 if unknown */
};

struct sandbox {
    pid_t pid;
    int pidfd;
    int sock; /* control socket to the shell */
    uid_t host_uid;
};

/* Make the template mount namespace for sandbox_opts.mntns_fd: a copy of
 * ours whose root is (root_dir), bound read-only, the rest detached.
 * Also opens our own mount namespace and working directory to come back
 * to. Call while single-threaded; the fds are close-on-exec. */
int sandbox_template_mntns(const char *root_dir, int *mntns_fd,
                           int *host_mntns_fd, int *host_cwd_fd,
                           struct lvm_err *err);

/* Start a shell and take it to READY. */
int sandbox_spawn(const struct sandbox_opts *o, struct sandbox *sb,
                  struct lvm_err *err);

/* Send (plan) (of (len) bytes, data included) and (fds); wait for STARTED. */
int sandbox_launch(struct sandbox *sb, const struct lvm_msg_plan *plan,
                   size_t len, const int *fds, int nfds, struct lvm_err *err);

/* Kill the shell (if alive) and close its fds; reaping is the caller's. */
void sandbox_close(struct sandbox *sb);

/* For a process that will create many shells while holding many fds (a
 * daemon): reserve a window of low fds so that new shells do not copy the
 * whole fd table. Call once, early, while low fds are free. */
int sandbox_reserve_fds(struct lvm_err *err);

/* The lightvm-shell next to the running program, or $LIGHTVM_SHELL. */
int sandbox_find_shell(char *path, size_t len, struct lvm_err *err);

#endif
