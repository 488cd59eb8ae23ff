/*
 * fsutil.c: small file helpers (see fsutil.h).
 */
#include "toolstack/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
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
