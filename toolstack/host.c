/*
 * host.c: one-time host set-up for the toolstack (see host.h).
 */
#include "toolstack/host.h"
#include "toolstack/idrange.h"
#include "toolstack/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef HWCAP2_FSGSBASE
#define HWCAP2_FSGSBASE (1 << 1)
#endif

uint64_t host_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int mkdir_p(const char *path, mode_t mode, struct lvm_err *err)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
            return lvm_err_set(err, errno, "create %s", buf);
        *p = '/';
    }
    if (mkdir(buf, mode) < 0 && errno != EEXIST)
        return lvm_err_set(err, errno, "create %s", buf);
    return 0;
}

int host_root_dir(char *run_dir, size_t run_len, char *root_dir,
                  size_t root_len, struct lvm_err *err)
{
    const char *run = getenv("LIGHTVM_RUN_DIR");
    snprintf(run_dir, run_len, "%s", run && *run ? run : HOST_RUN_DIR_DEFAULT);
    snprintf(root_dir, root_len, "%s/empty", run_dir);
    if (mkdir_p(root_dir, 0555, err) < 0)
        return -1;
    /* Shells run as unprivileged host users: they must reach root_dir. */
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s", root_dir);
    for (char *slash = path + strlen(path); slash > path;
         slash = strrchr(path, '/')) {
        *slash = 0;
        struct stat st;
        const char *dir = path[0] ? path : "/";
        if (stat(dir, &st) == 0 && !(st.st_mode & S_IXOTH))
            return lvm_err_set(err, EACCES,
                               "%s is not searchable by other users, and "
                               "guests run as unprivileged users: chmod o+x "
                               "%s, or choose another LIGHTVM_RUN_DIR",
                               dir, dir);
    }
    return 0;
}

int host_uid_base(uid_t *base, struct lvm_err *err)
{
    const char *env = getenv("LIGHTVM_UID_BASE");
    *base = env && *env ? (uid_t)strtoul(env, NULL, 0) : HOST_UID_BASE_DEFAULT;
    /* Guests' ids are base + pid: the range is as large as pid_max. */
    long long pid_max = 4194304; /* the kernel's limit on 64-bit */
    FILE *pm = fopen("/proc/sys/kernel/pid_max", "re");
    if (pm) {
        if (fscanf(pm, "%lld", &pid_max) != 1)
            pid_max = 4194304;
        fclose(pm);
    }
    return idrange_check(&idrange_host_files, *base, (uint64_t)pid_max, err);
}

int host_init(struct lvm_host *h, struct lvm_err *err)
{
    memset(h, 0, sizeof *h);
    h->shell_fd = -1;
    h->mntns_fd = h->host_mntns_fd = h->host_cwd_fd = -1;
    if (geteuid() != 0)
        return lvm_err_set(err, EPERM,
                           "lightvm needs root to create namespaces and "
                           "cgroups (run it with sudo)");
    if (sandbox_find_shell(h->shell_path, sizeof h->shell_path, err) < 0)
        return -1;
    h->shell_fd = open(h->shell_path, O_PATH | O_CLOEXEC);
    if (h->shell_fd < 0)
        return lvm_err_set(err, errno, "open %s", h->shell_path);
    if (host_root_dir(h->run_dir, sizeof h->run_dir, h->root_dir,
                      sizeof h->root_dir, err) < 0 ||
        host_uid_base(&h->uid_base, err) < 0) {
        host_fini(h);
        return -1;
    }
    h->hwcap = getauxval(AT_HWCAP);
    h->fsgsbase = (getauxval(AT_HWCAP2) & HWCAP2_FSGSBASE) != 0;
    if (getenv("LIGHTVM_NO_FSGSBASE"))
        h->fsgsbase = 0;
    return 0;
}

int host_use_template_mntns(struct lvm_host *h, struct lvm_err *err)
{
    return sandbox_template_mntns(h->root_dir, &h->mntns_fd, &h->host_mntns_fd,
                                  &h->host_cwd_fd, err);
}

void host_fini(struct lvm_host *h)
{
    int *fds[] = {&h->shell_fd, &h->mntns_fd, &h->host_mntns_fd,
                  &h->host_cwd_fd};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++) {
        if (*fds[i] >= 0)
            close(*fds[i]);
        *fds[i] = -1;
    }
}
