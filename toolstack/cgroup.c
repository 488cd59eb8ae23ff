/*
 * cgroup.c: per-guest cgroups on cgroup v2 or v1 (see cgroup.h).
 *
 * v2: /sys/fs/cgroup/lightvm/<id> with memory.max, cpu.max, pids.max,
 *     cgroup.freeze and memory.events.
 * v1: the same name under each of the memory, cpu, cpuacct, pids and
 *     freezer hierarchies.
 * The root can be moved with $LIGHTVM_CGROUP_ROOT (tests use this).
 */
#include "toolstack/cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

static const char *const v1_controllers[] = {"memory", "cpu", "cpuacct",
                                             "pids", "freezer"};
#define NV1 (sizeof v1_controllers / sizeof v1_controllers[0])

static const char *root(void)
{
    const char *r = getenv("LIGHTVM_CGROUP_ROOT");
    return r && *r ? r : CGROUP_ROOT_DEFAULT;
}

int cgroup_version(void)
{
    static int version;
    if (!version) {
        struct statfs sf;
        version = statfs(root(), &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC
                      ? 2
                      : 1;
    }
    return version;
}

/* Path of (file) in the guest's cgroup for (ctrl) (NULL for v2). */
static void path_of(const struct cgroup *cg, const char *ctrl,
                    const char *file, char *buf, size_t len)
{
    if (cg->version == 2)
        snprintf(buf, len, "%s/%s/%s%s%s", root(), CGROUP_PARENT, cg->name,
                 file ? "/" : "", file ? file : "");
    else
        snprintf(buf, len, "%s/%s/%s/%s%s%s", root(), ctrl, CGROUP_PARENT,
                 cg->name, file ? "/" : "", file ? file : "");
}

static int write_file(const char *path, const char *value, struct lvm_err *err)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return lvm_err_set(err, errno, "open %s", path);
    size_t n = strlen(value);
    ssize_t w = write(fd, value, n);
    int e = errno;
    close(fd);
    if (w != (ssize_t)n)
        return lvm_err_set(err, w < 0 ? e : EIO, "write '%s' to %s", value,
                           path);
    return 0;
}

static int read_file(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, len - 1);
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = 0;
    return 0;
}

static int read_u64(const char *path, uint64_t *v)
{
    char buf[64];
    if (read_file(path, buf, sizeof buf) < 0)
        return -1;
    if (strncmp(buf, "max", 3) == 0) {
        *v = UINT64_MAX;
        return 0;
    }
    *v = strtoull(buf, NULL, 10);
    return 0;
}

/* The value of (key) in a "key value" per line file. */
static int read_keyed(const char *path, const char *key, uint64_t *v)
{
    char buf[4096];
    if (read_file(path, buf, sizeof buf) < 0)
        return -1;
    size_t kl = strlen(key);
    for (char *line = buf; line && *line;) {
        if (strncmp(line, key, kl) == 0 && line[kl] == ' ') {
            *v = strtoull(line + kl + 1, NULL, 10);
            return 0;
        }
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    return -1;
}

static int mkdir_ok(const char *path, struct lvm_err *err)
{
    if (mkdir(path, 0755) < 0 && errno != EEXIST)
        return lvm_err_set(err, errno, "create cgroup %s", path);
    return 0;
}

static int setup_parent_v2(struct lvm_err *err)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", root(), CGROUP_PARENT);
    if (mkdir_ok(path, err) < 0)
        return -1;
    /* Delegate the controllers we use to the guests' cgroups. */
    snprintf(path, sizeof path, "%s/cgroup.subtree_control", root());
    if (write_file(path, "+memory +cpu +pids", err) < 0)
        return lvm_err_wrap(err, "enable cgroup controllers");
    snprintf(path, sizeof path, "%s/%s/cgroup.subtree_control", root(),
             CGROUP_PARENT);
    if (write_file(path, "+memory +cpu +pids", err) < 0)
        return lvm_err_wrap(err, "enable cgroup controllers");
    return 0;
}

