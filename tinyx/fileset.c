/*
 * fileset.c: the image's file list (see fileset.h). Lookup by path goes
 * through glibc's hsearch_r; entries are kept in an array and sorted once
 * before staging and packing.
 */
#include "tinyx/fileset.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define MAX_LINKS 40

int fileset_init(struct fileset *fs, struct lvm_err *err)
{
    memset(fs, 0, sizeof *fs);
    if (!hcreate_r(FILESET_MAX * 2, &fs->index))
        return lvm_err_set(err, errno, "file index");
    fs->have_index = 1;
    return 0;
}

void fileset_free(struct fileset *fs)
{
    for (size_t i = 0; i < fs->n; i++) {
        free(fs->e[i].path);
        free(fs->e[i].src);
        free(fs->e[i].data);
        free(fs->e[i].link);
        free(fs->e[i].reason);
    }
    free(fs->e);
    if (fs->have_index)
        hdestroy_r(&fs->index);
    memset(fs, 0, sizeof *fs);
}

struct fs_entry *fileset_get(struct fileset *fs, const char *path)
{
    ENTRY q = {(char *)path, NULL}, *r = NULL;
    if (!hsearch_r(q, FIND, &r, &fs->index) || !r)
        return NULL;
    return &fs->e[(size_t)r->data - 1];
}

/* A new entry at (path), or the existing one (with *fresh = 0). */
static struct fs_entry *slot(struct fileset *fs, const char *path, int *fresh,
                             struct lvm_err *err)
{
    struct fs_entry *old = fileset_get(fs, path);
    if (old) {
        *fresh = 0;
        return old;
    }
    if (fs->n == FILESET_MAX) {
        lvm_err_set(err, E2BIG, "more than %d files", FILESET_MAX);
        return NULL;
    }
    if (fs->n == fs->cap) {
        size_t cap = fs->cap ? fs->cap * 2 : 256;
        struct fs_entry *n = realloc(fs->e, cap * sizeof *n);
        if (!n) {
            lvm_err_set(err, ENOMEM, "file list");
            return NULL;
        }
        fs->e = n;
        fs->cap = cap;
    }
    struct fs_entry *e = &fs->e[fs->n];
    memset(e, 0, sizeof *e);
    e->path = strdup(path);
    if (!e->path) {
        lvm_err_set(err, ENOMEM, "file list");
        return NULL;
    }
    ENTRY q = {e->path, (void *)(fs->n + 1)}, *r;
    if (!hsearch_r(q, ENTER, &r, &fs->index)) {
        free(e->path);
        lvm_err_set(err, errno, "file index");
        return NULL;
    }
    fs->n++;
    *fresh = 1;
    return e;
}

int fileset_normalize(const char *in, char *out, size_t len)
{
    if (in[0] != '/' || len < 2)
        return -1;
    size_t o = 0;
    out[o++] = '/';
    const char *p = in;
    while (*p) {
        while (*p == '/')
            p++;
        size_t n = strcspn(p, "/");
        if (n == 0)
            break;
        if (n == 1 && p[0] == '.') {
            /* skip */
        } else if (n == 2 && p[0] == '.' && p[1] == '.') {
            if (o > 1) {
                o--; /* drop the trailing '/', then the component */
                while (o > 1 && out[o - 1] != '/')
                    o--;
            }
        } else {
            if (o + n + 2 > len)
                return -1;
            memcpy(out + o, p, n);
            o += n;
            out[o++] = '/';
        }
        p += n;
    }
    if (o > 1)
        o--; /* no trailing '/' */
    out[o] = 0;
    return 0;
}

static int fill_from_stat(struct fs_entry *e, const char *src,
                          const struct stat *st, const char *reason,
                          struct lvm_err *err)
{
    e->mode = st->st_mode & 07777;
    e->uid = st->st_uid;
    e->gid = st->st_gid;
    e->mtime = st->st_mtime;
    e->reason = strdup(reason);
    if (!e->reason)
        return lvm_err_set(err, ENOMEM, "file list");
    if (S_ISREG(st->st_mode)) {
        e->kind = FS_FILE;
        e->size = st->st_size;
        if (!(e->src = strdup(src)))
            return lvm_err_set(err, ENOMEM, "file list");
    } else if (S_ISDIR(st->st_mode)) {
        e->kind = FS_DIR;
    } else if (S_ISLNK(st->st_mode)) {
        char t[PATH_MAX];
        ssize_t n = readlink(src, t, sizeof t - 1);
        if (n < 0)
            return lvm_err_set(err, errno, "readlink %s", src);
        t[n] = 0;
        e->kind = FS_SYMLINK;
        if (!(e->link = strdup(t)))
            return lvm_err_set(err, ENOMEM, "file list");
    } else if (S_ISCHR(st->st_mode)) {
        e->kind = FS_CHARDEV;
        e->rdev_major = major(st->st_rdev);
        e->rdev_minor = minor(st->st_rdev);
    } else {
        return lvm_err_invalid(err,
                               "%s: not a file, directory or "
                               "symlink",
                               src);
    }
    return 0;
}

