/*
 * stage.h: assemble an image's root in a staging directory (copies of the
 * host's files plus generated ones), and pack it as a newc cpio initramfs.
 */
#ifndef TINYX_STAGE_H
#define TINYX_STAGE_H

#include "tinyx/fileset.h"
#include "toolstack/error.h"

#include <stdint.h>

enum pack_compression { PACK_NONE, PACK_GZIP, PACK_ZSTD };

struct pack_opts {
    enum pack_compression comp;
    int level; /* 0: the compressor's best (gzip 9, zstd 19) */
};

struct pack_result {
    uint64_t cpio_bytes; /* uncompressed archive */
    uint64_t file_bytes; /* the written file */
    unsigned entries;
};

/* Copy or write every entry of (fs) (sorted) under directory (root). */
int stage_tree(const struct fileset *fs, const char *root, struct lvm_err *err);

/* Write (fs) as a cpio newc archive to (out), file contents read from
 * the staging tree (root), metadata from (fs). */
int pack_cpio(const struct fileset *fs, const char *root, const char *out,
              const struct pack_opts *o, struct pack_result *res,
              struct lvm_err *err);

/* "none", "gzip", "zstd", optionally ":LEVEL"; -1 if unknown. */
int pack_parse_compression(const char *s, struct pack_opts *o);

/* The file suffix for (comp): ".cpio", ".cpio.gz", ".cpio.zst". */
const char *pack_suffix(enum pack_compression comp);
const char *pack_name(enum pack_compression comp);

#endif
