/*
 * cgroup.h: one cgroup per guest, for its memory, CPU and pids limits,
 * accounting, OOM detection and freezing. Works on the unified hierarchy
 * (cgroup v2, most hosts) and on v1 controllers (including hybrid hosts,
 * where the v1 controllers are used); the backend is chosen at run time.
 */
#ifndef LVM_TS_CGROUP_H
#define LVM_TS_CGROUP_H

#include "toolstack/error.h"

#include <stdint.h>
#include <sys/types.h>

#define CGROUP_ROOT_DEFAULT "/sys/fs/cgroup"
#define CGROUP_PARENT "lightvm" /* default; $LIGHTVM_CGROUP_PARENT */

struct cgroup_limits {
    uint64_t memory_max;   /* bytes, 0 for none */
    uint64_t cpu_quota_us; /* per cpu_period_us, 0 for none */
    uint64_t cpu_period_us;
    uint64_t pids_max; /* 0 for none */
    int lean; /* v1: no CPU accounting or freezer (a cold run needs neither) */
};

struct cgroup {
    int version;      /* 1 or 2 */
    char name[128];   /* the guest's id (or an OCI container's name) */
    char parent[256]; /* path under the root; "": $LIGHTVM_CGROUP_PARENT */
    unsigned v1_mask; /* v1: the hierarchies it has (all, if opened) */
};

struct cgroup_stats {
    uint64_t memory_bytes; /* current usage */
    uint64_t memory_max;
    uint64_t cpu_ns; /* total CPU time used */
    uint64_t oom_kills;
    int frozen;
};

/* 2 for a pure cgroup v2 host, 1 otherwise (v1 or hybrid). */
int cgroup_version(void);

/* Create the guest's cgroup (name) with (limits). */
int cgroup_create(struct cgroup *cg, const char *name,
                  const struct cgroup_limits *limits, struct lvm_err *err);

/* The same, as (parent)/(name) under the cgroup root ((parent) a relative
 * path, made with its ancestors if missing; NULL: cgroup_create's). */
int cgroup_create_at(struct cgroup *cg, const char *parent, const char *name,
                     const struct cgroup_limits *limits, struct lvm_err *err);

/* Change the limits of an existing cgroup (fields left 0 are untouched);
 * a CPU quota for a cgroup made without one moves (pid) into the new cpu
 * cgroup. */
int cgroup_set_limits(struct cgroup *cg, const struct cgroup_limits *l,
                      pid_t pid, struct lvm_err *err);

/* Open an existing guest cgroup by (name) (after a daemon restart). */
void cgroup_open(struct cgroup *cg, const char *name);
void cgroup_open_at(struct cgroup *cg, const char *parent, const char *name);

/* Move (pid) into the cgroup. */
int cgroup_attach(const struct cgroup *cg, pid_t pid, struct lvm_err *err);

/*
 * Move kernel threads out of the cgroup, to the root. Linux before 6.13
 * puts KVM's per-VM worker thread in the cgroup of the process that made
 * the VM, and a cgroup v2 holding a kernel thread never reports itself
 * frozen. No-op on cgroup v1.
 */
int cgroup_evict_kthreads(const struct cgroup *cg, struct lvm_err *err);

#define CGROUP_MAX_ATTACH_FDS 8

/*
 * Open what a new process needs to move itself into the cgroup: on v1,
 * each controller's `tasks` file. A single-threaded task that writes "0"
 * there joins without cgroup's global threadgroup lock, which costs an
 * RCU grace period when another process is moved in by pid. Permission is
 * checked against the opener (us), so the process may be unprivileged.
 * Returns the number of fds (0 on v2: use cgroup_attach).
 */
int cgroup_self_attach_fds(const struct cgroup *cg, int *fds, int max,
                           struct lvm_err *err);

/* Like cgroup_self_attach_fds, on v2 too (its cgroup.procs): for a
 * process that is not a sandboxed shell (QEMU under lightvmd) and joins
 * between fork and exec. Returns the number of fds. */
int cgroup_join_fds(const struct cgroup *cg, int *fds, int max,
                    struct lvm_err *err);

/* Freeze or thaw every process in the cgroup; waits until done. */
int cgroup_freeze(const struct cgroup *cg, int frozen, struct lvm_err *err);

int cgroup_stats(const struct cgroup *cg, struct cgroup_stats *st,
                 struct lvm_err *err);

/* SIGKILL every process in the cgroup and wait (bounded) until it is
 * empty: what a crashed toolstack left running in it. */
int cgroup_kill_all(const struct cgroup *cg, struct lvm_err *err);

/* Remove the cgroup; its processes must have exited. */
int cgroup_destroy(const struct cgroup *cg, struct lvm_err *err);

/* Whether the cgroup directory exists. */
int cgroup_exists(const struct cgroup *cg);

#endif
