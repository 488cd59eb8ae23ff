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
#include "toolstack/fsutil.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
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

static const char *const v1_controllers[] = {"memory", "cpu", "cpuacct", "pids",
                                             "freezer"};
#define NV1 (sizeof v1_controllers / sizeof v1_controllers[0])

static const char *root(void)
{
    const char *r = getenv("LIGHTVM_CGROUP_ROOT");
    return r && *r ? r : CGROUP_ROOT_DEFAULT;
}

/* The directory guests' cgroups are made in: $LIGHTVM_CGROUP_PARENT (one
 * plain name) or "lightvm". Separate toolstacks on one host (test suites,
 * a second daemon) keep apart with their own. */
static const char *parent_name(void)
{
    const char *p = getenv("LIGHTVM_CGROUP_PARENT");
    if (!p || !*p || *p == '.' || strlen(p) > 64 ||
        strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                  "0123456789._-") != strlen(p))
        return CGROUP_PARENT;
    return p;
}

/* Where (cg) lives under the root (and under each v1 hierarchy). */
static const char *parent_of(const struct cgroup *cg)
{
    return cg->parent[0] ? cg->parent : parent_name();
}

/* The v1 hierarchies to walk: one controller name per mounted hierarchy.
 * Distributions co-mount some (cpu,cpuacct with cpu and cpuacct as
 * symlinks to it); walking both names would mkdir, attach and rmdir the
 * same directory twice. Found once, as both daemon threads create
 * cgroups. */
static const char *v1_hier[NV1];
static size_t nv1_hier;
static int v1_cpuacct_with_cpu; /* co-mounted: accounting needs "cpu" */
static pthread_once_t v1_once = PTHREAD_ONCE_INIT;

static void find_v1_hierarchies(void)
{
    struct stat seen[NV1];
    for (size_t i = 0; i < NV1; i++) {
        char path[512];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", root(), v1_controllers[i]);
        int dup = 0;
        if (stat(path, &st) == 0)
            for (size_t j = 0; j < nv1_hier && !dup; j++) {
                dup =
                    seen[j].st_dev == st.st_dev && seen[j].st_ino == st.st_ino;
                if (dup && !strcmp(v1_controllers[i], "cpuacct") &&
                    !strcmp(v1_hier[j], "cpu"))
                    v1_cpuacct_with_cpu = 1;
            }
        else
            memset(&st, 0, sizeof st); /* missing: creating it will say */
        if (!dup) {
            seen[nv1_hier] = st;
            v1_hier[nv1_hier++] = v1_controllers[i];
        }
    }
}

static size_t v1_hierarchies(void)
{
    pthread_once(&v1_once, find_v1_hierarchies);
    return nv1_hier;
}

/*
 * The hierarchies a guest's cgroup needs (bits of v1_hier): memory and
 * pids always; the cpu controller only for a quota (each cgroup there is
 * a scheduler task group, which costs at every scheduling decision);
 * CPU accounting and the freezer unless (lean), as for a cold `lightvm
 * run`, which neither reports CPU time nor pauses.
 */
static unsigned v1_needed(const struct cgroup_limits *l)
{
    unsigned mask = 0;
    for (size_t i = 0; i < v1_hierarchies(); i++) {
        const char *h = v1_hier[i];
        int need = 1;
        if (!strcmp(h, "cpu"))
            need = l->cpu_quota_us || (!l->lean && v1_cpuacct_with_cpu);
        else if (!strcmp(h, "cpuacct") || !strcmp(h, "freezer"))
            need = !l->lean;
        if (need)
            mask |= 1u << i;
    }
    return mask;
}