/* Add (path) exactly as found on the host (no following). */
static int add_as_is(struct fileset *fs, const char *path,
                     const struct stat *st, const char *reason,
                     struct lvm_err *err)
{
    int fresh;
    struct fs_entry *e = slot(fs, path, &fresh, err);
    if (!e)
        return -1;
    if (!fresh)
        return 0;
    return fill_from_stat(e, path, st, reason, err);
}

static int add_host(struct fileset *fs, const char *path, const char *reason,
                    int depth, struct lvm_err *err)
{
    if (depth > MAX_LINKS)
        return lvm_err_set(err, ELOOP, "%s", path);
    char norm[PATH_MAX];
    if (fileset_normalize(path, norm, sizeof norm) < 0)
        return lvm_err_set(err, ENAMETOOLONG, "%s", path);
    char cur[PATH_MAX] = "";
    size_t cl = 0;
    const char *p = norm + 1;
    if (!*p)
        return 0; /* "/" itself is always there */
    while (*p) {
        size_t n = strcspn(p, "/");
        int last = p[n] == 0;
        if (cl + n + 2 > sizeof cur)
            return lvm_err_set(err, ENAMETOOLONG, "%s", path);
        cur[cl++] = '/';
        memcpy(cur + cl, p, n);
        cl += n;
        cur[cl] = 0;
        struct stat st;
        if (lstat(cur, &st) < 0)
            return lvm_err_set(err, errno, "%s", cur);
        char why[PATH_MAX + 64];
        if (last)
            snprintf(why, sizeof why, "%s", reason);
        else
            snprintf(why, sizeof why, "on the path to %s", norm);
        if (S_ISLNK(st.st_mode)) {
            if (add_as_is(fs, cur, &st, why, err) < 0)
                return -1;
            char t[PATH_MAX], next[PATH_MAX * 2 + 2];
            ssize_t tl = readlink(cur, t, sizeof t - 1);
            if (tl < 0)
                return lvm_err_set(err, errno, "readlink %s", cur);
            t[tl] = 0;
            const char *rest = last ? "" : p + n + 1;
            if (t[0] == '/') {
                snprintf(next, sizeof next, "%s/%s", t, rest);
            } else {
                cur[cl - n] = 0; /* the directory holding the link */
                snprintf(next, sizeof next, "%s/%s/%s", cur, t, rest);
            }
            char tw[PATH_MAX + 64];
            if (last) {
                /* a dangling link goes in as it is, like on the host */
                struct stat tst;
                if (stat(norm, &tst) < 0)
                    return 0;
                snprintf(tw, sizeof tw, "target of %s", norm);
                return add_host(fs, next, tw, depth + 1, err);
            }
            return add_host(fs, next, reason, depth + 1, err);
        }
        if (!last && !S_ISDIR(st.st_mode))
            return lvm_err_set(err, ENOTDIR, "%s", cur);
        if (add_as_is(fs, cur, &st, why, err) < 0)
            return -1;
        if (last)
            break;
        p += n + 1;
    }
    return 0;
}

int fileset_add_host(struct fileset *fs, const char *path, const char *reason,
                     struct lvm_err *err)
{
    if (path[0] != '/')
        return lvm_err_invalid(err, "%s: not an absolute path", path);
    return add_host(fs, path, reason, 0, err);
}

/* Parent directories of image path (path), as plain 0755 root dirs
 * unless already there. */
static int add_parents(struct fileset *fs, const char *path,
                       struct lvm_err *err)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *s = buf + 1; (s = strchr(s, '/')); s++) {
        *s = 0;
        if (!fileset_get(fs, buf) &&
            fileset_add_dir(fs, buf, 0755, "parent directory", err) < 0)
            return -1;
        *s = '/';
    }
    return 0;
}

