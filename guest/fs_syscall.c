/*
 * fs_syscall.c: the file system calls of the guest's file tree, one entry
 * point for linux.c's dispatcher. A call on a descriptor below
 * LVM_FS_FD_BASE (stdio and the host fds behind hypercalls) is not ours:
 * -ENOSYS sends it back to linux.c. Path calls are always ours: a guest
 * has no other files, so nothing here ever reaches the host.
 */
#include "fs_io.h"
#include "sdk.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#define NOT_MINE (-ENOSYS)
#define UMASK 022
#define O_TMPFILE_BIT 020000000

static int mine(long fd)
{
    return (unsigned long)fd >= LVM_FS_FD_BASE;
}

static int is_dot(const char *name, size_t len)
{
    return (len == 1 && name[0] == '.') ||
           (len == 2 && name[0] == '.' && name[1] == '.');
}

/* The directory a *at call starts from: the cwd, or a directory fd. */
static long at_dir(long dirfd, const char *path)
{
    if (path && path[0] == '/')
        return FS_ROOT;
    if ((int)dirfd == AT_FDCWD)
        return fs_cwd;
    struct fs_file *f = fs_fd_get(dirfd);
    if (!f)
        return -EBADF;
    return (fs_node(f->node)->flags & FS_DIR) ? (long)f->node : -ENOTDIR;
}

static long lookup_at(long dirfd, const char *path)
{
    if (!path)
        return -EFAULT;
    long d = at_dir(dirfd, path);
    return d < 0 ? d : fs_lookup((uint32_t)d, path);
}

static long parent_at(long dirfd, const char *path, uint32_t *parent,
                      const char **name, size_t *len)
{
    if (!path)
        return -EFAULT;
    long d = at_dir(dirfd, path);
    return d < 0 ? d : fs_lookup_parent((uint32_t)d, path, parent, name, len);
}

static int trailing_slash(const char *path)
{
    size_t l = lvm__strlen(path);
    return l > 1 && path[l - 1] == '/';
}

static long sys_open(long dirfd, const char *path, long flags, long mode)
{
    if ((flags & O_ACCMODE) == O_ACCMODE)
        return -EINVAL;
    if (flags & O_TMPFILE_BIT)
        return -EOPNOTSUPP;
    uint32_t parent;
    const char *name;
    size_t len;
    long r = parent_at(dirfd, path, &parent, &name, &len);
    if (r < 0)
        return r;
    long node;
    int created = 0;
    if (len == 0 || is_dot(name, len)) {
        node = lookup_at(dirfd, path);
        if (node < 0)
            return node;
    } else {
        uint32_t c = fs_child(parent, name, len);
        if (c == FS_NONE) {
            if (!(flags & O_CREAT))
                return -ENOENT;
            if (trailing_slash(path))
                return -EISDIR;
            node = fs_create(parent, name, len, 0, (unsigned)mode & ~UMASK);
            if (node < 0)
                return node;
            created = 1;
        } else {
            node = c;
        }
    }
    const struct fs_node *n = fs_node((uint32_t)node);
    int dir = !!(n->flags & FS_DIR);
    if (!created && (flags & O_CREAT) && (flags & O_EXCL))
        return -EEXIST;
    if (!dir && ((flags & O_DIRECTORY) || trailing_slash(path)))
        return -ENOTDIR;
    if (dir && ((flags & O_ACCMODE) != O_RDONLY || (flags & O_CREAT)))
        return -EISDIR;
    if ((flags & O_TRUNC) && !dir && !n->dev &&
        (flags & O_ACCMODE) != O_RDONLY) {
        r = fs_truncate((uint32_t)node, 0);
        if (r < 0)
            return r;
    }
    long fd = fs_fd_open((uint32_t)node, (int)flags);
    if (fd < 0 && created)
        fs_unlink_node((uint32_t)node);
    return fd;
}

