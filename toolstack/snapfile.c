/*
 * snapfile.c: reading a state file (snapfile.h; docs/snapshot-format.md
 * has its bytes): every length checked against the file and the limits
 * before it is used, the checksum verified, then the guest's RAM rebuilt
 * as a sparse, sealed memfd. Also what the writer (snapfile_write.c)
 * shares with it (snapfile_fmt.h).
 */
#include "toolstack/snapfile_fmt.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

_Static_assert(sizeof(((struct snap_info *)0)->monitor) ==
                       sizeof(((struct snap_header *)0)->monitor) &&
                   sizeof(((struct snap_info *)0)->image_name) ==
                       sizeof(((struct snap_header *)0)->image_name) &&
                   sizeof(((struct snap_info *)0)->guest_name) ==
                       sizeof(((struct snap_header *)0)->guest_name) &&
                   sizeof(((struct snap_info *)0)->guest_id) ==
                       sizeof(((struct snap_header *)0)->guest_id),
               "names have the same size in memory and on disk");
_Static_assert(offsetof(struct snap_header, sec) == 288 &&
                   offsetof(struct snap_header, checksum) == 384,
               "header layout (docs/snapshot-format.md)");

static const char *const sec_name[SNAP_SEC_COUNT] = {
    [SNAP_SEC_DATA] = "page data",      [SNAP_SEC_RUNS] = "run table",
    [SNAP_SEC_CONFIG] = "config",       [SNAP_SEC_STATUS] = "status page",
    [SNAP_SEC_DEVPAGE] = "device page", [SNAP_SEC_BLOB] = "blob",
};

/* ---- Shared with the writer (snapfile_fmt.h) ---------------------------- */

void snap_header_le(struct snap_header *h)
{
    h->version = htole32(h->version);
    h->header_len = htole32(h->header_len);
    h->kind = htole32(h->kind);
    h->flags = htole32(h->flags);
    h->file_len = htole64(h->file_len);
    h->ram_size = htole64(h->ram_size);
    h->image_size = htole64(h->image_size);
    h->saved_unix_ms = htole64(h->saved_unix_ms);
    h->npages = htole64(h->npages);
    h->nruns = htole32(h->nruns);
    h->reserved0 = htole32(h->reserved0);
    for (int i = 0; i < SNAP_SEC_COUNT; i++) {
        h->sec[i].off = htole64(h->sec[i].off);
        h->sec[i].len = htole64(h->sec[i].len);
    }
}

EVP_MD_CTX *snap_sha_new(struct lvm_err *err)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (!c || !EVP_DigestInit_ex(c, EVP_sha256(), NULL)) {
        EVP_MD_CTX_free(c);
        lvm_err_set(err, ENOMEM, "cannot start a SHA-256 digest");
        return NULL;
    }
    return c;
}

int snap_sha_update(EVP_MD_CTX *c, const void *buf, size_t len,
                    struct lvm_err *err)
{
    if (len && !EVP_DigestUpdate(c, buf, len))
        return lvm_err_set(err, 0, "SHA-256 update failed");
    return 0;
}

int snap_sha_final(EVP_MD_CTX *c, uint8_t out[SNAP_HASH_LEN],
                   struct lvm_err *err)
{
    unsigned int n = 0;
    if (!EVP_DigestFinal_ex(c, out, &n) || n != SNAP_HASH_LEN)
        return lvm_err_set(err, 0, "SHA-256 final failed");
    return 0;
}

/* pread all (len) bytes at (off); the file ending first means it shrank
 * after its size was checked. */
