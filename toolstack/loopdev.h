/*
 * loopdev.h: a loop block device over an open file, for QEMU's writable
 * disks under lightvmd. lightvmd bounds the files QEMU writes itself (its
 * console log) with RLIMIT_FSIZE, which would also stop writes to a
 * volume file past that size; a block device is not subject to it.
 */
#ifndef LVM_TS_LOOPDEV_H
#define LVM_TS_LOOPDEV_H

#include "toolstack/error.h"

/* A loop device over (file_fd) (a regular file), read-only if (readonly),
 * detached by the kernel once its last opener closes it (autoclear): its
 * open fd, or -1 with (err). Root only. */
int loopdev_attach(int file_fd, int readonly, struct lvm_err *err);

#endif