static long sys_unlink(long dirfd, const char *path, long flags)
{
    if (flags & ~(long)AT_REMOVEDIR)
        return -EINVAL;
    int rmdir = !!(flags & AT_REMOVEDIR);
    uint32_t parent;
    const char *name;
    size_t len;
    long r = parent_at(dirfd, path, &parent, &name, &len);
    if (r < 0)
        return r;
    if (len == 0)
        return rmdir ? -EBUSY : -EISDIR;
    if (is_dot(name, len))
        return rmdir ? (len == 1 ? -EINVAL : -ENOTEMPTY) : -EISDIR;
    uint32_t c = fs_child(parent, name, len);
    if (c == FS_NONE)
        return -ENOENT;
    int dir = !!(fs_node(c)->flags & FS_DIR);
    if (!rmdir && dir)
        return -EISDIR;
    if (rmdir && !dir)
        return -ENOTDIR;
    if (!rmdir && trailing_slash(path))
        return -ENOTDIR;
    if (rmdir) {
        for (uint32_t i = 1; i < fs_node_count(); i++) {
            const struct fs_node *n = fs_node(i);
            if (n && (n->flags & FS_LINKED) && n->parent == c)
                return -ENOTEMPTY;
        }
    }
    fs_unlink_node(c);
    return 0;
}

static long sys_mkdir(long dirfd, const char *path, long mode)
{
    uint32_t parent;
    const char *name;
    size_t len;
    long r = parent_at(dirfd, path, &parent, &name, &len);
    if (r < 0)
        return r;
    if (len == 0 || is_dot(name, len) || fs_child(parent, name, len) != FS_NONE)
        return -EEXIST;
    r = fs_create(parent, name, len, 1, (unsigned)mode & ~UMASK);
    return r < 0 ? r : 0;
}

static long sys_rename(long odir, const char *opath, long ndir,
                       const char *npath, long flags)
{
    if (flags & ~1L) /* RENAME_NOREPLACE only */
        return -EINVAL;
    uint32_t op, np;
    const char *on, *nn;
    size_t ol, nl;
    long r = parent_at(odir, opath, &op, &on, &ol);
    if (r < 0)
        return r;
    r = parent_at(ndir, npath, &np, &nn, &nl);
    if (r < 0)
        return r;
    if (ol == 0 || nl == 0 || is_dot(on, ol) || is_dot(nn, nl))
        return -EBUSY;
    uint32_t c = fs_child(op, on, ol);
    if (c == FS_NONE)
        return -ENOENT;
    if ((flags & 1) && fs_child(np, nn, nl) != FS_NONE)
        return -EEXIST;
    return fs_rename_node(c, np, nn, nl);
}

static long sys_access(long dirfd, const char *path, long amode)
{
    if (amode & ~7L)
        return -EINVAL;
    long node = lookup_at(dirfd, path);
    if (node < 0)
        return node;
    const struct fs_node *n = fs_node((uint32_t)node);
    if ((amode & X_OK) && !(n->flags & FS_DIR) && !(n->mode & 0111))
        return -EACCES;
    return 0;
}

static long sys_stat_at(long dirfd, const char *path, struct stat *st,
                        long flags)
{
    long node;
    if ((flags & AT_EMPTY_PATH) && path && !path[0]) {
        struct fs_file *f = fs_fd_get(dirfd);
        if ((int)dirfd == AT_FDCWD)
            node = fs_cwd;
        else if (!f)
            return mine(dirfd) ? -EBADF : NOT_MINE;
        else
            node = f->node;
    } else {
        node = lookup_at(dirfd, path);
    }
    if (node < 0)
        return node;
    fs_fill_stat((uint32_t)node, st);
    return 0;
}

static long sys_statx(long dirfd, const char *path, long flags,
                      struct fs_statx *sx)
{
    struct stat st;
    long r = sys_stat_at(dirfd, path, &st, flags);
    if (r < 0)
        return r;
    fs_fill_statx((uint32_t)st.st_ino - 1, sx);
    return 0;
}

static long sys_chdir(long node)
{
    if (node < 0)
        return node;
    if (!(fs_node((uint32_t)node)->flags & FS_DIR))
        return -ENOTDIR;
    fs_cwd = (uint32_t)node;
    return 0;
}

static long sys_readlink(long dirfd, const char *path)
{
    long node = lookup_at(dirfd, path);
    return node < 0 ? node : -EINVAL; /* there are no symbolic links */
}