static int read_full(int fd, void *buf, size_t len, uint64_t off,
                     struct lvm_err *err)
{
    char *p = buf;
    while (len) {
        ssize_t n = pread(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return lvm_err_set(err, errno, "read state file");
        if (n == 0)
            return lvm_err_set(err, 0,
                               "state file is truncated (it "
                               "shrank while being read)");
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

/* Hash (fd) from (off) to (end) or its end of file, whichever is first;
 * (*done) is the offset reached. */
static int hash_fd(EVP_MD_CTX *c, int fd, uint64_t off, uint64_t end,
                   uint64_t *done, struct lvm_err *err)
{
    char *buf = malloc(SNAP_IO_CHUNK);
    if (!buf)
        return lvm_err_set(err, ENOMEM, "hash buffer");
    int rc = 0;
    while (off < end) {
        size_t want =
            end - off < SNAP_IO_CHUNK ? (size_t)(end - off) : SNAP_IO_CHUNK;
        ssize_t n = pread(fd, buf, want, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = lvm_err_set(err, errno, "read file to hash");
            break;
        }
        if (n == 0)
            break;
        if (snap_sha_update(c, buf, (size_t)n, err) < 0) {
            rc = -1;
            break;
        }
        off += (uint64_t)n;
    }
    free(buf);
    *done = off;
    return rc;
}

int snap_check_ram_size(uint64_t ram_size, struct lvm_err *err)
{
    if (ram_size % SNAP_PAGE)
        return lvm_err_set(err, 0,
                           "state file's RAM size %" PRIu64
                           " is not a multiple of 4096",
                           ram_size);
    if (ram_size < LVM_RAM_MIN || ram_size > LVM_RAM_MAX)
        return lvm_err_set(
            err, 0, "state file's RAM size %" PRIu64 " is outside [%llu, %llu]",
            ram_size, LVM_RAM_MIN, LVM_RAM_MAX);
    return 0;
}

#define NAME_SIZE(field) sizeof(((struct snap_header *)0)->field)

/* The sizes are the header's, which the info's match. */
const char *snap_unterminated_name(const char *image, const char *monitor,
                                   const char *guest, const char *id)
{
    if (!memchr(image, 0, NAME_SIZE(image_name)))
        return "image name";
    if (!memchr(monitor, 0, NAME_SIZE(monitor)))
        return "monitor name";
    if (!memchr(guest, 0, NAME_SIZE(guest_name)))
        return "guest name";
    if (!memchr(id, 0, NAME_SIZE(guest_id)))
        return "guest id";
    return NULL;
}

/* ---- Reading ------------------------------------------------------------ */

void snap_info_free(struct snap_info *info)
{
    free(info->config);
    free(info->runs);
    info->config = NULL;
    info->config_len = 0;
    info->runs = NULL;
    info->nruns = 0;
}

/* The header, as on disk (raw) and in host order (h), with the checks
 * that say what kind of file this is and whether it is whole. */
static int read_header(int fd, struct snap_header *raw, struct snap_header *h,
                       struct lvm_err *err)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return lvm_err_set(err, errno, "stat state file");
    uint64_t size = (uint64_t)st.st_size;
    memset(raw, 0, sizeof *raw);
    size_t n = size < sizeof *raw ? (size_t)size : sizeof *raw;
    if (read_full(fd, raw, n, 0, err) < 0)
        return -1;
    *h = *raw;
    snap_header_le(h);
    if (n < sizeof h->magic || memcmp(h->magic, SNAP_MAGIC, sizeof h->magic))
        return lvm_err_set(err, 0, "not a lightvm state file (bad magic)");
    /* A version we do not read says so even when the rest is missing. */
    if (n >= offsetof(struct snap_header, header_len) &&
        h->version != SNAP_VERSION)
        return lvm_err_set(err, 0,
                           "state file version %u, this lightvm reads "
                           "version %u",
                           h->version, SNAP_VERSION);
    if (n < sizeof *h)
        return lvm_err_set(err, 0,
                           "state file is truncated (%" PRIu64
                           " bytes, shorter than its header)",
                           size);
    if (h->header_len != SNAP_HEADER_LEN)
        return lvm_err_set(err, 0, "state file header length %u, expected %u",
                           h->header_len, SNAP_HEADER_LEN);
    if (size < h->file_len)
        return lvm_err_set(err, 0,
                           "state file is truncated (%" PRIu64
                           " bytes, its header says %" PRIu64 ")",
                           size, h->file_len);
    if (size > h->file_len)
        return lvm_err_set(err, 0,
                           "state file has %" PRIu64
                           " bytes past its end (%" PRIu64 " bytes)",
                           size - h->file_len, h->file_len);
    return 0;
}

static int is_zero(const void *p, size_t len)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < len; i++)
        if (b[i])
            return 0;
    return 1;
}