static int create_v2(struct cgroup *cg, const struct cgroup_limits *l,
                     struct lvm_err *err)
{
    char path[512], val[64];
    path_of(cg, NULL, NULL, path, sizeof path);
    if (mkdir(path, 0755) < 0) {
        if (errno != ENOENT)
            return lvm_err_set(err, errno, "create cgroup %s", path);
        if (setup_parent_v2(err) < 0 || mkdir_ok(path, err) < 0)
            return -1;
    }
    if (l->memory_max) {
        path_of(cg, NULL, "memory.max", path, sizeof path);
        snprintf(val, sizeof val, "%llu", (unsigned long long)l->memory_max);
        if (write_file(path, val, err) < 0)
            return -1;
        path_of(cg, NULL, "memory.swap.max", path, sizeof path);
        struct lvm_err ignore; /* absent without swap accounting */
        write_file(path, "0", &ignore);
    }
    if (l->cpu_quota_us) {
        path_of(cg, NULL, "cpu.max", path, sizeof path);
        snprintf(val, sizeof val, "%llu %llu",
                 (unsigned long long)l->cpu_quota_us,
                 (unsigned long long)l->cpu_period_us);
        if (write_file(path, val, err) < 0)
            return -1;
    }
    if (l->pids_max) {
        path_of(cg, NULL, "pids.max", path, sizeof path);
        snprintf(val, sizeof val, "%llu", (unsigned long long)l->pids_max);
        if (write_file(path, val, err) < 0)
            return -1;
    }
    return 0;
}

static int create_v1(struct cgroup *cg, const struct cgroup_limits *l,
                     struct lvm_err *err)
{
    char path[512], val[64];
    for (size_t i = 0; i < NV1; i++) {
        path_of(cg, v1_controllers[i], NULL, path, sizeof path);
        if (mkdir(path, 0755) < 0) {
            if (errno != ENOENT)
                return lvm_err_set(err, errno, "create cgroup %s", path);
            char parent[512];
            snprintf(parent, sizeof parent, "%s/%s/%s", root(),
                     v1_controllers[i], CGROUP_PARENT);
            if (mkdir_ok(parent, err) < 0 || mkdir_ok(path, err) < 0)
                return -1;
        }
    }
    if (l->memory_max) {
        path_of(cg, "memory", "memory.limit_in_bytes", path, sizeof path);
        snprintf(val, sizeof val, "%llu", (unsigned long long)l->memory_max);
        if (write_file(path, val, err) < 0)
            return -1;
    }
    if (l->cpu_quota_us) {
        path_of(cg, "cpu", "cpu.cfs_period_us", path, sizeof path);
        snprintf(val, sizeof val, "%llu", (unsigned long long)l->cpu_period_us);
        if (write_file(path, val, err) < 0)
            return -1;
        path_of(cg, "cpu", "cpu.cfs_quota_us", path, sizeof path);
        snprintf(val, sizeof val, "%llu", (unsigned long long)l->cpu_quota_us);
        if (write_file(path, val, err) < 0)
            return -1;
    }
    if (l->pids_max) {
        path_of(cg, "pids", "pids.max", path, sizeof path);
        snprintf(val, sizeof val, "%llu", (unsigned long long)l->pids_max);
        if (write_file(path, val, err) < 0)
            return -1;
    }
    return 0;
}

void cgroup_open(struct cgroup *cg, const char *name)
{
    memset(cg, 0, sizeof *cg);
    cg->version = cgroup_version();
    snprintf(cg->name, sizeof cg->name, "%s", name);
}

int cgroup_create(struct cgroup *cg, const char *name,
                  const struct cgroup_limits *limits, struct lvm_err *err)
{
    cgroup_open(cg, name);
    int r = cg->version == 2 ? create_v2(cg, limits, err)
                             : create_v1(cg, limits, err);
    if (r < 0) {
        struct lvm_err ignore;
        cgroup_destroy(cg, &ignore);
    }
    return r;
}

int cgroup_attach(const struct cgroup *cg, pid_t pid, struct lvm_err *err)
{
    char path[512], val[32];
    snprintf(val, sizeof val, "%d", (int)pid);
    if (cg->version == 2) {
        path_of(cg, NULL, "cgroup.procs", path, sizeof path);
        return write_file(path, val, err);
    }
    for (size_t i = 0; i < NV1; i++) {
        path_of(cg, v1_controllers[i], "cgroup.procs", path, sizeof path);
        if (write_file(path, val, err) < 0)
            return -1;
    }
    return 0;
}

/* Kernel threads have PF_KTHREAD (0x00200000) in /proc/PID/stat's flags. */
static int is_kernel_thread(const char *tid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%s/stat", tid);
    if (read_file(path, buf, sizeof buf) < 0)
        return 0;
    const char *p = strrchr(buf, ')'); /* the name may hold anything */
    unsigned long flags = 0;
    /* ") S ppid pgrp session tty tpgid flags" */
    if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %lu", &flags) != 1)
        return 0;
    return (flags & 0x00200000ul) != 0;
}