static long sys_truncate(long node, long len)
{
    if (node < 0)
        return node;
    if (len < 0)
        return -EINVAL;
    if (fs_node((uint32_t)node)->flags & FS_DIR)
        return -EISDIR;
    if (fs_node((uint32_t)node)->dev)
        return -EINVAL;
    return fs_truncate((uint32_t)node, (uint64_t)len);
}

static long sys_chmod(long node, long mode)
{
    if (node < 0)
        return node;
    fs_node((uint32_t)node)->mode = (uint32_t)mode & 07777;
    return 0;
}

/* Calls on a path (or on a directory fd and a path). */
static long path_call(long nr, long a0, long a1, long a2, long a3, long a4)
{
    switch (nr) {
    case SYS_open: return sys_open(AT_FDCWD, (const char *)a0, a1, a2);
    case SYS_creat:
        return sys_open(AT_FDCWD, (const char *)a0,
                        O_CREAT | O_WRONLY | O_TRUNC, a1);
    case SYS_openat: return sys_open(a0, (const char *)a1, a2, a3);
    case SYS_stat:
    case SYS_lstat:
        return sys_stat_at(AT_FDCWD, (const char *)a0, (struct stat *)a1, 0);
    case SYS_newfstatat:
        return sys_stat_at(a0, (const char *)a1, (struct stat *)a2, a3);
    case SYS_statx:
        return sys_statx(a0, (const char *)a1, a2, (struct fs_statx *)a4);
    case SYS_access: return sys_access(AT_FDCWD, (const char *)a0, a1);
    case SYS_faccessat:
    case SYS_faccessat2: return sys_access(a0, (const char *)a1, a2);
    case SYS_mkdir: return sys_mkdir(AT_FDCWD, (const char *)a0, a1);
    case SYS_mkdirat: return sys_mkdir(a0, (const char *)a1, a2);
    case SYS_unlink: return sys_unlink(AT_FDCWD, (const char *)a0, 0);
    case SYS_rmdir: return sys_unlink(AT_FDCWD, (const char *)a0, AT_REMOVEDIR);
    case SYS_unlinkat: return sys_unlink(a0, (const char *)a1, a2);
    case SYS_rename:
        return sys_rename(AT_FDCWD, (const char *)a0, AT_FDCWD,
                          (const char *)a1, 0);
    case SYS_renameat:
        return sys_rename(a0, (const char *)a1, a2, (const char *)a3, 0);
    case SYS_renameat2:
        return sys_rename(a0, (const char *)a1, a2, (const char *)a3, a4);
    case SYS_getcwd: {
        long r = fs_path_of(fs_cwd, (char *)a0, (size_t)a1);
        return r;
    }
    case SYS_chdir: return sys_chdir(lookup_at(AT_FDCWD, (const char *)a0));
    case SYS_readlink: return sys_readlink(AT_FDCWD, (const char *)a0);
    case SYS_readlinkat: return sys_readlink(a0, (const char *)a1);
    case SYS_truncate:
        return sys_truncate(lookup_at(AT_FDCWD, (const char *)a0), a1);
    case SYS_chmod: return sys_chmod(lookup_at(AT_FDCWD, (const char *)a0), a1);
    case SYS_fchmodat: return sys_chmod(lookup_at(a0, (const char *)a1), a2);
    case SYS_utimensat: {
        /* Times are kept to the write; setting them is accepted. */
        long node =
            a1 ? lookup_at(a0, (const char *)a1) : (fs_fd_get(a0) ? 0 : -EBADF);
        return node < 0 ? node : 0;
    }
    default: return NOT_MINE;
    }
}

