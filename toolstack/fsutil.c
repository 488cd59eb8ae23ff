/*
 * fsutil.c: small file helpers (see fsutil.h).
 */
#include "toolstack/fsutil.h"

#include <errno.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fs_write_str(const char *path, const char *text, struct lvm_err *err)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return lvm_err_set(err, errno, "open %s", path);
    size_t n = strlen(text);
    ssize_t w = write(fd, text, n);
    int e = errno;
    close(fd);
    if (w != (ssize_t)n)
        return lvm_err_set(err, w < 0 ? e : EIO, "write '%s' to %s", text,
                           path);
    return 0;
}

/* The opened (fd) of (path), checked to be data: see fs_open_data(). */
static int data_only(int fd, const char *path, int allow_blkdev,
                     struct lvm_err *err)
{
    if (fd < 0)
        return lvm_err_set(err, errno, "%s", path);
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return lvm_err_set(err, e, "stat %s", path);
    }
    if (!S_ISREG(st.st_mode) && !(allow_blkdev && S_ISBLK(st.st_mode))) {
        close(fd);
        return lvm_err_invalid(err, "%s is not a regular file%s", path,
                               allow_blkdev ? " or a block device" : "");
    }
    /* Regular files and disks never block; reads must not see EAGAIN. */
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
        int e = errno;
        close(fd);
        return lvm_err_set(err, e, "%s", path);
    }
    return fd;
}

int fs_open_data(const char *path, int writable, int allow_blkdev,
                 struct lvm_err *err)
{
    int fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_NONBLOCK | O_NOCTTY |
                            O_CLOEXEC);
    return data_only(fd, path, allow_blkdev, err);
}

int fs_open_data_for_client(const char *path, int writable, int allow_blkdev,
                            struct lvm_err *err)
{
    struct open_how how = {
        .flags = (uint64_t)((writable ? O_RDWR : O_RDONLY) | O_NONBLOCK |
                            O_NOCTTY | O_CLOEXEC),
        .resolve = RESOLVE_NO_MAGICLINKS,
    };
    int fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how);
    if (fd < 0 && errno == ELOOP) /* errno 0: the message says it all */
        return lvm_err_set(err, 0,
                           "%s: a path through /proc's magic links (such as "
                           "/proc/self/fd) is not accepted",
                           path);
    return data_only(fd, path, allow_blkdev, err);
}

int fs_find_installed(const char *env_var, const char *file, int mode,
                      char *path, size_t len, struct lvm_err *err)
{
    const char *env = getenv(env_var);
    if (env && *env) {
        snprintf(path, len, "%s", env);
        return 0;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n < 0)
        return lvm_err_set(err, errno, "find the running program");
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = 0;
    const char *candidates[] = {"%s/%s", "%s/../lib/lightvm/%s"};
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
        snprintf(path, len, candidates[i], exe, file);
        if (access(path, mode) == 0)
            return 0;
    }
    return lvm_err_set(err, ENOENT, "%s not found next to %s (set %s)", file,
                       exe, env_var);
}
