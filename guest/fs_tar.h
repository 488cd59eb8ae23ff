/*
 * fs_tar.h: a defensive reader of ustar archives (what `tar cf` makes),
 * shared by the guest's file tree (fs_tree.c) and the host-side checker
 * lightvm-cc runs (tools/lightvm-tarcheck.c) and its fuzz target. It uses
 * no libc, so it runs in the SDK's system-call path.
 */
#ifndef LVM_GUEST_FS_TAR_H
#define LVM_GUEST_FS_TAR_H

#include <stddef.h>
#include <stdint.h>

#define LVM_TAR_PATH_MAX 1024 /* longest path accepted in an archive */
#define LVM_TAR_NAME_MAX 255  /* longest path component */

enum lvm_tar_type { LVM_TAR_FILE = 1, LVM_TAR_DIR = 2 };

/* One member, as the walker hands it over. (path) is normalised: no
 * leading "/" or "./", no "." or ".." components, no trailing "/". */
struct lvm_tar_entry {
    const char *path; /* NUL-terminated, in the walker's buffer */
    size_t path_len;
    int type;         /* enum lvm_tar_type */
    unsigned mode;    /* permission bits (07777) */
    uint64_t mtime;   /* seconds since the epoch */
    const void *data; /* file contents, inside the archive */
    uint64_t size;    /* bytes of data */
};

/* Walk the archive (buf, len), calling (cb) with (ctx) on every member.
 * Returns the number of members, or -1 with (*why) naming the first
 * problem (a bad checksum, a truncated member, a symlink, a ".." path,
 * ...); members before it have been handed over. A nonzero return of
 * (cb) stops the walk and is returned. */
long lvm_tar_walk(const void *buf, size_t len,
                  int (*cb)(void *ctx, const struct lvm_tar_entry *e),
                  void *ctx, const char **why);

#endif
