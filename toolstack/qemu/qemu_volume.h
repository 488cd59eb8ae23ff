/*
 * qemu_volume.h: volumes of a Tinyx guest (`lightvm run|create --monitor
 * qemu -v FILE:PATH[:ro]`): a host file or block device holding a
 * filesystem, attached as a virtio disk (serial "volN") and mounted at
 * PATH by the guest's init (a "mount" line of this run's settings).
 */
#ifndef LVM_QEMU_VOLUME_H
#define LVM_QEMU_VOLUME_H

#include "toolstack/error.h"

#include <limits.h>

#define QEMU_MAX_VOLUMES 8
#define QEMU_VOLUME_TARGET_MAX 200

struct qemu_volume {
    char path[PATH_MAX];                     /* on the host */
    char target[QEMU_VOLUME_TARGET_MAX + 1]; /* in the guest */
    int readonly;
};

/* Parse "FILE:PATH[:ro|:rw]" (docker's -v). 0, or -1 with one line in
 * (err). Pure but for nothing: it does not look at FILE. */
int qemu_volume_parse(const char *spec, struct qemu_volume *v,
                      struct lvm_err *err);

/* 0 if (target) can be a mount point in the guest: absolute, no "..",
 * no whitespace or control characters (a mount line's field), not "/"
 * and not under /dev, /proc or /sys; else -1 with (err). Pure. */
int qemu_volume_target_ok(const char *target, struct lvm_err *err);

/* The filesystem on the open volume (fd) at (path), for its mount line:
 * "ext4" (ext2, ext3 and ext4 alike) or "erofs". -1 with one line in
 * (err) naming what to do for anything else (a directory: make an
 * image of it). */
int qemu_volume_fstype(int fd, const char *path, const char **fstype,
                       struct lvm_err *err);

/* Lock the open volume (fd) for this guest: shared if (readonly), else
 * exclusive, so that no two guests write one filesystem (nor one reads
 * what another writes). The lock lives with the open file, as long as
 * QEMU (or the loop device over it) holds it. -1 with one line in (err)
 * if another guest has it. */
int qemu_volume_lock(int fd, const char *path, int readonly,
                     struct lvm_err *err);

/* Append volume (i)'s mount line (serial "vol<i>") to (*conf) (a string
 * of this run's settings, or NULL; realloc'd). -1 on allocation. */
int qemu_volume_conf(char **conf, unsigned i, const struct qemu_volume *v,
                     const char *fstype, struct lvm_err *err);

#endif
