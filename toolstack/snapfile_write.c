/*
 * snapfile_write.c: writing a state file (snapfile.h): the body streamed
 * to a temporary next to the target and hashed on the way, the header
 * written last, then fsync, a rename that never replaces a file unless
 * asked, and an fsync of the directory.
 */
#include "toolstack/snapfile_fmt.h"

#include <endian.h>
#include <errno.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int write_full(int fd, const void *buf, size_t len, uint64_t off,
                      struct lvm_err *err)
{
    const char *p = buf;
    while (len) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return lvm_err_set(err, n < 0 ? errno : EIO, "write state file");
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

static void writer_reset(struct snap_writer *w)
{
    memset(w, 0, sizeof *w);
    w->dirfd = -1;
    w->fd = -1;
}

void snap_write_abort(struct snap_writer *w)
{
    if (w->fd >= 0)
        close(w->fd);
    if (w->tmp[0] && w->dirfd >= 0)
        unlinkat(w->dirfd, w->tmp, 0);
    if (w->dirfd >= 0)
        close(w->dirfd);
    free(w->runs);
    EVP_MD_CTX_free(w->hash);
    writer_reset(w);
}

/* Open (path)'s directory, where the temporary goes and whose entry the
 * rename changes (and so the one to fsync), and keep its last name. */
static int open_parent(struct snap_writer *w, int dirfd, const char *path,
                       struct lvm_err *err)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
        return lvm_err_invalid(err, "state file %s: not a file name", path);
    if (strlen(base) >= sizeof w->name)
        return lvm_err_set(err, ENAMETOOLONG, "state file %s", path);
    snprintf(w->name, sizeof w->name, "%s", base);
    char dir[4096] = ".";
    if (slash) {
        size_t n = slash == path ? 1 : (size_t)(slash - path);
        if (n >= sizeof dir)
            return lvm_err_set(err, ENAMETOOLONG, "state file %s", path);
        memcpy(dir, path, n);
        dir[n] = 0;
    }
    /* Never through /proc's magic links: a daemon writing for a client
     * keeps its ptrace rights over every process's cwd and fds. */
    struct open_how how = {.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
                           .resolve = RESOLVE_NO_MAGICLINKS};
    w->dirfd = (int)syscall(SYS_openat2, dirfd, dir, &how, sizeof how);
    if (w->dirfd < 0)
        return lvm_err_set(err, errno, "open the directory of %s", path);
    return 0;
}

static int refuse_existing(struct snap_writer *w, const char *path,
                           struct lvm_err *err)
{
    struct stat st;
    if (fstatat(w->dirfd, w->name, &st, AT_SYMLINK_NOFOLLOW) == 0)
        return lvm_err_set(err, EEXIST,
                           "state file %s exists (use --force to replace it)",
                           path);
    if (errno != ENOENT)
        return lvm_err_set(err, errno, "state file %s", path);
    return 0;
}

/* ".NAME.XXXXXX" with a random suffix, created exclusively (mkostemp's
 * way, but relative to the directory we hold). */
static int create_named_temp(struct snap_writer *w, struct lvm_err *err);

/* An unnamed file in the directory (O_TMPFILE), linked in when complete:
 * a writer killed half-way leaves nothing behind. A named temporary where
 * the filesystem has no O_TMPFILE. */
static int create_temp(struct snap_writer *w, struct lvm_err *err)
{
    w->fd = openat(w->dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (w->fd < 0 && errno != EOPNOTSUPP && errno != EISDIR)
        return lvm_err_set(err, errno, "create a temporary for %s", w->name);
    if (w->fd < 0)
        return create_named_temp(w, err);
    w->unnamed = 1;
    if (fchmod(w->fd, 0600) < 0)
        return lvm_err_set(err, errno, "chmod the temporary for %s", w->name);
    return 0;
}

static int create_named_temp(struct snap_writer *w, struct lvm_err *err)
{
    static const char alnum[] = "abcdefghijklmnopqrstuvwxyz"
                                "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    for (int tries = 0; tries < 32; tries++) {
        uint8_t r[6];
        if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
            return lvm_err_set(err, errno, "getrandom");
        char sfx[sizeof r + 1];
        for (size_t i = 0; i < sizeof r; i++)
            sfx[i] = alnum[r[i] % (sizeof alnum - 1)];
        sfx[sizeof r] = 0;
        snprintf(w->tmp, sizeof w->tmp, ".%s.%s", w->name, sfx);
        w->fd = openat(w->dirfd, w->tmp, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC,
                       0600);
        if (w->fd >= 0)
            break;
        w->tmp[0] = 0; /* not ours: never unlink it */
        if (errno != EEXIST)
            return lvm_err_set(err, errno, "create a temporary for %s",
                               w->name);
    }
    if (w->fd < 0)
        return lvm_err_set(err, EEXIST, "create a temporary for %s", w->name);
    /* The umask could only take bits away; 0600 whatever it is. */
    if (fchmod(w->fd, 0600) < 0)
        return lvm_err_set(err, errno, "chmod the temporary for %s", w->name);
    return 0;
}