static int v1_index(const char *name)
{
    for (size_t i = 0; i < v1_hierarchies(); i++)
        if (!strcmp(v1_hier[i], name))
            return (int)i;
    return -1;
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
static void path_of(const struct cgroup *cg, const char *ctrl, const char *file,
                    char *buf, size_t len)
{
    if (cg->version == 2)
        snprintf(buf, len, "%s/%s/%s%s%s", root(), parent_of(cg), cg->name,
                 file ? "/" : "", file ? file : "");
    else
        snprintf(buf, len, "%s/%s/%s/%s%s%s", root(), ctrl, parent_of(cg),
                 cg->name, file ? "/" : "", file ? file : "");
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

/* mkdir (base)/(rel) and each of its ancestors below (base); on v2
 * (enable) also delegates the controllers we use down the path. */
static int make_path(const char *base, const char *rel, int enable,
                     struct lvm_err *err)
{
    char path[512], sub[512];
    snprintf(path, sizeof path, "%s", base);
    const char *p = rel;
    for (;;) {
        if (enable) {
            /* Delegate the controllers we use to the guests' cgroups. */
            snprintf(sub, sizeof sub, "%s/cgroup.subtree_control", path);
            if (fs_write_str(sub, "+memory +cpu +pids", err) < 0)
                return lvm_err_wrap(err, "enable cgroup controllers");
        }
        while (*p == '/')
            p++;
        if (!*p)
            return 0;
        size_t n = strcspn(p, "/"), at = strlen(path);
        if (at + 1 + n >= sizeof path)
            return lvm_err_set(err, ENAMETOOLONG, "cgroup path too long");
        snprintf(path + at, sizeof path - at, "/%.*s", (int)n, p);
        if (mkdir_ok(path, err) < 0)
            return -1;
        p += n;
    }
}

static int limits_v2(const struct cgroup *cg, const struct cgroup_limits *l,
                     struct lvm_err *err)
{
    char path[512], val[64];
    if (l->memory_max) {
        path_of(cg, NULL, "memory.max", path, sizeof path);
        snprintf(val, sizeof val, "%llu", (unsigned long long)l->memory_max);
        if (fs_write_str(path, val, err) < 0)
            return -1;
        path_of(cg, NULL, "memory.swap.max", path, sizeof path);
        struct lvm_err ignore; /* absent without swap accounting */
        fs_write_str(path, "0", &ignore);
    }
    if (l->cpu_quota_us) {
        path_of(cg, NULL, "cpu.max", path, sizeof path);
        snprintf(val, sizeof val, "%llu %llu",
                 (unsigned long long)l->cpu_quota_us,
                 (unsigned long long)l->cpu_period_us);
        if (fs_write_str(path, val, err) < 0)
            return -1;
    }
    if (l->pids_max) {
        path_of(cg, NULL, "pids.max", path, sizeof path);
        snprintf(val, sizeof val, "%llu", (unsigned long long)l->pids_max);
        if (fs_write_str(path, val, err) < 0)
            return -1;
    }
    return 0;
}

/*
 * mkdir the guest's directory (path), making the parent first on first
 * use with (make_parent). An existing directory is an error: it is
 * another guest's, and must not be taken over or removed.
 */
static int make_guest_dir(const char *path,
                          int (*make_parent)(const char *, struct lvm_err *),
                          const char *parent, struct lvm_err *err)
{
    if (mkdir(path, 0755) == 0)
        return 0;
    if (errno == ENOENT) {
        if (make_parent(parent, err) < 0)
            return -1;
        if (mkdir(path, 0755) == 0)
            return 0;
    }
    return lvm_err_set(err, errno, "create cgroup %s", path);
}

static int make_parent_v2(const char *parent, struct lvm_err *err)
{
    return make_path(root(), parent, 1, err);
}

/* v1: (parent) is "<root>/<hierarchy>/<the guests' parent>": made below
 * the hierarchy, which must be mounted (a missing one is an error, never
 * a plain directory made in its place). */
static int make_parent_v1(const char *parent, struct lvm_err *err)
{
    size_t rl = strlen(root());
    if (strncmp(parent, root(), rl) != 0 || parent[rl] != '/')
        return lvm_err_invalid(err, "cgroup %s is outside %s", parent, root());
    size_t hl = rl + 1 + strcspn(parent + rl + 1, "/");
    char base[512];
    snprintf(base, sizeof base, "%.*s", (int)hl, parent);
    struct stat st;
    if (stat(base, &st) < 0)
        return lvm_err_set(err, errno, "create cgroup %s", parent);
    return make_path(base, parent + hl, 0, err);
}

/* Create functions return -2 when they made nothing (so nothing is to be
 * removed), -1 when the cgroup exists but its limits failed. */
static int create_v2(struct cgroup *cg, const struct cgroup_limits *l,
                     struct lvm_err *err)
{
    char path[512];
    path_of(cg, NULL, NULL, path, sizeof path);
    if (make_guest_dir(path, make_parent_v2, parent_of(cg), err) < 0)
        return -2;
    return limits_v2(cg, l, err);
}

static int limits_v1(const struct cgroup *cg, const struct cgroup_limits *l,
                     struct lvm_err *err);

static int create_v1(struct cgroup *cg, const struct cgroup_limits *l,
                     struct lvm_err *err)
{
    char path[512], parent[512];
    unsigned want = v1_needed(l);
    cg->v1_mask = 0;
    for (size_t i = 0; i < v1_hierarchies(); i++) {
        if (!(want & (1u << i)))
            continue;
        path_of(cg, v1_hier[i], NULL, path, sizeof path);
        snprintf(parent, sizeof parent, "%s/%s/%s", root(), v1_hier[i],
                 parent_of(cg));
        if (make_guest_dir(path, make_parent_v1, parent, err) < 0) {
            while (i-- > 0) { /* only what this call made */
                if (!(cg->v1_mask & (1u << i)))
                    continue;
                path_of(cg, v1_hier[i], NULL, path, sizeof path);
                rmdir(path);
            }
            return -2;
        }
        cg->v1_mask |= 1u << i;
    }
    return limits_v1(cg, l, err);
}

static int limits_v1(const struct cgroup *cg, const struct cgroup_limits *l,
                     struct lvm_err *err)
{
    char path[512], val[64];
    if (l->memory_max) {
        path_of(cg, "memory", "memory.limit_in_bytes", path, sizeof path);
        snprintf(val, sizeof val, "%llu", (unsigned long long)l->memory_max);
        if (fs_write_str(path, val, err) < 0)
            return -1;
    }
    if (l->cpu_quota_us) {
        path_of(cg, "cpu", "cpu.cfs_period_us", path, sizeof path);
        snprintf(val, sizeof val, "%llu", (unsigned long long)l->cpu_period_us);
        if (fs_write_str(path, val, err) < 0)
            return -1;
        path_of(cg, "cpu", "cpu.cfs_quota_us", path, sizeof path);
        snprintf(val, sizeof val, "%llu", (unsigned long long)l->cpu_quota_us);
        if (fs_write_str(path, val, err) < 0)
            return -1;
    }
    if (l->pids_max) {
        path_of(cg, "pids", "pids.max", path, sizeof path);
        snprintf(val, sizeof val, "%llu", (unsigned long long)l->pids_max);
        if (fs_write_str(path, val, err) < 0)
            return -1;
    }
    return 0;
}

int cgroup_set_limits(struct cgroup *cg, const struct cgroup_limits *l,
                      pid_t pid, struct lvm_err *err)
{
    if (cg->version == 2)
        return limits_v2(cg, l, err);
    int cpu = v1_index("cpu");
    if (l->cpu_quota_us && cpu >= 0 && !(cg->v1_mask & (1u << cpu))) {
        /* A quota for a guest made without one: its cpu cgroup now, and
         * the process moved in (by pid: it runs already). */
        char path[512], parent[512], val[32];
        path_of(cg, "cpu", NULL, path, sizeof path);
        snprintf(parent, sizeof parent, "%s/cpu/%s", root(), parent_of(cg));
        if (make_guest_dir(path, make_parent_v1, parent, err) < 0)
            return -1;
        cg->v1_mask |= 1u << cpu;
        path_of(cg, "cpu", "cgroup.procs", path, sizeof path);
        snprintf(val, sizeof val, "%d", (int)pid);
        if (pid > 0 && fs_write_str(path, val, err) < 0)
            return -1;
    }
    return limits_v1(cg, l, err);
}

void cgroup_open_at(struct cgroup *cg, const char *parent, const char *name)
{
    memset(cg, 0, sizeof *cg);
    cg->version = cgroup_version();
    cg->v1_mask = ~0u; /* whichever exist: the others are skipped */
    snprintf(cg->name, sizeof cg->name, "%s", name);
    if (parent)
        snprintf(cg->parent, sizeof cg->parent, "%s", parent);
}

void cgroup_open(struct cgroup *cg, const char *name)
{
    cgroup_open_at(cg, NULL, name);
}

int cgroup_create(struct cgroup *cg, const char *name,
                  const struct cgroup_limits *limits, struct lvm_err *err)
{
    return cgroup_create_at(cg, NULL, name, limits, err);
}

int cgroup_create_at(struct cgroup *cg, const char *parent, const char *name,
                     const struct cgroup_limits *limits, struct lvm_err *err)
{
    cgroup_open_at(cg, parent, name);
    int r = cg->version == 2 ? create_v2(cg, limits, err)
                             : create_v1(cg, limits, err);
    if (r == -1) {
        struct lvm_err ignore;
        cgroup_destroy(cg, &ignore);
    }
    return r < 0 ? -1 : 0;
}

int cgroup_attach(const struct cgroup *cg, pid_t pid, struct lvm_err *err)
{
    char path[512], val[32];
    snprintf(val, sizeof val, "%d", (int)pid);
    if (cg->version == 2) {
        path_of(cg, NULL, "cgroup.procs", path, sizeof path);
        return fs_write_str(path, val, err);
    }
    for (size_t i = 0; i < v1_hierarchies(); i++) {
        if (!(cg->v1_mask & (1u << i)))
            continue;
        path_of(cg, v1_hier[i], "cgroup.procs", path, sizeof path);
        if (fs_write_str(path, val, err) < 0)
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
        if (is_kernel_thread(t) && fs_write_str(root_procs, t, err) < 0)
            return -1;
    return 0;
}

int cgroup_self_attach_fds(const struct cgroup *cg, int *fds, int max,
                           struct lvm_err *err)
{
    if (cg->version == 2)
        return 0;
    char path[512];
    int n = 0;
    for (size_t i = 0; i < v1_hierarchies() && n < max; i++) {
        if (!(cg->v1_mask & (1u << i)))
            continue;
        path_of(cg, v1_hier[i], "tasks", path, sizeof path);
        fds[n] = open(path, O_WRONLY | O_CLOEXEC);
        if (fds[n] < 0) {
            int e = errno;
            while (n > 0)
                close(fds[--n]);
            return lvm_err_set(err, e, "open %s", path);
        }
        n++;
    }
    return n;
}

int cgroup_join_fds(const struct cgroup *cg, int *fds, int max,
                    struct lvm_err *err)
{
    if (cg->version != 2)
        return cgroup_self_attach_fds(cg, fds, max, err);
    if (max < 1)
        return lvm_err_invalid(err, "no room for a cgroup fd");
    char path[512];
    path_of(cg, NULL, "cgroup.procs", path, sizeof path);
    fds[0] = open(path, O_WRONLY | O_CLOEXEC);
    if (fds[0] < 0)
        return lvm_err_set(err, errno, "open %s", path);
    return 1;
}

/* Whether the cgroup has reached the (frozen) state. */
static int freeze_done(const struct cgroup *cg, int frozen)
{
    char path[512], buf[128];
    if (cg->version == 2) {
        uint64_t v;
        path_of(cg, NULL, "cgroup.events", path, sizeof path);
        return read_keyed(path, "frozen", &v) == 0 && (int)v == !!frozen;
    }
    path_of(cg, "freezer", "freezer.state", path, sizeof path);
    return read_file(path, buf, sizeof buf) == 0 &&
           strncmp(buf, frozen ? "FROZEN" : "THAWED", 6) == 0;
}

static int freeze_write(const struct cgroup *cg, int frozen,
                        struct lvm_err *err)
{
    char path[512];
    if (cg->version == 2) {
        path_of(cg, NULL, "cgroup.freeze", path, sizeof path);
        return fs_write_str(path, frozen ? "1" : "0", err);
    }
    path_of(cg, "freezer", "freezer.state", path, sizeof path);
    return fs_write_str(path, frozen ? "FROZEN" : "THAWED", err);
}

/*
 * Freezing is asynchronous: the state file says when every task has
 * stopped. Polled with a growing interval for at most 250 ms, as the
 * daemon's loop waits: a task that does not freeze by then is in
 * uninterruptible sleep, and the guest is thawed again rather than left
 * half frozen.
 */
int cgroup_freeze(const struct cgroup *cg, int frozen, struct lvm_err *err)
{
    if (freeze_write(cg, frozen, err) < 0)
        return -1;
    long waited_us = 0;
    for (long step = 20; waited_us < 250000;
         step = step < 25000 ? 2 * step : 50000) {
        if (freeze_done(cg, frozen))
            return 0;
        struct timespec ts = {0, step * 1000};
        nanosleep(&ts, NULL);
        waited_us += step;
    }
    if (freeze_done(cg, frozen))
        return 0;
    if (frozen) {
        struct lvm_err ignore;
        freeze_write(cg, 0, &ignore);
    }
    return lvm_err_set(err, EBUSY, "guest did not %s within 250 ms",
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

/* Pids listed in the cgroup (v1: the pids hierarchy). */
static int procs_of(const struct cgroup *cg, pid_t *pids, int max)
{
    char path[512], buf[4096];
    path_of(cg, cg->version == 2 ? NULL : "pids", "cgroup.procs", path,
            sizeof path);
    if (read_file(path, buf, sizeof buf) < 0)
        return 0;
    int n = 0;
    for (char *p = buf; *p && n < max;) {
        long v = strtol(p, &p, 10);
        if (v > 0)
            pids[n++] = (pid_t)v;
        while (*p == '\n')
            p++;
        if (!*p || (*p < '0' || *p > '9'))
            break;
    }
    return n;
}

int cgroup_kill_all(const struct cgroup *cg, struct lvm_err *err)
{
    for (int round = 0; round < 200; round++) {
        pid_t pids[64];
        int n = procs_of(cg, pids, 64);
        if (n == 0)
            return 0;
        for (int i = 0; i < n; i++)
            kill(pids[i], SIGKILL);
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return lvm_err_set(err, EBUSY, "processes in cgroup %s did not die",
                       cg->name);
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
    for (size_t i = 0; i < v1_hierarchies(); i++) {
        path_of(cg, v1_hier[i], NULL, path, sizeof path);
        if (rmdir(path) < 0 && errno != ENOENT && r == 0)
            r = lvm_err_set(err, errno, "remove cgroup %s", path);
    }
    return r;
}

int cgroup_exists(const struct cgroup *cg)
{
    char path[512];
    if (cg->version == 2) {
        path_of(cg, NULL, NULL, path, sizeof path);
        return access(path, F_OK) == 0;
    }
    /* Any hierarchy: a dying task leaves pids last, and a cleanup that
     * stopped when memory was gone left the pids directory behind. */
    for (size_t i = 0; i < v1_hierarchies(); i++) {
        path_of(cg, v1_hier[i], NULL, path, sizeof path);
        if (access(path, F_OK) == 0)
            return 1;
    }
    return 0;
}
