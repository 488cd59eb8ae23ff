/*
 * fs_io.c: the calls on an open file of the guest's file tree: read,
 * write and their vectored and positioned forms, lseek, getdents64,
 * fstat and statx's fill, fcntl, ftruncate. Linux's answers, errno for
 * errno.
 */
#include "fs_io.h"
#include "sdk.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>

#define ACCMODE(f) ((f)&O_ACCMODE)
#define IOV_MAX_ 1024
#define DEV_ID 0x2a /* the tree's st_dev */

static struct fs_node *file_node(const struct fs_file *f)
{
    return fs_node(f->node);
}

long fs_read_at(struct fs_file *f, void *buf, uint64_t count, uint64_t pos)
{
    const struct fs_node *n = file_node(f);
    if (ACCMODE(f->flags) == O_WRONLY)
        return -EBADF;
    if (n->flags & FS_DIR)
        return -EISDIR;
    if (n->dev) {
        if (n->dev == FS_DEV_NULL)
            return 0;
        if (count > 0x7ffff000)
            count = 0x7ffff000;
        if (n->dev == FS_DEV_ZERO)
            lvm__memzero(buf, (size_t)count);
        else
            lvm__random_fill(buf, (size_t)count);
        return (long)count;
    }
    if (pos >= n->size)
        return 0;
    uint64_t k = n->size - pos;
    if (k > count)
        k = count;
    if (k > 0x7ffff000)
        k = 0x7ffff000; /* Linux's largest single transfer */
    fs_copy(buf, n->data + pos, (size_t)k);
    return (long)k;
}

long fs_write_at(struct fs_file *f, const void *buf, uint64_t count,
                 uint64_t pos)
{
    if (ACCMODE(f->flags) == O_RDONLY)
        return -EBADF;
    if (count > 0x7ffff000)
        count = 0x7ffff000;
    if (pos > UINT64_MAX - count || pos + count > (uint64_t)INT64_MAX)
        return -EFBIG;
    if (count == 0 || file_node(f)->dev)
        return (long)count; /* devices take and drop every write */
    long r = fs_reserve(f->node, pos + count);
    if (r < 0)
        return r;
    struct fs_node *n = file_node(f);
    fs_copy(n->data + pos, buf, (size_t)count);
    if (pos + count > n->size)
        n->size = pos + count;
    fs_touch(f->node);
    return (long)count;
}

/* readv and writev, at (pos) or at the file's offset (pos < 0). */
long fs_rw_vec(struct fs_file *f, const struct iovec *iov, long cnt,
               int64_t pos, int write)
{
    if (cnt < 0 || cnt > IOV_MAX_)
        return -EINVAL;
    int own = pos < 0;
    uint64_t at = own ? f->pos : (uint64_t)pos;
    if (own && write && (f->flags & O_APPEND))
        at = file_node(f)->size;
    long total = 0;
    for (long i = 0; i < cnt; i++) {
        if (!iov[i].iov_len)
            continue;
        long r = write ? fs_write_at(f, iov[i].iov_base, iov[i].iov_len, at)
                       : fs_read_at(f, iov[i].iov_base, iov[i].iov_len, at);
        if (r < 0) {
            if (total)
                break;
            return r;
        }
        total += r;
        at += (uint64_t)r;
        if ((size_t)r < iov[i].iov_len)
            break;
    }
    if (own)
        f->pos = at;
    return total;
}

long fs_lseek(struct fs_file *f, int64_t off, int whence)
{
    const struct fs_node *n = file_node(f);
    int64_t base;
    switch (whence) {
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = (int64_t)f->pos; break;
    case SEEK_END: base = (int64_t)n->size; break;
    case 3: /* SEEK_DATA */
    case 4: /* SEEK_HOLE */
        if (off < 0 || (uint64_t)off >= n->size)
            return -ENXIO;
        f->pos = whence == 3 ? (uint64_t)off : n->size;
        return (long)f->pos;
    default: return -EINVAL;
    }
    if ((off > 0 && base > INT64_MAX - off) || base + off < 0)
        return -EINVAL;
    f->pos = (uint64_t)(base + off);
    return (long)f->pos;
}

/* Linux's struct linux_dirent64. */
struct k_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

/* One record at (buf + used); its size, or 0 if it does not fit. */
static size_t put_dirent(char *buf, size_t size, size_t used, uint64_t ino,
                         uint64_t next, int dir, const char *name, size_t len)
{
    size_t rec = (sizeof(struct k_dirent64) + len + 1 + 7) & ~(size_t)7;
    if (used + rec > size)
        return 0;
    struct k_dirent64 *d = (struct k_dirent64 *)(buf + used);
    lvm__memzero(d, rec);
    d->d_ino = ino;
    d->d_off = (int64_t)next;
    d->d_reclen = (unsigned short)rec;
    d->d_type = dir ? 4 /* DT_DIR */ : 8 /* DT_REG */;
    fs_copy(d->d_name, name, len);
    return rec;
}