int snap_write_begin(struct snap_writer *w, int dirfd, const char *path,
                     int force, struct lvm_err *err)
{
    writer_reset(w);
    w->force = force != 0;
    if (open_parent(w, dirfd, path, err) < 0 ||
        (!force && refuse_existing(w, path, err) < 0) ||
        create_temp(w, err) < 0 || !(w->hash = snap_sha_new(err))) {
        snap_write_abort(w);
        return -1;
    }
    w->off = SNAP_HEADER_LEN; /* the header is written last */
    return 0;
}

/* Write (len) bytes at the end of the body and hash them. */
static int append(struct snap_writer *w, const void *buf, size_t len,
                  struct lvm_err *err)
{
    if (write_full(w->fd, buf, len, w->off, err) < 0 ||
        snap_sha_update(w->hash, buf, len, err) < 0)
        return -1;
    w->off += len;
    return 0;
}

/* Record guest pages [first, first + count): after the last run, merged
 * with it when adjacent. */
static int add_run(struct snap_writer *w, uint64_t first, uint64_t count,
                   struct lvm_err *err)
{
    const uint64_t max_pages = LVM_RAM_MAX / SNAP_PAGE;
    if (w->fd < 0)
        return lvm_err_set(err, EBADF, "state file writer is not open");
    if (w->blob_len)
        return lvm_err_invalid(err, "state file: RAM pages and a blob");
    if (!count || first > max_pages || count > max_pages - first)
        return lvm_err_invalid(err,
                               "state file: pages [%" PRIu64 ", +%" PRIu64
                               ") are outside any guest's RAM",
                               first, count);
    struct snap_run *last = w->nruns ? &w->runs[w->nruns - 1] : NULL;
    if (last && first < last->first + last->count)
        return lvm_err_invalid(err,
                               "state file: pages must come in increasing "
                               "order without overlap (%" PRIu64
                               " after %" PRIu64 ")",
                               first, last->first + last->count - 1);
    if (last && first == last->first + last->count) {
        last->count += count;
        return 0;
    }
    if (w->nruns == w->cap_runs) {
        uint32_t cap = w->cap_runs ? w->cap_runs * 2 : 64;
        struct snap_run *r = realloc(w->runs, cap * sizeof *r);
        if (!r)
            return lvm_err_set(err, ENOMEM, "state file run table");
        w->runs = r;
        w->cap_runs = cap;
    }
    w->runs[w->nruns++] = (struct snap_run){first, count};
    return 0;
}

int snap_write_pages(struct snap_writer *w, uint64_t first, uint64_t count,
                     const void *data, struct lvm_err *err)
{
    if (add_run(w, first, count, err) < 0 ||
        append(w, data, (size_t)(count * SNAP_PAGE), err) < 0) {
        snap_write_abort(w);
        return -1;
    }
    w->npages += count;
    return 0;
}