/* Fields that stand alone: kind, flags, names, limits, RAM size. */
static int check_fields(const struct snap_header *h, struct lvm_err *err)
{
    if (h->kind != SNAP_KIND_UNIKERNEL && h->kind != SNAP_KIND_QEMU)
        return lvm_err_set(err, 0, "state file of unknown kind %u", h->kind);
    if (h->flags)
        return lvm_err_set(err, 0, "state file has unknown flags 0x%x",
                           h->flags);
    if (h->reserved0 || !is_zero(h->reserved, sizeof h->reserved))
        return lvm_err_set(err, 0, "state file header: reserved bytes set");
    const char *bad = snap_unterminated_name(h->image_name, h->monitor,
                                             h->guest_name, h->guest_id);
    if (bad)
        return lvm_err_set(err, 0, "state file's %s is not NUL-terminated",
                           bad);
    if (h->nruns > SNAP_MAX_RUNS)
        return lvm_err_set(err, 0, "state file has %u RAM runs, at most %u",
                           h->nruns, SNAP_MAX_RUNS);
    if (h->sec[SNAP_SEC_CONFIG].len > SNAP_CONFIG_MAX)
        return lvm_err_set(err, 0,
                           "state file's config is too long (%" PRIu64
                           " bytes, at most %u)",
                           h->sec[SNAP_SEC_CONFIG].len, SNAP_CONFIG_MAX);
    if (h->kind == SNAP_KIND_UNIKERNEL) {
        if (snap_check_ram_size(h->ram_size, err) < 0)
            return -1;
        if (h->npages > h->ram_size / SNAP_PAGE)
            return lvm_err_set(
                err, 0, "state file holds %" PRIu64 " pages, more than its RAM",
                h->npages);
    } else if (h->npages || h->nruns) {
        return lvm_err_set(err, 0, "QEMU state file with RAM pages");
    }
    return 0;
}

#define ANY_LEN UINT64_MAX

/* Each section's length as the kind and counts fix it. */
static int check_lengths(const struct snap_header *h, struct lvm_err *err)
{
    int uk = h->kind == SNAP_KIND_UNIKERNEL;
    const uint64_t want[SNAP_SEC_COUNT] = {
        [SNAP_SEC_DATA] = uk ? h->npages * SNAP_PAGE : 0, /* checked: no wrap */
        [SNAP_SEC_RUNS] = uk ? (uint64_t)h->nruns * SNAP_RUN_BYTES : 0,
        [SNAP_SEC_CONFIG] = ANY_LEN,
        [SNAP_SEC_STATUS] = uk ? sizeof(struct lvm_status) : 0,
        [SNAP_SEC_DEVPAGE] = uk ? sizeof(struct lvm_devpage) : 0,
        [SNAP_SEC_BLOB] = uk ? 0 : ANY_LEN,
    };
    for (int i = 0; i < SNAP_SEC_COUNT; i++)
        if (want[i] != ANY_LEN && h->sec[i].len != want[i])
            return lvm_err_set(err, 0,
                               "state file's %s is %" PRIu64
                               " bytes, expected %" PRIu64,
                               sec_name[i], h->sec[i].len, want[i]);
    return 0;
}

