/*
 * fs_tar.c: walk a ustar archive (POSIX ustar, with GNU long names and
 * pax path records, which GNU tar writes for long paths). The archive is
 * untrusted: every length is checked against the buffer, every header's
 * checksum is verified, and paths are normalised so that no member can
 * name anything outside the tree (no "..", no absolute paths).
 */
#include "fs_tar.h"

#define BLOCK 512

/* Header field offsets (ustar). */
#define H_NAME 0
#define H_MODE 100
#define H_SIZE 124
#define H_MTIME 136
#define H_CHKSUM 148
#define H_TYPE 156
#define H_MAGIC 257
#define H_PREFIX 345

static int tar_memeq(const unsigned char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != (unsigned char)b[i])
            return 0;
    return 1;
}

/* An octal number field: optional leading spaces, digits, then a NUL, a
 * space or the field's end. -1 if it is anything else or too large. */
static int64_t octal(const unsigned char *f, size_t n)
{
    size_t i = 0;
    while (i < n && f[i] == ' ')
        i++;
    uint64_t v = 0;
    size_t digits = 0;
    for (; i < n && f[i] >= '0' && f[i] <= '7'; i++, digits++) {
        if (v >> 60)
            return -1;
        v = v * 8 + (uint64_t)(f[i] - '0');
    }
    if (!digits)
        return -1;
    for (; i < n; i++)
        if (f[i] != ' ' && f[i] != 0)
            return -1;
    return (int64_t)v;
}

static int zero_block(const unsigned char *h)
{
    for (int i = 0; i < BLOCK; i++)
        if (h[i])
            return 0;
    return 1;
}

static int checksum_ok(const unsigned char *h)
{
    int64_t want = octal(h + H_CHKSUM, 8);
    uint64_t sum = 0;
    for (int i = 0; i < BLOCK; i++)
        sum += (i >= H_CHKSUM && i < H_CHKSUM + 8) ? ' ' : h[i];
    return want >= 0 && (uint64_t)want == sum;
}

/* Length of a NUL-padded field. */
static size_t field_len(const unsigned char *f, size_t n)
{
    size_t l = 0;
    while (l < n && f[l])
        l++;
    return l;
}

/* Append (src, n) to the normalised path (out, *olen) component by
 * component. 0, or -1 with (*why). */
static int add_components(char *out, size_t *olen, const unsigned char *src,
                          size_t n, const char **why)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && src[i] == '/')
            i++;
        size_t s = i;
        while (i < n && src[i] != '/') {
            if (!src[i]) {
                *why = "a path holds a NUL byte";
                return -1;
            }
            i++;
        }
        size_t c = i - s;
        if (c == 0 || (c == 1 && src[s] == '.'))
            continue;
        if (c == 2 && src[s] == '.' && src[s + 1] == '.') {
            *why = "a path leaves the tree (..)";
            return -1;
        }
        if (c > LVM_TAR_NAME_MAX) {
            *why = "a path component is longer than 255 bytes";
            return -1;
        }
        if (*olen + (*olen ? 1 : 0) + c > LVM_TAR_PATH_MAX) {
            *why = "a path is longer than 1024 bytes";
            return -1;
        }
        if (*olen)
            out[(*olen)++] = '/';
        for (size_t k = 0; k < c; k++)
            out[(*olen)++] = (char)src[s + k];
    }
    out[*olen] = 0;
    return 0;
}

/* The value of a pax extended header's "path" record, if any, in
 * (*val, *vlen). 0, or -1 with (*why) for a malformed header. */
