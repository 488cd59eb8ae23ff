/*
 * snapfile.h: the state file a saved guest lives in (docs/snapshot-format.md
 * has it byte by byte). One format for every monitor:
 *
 *   unikernel guests (proc, kvm): the guest's RAM, sparse (only the pages
 *     it touched, as runs of page indices), its status page, its device
 *     page, and the JSON config that recreates its devices;
 *   qemu guests: QEMU's own migration stream as one opaque blob, with the
 *     same header and config.
 *
 * The header names the identity of the image the state needs (SHA-256 of
 * the image file and its size; a Tinyx image's: tinyx_image_identity in
 * toolstack/qemu/qemu_image.h), the RAM size, the monitor it was saved
 * under, and a SHA-256 over the whole file, so that a truncated, corrupted,
 * wrong-version or wrong-image file is refused in one line before anything
 * is created. A file is written to a temporary name in its directory,
 * fsync'ed, then renamed into place, never over an existing file unless
 * asked (--force).
 *
 * State files are not authenticated: the checksum finds damage, not
 * forgery. Whoever can write a state file can give the guest restored from
 * it any memory, which is no more than building an image of their own.
 */
#ifndef LVM_TS_SNAPFILE_H
#define LVM_TS_SNAPFILE_H

#include "toolstack/error.h"

#include <lightvm/abi.h>
#include <stddef.h>
#include <stdint.h>

#define SNAP_VERSION 1
#define SNAP_HASH_LEN 32            /* SHA-256 */
#define SNAP_CONFIG_MAX (64u << 10) /* bytes of JSON config */
#define SNAP_MAX_RUNS (1u << 20)
#define SNAP_HEADER_LEN 4096u
#define SNAP_MAGIC "LVMSNAP" /* 8 bytes with its NUL */

enum snap_kind {
    SNAP_KIND_UNIKERNEL = 1, /* proc or kvm: RAM pages + pages + config */
    SNAP_KIND_QEMU = 2,      /* QEMU's migration stream as a blob */
};

/* A run of saved RAM pages: guest pages [first, first + count) (page
 * index = (guest address - LVM_RAM_BASE) / 4096). */
struct snap_run {
    uint64_t first;
    uint64_t count;
};

/* What a state file says, decoded and checked. */
struct snap_info {
    uint32_t version;  /* SNAP_VERSION */
    uint32_t kind;     /* enum snap_kind */
    char monitor[16];  /* monitor it was saved under: proc, kvm, qemu */
    uint64_t ram_size; /* bytes of guest RAM (unikernel) or 0 */
    uint8_t image_hash[SNAP_HASH_LEN]; /* SHA-256 of the image file (qemu:
                                          of a Tinyx image's files) */
    uint64_t image_size;               /* its size in bytes */
    char image_name[64];               /* for messages only */
    char guest_name[64];
    char guest_id[40];
    uint64_t saved_unix_ms;
    /* SNAP_KIND_UNIKERNEL */
    struct lvm_status status;   /* the guest's status page at save */
    struct lvm_devpage devpage; /* its devices at save */
    uint64_t npages;            /* RAM pages stored (sum of runs) */
    /* Owned by the caller after snap_read_*; freed by snap_info_free. */
    char *config; /* NUL-terminated JSON object, config_len bytes */
    size_t config_len;
    struct snap_run *runs; /* sorted, disjoint, inside ram_size */
    uint32_t nruns;
    /* Where things are in the file (set by the reader). */
    uint64_t data_off;           /* page data: the runs' pages, in order */
    uint64_t blob_off, blob_len; /* SNAP_KIND_QEMU: QEMU's stream */
    uint64_t file_len;
};

void snap_info_free(struct snap_info *info);

/* ---- On disk (docs/snapshot-format.md; every integer little-endian) ---- */

/* The sections after the header, in the order the writer lays them out. */
enum snap_section_id {
    SNAP_SEC_DATA,    /* RAM pages, page-aligned */
    SNAP_SEC_RUNS,    /* nruns x {u64 first, u64 count} */
    SNAP_SEC_CONFIG,  /* JSON, no NUL */
    SNAP_SEC_STATUS,  /* struct lvm_status, raw */
    SNAP_SEC_DEVPAGE, /* struct lvm_devpage, raw */
    SNAP_SEC_BLOB,    /* QEMU's stream, page-aligned */
    SNAP_SEC_COUNT,
};

struct snap_section {
    uint64_t off; /* 0 when len is 0 */
    uint64_t len;
};

/* The header: the file's first SNAP_HEADER_LEN bytes. Exposed for tests
 * and tools that craft files; the library's users need only snap_info. */
