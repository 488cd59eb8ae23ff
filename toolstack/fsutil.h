/*
 * fsutil.h: small file helpers the toolstack uses in several places
 * (cgroup control files, /proc files of new processes).
 */
#ifndef LVM_TS_FSUTIL_H
#define LVM_TS_FSUTIL_H

#include "toolstack/error.h"

#include <stddef.h>

/* Write (text) to the existing file (path) in one write(). */
int fs_write_str(const char *path, const char *text, struct lvm_err *err);

/* Open (path) for reading (or reading and writing) without ever blocking
 * on it (a FIFO, a device) and without it becoming a controlling terminal,
 * and return the fd only if it is a regular file, or a block device when
 * (allow_blkdev): what a guest image or a block device may be. */
int fs_open_data(const char *path, int writable, int allow_blkdev,
                 struct lvm_err *err);

/* fs_open_data() for a daemon opening (path) on a client's behalf: no
 * magic link (/proc/self/fd/N, /proc/self/root...) anywhere in it, since
 * those name the daemon's own fds and files, whatever the client's
 * identity (openat2 RESOLVE_NO_MAGICLINKS). */
int fs_open_data_for_client(const char *path, int writable, int allow_blkdev,
                            struct lvm_err *err);

/* Where a file of ours is: $ENV (env_var) if set, else (file) next to
 * the running program or in ../lib/lightvm from it (the layout of the
 * build tree and of `make install`), if access(mode) allows it. ENOENT
 * says which variable to set. */
int fs_find_installed(const char *env_var, const char *file, int mode,
                      char *path, size_t len, struct lvm_err *err);

#endif