/* Copy (len) bytes from (fd)'s position into the body. */
static int copy_stream(struct snap_writer *w, int fd, uint64_t len,
                       struct lvm_err *err)
{
    char *buf = malloc(SNAP_IO_CHUNK);
    if (!buf)
        return lvm_err_set(err, ENOMEM, "state file blob buffer");
    uint64_t done = 0;
    int rc = 0;
    while (rc == 0 && done < len) {
        size_t want =
            len - done < SNAP_IO_CHUNK ? (size_t)(len - done) : SNAP_IO_CHUNK;
        ssize_t n = read(fd, buf, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = lvm_err_set(err, errno, "read the stream to save");
        else if (n == 0)
            rc = lvm_err_set(err, 0,
                             "the stream to save ended after %" PRIu64
                             " of %" PRIu64 " bytes",
                             done, len);
        else
            rc = append(w, buf, (size_t)n, err);
        done += n > 0 ? (uint64_t)n : 0;
    }
    free(buf);
    return rc;
}

int snap_write_blob(struct snap_writer *w, int fd, uint64_t len,
                    struct lvm_err *err)
{
    int rc;
    if (w->fd < 0)
        rc = lvm_err_set(err, EBADF, "state file writer is not open");
    else if (w->nruns || w->blob_len)
        rc = lvm_err_invalid(err,
                             "state file: one blob, and no RAM pages with it");
    else if (!len || len > (uint64_t)INT64_MAX - w->off)
        rc = lvm_err_invalid(err, "state file: blob of %" PRIu64 " bytes", len);
    else {
        w->blob_off = w->off;
        rc = copy_stream(w, fd, len, err);
        w->blob_len = len;
    }
    if (rc < 0)
        snap_write_abort(w);
    return rc;
}

/* What the writer will not put in a file because the reader refuses it. */
static int check_commit(const struct snap_writer *w,
                        const struct snap_info *info, struct lvm_err *err)
{
    const char *bad = snap_unterminated_name(info->image_name, info->monitor,
                                             info->guest_name, info->guest_id);
    if (bad)
        return lvm_err_invalid(err, "state file: %s not NUL-terminated", bad);
    if (info->config_len > SNAP_CONFIG_MAX ||
        (info->config_len && !info->config) ||
        (info->config && memchr(info->config, 0, info->config_len)))
        return lvm_err_invalid(err,
                               "state file: config of %zu bytes (at most %u, "
                               "no NUL)",
                               info->config_len, SNAP_CONFIG_MAX);
    if (info->kind == SNAP_KIND_QEMU) {
        if (w->nruns || !w->blob_len)
            return lvm_err_invalid(err,
                                   "state file: a QEMU state is a blob alone");
        return 0;
    }
    if (info->kind != SNAP_KIND_UNIKERNEL)
        return lvm_err_invalid(err, "state file: unknown kind %u", info->kind);
    if (w->blob_len)
        return lvm_err_invalid(err,
                               "state file: a unikernel state has no blob");
    if (snap_check_ram_size(info->ram_size, err) < 0)
        return -1;
    const struct snap_run *last = w->nruns ? &w->runs[w->nruns - 1] : NULL;
    if (last && (last->first + last->count) * SNAP_PAGE > info->ram_size)
        return lvm_err_invalid(
            err, "state file: page %" PRIu64 " is outside the guest's RAM",
            last->first + last->count - 1);
    return 0;
}

/* Append (len) bytes as section (s); an empty section has offset 0. */
static int put_section(struct snap_writer *w, struct snap_section *s,
                       const void *buf, size_t len, struct lvm_err *err)
{
    s->off = len ? w->off : 0;
    s->len = len;
    return append(w, buf, len, err);
}

static int put_runs(struct snap_writer *w, struct snap_section *s,
                    struct lvm_err *err)
{
    s->off = w->nruns ? w->off : 0;
    s->len = (uint64_t)w->nruns * SNAP_RUN_BYTES;
    uint64_t buf[256 * 2];
    uint32_t i = 0;
    while (i < w->nruns) {
        size_t n = 0;
        for (; i < w->nruns && n < sizeof buf / sizeof buf[0]; i++) {
            buf[n++] = htole64(w->runs[i].first);
            buf[n++] = htole64(w->runs[i].count);
        }
        if (append(w, buf, n * sizeof buf[0], err) < 0)
            return -1;
    }
    return 0;
}

/* Zeros up to the next multiple of 8, where the raw structs start. */
static int pad8(struct snap_writer *w, struct lvm_err *err)
{
    static const char zeros[8];
    return append(w, zeros, (8 - w->off % 8) % 8, err);
}

/* The body after the pages or blob: run table, config, status, devpage. */
static int put_tables(struct snap_writer *w, const struct snap_info *info,
                      struct snap_header *h, struct lvm_err *err)
{
    int uk = info->kind == SNAP_KIND_UNIKERNEL;
    h->sec[SNAP_SEC_DATA] = (struct snap_section){
        w->npages ? SNAP_HEADER_LEN : 0, w->npages * SNAP_PAGE};
    h->sec[SNAP_SEC_BLOB] = (struct snap_section){w->blob_off, w->blob_len};
    if (put_runs(w, &h->sec[SNAP_SEC_RUNS], err) < 0 ||
        put_section(w, &h->sec[SNAP_SEC_CONFIG], info->config, info->config_len,
                    err) < 0 ||
        (uk && pad8(w, err) < 0) ||
        put_section(w, &h->sec[SNAP_SEC_STATUS], &info->status,
                    uk ? sizeof info->status : 0, err) < 0 ||
        put_section(w, &h->sec[SNAP_SEC_DEVPAGE], &info->devpage,
                    uk ? sizeof info->devpage : 0, err) < 0)
        return -1;
    return 0;
}

static void copy_name(char *dst, const char *src, size_t size)
{
    memset(dst, 0, size);
    memcpy(dst, src, strnlen(src, size - 1));
}

static void fill_header(const struct snap_writer *w,
                        const struct snap_info *info, struct snap_header *h)
{
    memcpy(h->magic, SNAP_MAGIC, sizeof h->magic);
    h->version = SNAP_VERSION;
    h->header_len = SNAP_HEADER_LEN;
    h->kind = info->kind;
    h->file_len = w->off;
    h->ram_size = info->ram_size;
    memcpy(h->image_hash, info->image_hash, SNAP_HASH_LEN);
    h->image_size = info->image_size;
    copy_name(h->image_name, info->image_name, sizeof h->image_name);
    copy_name(h->monitor, info->monitor, sizeof h->monitor);
    copy_name(h->guest_name, info->guest_name, sizeof h->guest_name);
    copy_name(h->guest_id, info->guest_id, sizeof h->guest_id);
    h->saved_unix_ms = info->saved_unix_ms;
    if (!h->saved_unix_ms) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        h->saved_unix_ms =
            (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    }
    h->npages = w->npages;
    h->nruns = w->nruns;
}

/* The header goes last: its checksum covers the body hashed so far, then
 * the header itself with the checksum zeroed. */
static int put_header(struct snap_writer *w, struct snap_header *h,
                      struct lvm_err *err)
{
    snap_header_le(h);
    if (snap_sha_update(w->hash, h, sizeof *h, err) < 0 ||
        snap_sha_final(w->hash, h->checksum, err) < 0)
        return -1;
    return write_full(w->fd, h, sizeof *h, 0, err);
}

/* Make the file durable, then give it its name, then make the name
 * durable. */
/* Give the unnamed temporary (NAME), or with force a temporary name to
 * rename over the target (which rename does atomically). */
static int link_unnamed(struct snap_writer *w, struct lvm_err *err)
{
    char self[64];
    snprintf(self, sizeof self, "/proc/self/fd/%d", w->fd);
    if (!w->force) {
        if (linkat(AT_FDCWD, self, w->dirfd, w->name, AT_SYMLINK_FOLLOW) == 0)
            return 0;
        if (errno == EEXIST)
            return lvm_err_set(
                err, EEXIST, "state file %s exists (use --force to replace it)",
                w->name);
        return lvm_err_set(err, errno, "link state file %s", w->name);
    }
    for (int tries = 0; tries < 32; tries++) {
        uint8_t r[6];
        if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
            return lvm_err_set(err, errno, "getrandom");
        snprintf(w->tmp, sizeof w->tmp, ".%s.%02x%02x%02x%02x%02x%02x", w->name,
                 r[0], r[1], r[2], r[3], r[4], r[5]);
        if (linkat(AT_FDCWD, self, w->dirfd, w->tmp, AT_SYMLINK_FOLLOW) == 0)
            return 1; /* now rename it */
        w->tmp[0] = 0;
        if (errno != EEXIST)
            return lvm_err_set(err, errno, "link state file %s", w->name);
    }
    return lvm_err_set(err, EEXIST, "link state file %s", w->name);
}

static int publish(struct snap_writer *w, struct lvm_err *err)
{
    if (fsync(w->fd) < 0)
        return lvm_err_set(err, errno, "fsync state file %s", w->name);
    if (w->unnamed) {
        int l = link_unnamed(w, err);
        if (l < 0)
            return -1;
        if (l == 0)
            goto linked;
    }
    int rc = w->force ? renameat(w->dirfd, w->tmp, w->dirfd, w->name)
                      : renameat2(w->dirfd, w->tmp, w->dirfd, w->name,
                                  RENAME_NOREPLACE);
    if (rc < 0 && errno == EEXIST)
        return lvm_err_set(err, EEXIST,
                           "state file %s exists (use --force to replace it)",
                           w->name);
    if (rc < 0)
        return lvm_err_set(err, errno, "rename state file into %s", w->name);
linked:
    w->tmp[0] = 0; /* it is the target now */
    if (fsync(w->dirfd) < 0) {
        int e = errno;
        /* A new name we cannot make durable is taken back; a replaced
         * file is gone already, so the new one stays. */
        if (!w->force)
            unlinkat(w->dirfd, w->name, 0);
        return lvm_err_set(err, e, "fsync the directory of %s", w->name);
    }
    return 0;
}

int snap_write_commit(struct snap_writer *w, const struct snap_info *info,
                      struct lvm_err *err)
{
    if (w->fd < 0)
        return lvm_err_set(err, EBADF, "state file writer is not open");
    struct snap_header h;
    memset(&h, 0, sizeof h);
    int rc = 0;
    if (check_commit(w, info, err) < 0 || put_tables(w, info, &h, err) < 0)
        rc = -1;
    else {
        fill_header(w, info, &h);
        if (put_header(w, &h, err) < 0 || publish(w, err) < 0)
            rc = -1;
    }
    uint64_t len = rc == 0 ? w->off : 0;
    snap_write_abort(w); /* after publish, only closes and frees */
    w->committed_len = len;
    return rc;
}
