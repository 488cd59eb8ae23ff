/*
 * fs_io.h: calls on an open file of the guest's file tree (fs_io.c), for
 * the dispatcher (fs_syscall.c).
 */
#ifndef LVM_GUEST_FS_IO_H
#define LVM_GUEST_FS_IO_H

#include "fs.h"

struct iovec;
struct stat;

/* Linux's struct statx (musl 1.2.3's headers have none). */
struct fs_statx_ts {
    int64_t tv_sec;
    uint32_t tv_nsec;
    int32_t reserved;
};
struct fs_statx {
    uint32_t mask, blksize;
    uint64_t attributes;
    uint32_t nlink, uid, gid;
    uint16_t mode, spare0;
    uint64_t ino, size, blocks, attributes_mask;
    struct fs_statx_ts atime, btime, ctime, mtime;
    uint32_t rdev_major, rdev_minor, dev_major, dev_minor;
    uint64_t spare[14];
};

/* Read or write (count) bytes at (pos) of (f)'s file; bytes or -errno. */
long fs_read_at(struct fs_file *f, void *buf, uint64_t count, uint64_t pos);
long fs_write_at(struct fs_file *f, const void *buf, uint64_t count,
                 uint64_t pos);
/* Vectored read or write (write) of (cnt) buffers at (pos), or at and
 * moving the file's offset if (pos) < 0. */
long fs_rw_vec(struct fs_file *f, const struct iovec *iov, long cnt,
               int64_t pos, int write);
long fs_lseek(struct fs_file *f, int64_t off, int whence);
/* Directory entries of (f) into (buf, size), as getdents64. */
long fs_getdents(struct fs_file *f, void *buf, size_t size);
void fs_fill_stat(uint32_t node, struct stat *st);
void fs_fill_statx(uint32_t node, struct fs_statx *sx);
long fs_fcntl(long fd, struct fs_file *f, long cmd, long arg);

#endif
