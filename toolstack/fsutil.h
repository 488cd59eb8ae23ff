/*
 * fsutil.h: small file helpers the toolstack uses in several places
 * (cgroup control files, /proc files of new processes).
 */
#ifndef LVM_TS_FSUTIL_H
#define LVM_TS_FSUTIL_H

#include "toolstack/error.h"

/* Write (text) to the existing file (path) in one write(). */
int fs_write_str(const char *path, const char *text, struct lvm_err *err);

#endif