struct snap_header {
    char magic[8]; /* SNAP_MAGIC */
    uint32_t version;
    uint32_t header_len; /* SNAP_HEADER_LEN */
    uint32_t kind;
    uint32_t flags; /* none defined: 0 */
    uint64_t file_len;
    uint64_t ram_size;
    uint8_t image_hash[SNAP_HASH_LEN];
    uint64_t image_size;
    char image_name[64]; /* every name: NUL-terminated, zero-padded */
    char monitor[16];
    char guest_name[64];
    char guest_id[40];
    uint64_t saved_unix_ms;
    uint64_t npages;
    uint32_t nruns;
    uint32_t reserved0;
    struct snap_section sec[SNAP_SEC_COUNT];
    /* SHA-256(file[SNAP_HEADER_LEN, file_len) || this header with
     * checksum zeroed) */
    uint8_t checksum[SNAP_HASH_LEN];
    uint8_t reserved[SNAP_HEADER_LEN - 416]; /* zero */
};
_Static_assert(sizeof(struct snap_header) == SNAP_HEADER_LEN, "header size");

/* ---- Writing ------------------------------------------------------------ */

struct snap_writer {
    int dirfd;              /* the target's directory */
    int fd;                 /* the temporary file */
    char name[256];         /* the target's name in dirfd */
    char tmp[288];          /* the temporary's name in dirfd ("": none) */
    int unnamed;            /* the temporary is an O_TMPFILE: it has no name
                        until it is complete, so a crash leaves nothing */
    uint64_t committed_len; /* after a commit: the file's length */
    int force;              /* replace an existing file */
    uint64_t off;           /* next byte to write */
    uint64_t npages;        /* pages written so far */
    struct snap_run *runs;
    uint32_t nruns, cap_runs;
    void *hash; /* running SHA-256 over the body */
    uint64_t blob_off, blob_len;
};

/* Every snap_write_* that fails aborts the writer (snap_write_abort):
 * nothing is left behind, and a later abort is harmless. */

/* Start writing (path): a temporary file next to it. Without (force) an
 * existing (path) is refused now ("exists") and again at the rename, so a
 * file made in between is not replaced either. (dirfd) is where a
 * relative path starts (AT_FDCWD). */
int snap_write_begin(struct snap_writer *w, int dirfd, const char *path,
                     int force, struct lvm_err *err);

/* Append guest pages [first, first + count) from (data) (count * 4096
 * bytes). Runs must come in increasing page order and not overlap;
 * adjacent runs are merged. */
int snap_write_pages(struct snap_writer *w, uint64_t first, uint64_t count,
                     const void *data, struct lvm_err *err);

/* SNAP_KIND_QEMU: append (len) bytes read from (fd) at its current
 * position as the blob (once). */
int snap_write_blob(struct snap_writer *w, int fd, uint64_t len,
                    struct lvm_err *err);

/* Write the tables, (info)'s header fields and the checksum, fsync, and
 * rename into place. (info)'s runs, npages, offsets and file_len are the
 * writer's own; the rest comes from (info). On failure nothing is left
 * behind. The writer is finished either way. A zero saved_unix_ms is
 * taken as now. */
int snap_write_commit(struct snap_writer *w, const struct snap_info *info,
                      struct lvm_err *err);

/* Give up: remove the temporary file. Safe after commit and twice. */
void snap_write_abort(struct snap_writer *w);

/* ---- Reading ------------------------------------------------------------ */

/* Read and check the whole state file at (fd) (any position; it is read
 * with pread): header, version, sizes, tables, config, checksum. Fills
 * (info) (free with snap_info_free). Messages name what is wrong: "state
 * file is truncated (...)", "checksum mismatch: the state file is
 * corrupted", "state file version 7, this lightvm reads version 1", ... */
int snap_read_info(int fd, struct snap_info *info, struct lvm_err *err);

/* SNAP_KIND_UNIKERNEL: a memfd of info->ram_size bytes holding the saved
 * pages at their offsets (page index * 4096) and holes elsewhere, sealed
 * against growing and shrinking. Guests restored or cloned from it map
 * it copy-on-write. Returns the memfd or -1. The pages are not hashed
 * again: (fd) must be the file snap_read_info checked, unchanged since
 * (a file only its owner can write). */
int snap_read_ram(int fd, const struct snap_info *info, struct lvm_err *err);

/* SHA-256 of the file at (fd) (from offset 0, pread), and its size: the
 * identity of an image. */
int snap_hash_file(int fd, uint8_t hash[SNAP_HASH_LEN], uint64_t *size,
                   struct lvm_err *err);

/* SHA-256 of (len) bytes at (data). */
int snap_hash_buf(const void *data, size_t len, uint8_t hash[SNAP_HASH_LEN],
                  struct lvm_err *err);

/* Lower-case hex of a hash, for messages and JSON (65 bytes). */
void snap_hash_hex(const uint8_t hash[SNAP_HASH_LEN], char out[65]);

#endif
