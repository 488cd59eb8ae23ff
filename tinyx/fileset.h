/*
 * fileset.h: the files that go into an image, each with where it comes
 * from, its metadata and why it is there. Host paths are added the way the
 * kernel resolves them: a symlink on the way (/lib -> usr/lib) goes in as a
 * symlink, and so does the file it points to.
 */
#ifndef TINYX_FILESET_H
#define TINYX_FILESET_H

#include "toolstack/error.h"

#include <search.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#define FILESET_MAX 60000

enum fs_kind { FS_FILE, FS_DIR, FS_SYMLINK, FS_CHARDEV };

struct fs_entry {
    char *path; /* in the image, absolute */
    char *src;  /* FS_FILE: the host file to copy, or NULL for data */
    char *data; /* FS_FILE: generated content when src is NULL */
    size_t datalen;
    char *link; /* FS_SYMLINK: the target, verbatim */
    enum fs_kind kind;
    mode_t mode; /* permission bits */
    uid_t uid;
    gid_t gid;
    unsigned rdev_major, rdev_minor;
    off_t size;
    time_t mtime;
    char *reason;
    const char *pkg; /* owning Debian package, or NULL */
};

struct fileset {
    struct fs_entry *e;
    size_t n, cap;
    struct hsearch_data index; /* path -> entry number + 1 */
    int have_index;
};

int fileset_init(struct fileset *fs, struct lvm_err *err);
void fileset_free(struct fileset *fs);

/* The entry for image path (path), or NULL. */
struct fs_entry *fileset_get(struct fileset *fs, const char *path);

/* Add host path (path) (and the symlinks and directories on its way, and
 * a symlink's target) with (reason). An entry already there keeps its
 * first reason. */
int fileset_add_host(struct fileset *fs, const char *path, const char *reason,
                     struct lvm_err *err);

/* Add host file or directory tree (src) at image path (dst). */
int fileset_add_copy(struct fileset *fs, const char *src, const char *dst,
                     const char *reason, struct lvm_err *err);

/* Add generated content (a copy of data, len) at (path). Replaces an
 * entry already there. */
int fileset_add_data(struct fileset *fs, const char *path, const void *data,
                     size_t len, mode_t mode, uid_t uid, gid_t gid,
                     const char *reason, struct lvm_err *err);

/* Add a directory or a character device node that need no host file. */
int fileset_add_dir(struct fileset *fs, const char *path, mode_t mode,
                    const char *reason, struct lvm_err *err);
int fileset_add_chardev(struct fileset *fs, const char *path, mode_t mode,
                        unsigned major, unsigned minor, const char *reason,
                        struct lvm_err *err);

/* Sort the entries by path (parents before children). */
void fileset_sort(struct fileset *fs);

/* Collapse "//", "." and ".." in absolute path (in) into (out). */
int fileset_normalize(const char *in, char *out, size_t len);

#endif