/* Every section inside the body, aligned, and apart from the others. */
static int check_placement(const struct snap_header *h, struct lvm_err *err)
{
    int order[SNAP_SEC_COUNT], n = 0;
    for (int i = 0; i < SNAP_SEC_COUNT; i++) {
        const struct snap_section *s = &h->sec[i];
        uint64_t align = i == SNAP_SEC_DATA || i == SNAP_SEC_BLOB ? SNAP_PAGE
                         : i == SNAP_SEC_CONFIG                   ? 1
                                                                  : 8;
        if (!s->len && s->off)
            return lvm_err_set(err, 0, "state file's empty %s has an offset",
                               sec_name[i]);
        if (!s->len)
            continue;
        if (s->off < SNAP_HEADER_LEN || s->off > h->file_len ||
            s->len > h->file_len - s->off)
            return lvm_err_set(err, 0, "state file's %s is out of bounds",
                               sec_name[i]);
        if (s->off % align)
            return lvm_err_set(err, 0, "state file's %s is misaligned",
                               sec_name[i]);
        /* Insertion sort by offset: six entries at most. */
        int j = n++;
        for (; j > 0 && h->sec[order[j - 1]].off > s->off; j--)
            order[j] = order[j - 1];
        order[j] = i;
    }
    for (int k = 1; k < n; k++) {
        const struct snap_section *a = &h->sec[order[k - 1]];
        if (h->sec[order[k]].off < a->off + a->len)
            return lvm_err_set(err, 0, "state file's %s and %s overlap",
                               sec_name[order[k - 1]], sec_name[order[k]]);
    }
    /* Compact: no gap but alignment between the header, the sections and
     * the end. The checksum covers the whole file, so a file as long as
     * a sparse one can be made (exabytes) would hold the reader forever. */
    uint64_t end = SNAP_HEADER_LEN;
    for (int k = 0; k < n; k++) {
        const struct snap_section *s = &h->sec[order[k]];
        if (s->off - end >= SNAP_PAGE)
            return lvm_err_set(err, 0, "state file has a gap before its %s",
                               sec_name[order[k]]);
        end = s->off + s->len;
    }
    if (h->file_len - end >= SNAP_PAGE)
        return lvm_err_set(
            err, 0, "state file has %" PRIu64 " bytes after its last section",
            h->file_len - end);
    /* A QEMU stream is about its guest's RAM (no more than twice it,
     * plus devices): its RAM bounds what is read. */
    if (h->sec[SNAP_SEC_BLOB].len &&
        (h->ram_size > (1ull << 40) ||
         h->sec[SNAP_SEC_BLOB].len > 2 * h->ram_size + (64ull << 20)))
        return lvm_err_set(err, 0,
                           "state file's blob of %" PRIu64
                           " bytes is too large for %" PRIu64 " bytes of RAM",
                           h->sec[SNAP_SEC_BLOB].len, h->ram_size);
    return 0;
}

static int verify_checksum(int fd, const struct snap_header *raw,
                           const struct snap_header *h, struct lvm_err *err)
{
    EVP_MD_CTX *c = snap_sha_new(err);
    if (!c)
        return -1;
    struct snap_header zeroed = *raw;
    memset(zeroed.checksum, 0, sizeof zeroed.checksum);
    uint8_t sum[SNAP_HASH_LEN];
    uint64_t end = 0;
    int rc = hash_fd(c, fd, SNAP_HEADER_LEN, h->file_len, &end, err);
    if (rc == 0 && end != h->file_len)
        rc = lvm_err_set(err, 0,
                         "state file is truncated (it shrank while "
                         "being read)");
    if (rc == 0 && (snap_sha_update(c, &zeroed, sizeof zeroed, err) < 0 ||
                    snap_sha_final(c, sum, err) < 0))
        rc = -1;
    EVP_MD_CTX_free(c);
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
    /* The fuzzer hashes but cannot forge: it must reach the checks after. */
    if (rc == 0 && memcmp(sum, raw->checksum, SNAP_HASH_LEN))
        rc = lvm_err_set(err, 0,
                         "checksum mismatch: the state file is "
                         "corrupted");
#endif
    return rc;
}

static void decode_header(const struct snap_header *h, struct snap_info *info)
{
    info->version = h->version;
    info->kind = h->kind;
    memcpy(info->monitor, h->monitor, sizeof info->monitor);
    info->ram_size = h->ram_size;
    memcpy(info->image_hash, h->image_hash, SNAP_HASH_LEN);
    info->image_size = h->image_size;
    memcpy(info->image_name, h->image_name, sizeof info->image_name);
    memcpy(info->guest_name, h->guest_name, sizeof info->guest_name);
    memcpy(info->guest_id, h->guest_id, sizeof info->guest_id);
    info->saved_unix_ms = h->saved_unix_ms;
    info->npages = h->npages;
    info->data_off = h->sec[SNAP_SEC_DATA].off;
    info->blob_off = h->sec[SNAP_SEC_BLOB].off;
    info->blob_len = h->sec[SNAP_SEC_BLOB].len;
    info->file_len = h->file_len;
}