static int pax_path(const unsigned char *d, uint64_t n,
                    const unsigned char **val, size_t *vlen, const char **why)
{
    uint64_t i = 0;
    while (i < n) {
        uint64_t rec = 0, j = i;
        while (j < n && d[j] >= '0' && d[j] <= '9' && rec < n)
            rec = rec * 10 + (uint64_t)(d[j++] - '0');
        if (j == i || j >= n || d[j] != ' ' || rec <= j - i || rec > n - i ||
            d[i + rec - 1] != '\n') {
            *why = "a malformed pax header";
            return -1;
        }
        const unsigned char *kv = d + j + 1;
        uint64_t kvlen = rec - (j + 1 - i) - 1; /* without the newline */
        if (kvlen >= 5 && tar_memeq(kv, "path=", 5)) {
            *val = kv + 5;
            *vlen = (size_t)(kvlen - 5);
        } else if (kvlen >= 5 && tar_memeq(kv, "size=", 5)) {
            *why = "a pax size record (files over 8 GiB are not supported)";
            return -1;
        }
        i += rec;
    }
    return 0;
}

long lvm_tar_walk(const void *buf, size_t len,
                  int (*cb)(void *ctx, const struct lvm_tar_entry *e),
                  void *ctx, const char **why)
{
    const unsigned char *p = buf;
    size_t off = 0;
    long count = 0;
    char path[LVM_TAR_PATH_MAX + 1];
    const unsigned char *long_name = 0; /* from a GNU 'L' or pax member */
    size_t long_len = 0;
    *why = "";
    while (off < len) {
        if (len - off < BLOCK) {
            *why = "the archive ends inside a header";
            return -1;
        }
        const unsigned char *h = p + off;
        if (zero_block(h))
            return count; /* end-of-archive marker */
        if (!checksum_ok(h)) {
            *why = "a header's checksum is wrong (not a tar archive?)";
            return -1;
        }
        if (!tar_memeq(h + H_MAGIC, "ustar", 5)) {
            *why = "not a ustar archive (make it with tar cf)";
            return -1;
        }
        int64_t size = octal(h + H_SIZE, 12);
        int64_t mode = octal(h + H_MODE, 8);
        int64_t mtime = octal(h + H_MTIME, 12);
        if (size < 0 || mode < 0) {
            *why = "a header has a malformed size or mode";
            return -1;
        }
        if (mtime < 0)
            mtime = 0;
        off += BLOCK;
        uint64_t padded = ((uint64_t)size + BLOCK - 1) & ~(uint64_t)(BLOCK - 1);
        if ((uint64_t)size > len - off || padded > len - off) {
            *why = "a member's data runs past the end of the archive";
            return -1;
        }
        const unsigned char *data = p + off;
        off += (size_t)padded;
        char type = (char)h[H_TYPE];
        if (type == 'L') { /* GNU long name for the next member */
            long_name = data;
            long_len = field_len(data, (size_t)size);
            continue;
        }
        if (type == 'x') {
            if (pax_path(data, (uint64_t)size, &long_name, &long_len, why) < 0)
                return -1;
            continue;
        }
        if (type == 'g') /* pax global header: nothing we use */
            continue;
        if (type == '2' || type == '1') {
            *why = "links are not supported in the file tree";
            return -1;
        }
        if (type != '0' && type != 0 && type != '5' && type != '7') {
            *why = "only files and directories are supported in the file tree";
            return -1;
        }
        size_t plen = 0;
        if (long_name) {
            if (add_components(path, &plen, long_name, long_len, why) < 0)
                return -1;
        } else {
            if (add_components(path, &plen, h + H_PREFIX,
                               field_len(h + H_PREFIX, 155), why) < 0 ||
                add_components(path, &plen, h + H_NAME,
                               field_len(h + H_NAME, 100), why) < 0)
                return -1;
        }
        long_name = 0;
        long_len = 0;
        struct lvm_tar_entry e = {
            .path = path,
            .path_len = plen,
            .type = type == '5' ? LVM_TAR_DIR : LVM_TAR_FILE,
            .mode = (unsigned)mode & 07777,
            .mtime = (uint64_t)mtime,
            .data = data,
            .size = type == '5' ? 0 : (uint64_t)size,
        };
        if (plen == 0) {
            if (e.type == LVM_TAR_DIR)
                continue; /* the root itself */
            *why = "a file member has an empty name";
            return -1;
        }
        int r = cb ? cb(ctx, &e) : 0;
        if (r)
            return r;
        count++;
    }
    return count;
}
