/*
 * pack.c: write the initramfs, a newc cpio archive, through libarchive
 * (the kernel unpacks newc only; gzip and zstd are the compressions both
 * our tiny kernel and Debian's decompress).
 */
#include "tinyx/stage.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int pack_parse_compression(const char *s, struct pack_opts *o)
{
    memset(o, 0, sizeof *o);
    char name[16];
    size_t n = strcspn(s, ":");
    if (n >= sizeof name)
        return -1;
    memcpy(name, s, n);
    name[n] = 0;
    if (!strcmp(name, "none"))
        o->comp = PACK_NONE;
    else if (!strcmp(name, "gzip") || !strcmp(name, "gz"))
        o->comp = PACK_GZIP;
    else if (!strcmp(name, "zstd") || !strcmp(name, "zst"))
        o->comp = PACK_ZSTD;
    else
        return -1;
    if (s[n] == ':') {
        char *end;
        long l = strtol(s + n + 1, &end, 10);
        int max = o->comp == PACK_GZIP ? 9 : o->comp == PACK_ZSTD ? 19 : 0;
        if (*end || l < 1 || l > max)
            return -1;
        o->level = (int)l;
    }
    return 0;
}

const char *pack_suffix(enum pack_compression comp)
{
    return comp == PACK_GZIP   ? ".cpio.gz"
           : comp == PACK_ZSTD ? ".cpio.zst"
                               : ".cpio";
}

const char *pack_name(enum pack_compression comp)
{
    return comp == PACK_GZIP ? "gzip" : comp == PACK_ZSTD ? "zstd" : "none";
}

static int arch_err(struct archive *a, struct lvm_err *err, const char *what)
{
    int e = archive_errno(a);
    return lvm_err_set(err, e > 0 ? e : 0, "%s: %s", what,
                       archive_error_string(a) ? archive_error_string(a)
                                               : "libarchive error");
}

static int set_filter(struct archive *a, const struct pack_opts *o,
                      struct lvm_err *err)
{
    char opt[64];
    switch (o->comp) {
    case PACK_NONE: return 0;
    case PACK_GZIP:
        if (archive_write_add_filter_gzip(a) != ARCHIVE_OK)
            return arch_err(a, err, "gzip");
        snprintf(opt, sizeof opt, "gzip:compression-level=%d",
                 o->level ? o->level : 9);
        break;
    case PACK_ZSTD:
        if (archive_write_add_filter_zstd(a) != ARCHIVE_OK)
            return arch_err(a, err, "zstd");
        /* 19 keeps the window at 8 MiB, within what the kernel's
         * decompressor accepts for an initramfs */
        snprintf(opt, sizeof opt, "zstd:compression-level=%d",
                 o->level ? o->level : 19);
        break;
    }
    if (archive_write_set_options(a, opt) < ARCHIVE_WARN)
        return arch_err(a, err, opt);
    if (o->comp == PACK_ZSTD)
        archive_write_set_options(a, "zstd:threads=2"); /* if supported */
    return 0;
}

static int write_data(struct archive *a, const char *path, struct lvm_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return lvm_err_set(err, errno, "read %s", path);
    char buf[65536];
    int r = 0;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = lvm_err_set(err, errno, "read %s", path);
            break;
        }
        if (n == 0)
            break;
        if (archive_write_data(a, buf, (size_t)n) != n) {
            r = arch_err(a, err, "write archive");
            break;
        }
    }
    close(fd);
    return r;
}

static void fill_entry(struct archive_entry *ae, const struct fs_entry *e,
                       unsigned ino)
{
    archive_entry_set_pathname(ae, e->path + 1); /* "usr/bin/x" */
    archive_entry_set_uid(ae, e->uid);
    archive_entry_set_gid(ae, e->gid);
    archive_entry_set_mtime(ae, e->mtime, 0);
    archive_entry_set_ino(ae, ino);
    archive_entry_set_nlink(ae, e->kind == FS_DIR ? 2 : 1);
    archive_entry_set_size(ae, 0); /* newc wants a size on every entry */
    switch (e->kind) {
    case FS_FILE:
        archive_entry_set_filetype(ae, AE_IFREG);
        archive_entry_set_size(ae, e->size);
        break;
    case FS_DIR: archive_entry_set_filetype(ae, AE_IFDIR); break;
    case FS_SYMLINK:
        archive_entry_set_filetype(ae, AE_IFLNK);
        archive_entry_set_symlink(ae, e->link);
        break;
    case FS_CHARDEV:
        archive_entry_set_filetype(ae, AE_IFCHR);
        archive_entry_set_rdevmajor(ae, e->rdev_major);
        archive_entry_set_rdevminor(ae, e->rdev_minor);
        break;
    }
    archive_entry_set_perm(ae, e->mode);
}

int pack_cpio(const struct fileset *fs, const char *root, const char *out,
              const struct pack_opts *o, struct pack_result *res,
              struct lvm_err *err)
{
    memset(res, 0, sizeof *res);
    struct archive *a = archive_write_new();
    if (!a)
        return lvm_err_set(err, ENOMEM, "libarchive");
    int r = -1;
    struct archive_entry *ae = archive_entry_new();
    if (!ae) {
        lvm_err_set(err, ENOMEM, "libarchive");
        goto out;
    }
    if (archive_write_set_format_cpio_newc(a) != ARCHIVE_OK) {
        arch_err(a, err, "cpio newc");
        goto out;
    }
    if (set_filter(a, o, err) < 0)
        goto out;
    /* the default block padding would only add zeros to the file */
    archive_write_set_bytes_per_block(a, 0);
    if (archive_write_open_filename(a, out) != ARCHIVE_OK) {
        arch_err(a, err, out);
        goto out;
    }
    for (size_t i = 0; i < fs->n; i++) {
        const struct fs_entry *e = &fs->e[i];
        archive_entry_clear(ae);
        fill_entry(ae, e, (unsigned)i + 1);
        if (archive_write_header(a, ae) != ARCHIVE_OK) {
            arch_err(a, err, e->path);
            goto out;
        }
        if (e->kind == FS_FILE && e->size > 0) {
            char src[PATH_MAX];
            snprintf(src, sizeof src, "%s%s", root, e->path);
            if (write_data(a, src, err) < 0)
                goto out;
        }
        res->entries++;
    }
    if (archive_write_close(a) != ARCHIVE_OK) {
        arch_err(a, err, out);
        goto out;
    }
    res->cpio_bytes = (uint64_t)archive_filter_bytes(a, 0);
    struct stat st;
    if (stat(out, &st) == 0)
        res->file_bytes = (uint64_t)st.st_size;
    r = 0;
out:
    if (ae)
        archive_entry_free(ae);
    archive_write_free(a);
    return r;
}