/* Calls on one of our descriptors (fd). */
static long fd_call(long nr, long fd, long a1, long a2, long a3)
{
    if (nr == SYS_close)
        return fs_fd_close(fd);
    struct fs_file *f = fs_fd_get(fd);
    if (!f)
        return -EBADF;
    switch (nr) {
    case SYS_read: {
        struct iovec v = {(void *)a1, (size_t)a2};
        return fs_rw_vec(f, &v, 1, -1, 0);
    }
    case SYS_write: {
        struct iovec v = {(void *)a1, (size_t)a2};
        return fs_rw_vec(f, &v, 1, -1, 1);
    }
    case SYS_readv: return fs_rw_vec(f, (const struct iovec *)a1, a2, -1, 0);
    case SYS_writev: return fs_rw_vec(f, (const struct iovec *)a1, a2, -1, 1);
    case SYS_pread64:
    case SYS_pwrite64: {
        if (a3 < 0)
            return -EINVAL;
        struct iovec v = {(void *)a1, (size_t)a2};
        return fs_rw_vec(f, &v, 1, a3, nr == SYS_pwrite64);
    }
    case SYS_preadv:
    case SYS_pwritev:
        if (a3 < 0)
            return -EINVAL;
        return fs_rw_vec(f, (const struct iovec *)a1, a2, a3,
                         nr == SYS_pwritev);
    case SYS_lseek: return fs_lseek(f, a1, (int)a2);
    case SYS_fstat: fs_fill_stat(f->node, (struct stat *)a1); return 0;
    case SYS_getdents64: return fs_getdents(f, (void *)a1, (size_t)a2);
    case SYS_fcntl: return fs_fcntl(fd, f, a1, a2);
    case SYS_ioctl: return -ENOTTY;
    case SYS_ftruncate: return sys_truncate(f->node, a1);
    case SYS_fchmod: return sys_chmod(f->node, a1);
    case SYS_fchdir: return sys_chdir(f->node);
    case SYS_fsync:
    case SYS_fdatasync:
    case SYS_fadvise64:
    case SYS_flock: return 0;
    case SYS_dup: return fs_fd_dup(fd, 0, 0);
    case SYS_dup2: return fs_fd_dup2(fd, a1, 0);
    case SYS_dup3:
        if (a1 == fd || (a2 & ~(long)O_CLOEXEC))
            return -EINVAL;
        return fs_fd_dup2(fd, a1, !!(a2 & O_CLOEXEC));
    default: return NOT_MINE;
    }
}

static int is_fd_call(long nr)
{
    switch (nr) {
    case SYS_close:
    case SYS_read:
    case SYS_write:
    case SYS_readv:
    case SYS_writev:
    case SYS_pread64:
    case SYS_pwrite64:
    case SYS_preadv:
    case SYS_pwritev:
    case SYS_lseek:
    case SYS_fstat:
    case SYS_getdents64:
    case SYS_fcntl:
    case SYS_ioctl:
    case SYS_ftruncate:
    case SYS_fchmod:
    case SYS_fchdir:
    case SYS_fsync:
    case SYS_fdatasync:
    case SYS_fadvise64:
    case SYS_flock:
    case SYS_dup:
    case SYS_dup2:
    case SYS_dup3: return 1;
    default: return 0;
    }
}

long lvm__fs_syscall(long nr, long a0, long a1, long a2, long a3, long a4,
                     long a5)
{
    (void)a5;
    if (is_fd_call(nr)) {
        if (!mine(a0))
            return NOT_MINE;
        if (fs_ready() < 0)
            return -ENOMEM;
        return fd_call(nr, a0, a1, a2, a3);
    }
    switch (nr) {
    case SYS_open:
    case SYS_creat:
    case SYS_openat:
    case SYS_stat:
    case SYS_lstat:
    case SYS_newfstatat:
    case SYS_statx:
    case SYS_access:
    case SYS_faccessat:
    case SYS_faccessat2:
    case SYS_mkdir:
    case SYS_mkdirat:
    case SYS_unlink:
    case SYS_rmdir:
    case SYS_unlinkat:
    case SYS_rename:
    case SYS_renameat:
    case SYS_renameat2:
    case SYS_getcwd:
    case SYS_chdir:
    case SYS_readlink:
    case SYS_readlinkat:
    case SYS_truncate:
    case SYS_chmod:
    case SYS_fchmodat:
    case SYS_utimensat:
        if (fs_ready() < 0)
            return -ENOMEM;
        return path_call(nr, a0, a1, a2, a3, a4);
    default: return NOT_MINE;
    }
}