static int copy_tree(struct fileset *fs, const char *src, const char *dst,
                     const char *reason, int depth, struct lvm_err *err)
{
    struct stat st;
    if (lstat(src, &st) < 0)
        return lvm_err_set(err, errno, "%s", src);
    if (depth > 64)
        return lvm_err_set(err, ELOOP, "%s: too deep", src);
    int fresh;
    struct fs_entry *e = slot(fs, dst, &fresh, err);
    if (!e)
        return -1;
    if (!fresh) {
        /* an explicit copy replaces what was there */
        free(e->src);
        free(e->data);
        free(e->link);
        free(e->reason);
        char *keep = e->path;
        memset(e, 0, sizeof *e);
        e->path = keep;
    }
    if (fill_from_stat(e, src, &st, reason, err) < 0)
        return -1;
    if (!S_ISDIR(st.st_mode))
        return 0;
    struct dirent **names;
    int n = scandir(src, &names, NULL, alphasort);
    if (n < 0)
        return lvm_err_set(err, errno, "read directory %s", src);
    int r = 0;
    for (int i = 0; i < n; i++) {
        const char *nm = names[i]->d_name;
        if (r == 0 && strcmp(nm, ".") && strcmp(nm, "..")) {
            char s2[PATH_MAX], d2[PATH_MAX];
            if ((size_t)snprintf(s2, sizeof s2, "%s/%s", src, nm) >=
                    sizeof s2 ||
                (size_t)snprintf(d2, sizeof d2, "%s/%s", dst, nm) >= sizeof d2)
                r = lvm_err_set(err, ENAMETOOLONG, "%s/%s", src, nm);
            else
                r = copy_tree(fs, s2, d2, reason, depth + 1, err);
        }
        free(names[i]);
    }
    free(names);
    return r;
}

int fileset_add_copy(struct fileset *fs, const char *src, const char *dst,
                     const char *reason, struct lvm_err *err)
{
    char d[PATH_MAX];
    if (dst[0] != '/' || fileset_normalize(dst, d, sizeof d) < 0 ||
        !strcmp(d, "/"))
        return lvm_err_invalid(err,
                               "'%s' is not an absolute file path "
                               "in the image",
                               dst);
    if (add_parents(fs, d, err) < 0)
        return -1;
    return copy_tree(fs, src, d, reason, 0, err);
}

static struct fs_entry *replace(struct fileset *fs, const char *path,
                                const char *reason, struct lvm_err *err)
{
    char d[PATH_MAX];
    if (fileset_normalize(path, d, sizeof d) < 0) {
        lvm_err_invalid(err, "bad image path %s", path);
        return NULL;
    }
    if (add_parents(fs, d, err) < 0)
        return NULL;
    int fresh;
    struct fs_entry *e = slot(fs, d, &fresh, err);
    if (!e)
        return NULL;
    char *keep = e->path;
    free(e->src);
    free(e->data);
    free(e->link);
    free(e->reason);
    memset(e, 0, sizeof *e);
    e->path = keep;
    e->mtime = time(NULL);
    if (!(e->reason = strdup(reason))) {
        lvm_err_set(err, ENOMEM, "file list");
        return NULL;
    }
    return e;
}

int fileset_add_data(struct fileset *fs, const char *path, const void *data,
                     size_t len, mode_t mode, uid_t uid, gid_t gid,
                     const char *reason, struct lvm_err *err)
{
    struct fs_entry *e = replace(fs, path, reason, err);
    if (!e)
        return -1;
    e->kind = FS_FILE;
    e->mode = mode;
    e->uid = uid;
    e->gid = gid;
    e->size = (off_t)len;
    e->datalen = len;
    e->data = malloc(len ? len : 1);
    if (!e->data)
        return lvm_err_set(err, ENOMEM, "file list");
    memcpy(e->data, data, len);
    return 0;
}

int fileset_add_dir(struct fileset *fs, const char *path, mode_t mode,
                    const char *reason, struct lvm_err *err)
{
    struct fs_entry *old = fileset_get(fs, path);
    if (old && old->kind == FS_DIR)
        return 0;
    struct fs_entry *e = replace(fs, path, reason, err);
    if (!e)
        return -1;
    e->kind = FS_DIR;
    e->mode = mode;
    return 0;
}

int fileset_add_chardev(struct fileset *fs, const char *path, mode_t mode,
                        unsigned maj, unsigned min, const char *reason,
                        struct lvm_err *err)
{
    struct fs_entry *e = replace(fs, path, reason, err);
    if (!e)
        return -1;
    e->kind = FS_CHARDEV;
    e->mode = mode;
    e->rdev_major = maj;
    e->rdev_minor = min;
    return 0;
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const struct fs_entry *)a)->path,
                  ((const struct fs_entry *)b)->path);
}

void fileset_sort(struct fileset *fs)
{
    qsort(fs->e, fs->n, sizeof *fs->e, entry_cmp);
    /* the index holds entry numbers: rebuild it */
    hdestroy_r(&fs->index);
    memset(&fs->index, 0, sizeof fs->index);
    hcreate_r(FILESET_MAX * 2, &fs->index);
    for (size_t i = 0; i < fs->n; i++) {
        ENTRY q = {fs->e[i].path, (void *)(i + 1)}, *r;
        hsearch_r(q, ENTER, &r, &fs->index);
    }
}
