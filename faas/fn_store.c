/*
 * fn_store.c: deployed functions as files NAME.lua in one directory.
 */
#include "faas/fn_store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *fn_store_dir(const char *opt)
{
    if (opt && *opt)
        return opt;
    const char *env = getenv("LIGHTVM_FN_DIR");
    return env && *env ? env : FN_DIR_DEFAULT;
}

int fn_name_ok(const char *name, size_t len)
{
    if (len == 0 || len > FN_NAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || !strchr("_.-", c)))
            return 0;
        if (c == '.' && i + 1 < len && name[i + 1] == '.')
            return 0;
    }
    return 1;
}

static int check_name(const char *name, struct lvm_err *err)
{
    if (!fn_name_ok(name, strlen(name)))
        return lvm_err_invalid(err,
                               "'%s' is not a function name (letters, digits, "
                               "'_', '.', '-'; at most %d; a letter or digit "
                               "first)",
                               name, FN_NAME_MAX);
    return 0;
}

/* Read a regular file of at most FN_SOURCE_MAX bytes, whole. */
static long read_small(const char *path, char **out, struct lvm_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return lvm_err_set(err, errno, "%s", path);
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return lvm_err_invalid(err, "%s is not a regular file", path);
    }
    if (st.st_size > FN_SOURCE_MAX) {
        close(fd);
        return lvm_err_plain(err, EFBIG, "%s is bigger than %d bytes", path,
                             FN_SOURCE_MAX);
    }
    char *b = malloc((size_t)st.st_size + 1);
    if (!b) {
        close(fd);
        return lvm_err_set(err, ENOMEM, "%s", path);
    }
    size_t n = 0;
    while (n < (size_t)st.st_size) {
        ssize_t r = read(fd, b + n, (size_t)st.st_size - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    b[n] = 0;
    *out = b;
    return (long)n;
}

/* mkdir -p (dir): /var/lib/lightvm is not there on a fresh host. */
static int make_dirs(const char *dir)
{
    char p[4096];
    if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *c = p + 1;; c++) {
        if (*c != '/' && *c)
            continue;
        char was = *c;
        *c = 0;
        if (mkdir(p, 0755) < 0 && errno != EEXIST)
            return -1;
        if (!was)
            return 0;
        *c = was;
    }
}

int fn_deploy(const char *dir, const char *name, const char *file,
              struct lvm_err *err)
{
    if (check_name(name, err) < 0)
        return -1;
    char *src;
    long n = read_small(file, &src, err);
    if (n < 0)
        return -1;
    if (memchr(src, 0, (size_t)n)) {
        free(src);
        return lvm_err_invalid(err,
                               "%s is not Lua source (it holds NUL bytes; "
                               "precompiled chunks are not accepted)",
                               file);
    }
    if (make_dirs(dir) < 0) {
        free(src);
        return lvm_err_set(err, errno, "make the function directory %s", dir);
    }
    char tmp[4096], path[4096];
    snprintf(path, sizeof path, "%s/%s.lua", dir, name);
    snprintf(tmp, sizeof tmp, "%s/.%s.lua.%ld", dir, name, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        free(src);
        return lvm_err_set(err, errno, "%s", tmp);
    }
    ssize_t w = write(fd, src, (size_t)n);
    int bad = w != n || fsync(fd) < 0;
    int e = errno;
    close(fd);
    free(src);
    if (bad || rename(tmp, path) < 0) {
        e = bad ? (e ? e : EIO) : errno;
        unlink(tmp);
        return lvm_err_set(err, e, "write %s", path);
    }
    return 0;
}

int fn_remove(const char *dir, const char *name, struct lvm_err *err)
{
    if (check_name(name, err) < 0)
        return -1;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.lua", dir, name);
    if (unlink(path) < 0) {
        if (errno == ENOENT)
            return lvm_err_plain(err, ENOENT, "no function '%s' in %s", name,
                                 dir);
        return lvm_err_set(err, errno, "remove %s", path);
    }
    return 0;
}

long fn_load(const char *dir, const char *name, char **src, struct lvm_err *err)
{
    if (check_name(name, err) < 0)
        return -1;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.lua", dir, name);
    return read_small(path, src, err);
}