/* Runs sorted, disjoint, non-empty, inside the RAM, adding up to npages. */
static int check_runs(const struct snap_run *runs, uint32_t nruns,
                      uint64_t ram_pages, uint64_t npages, struct lvm_err *err)
{
    uint64_t next = 0, sum = 0;
    for (uint32_t i = 0; i < nruns; i++) {
        const struct snap_run *r = &runs[i];
        if (!r->count)
            return lvm_err_set(err, 0, "state file's RAM run %u is empty", i);
        if (r->first < next)
            return lvm_err_set(err, 0,
                               "state file's RAM run %u is unsorted or "
                               "overlaps the one before",
                               i);
        if (r->first > ram_pages || r->count > ram_pages - r->first)
            return lvm_err_set(err, 0,
                               "state file's RAM run %u is outside the "
                               "guest's RAM",
                               i);
        next = r->first + r->count;
        sum += r->count; /* disjoint and inside the RAM: cannot wrap */
    }
    if (sum != npages)
        return lvm_err_set(err, 0,
                           "state file's RAM runs hold %" PRIu64
                           " pages, its header says %" PRIu64,
                           sum, npages);
    return 0;
}

static int read_runs(int fd, const struct snap_header *h,
                     struct snap_info *info, struct lvm_err *err)
{
    if (!h->nruns)
        return check_runs(NULL, 0, 0, h->npages, err);
    /* nruns <= SNAP_MAX_RUNS: 16 MiB at most, and the file holds it all */
    info->runs = calloc(h->nruns, sizeof *info->runs);
    if (!info->runs)
        return lvm_err_set(err, ENOMEM, "state file run table");
    info->nruns = h->nruns;
    if (read_full(fd, info->runs, (size_t)h->nruns * SNAP_RUN_BYTES,
                  h->sec[SNAP_SEC_RUNS].off, err) < 0)
        return -1;
    for (uint32_t i = 0; i < h->nruns; i++) {
        info->runs[i].first = le64toh(info->runs[i].first);
        info->runs[i].count = le64toh(info->runs[i].count);
    }
    return check_runs(info->runs, h->nruns, h->ram_size / SNAP_PAGE, h->npages,
                      err);
}

static int read_config(int fd, const struct snap_header *h,
                       struct snap_info *info, struct lvm_err *err)
{
    size_t len = (size_t)h->sec[SNAP_SEC_CONFIG].len; /* <= CONFIG_MAX */
    info->config = malloc(len + 1);
    if (!info->config)
        return lvm_err_set(err, ENOMEM, "state file config");
    if (read_full(fd, info->config, len, h->sec[SNAP_SEC_CONFIG].off, err) < 0)
        return -1;
    if (memchr(info->config, 0, len))
        return lvm_err_set(err, 0, "state file's config contains a NUL byte");
    info->config[len] = 0;
    info->config_len = len;
    return 0;
}

static int read_pages_meta(int fd, const struct snap_header *h,
                           struct snap_info *info, struct lvm_err *err)
{
    if (h->kind != SNAP_KIND_UNIKERNEL)
        return 0;
    return read_full(fd, &info->status, sizeof info->status,
                     h->sec[SNAP_SEC_STATUS].off, err) < 0 ||
                   read_full(fd, &info->devpage, sizeof info->devpage,
                             h->sec[SNAP_SEC_DEVPAGE].off, err) < 0
               ? -1
               : 0;
}

int snap_read_info(int fd, struct snap_info *info, struct lvm_err *err)
{
    struct snap_header raw, h;
    memset(info, 0, sizeof *info);
    if (read_header(fd, &raw, &h, err) < 0 || check_fields(&h, err) < 0 ||
        check_lengths(&h, err) < 0 || check_placement(&h, err) < 0 ||
        verify_checksum(fd, &raw, &h, err) < 0)
        return -1;
    decode_header(&h, info);
    if (read_runs(fd, &h, info, err) < 0 ||
        read_config(fd, &h, info, err) < 0 ||
        read_pages_meta(fd, &h, info, err) < 0) {
        snap_info_free(info);
        return -1;
    }
    return 0;
}

