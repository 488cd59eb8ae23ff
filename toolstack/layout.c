/*
 * layout.c: guest address space layout, boot info and initial stack.
 *
 *   LVM_RAM_BASE  image (the ELF's segments, copy-on-write from the
 *                 image's template)
 *   image_end     heap: free RAM the SDK hands to malloc
 *   heap_end      one unmapped guard page
 *   stack_bottom  stack, min(RAM / 8, 1 MiB), initial stack data at top
 *   ram_end
 */
#include "toolstack/layout.h"

#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE 4096ull

int layout_parse_size(const char *s, uint64_t *out)
{
    char *end;
    if (!s || !*s || *s == '-')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return -1;
    unsigned shift = 0;
    switch (*end) {
    case 0: break;
    case 'k':
    case 'K':
        shift = 10;
        end++;
        break;
    case 'm':
    case 'M':
        shift = 20;
        end++;
        break;
    case 'g':
    case 'G':
        shift = 30;
        end++;
        break;
    default: return -1;
    }
    if (*end == 'i' && shift) /* accept KiB, MiB, GiB */
        end++;
    if (*end == 'B' && shift)
        end++;
    if (*end)
        return -1;
    if (shift && v > (~0ull >> shift))
        return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

int layout_compute(const struct image_info *info, uint64_t ram_size,
                   struct layout *lay, struct lvm_err *err)
{
    memset(lay, 0, sizeof *lay);
    if (ram_size % PAGE)
        return lvm_err_invalid(err, "memory size must be a multiple of 4 KiB");
    if (ram_size < LVM_RAM_MIN || ram_size > LVM_RAM_MAX)
        return lvm_err_invalid(
            err, "memory size %llu KiB is outside %llu KiB..%llu MiB",
            (unsigned long long)(ram_size >> 10),
            (unsigned long long)(LVM_RAM_MIN >> 10),
            (unsigned long long)(LVM_RAM_MAX >> 20));
    uint64_t stack = ram_size / 8;
    if (stack > LVM_STACK_MAX)
        stack = LVM_STACK_MAX;
    stack &= ~(PAGE - 1);
    lay->ram_size = ram_size;
    lay->ram_end = LVM_RAM_BASE + ram_size;
    lay->image_end = info->image_end;
    lay->stack_top = lay->ram_end;
    lay->stack_bottom = lay->ram_end - stack;
    lay->heap_start = info->image_end;
    lay->heap_end = lay->stack_bottom - PAGE;
    if (info->image_end > lay->heap_end ||
        lay->heap_end - lay->heap_start < LAYOUT_MIN_HEAP)
        return lvm_err_set(
            err, ENOMEM,
            "%llu KiB of memory is too little for this image "
            "(%llu KiB) with a stack and a %u KiB heap",
            (unsigned long long)(ram_size >> 10),
            (unsigned long long)((info->image_end - LVM_RAM_BASE) >> 10),
            LAYOUT_MIN_HEAP >> 10);
    return 0;
}

int layout_stack(const struct image_info *info, const void *elf_file,
                 const struct layout *lay, const struct layout_args *a,
                 uint8_t *buf, size_t cap, uint64_t *sp_out, size_t *len_out,
                 uint64_t *seed_addr, struct lvm_err *err)
{
    size_t strings = 0;
    for (int i = 0; i < a->argc; i++)
        strings += strlen(a->argv[i]) + 1;
    for (int i = 0; i < a->envc; i++)
        strings += strlen(a->envp[i]) + 1;
    if (strings > LAYOUT_MAX_ARGS)
        return lvm_err_set(err, E2BIG,
                           "arguments and environment take %zu bytes (at most "
                           "%u)",
                           strings, LAYOUT_MAX_ARGS);
    /* Program headers are copied onto the stack if no segment holds them. */
    size_t phdr_bytes =
        info->phdr_vaddr ? 0 : (size_t)info->phnum * sizeof(Elf64_Phdr);
    enum { NAUX = 14 };
    size_t top_bytes = strings + sizeof a->random + sizeof a->seed + phdr_bytes;
    top_bytes = (top_bytes + 15) & ~(size_t)15;
    size_t words = 1 + (size_t)a->argc + 1 + (size_t)a->envc + 1 + 2 * NAUX;
    size_t total = top_bytes + words * 8;
    total = (total + 15) & ~(size_t)15;
    if (total > cap || total > lay->stack_top - lay->stack_bottom - PAGE)
        return lvm_err_set(err, E2BIG, "initial stack does not fit");

    uint64_t sp = lay->stack_top - total;
    memset(buf, 0, total);
    /* Strings, random bytes and program headers live at the top. */
    uint64_t at = lay->stack_top - top_bytes;
#define OFF(addr) ((size_t)((addr)-sp))
    uint64_t random_addr = at;
    memcpy(buf + OFF(at), a->random, sizeof a->random);
    at += sizeof a->random;
    *seed_addr = at;
    memcpy(buf + OFF(at), a->seed, sizeof a->seed);
    at += sizeof a->seed;
    uint64_t phdr_addr = info->phdr_vaddr;
    if (phdr_bytes) {
        phdr_addr = at;
        memcpy(buf + OFF(at), (const char *)elf_file + info->phoff, phdr_bytes);
        at += phdr_bytes;
    }
    uint64_t *w = (uint64_t *)(void *)buf;
    size_t k = 0;
    w[k++] = (uint64_t)a->argc;
    for (int i = 0; i < a->argc; i++) {
        size_t n = strlen(a->argv[i]) + 1;
        memcpy(buf + OFF(at), a->argv[i], n);
        w[k++] = at;
        at += n;
    }
    w[k++] = 0;
    for (int i = 0; i < a->envc; i++) {
        size_t n = strlen(a->envp[i]) + 1;
        memcpy(buf + OFF(at), a->envp[i], n);
        w[k++] = at;
        at += n;
    }
    w[k++] = 0;
    /* No AT_SYSINFO_EHDR: the guest has no vDSO. AT_UID..AT_SECURE are 0,
     * which keeps musl out of its set-uid checks. */
    const uint64_t aux[NAUX][2] = {
        {AT_PHDR, phdr_addr},
        {AT_PHENT, sizeof(Elf64_Phdr)},
        {AT_PHNUM, info->phnum},
        {AT_PAGESZ, PAGE},
        {AT_ENTRY, info->entry},
        {AT_RANDOM, random_addr},
        {AT_HWCAP, a->hwcap},
        {AT_CLKTCK, 100},
        {AT_UID, 0},
        {AT_EUID, 0},
        {AT_GID, 0},
        {AT_EGID, 0},
        {AT_SECURE, 0},
        {AT_NULL, 0},
    };
    for (int i = 0; i < NAUX; i++) {
        w[k++] = aux[i][0];
        w[k++] = aux[i][1];
    }
#undef OFF
    *sp_out = sp;
    *len_out = total;
    return 0;
}

void layout_bootinfo(const struct layout *lay, uint16_t binding, uint32_t flags,
                     const char *id, const char *name, int argc,
                     char *const *argv, uint64_t seed_addr, uint64_t boot_ns,
                     struct lvm_bootinfo *bi)
{
    memset(bi, 0, sizeof *bi);
    bi->magic = LVM_BOOTINFO_MAGIC;
    bi->abi_version = LVM_ABI_VERSION;
    bi->binding = binding;
    bi->flags = flags;
    bi->ram_base = LVM_RAM_BASE;
    bi->ram_size = lay->ram_size;
    bi->image_end = lay->image_end;
    bi->heap_start = lay->heap_start;
    bi->heap_end = lay->heap_end;
    bi->stack_top = lay->stack_top;
    bi->stack_size = lay->stack_top - lay->stack_bottom;
    bi->boot_ns = boot_ns;
    bi->seed_addr = seed_addr;
    snprintf(bi->guest_id, sizeof bi->guest_id, "%s", id);
    snprintf(bi->name, sizeof bi->name, "%s", name);
    size_t used = 0;
    for (int i = 0; i < argc; i++) {
        size_t n = strlen(argv[i]);
        if (used + n + 2 > sizeof bi->cmdline)
            break; /* the full argv is on the stack; this is for display */
        if (i)
            bi->cmdline[used++] = ' ';
        memcpy(bi->cmdline + used, argv[i], n);
        used += n;
    }
    bi->cmdline[used] = 0;
    bi->cmdline_len = (uint32_t)used;
}