/* Positions: 0 is ".", 1 is "..", 2 + k scans the node table from k. */
long fs_getdents(struct fs_file *f, void *bufv, size_t size)
{
    const struct fs_node *dn = file_node(f);
    if (!(dn->flags & FS_DIR))
        return -ENOTDIR;
    char *buf = bufv;
    size_t used = 0;
    for (;;) {
        uint64_t pos = f->pos;
        size_t r;
        if (pos == 0) {
            r = put_dirent(buf, size, used, f->node + 1, 1, 1, ".", 1);
        } else if (pos == 1) {
            uint32_t p = dn->parent == FS_NONE ? f->node : dn->parent;
            r = put_dirent(buf, size, used, p + 1, 2, 1, "..", 2);
        } else {
            uint32_t i = (uint32_t)(pos - 2), count = fs_node_count();
            const struct fs_node *c = 0;
            for (; i < count; i++) {
                c = fs_node(i);
                if (c && (c->flags & FS_LINKED) && c->parent == f->node &&
                    i != f->node)
                    break;
            }
            if (i >= count) {
                f->pos = 2 + (uint64_t)count;
                break;
            }
            r = put_dirent(buf, size, used, i + 1, 2 + (uint64_t)i + 1,
                           !!(c->flags & FS_DIR), c->name, c->namelen);
            if (r)
                pos = 2 + (uint64_t)i;
        }
        if (!r) {
            if (!used)
                return -EINVAL; /* buffer too small for one entry */
            break;
        }
        used += r;
        f->pos = pos + 1;
    }
    return (long)used;
}

void fs_fill_stat(uint32_t i, struct stat *st)
{
    const struct fs_node *n = fs_node(i);
    lvm__memzero(st, sizeof *st);
    st->st_dev = DEV_ID;
    st->st_ino = i + 1;
    st->st_nlink = (n->flags & FS_DIR) ? 2 : (n->flags & FS_LINKED) ? 1 : 0;
    st->st_mode = ((n->flags & FS_DIR) ? S_IFDIR
                   : n->dev            ? S_IFCHR
                                       : S_IFREG) |
                  n->mode;
    st->st_size = (off_t)n->size;
    st->st_blksize = 4096;
    st->st_blocks = (blkcnt_t)((n->size + 511) / 512);
    st->st_mtim.tv_sec = (time_t)(n->mtime_ns / 1000000000ull);
    st->st_mtim.tv_nsec = (long)(n->mtime_ns % 1000000000ull);
    st->st_atim = st->st_ctim = st->st_mtim;
}

void fs_fill_statx(uint32_t i, struct fs_statx *sx)
{
    struct stat st;
    fs_fill_stat(i, &st);
    lvm__memzero(sx, sizeof *sx);
    sx->mask = 0x7ff; /* STATX_BASIC_STATS */
    sx->blksize = (uint32_t)st.st_blksize;
    sx->nlink = (uint32_t)st.st_nlink;
    sx->mode = (uint16_t)st.st_mode;
    sx->ino = st.st_ino;
    sx->size = (uint64_t)st.st_size;
    sx->blocks = (uint64_t)st.st_blocks;
    sx->mtime.tv_sec = st.st_mtim.tv_sec;
    sx->mtime.tv_nsec = (uint32_t)st.st_mtim.tv_nsec;
    sx->atime = sx->ctime = sx->btime = sx->mtime;
    sx->dev_minor = DEV_ID;
}

long fs_fcntl(long fd, struct fs_file *f, long cmd, long arg)
{
    switch (cmd) {
    case F_DUPFD: return fs_fd_dup(fd, arg, 0);
    case F_DUPFD_CLOEXEC: return fs_fd_dup(fd, arg, 1);
    case F_GETFD: return fs_fd_cloexec(fd) ? FD_CLOEXEC : 0;
    case F_SETFD: fs_fd_set_cloexec(fd, arg & FD_CLOEXEC); return 0;
    case F_GETFL:
        return (long)(f->flags & (O_ACCMODE | O_APPEND | O_NONBLOCK)) |
               O_LARGEFILE;
    case F_SETFL:
        f->flags = (f->flags & ~(uint32_t)(O_APPEND | O_NONBLOCK)) |
                   ((uint32_t)arg & (O_APPEND | O_NONBLOCK));
        return 0;
    /* Locks: one process, so every lock is granted and none is held by
     * anyone else. */
    case F_GETLK:
    case 36: /* F_OFD_GETLK */
        ((struct flock *)arg)->l_type = F_UNLCK;
        return 0;
    case F_SETLK:
    case F_SETLKW:
    case 37: /* F_OFD_SETLK */
    case 38: /* F_OFD_SETLKW */ return 0;
    default: return -EINVAL;
    }
}