/* sendfile all (len) bytes from (in) at (*src) to (out) at its position:
 * one copy in the kernel, no buffer of ours (faster than pread and
 * pwrite; copy_file_range cannot cross into a memfd's file system). */
static int send_all(int out, int in, off_t *src, uint64_t len,
                    struct lvm_err *err)
{
    while (len) {
        size_t want = len < (1u << 30) ? (size_t)len : (1u << 30);
        ssize_t n = sendfile(out, in, src, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return lvm_err_set(err, errno, "copy saved RAM pages");
        if (n == 0)
            return lvm_err_set(err, 0,
                               "state file is truncated (it shrank "
                               "while being read)");
        len -= (uint64_t)n;
    }
    return 0;
}

/* Each run's pages at its place in (memfd); pages between runs are never
 * written, so they stay holes and cost nothing. */
static int copy_runs(int fd, int memfd, const struct snap_info *info,
                     struct lvm_err *err)
{
    const uint64_t ram_pages = info->ram_size / SNAP_PAGE;
    off_t src = (off_t)info->data_off;
    for (uint32_t i = 0; i < info->nruns; i++) {
        const struct snap_run *r = &info->runs[i];
        /* snap_read_info checked this; a stray write past the RAM would
         * grow the memfd before it is sealed. */
        if (r->first > ram_pages || r->count > ram_pages - r->first)
            return lvm_err_invalid(err, "RAM run %u outside the RAM", i);
        if (lseek(memfd, (off_t)(r->first * SNAP_PAGE), SEEK_SET) < 0)
            return lvm_err_set(err, errno, "seek in the RAM memfd");
        if (send_all(memfd, fd, &src, r->count * SNAP_PAGE, err) < 0)
            return -1;
    }
    return 0;
}

int snap_read_ram(int fd, const struct snap_info *info, struct lvm_err *err)
{
    if (info->kind != SNAP_KIND_UNIKERNEL)
        return lvm_err_invalid(err, "not a unikernel state file: no RAM");
    int m = memfd_create("lightvm-snapshot", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (m < 0)
        return lvm_err_set(err, errno, "memfd_create");
    int rc = 0;
    if (ftruncate(m, (off_t)info->ram_size) < 0)
        rc = lvm_err_set(err, errno, "size the RAM memfd");
    else if (copy_runs(fd, m, info, err) < 0)
        rc = -1;
    else if (fcntl(m, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) <
                 0 ||
             lseek(m, 0, SEEK_SET) < 0)
        rc = lvm_err_set(err, errno, "seal the RAM memfd");
    if (rc < 0) {
        close(m);
        return -1;
    }
    return m;
}

/* ---- Hashing ------------------------------------------------------------ */

int snap_hash_file(int fd, uint8_t hash[SNAP_HASH_LEN], uint64_t *size,
                   struct lvm_err *err)
{
    EVP_MD_CTX *c = snap_sha_new(err);
    if (!c)
        return -1;
    uint64_t end = 0;
    int rc = hash_fd(c, fd, 0, UINT64_MAX, &end, err);
    if (rc == 0)
        rc = snap_sha_final(c, hash, err);
    EVP_MD_CTX_free(c);
    if (rc == 0)
        *size = end;
    return rc;
}

int snap_hash_buf(const void *data, size_t len, uint8_t hash[SNAP_HASH_LEN],
                  struct lvm_err *err)
{
    EVP_MD_CTX *c = snap_sha_new(err);
    if (!c)
        return -1;
    int rc = EVP_DigestUpdate(c, data, len) == 1
                 ? snap_sha_final(c, hash, err)
                 : lvm_err_set(err, EIO, "SHA-256");
    EVP_MD_CTX_free(c);
    return rc;
}

void snap_hash_hex(const uint8_t hash[SNAP_HASH_LEN], char out[65])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < SNAP_HASH_LEN; i++) {
        out[2 * i] = hex[hash[i] >> 4];
        out[2 * i + 1] = hex[hash[i] & 15];
    }
    out[2 * SNAP_HASH_LEN] = 0;
}
