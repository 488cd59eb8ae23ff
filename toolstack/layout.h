/*
 * layout.h: where everything goes in a guest's address space, and the
 * boot-time data the guest finds there (boot info, initial stack). Pure
 * computations over the image and the guest's configuration; the same for
 * every unikernel monitor.
 */
#ifndef LVM_TS_LAYOUT_H
#define LVM_TS_LAYOUT_H

#include "toolstack/error.h"
#include "toolstack/image.h"

#include <lightvm/abi.h>
#include <stddef.h>
#include <stdint.h>

#define LAYOUT_MIN_HEAP (64u << 10)
#define LAYOUT_MAX_ARGS (32u << 10) /* bytes of argv and envp strings */

struct layout {
    uint64_t ram_size;
    uint64_t ram_end;
    uint64_t image_end;
    uint64_t heap_start, heap_end; /* then one guard page */
    uint64_t stack_bottom, stack_top;
};

/* Lay out (ram_size) bytes of RAM for (info). */
int layout_compute(const struct image_info *info, uint64_t ram_size,
                   struct layout *lay, struct lvm_err *err);

/* What the guest's initial stack holds. */
struct layout_args {
    int argc;
    char *const *argv;
    int envc;
    char *const *envp;
    uint8_t random[16]; /* for AT_RANDOM (stack protector seed) */
    uint8_t seed[32];   /* the SDK's random number generator's seed */
    uint64_t hwcap;     /* AT_HWCAP */
};

/*
 * Build the initial stack as a Linux kernel would for a static program:
 * argc, argv, envp, auxv and the strings, ending at lay->stack_top. Writes
 * at most (cap) bytes into (buf): the image of [*sp, stack_top). The RNG
 * seed goes there too, at *seed_addr: the guest can read it once and
 * erase it, which it could not do in the read-only boot info.
 */
int layout_stack(const struct image_info *info, const void *elf_file,
                 const struct layout *lay, const struct layout_args *a,
                 uint8_t *buf, size_t cap, uint64_t *sp, size_t *len,
                 uint64_t *seed_addr, struct lvm_err *err);

/* Fill in the boot info page. */
void layout_bootinfo(const struct layout *lay, uint16_t binding, uint32_t flags,
                     const char *id, const char *name, int argc,
                     char *const *argv, uint64_t seed_addr, uint64_t boot_ns,
                     struct lvm_bootinfo *bi);

/* Parse "64M", "1G", "4096" (bytes) or "512K"; 0 on success. */
int layout_parse_size(const char *s, uint64_t *out);

#endif