int cgroup_evict_kthreads(const struct cgroup *cg, struct lvm_err *err)
{
    if (cg->version != 2)
        return 0; /* the v1 freezer skips threads it cannot freeze */
    char path[512], root_procs[512], buf[4096];
    path_of(cg, NULL, "cgroup.threads", path, sizeof path);
    if (read_file(path, buf, sizeof buf) < 0)
        return lvm_err_set(err, errno, "read %s", path);
    snprintf(root_procs, sizeof root_procs, "%s/cgroup.procs", root());
    for (char *save, *t = strtok_r(buf, "\n", &save); t;
         t = strtok_r(NULL, "\n", &save))
        if (is_kernel_thread(t) && write_file(root_procs, t, err) < 0)
            return -1;
    return 0;
}

int cgroup_freeze(const struct cgroup *cg, int frozen, struct lvm_err *err)
{
    char path[512], buf[128];
    if (cg->version == 2) {
        path_of(cg, NULL, "cgroup.freeze", path, sizeof path);
        if (write_file(path, frozen ? "1" : "0", err) < 0)
            return -1;
        /* Done when cgroup.events says so. */
        path_of(cg, NULL, "cgroup.events", path, sizeof path);
        for (int i = 0; i < 1000; i++) {
            uint64_t v;
            if (read_keyed(path, "frozen", &v) == 0 && (int)v == !!frozen)
                return 0;
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
        return lvm_err_set(err, ETIMEDOUT, "cgroup did not %s",
                           frozen ? "freeze" : "thaw");
    }
    path_of(cg, "freezer", "freezer.state", path, sizeof path);
    if (write_file(path, frozen ? "FROZEN" : "THAWED", err) < 0)
        return -1;
    for (int i = 0; i < 1000; i++) {
        if (read_file(path, buf, sizeof buf) == 0 &&
            strncmp(buf, frozen ? "FROZEN" : "THAWED", 6) == 0)
            return 0;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return lvm_err_set(err, ETIMEDOUT, "cgroup did not %s",
                       frozen ? "freeze" : "thaw");
}

int cgroup_stats(const struct cgroup *cg, struct cgroup_stats *st,
                 struct lvm_err *err)
{
    char path[512], buf[64];
    memset(st, 0, sizeof *st);
    if (cg->version == 2) {
        path_of(cg, NULL, "memory.current", path, sizeof path);
        if (read_u64(path, &st->memory_bytes) < 0)
            return lvm_err_set(err, errno, "read %s", path);
        path_of(cg, NULL, "memory.max", path, sizeof path);
        read_u64(path, &st->memory_max);
        path_of(cg, NULL, "cpu.stat", path, sizeof path);
        uint64_t us = 0;
        read_keyed(path, "usage_usec", &us);
        st->cpu_ns = us * 1000;
        path_of(cg, NULL, "memory.events", path, sizeof path);
        read_keyed(path, "oom_kill", &st->oom_kills);
        path_of(cg, NULL, "cgroup.events", path, sizeof path);
        uint64_t fr = 0;
        read_keyed(path, "frozen", &fr);
        st->frozen = (int)fr;
        return 0;
    }
    path_of(cg, "memory", "memory.usage_in_bytes", path, sizeof path);
    if (read_u64(path, &st->memory_bytes) < 0)
        return lvm_err_set(err, errno, "read %s", path);
    path_of(cg, "memory", "memory.limit_in_bytes", path, sizeof path);
    read_u64(path, &st->memory_max);
    path_of(cg, "cpuacct", "cpuacct.usage", path, sizeof path);
    read_u64(path, &st->cpu_ns);
    path_of(cg, "memory", "memory.oom_control", path, sizeof path);
    read_keyed(path, "oom_kill", &st->oom_kills);
    path_of(cg, "freezer", "freezer.state", path, sizeof path);
    if (read_file(path, buf, sizeof buf) == 0)
        st->frozen = strncmp(buf, "FROZEN", 6) == 0;
    return 0;
}

int cgroup_destroy(const struct cgroup *cg, struct lvm_err *err)
{
    char path[512];
    int r = 0;
    if (cg->version == 2) {
        path_of(cg, NULL, NULL, path, sizeof path);
        if (rmdir(path) < 0 && errno != ENOENT)
            r = lvm_err_set(err, errno, "remove cgroup %s", path);
        return r;
    }
    for (size_t i = 0; i < NV1; i++) {
        path_of(cg, v1_controllers[i], NULL, path, sizeof path);
        if (rmdir(path) < 0 && errno != ENOENT && r == 0)
            r = lvm_err_set(err, errno, "remove cgroup %s", path);
    }
    return r;
}

int cgroup_exists(const struct cgroup *cg)
{
    char path[512];
    path_of(cg, cg->version == 2 ? NULL : "memory", NULL, path, sizeof path);
    return access(path, F_OK) == 0;
}
