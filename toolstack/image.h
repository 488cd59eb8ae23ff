/*
 * image.h: guest images. A guest ELF is parsed and validated once
 * (image_parse, pure and fuzzable), then loaded into a sealed template
 * memfd that every guest of that image maps copy-on-write.
 */
#ifndef LVM_TS_IMAGE_H
#define LVM_TS_IMAGE_H

#include "toolstack/error.h"

#include <lightvm/abi.h>
#include <stddef.h>
#include <stdint.h>

#define IMAGE_MAX_SEGS 16
#define IMAGE_MAX_FILE (256u << 20)

struct image_segment {
    uint64_t vaddr, memsz;   /* where it lives in the guest */
    uint64_t offset, filesz; /* bytes from the file */
    uint32_t prot;           /* PROT_READ / PROT_WRITE / PROT_EXEC */
};

struct image_info {
    uint64_t entry;
    uint64_t image_end; /* page-aligned end of the highest segment */
    unsigned nsegs;
    struct image_segment seg[IMAGE_MAX_SEGS];
    uint64_t phdr_vaddr; /* program headers in guest memory, or 0 */
    uint16_t phnum, phentsize;
    uint64_t phoff;          /* file offset of the program headers */
    struct lvm_abi_note abi; /* SDK entry points */
    uint16_t ndevices;       /* from the manifest */
    struct lvm_manifest_device dev[LVM_MANIFEST_MAX_DEVICES];
    size_t file_size;
};

/* Validate the ELF in (buf, len) as a lightvm guest and describe it in
 * (info). Touches nothing else; safe on hostile input. */
int image_parse(const void *buf, size_t len, struct image_info *info,
                struct lvm_err *err);

struct image {
    struct image_info info;
    int template_fd; /* sealed memfd holding [LVM_RAM_BASE, image_end) */
    void *file;      /* the ELF file's bytes (for program headers) */
    size_t file_len;
    char path[4096];
    char name[64]; /* basename without .elf */
};

/* Read, validate and load the guest at (path). */
int image_load(const char *path, struct image **out, struct lvm_err *err);

/* The same from an open regular file (fd), named (path) in messages. The
 * fd stays the caller's. */
int image_load_fd(int fd, const char *path, struct image **out,
                  struct lvm_err *err);
void image_free(struct image *img);

/* Name of a device type, for messages. */
const char *image_device_type_name(unsigned type);

#endif
