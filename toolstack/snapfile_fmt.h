/*
 * snapfile_fmt.h: what the state file's reader (snapfile.c) and writer
 * (snapfile_write.c) share: byte order, SHA-256, and the checks both make
 * (the writer refuses to write what the reader would refuse). Not for
 * the library's users: they have snapfile.h.
 */
#ifndef LVM_TS_SNAPFILE_FMT_H
#define LVM_TS_SNAPFILE_FMT_H

#include "toolstack/snapfile.h"

#include <openssl/evp.h>

#define SNAP_PAGE 4096u
#define SNAP_IO_CHUNK (1u << 20) /* bytes hashed or copied per system call */
#define SNAP_RUN_BYTES 16u       /* one run on disk: u64 first, u64 count */

/* Convert (h)'s integers between host order and little-endian; the
 * conversion is its own inverse, so it serves both directions. */
void snap_header_le(struct snap_header *h);

/* SHA-256 through libcrypto's EVP interface, failures as lvm_err. */
EVP_MD_CTX *snap_sha_new(struct lvm_err *err);
int snap_sha_update(EVP_MD_CTX *c, const void *buf, size_t len,
                    struct lvm_err *err);
int snap_sha_final(EVP_MD_CTX *c, uint8_t out[SNAP_HASH_LEN],
                   struct lvm_err *err);

/* Guest RAM a unikernel can have: whole pages, within the ABI's range. */
int snap_check_ram_size(uint64_t ram_size, struct lvm_err *err);

/* The first of a file's names that lacks its NUL ("image name", ...,
 * "guest id"), or NULL. */
const char *snap_unterminated_name(const char *image, const char *monitor,
                                   const char *guest, const char *id);

#endif
