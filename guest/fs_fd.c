/*
 * fs_fd.c: file descriptors of the guest's file tree. They are numbered
 * from LVM_FS_FD_BASE up, above every host fd the guest's process holds
 * (console, control, devices), so the proc monitor's seccomp filter can
 * trap calls on them by number and never let one reach the host. As on
 * Linux, dup'ed descriptors share one open file description (offset,
 * flags); the lowest free number is used; FS_MAX_FDS at once (EMFILE).
 */
#include "fs.h"

#include <lightvm/abi.h>

#include <errno.h>

static struct {
    uint32_t file; /* index + 1 into files[]; 0: free */
    uint32_t cloexec;
} fds[FS_MAX_FDS];
static struct fs_file files[FS_MAX_FDS];

static long slot_of(long fd)
{
    if (fd < LVM_FS_FD_BASE || fd >= LVM_FS_FD_BASE + FS_MAX_FDS)
        return -1;
    long s = fd - LVM_FS_FD_BASE;
    return fds[s].file ? s : -1;
}

struct fs_file *fs_fd_get(long fd)
{
    long s = slot_of(fd);
    return s < 0 ? 0 : &files[fds[s].file - 1];
}

static long free_fd(long min)
{
    long s = min < LVM_FS_FD_BASE ? 0 : min - LVM_FS_FD_BASE;
    for (; s < FS_MAX_FDS; s++)
        if (!fds[s].file)
            return s;
    return -EMFILE;
}

long fs_fd_open(uint32_t node, int flags)
{
    long s = free_fd(0);
    if (s < 0)
        return s;
    uint32_t f = 0;
    while (files[f].refs) /* as many descriptions as descriptors */
        f++;
    files[f] =
        (struct fs_file){.node = node, .refs = 1, .flags = (uint32_t)flags};
    fds[s].file = f + 1;
    fds[s].cloexec = (flags & 02000000 /* O_CLOEXEC */) ? 1 : 0;
    fs_node(node)->opens++;
    return LVM_FS_FD_BASE + s;
}

static void drop(uint32_t f)
{
    if (--files[f].refs == 0)
        fs_release(files[f].node);
}

long fs_fd_close(long fd)
{
    long s = slot_of(fd);
    if (s < 0)
        return -EBADF;
    drop(fds[s].file - 1);
    fds[s].file = 0;
    return 0;
}

long fs_fd_dup(long fd, long min, int cloexec)
{
    long s = slot_of(fd);
    if (s < 0)
        return -EBADF;
    if (min >= LVM_FS_FD_BASE + FS_MAX_FDS)
        return -EINVAL;
    long n = free_fd(min);
    if (n < 0)
        return n;
    fds[n].file = fds[s].file;
    fds[n].cloexec = (uint32_t) !!cloexec;
    files[fds[s].file - 1].refs++;
    return LVM_FS_FD_BASE + n;
}

long fs_fd_dup2(long fd, long newfd, int cloexec)
{
    long s = slot_of(fd);
    if (s < 0)
        return -EBADF;
    if (newfd < LVM_FS_FD_BASE || newfd >= LVM_FS_FD_BASE + FS_MAX_FDS)
        return -EBADF;
    if (newfd == fd)
        return fd;
    long n = newfd - LVM_FS_FD_BASE;
    if (fds[n].file)
        drop(fds[n].file - 1);
    fds[n].file = fds[s].file;
    fds[n].cloexec = (uint32_t) !!cloexec;
    files[fds[s].file - 1].refs++;
    return newfd;
}

int fs_fd_cloexec(long fd)
{
    long s = slot_of(fd);
    return s < 0 ? 0 : (int)fds[s].cloexec;
}

void fs_fd_set_cloexec(long fd, int on)
{
    long s = slot_of(fd);
    if (s >= 0)
        fds[s].cloexec = (uint32_t) !!on;
}
