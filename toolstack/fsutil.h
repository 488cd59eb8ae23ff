/*
 * fsutil.h: small file helpers the toolstack uses in several places
 * (cgroup control files, /proc files of new processes).
 */
#ifndef LVM_TS_FSUTIL_H
#define LVM_TS_FSUTIL_H

#include "toolstack/error.h"

/* Write (text) to the existing file (path) in one write(). */
int fs_write_str(const char *path, const char *text, struct lvm_err *err);

/* Open (path) for reading (or reading and writing) without ever blocking
 * on it (a FIFO, a device) and without it becoming a controlling terminal,
 * and return the fd only if it is a regular file, or a block device when
 * (allow_blkdev): what a guest image or a block device may be. */
int fs_open_data(const char *path, int writable, int allow_blkdev,
                 struct lvm_err *err);

#endif
