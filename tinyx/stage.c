/*
 * stage.c: the staging tree (see stage.h). Run as root it is a faithful
 * copy (owners, device nodes); otherwise ownership lives only in the
 * fileset, which is what the packer reads.
 */
#include "tinyx/stage.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static int copy_fd(int in, int out)
{
    for (;;) {
        ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
        if (n == 0)
            return 0;
        if (n > 0)
            continue;
        if (errno != EXDEV && errno != EINVAL && errno != ENOSYS &&
            errno != EOPNOTSUPP)
            return -1;
        break; /* fall back to read/write */
    }
    char buf[65536];
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            return 0;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                return -1;
            off += w;
        }
    }
}

static int stage_file(const struct fs_entry *e, const char *dst,
                      struct lvm_err *err)
{
    int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (out < 0)
        return lvm_err_set(err, errno, "create %s", dst);
    int r = 0;
    if (e->src) {
        int in = open(e->src, O_RDONLY | O_CLOEXEC);
        if (in < 0) {
            r = lvm_err_set(err, errno, "read %s", e->src);
        } else {
            if (copy_fd(in, out) < 0)
                r = lvm_err_set(err, errno, "copy %s", e->src);
            close(in);
        }
    } else if (e->datalen &&
               write(out, e->data, e->datalen) != (ssize_t)e->datalen) {
        r = lvm_err_set(err, errno, "write %s", dst);
    }
    if (close(out) < 0 && r == 0)
        r = lvm_err_set(err, errno, "write %s", dst);
    return r;
}

int stage_tree(const struct fileset *fs, const char *root, struct lvm_err *err)
{
    int root_user = geteuid() == 0;
    for (size_t i = 0; i < fs->n; i++) {
        const struct fs_entry *e = &fs->e[i];
        char dst[PATH_MAX];
        if ((size_t)snprintf(dst, sizeof dst, "%s%s", root, e->path) >=
            sizeof dst)
            return lvm_err_set(err, ENAMETOOLONG, "%s", e->path);
        int r = 0;
        switch (e->kind) {
        case FS_DIR:
            if (mkdir(dst, 0755) < 0 && errno != EEXIST)
                r = lvm_err_set(err, errno, "mkdir %s", dst);
            break;
        case FS_FILE: r = stage_file(e, dst, err); break;
        case FS_SYMLINK:
            if (symlink(e->link, dst) < 0)
                r = lvm_err_set(err, errno, "symlink %s", dst);
            break;
        case FS_CHARDEV:
            /* only the packer needs it; a non-root build cannot mknod */
            if (root_user && mknod(dst, S_IFCHR | e->mode,
                                   makedev(e->rdev_major, e->rdev_minor)) < 0)
                r = lvm_err_set(err, errno, "mknod %s", dst);
            break;
        }
        if (r < 0)
            return r;
        if (root_user && lchown(dst, e->uid, e->gid) < 0 && errno != ENOENT)
            return lvm_err_set(err, errno, "chown %s", dst);
        if (e->kind == FS_FILE && chmod(dst, e->mode) < 0)
            return lvm_err_set(err, errno, "chmod %s", dst);
    }
    /* Directory modes last: a read-only directory would refuse its
     * children when not root. */
    for (size_t i = fs->n; i-- > 0;) {
        const struct fs_entry *e = &fs->e[i];
        char dst[PATH_MAX];
        snprintf(dst, sizeof dst, "%s%s", root, e->path);
        if (e->kind == FS_DIR && chmod(dst, e->mode | (root_user ? 0 : 0700)))
            return lvm_err_set(err, errno, "chmod %s", dst);
    }
    return 0;
}
