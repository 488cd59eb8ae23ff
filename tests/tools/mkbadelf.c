/*
 * mkbadelf.c: write malformed variants of a good guest ELF, one file per
 * way an image can be wrong, for the loader's bad-input tests and the
 * fuzzer's seed corpus.
 *
 *   mkbadelf GOOD.elf OUTDIR
 *
 * Each variant is named after what is wrong with it; tests expect the
 * loader to reject every one with a one-line error.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "include/lightvm/abi.h"

static unsigned char *good;
static size_t good_len;
static const char *outdir;

static void emit(const char *name, const unsigned char *buf, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.elf", outdir, name);
    FILE *f = fopen(path, "wb");
    if (!f || (len && fwrite(buf, 1, len, f) != len) || fclose(f) != 0) {
        fprintf(stderr, "mkbadelf: write %s: %s\n", path, strerror(errno));
        exit(1);
    }
}

static unsigned char *copy(void)
{
    unsigned char *c = malloc(good_len);
    if (!c)
        exit(1);
    memcpy(c, good, good_len);
    return c;
}

static Elf64_Ehdr *eh(unsigned char *b)
{
    return (Elf64_Ehdr *)b;
}

static Elf64_Phdr *ph(unsigned char *b, int i)
{
    return (Elf64_Phdr *)(b + eh(b)->e_phoff) + i;
}

static int find_ph(unsigned char *b, uint32_t type, int nth)
{
    for (int i = 0; i < eh(b)->e_phnum; i++)
        if (ph(b, i)->p_type == type && nth-- == 0)
            return i;
    return -1;
}

/* Offset of the descriptor of the note of (type) owned by lightvm. */
static long find_note(unsigned char *b, uint32_t type)
{
    for (int i = 0; i < eh(b)->e_phnum; i++) {
        Elf64_Phdr *p = ph(b, i);
        if (p->p_type != PT_NOTE)
            continue;
        size_t off = p->p_offset, end = p->p_offset + p->p_filesz;
        while (off + sizeof(Elf64_Nhdr) <= end) {
            Elf64_Nhdr *n = (Elf64_Nhdr *)(b + off);
            size_t name = off + sizeof *n;
            size_t desc = name + ((n->n_namesz + 3) & ~3u);
            if (n->n_type == type && n->n_namesz == 8 &&
                memcmp(b + name, "lightvm", 8) == 0)
                return (long)desc;
            off = desc + ((n->n_descsz + 3) & ~3u);
        }
    }
    return -1;
}

#define VARIANT(name, body)                                                    \
    do {                                                                       \
        unsigned char *b = copy();                                             \
        size_t len = good_len;                                                 \
        body;                                                                  \
        emit(name, b, len);                                                    \
        free(b);                                                               \
    } while (0)

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: mkbadelf GOOD.elf OUTDIR\n");
        return 2;
    }
    outdir = argv[2];
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    good = malloc(64 << 20);
    good_len = fread(good, 1, 64 << 20, f);
    fclose(f);
    mkdir(outdir, 0755);

    emit("empty", good, 0);
    emit("truncated-header", good, 20);
    emit("truncated-phdrs", good, eh(good)->e_phoff + 30);
    VARIANT("truncated-segment",
            { len = ph(b, find_ph(b, PT_LOAD, 1))->p_offset + 16; });
    VARIANT("not-elf", {
        memcpy(b,
               "\x7f"
               "ELG",
               4);
    });
    VARIANT("text-file", {
        memcpy(b, "#!/bin/sh\necho hi\n", 18);
        len = 18;
    });
    VARIANT("elf32", { b[EI_CLASS] = ELFCLASS32; });
    VARIANT("big-endian", { b[EI_DATA] = ELFDATA2MSB; });
    VARIANT("wrong-arch", { eh(b)->e_machine = EM_AARCH64; });
    VARIANT("pie", { eh(b)->e_type = ET_DYN; });
    VARIANT("relocatable", { eh(b)->e_type = ET_REL; });
    VARIANT("bad-phentsize", { eh(b)->e_phentsize = 40; });
    VARIANT("phoff-past-end", { eh(b)->e_phoff = good_len + 4096; });
    VARIANT("no-phdrs", { eh(b)->e_phnum = 0; });
    VARIANT("entry-outside", { eh(b)->e_entry = 0x1000; });
    VARIANT("entry-in-data",
            { eh(b)->e_entry = ph(b, find_ph(b, PT_LOAD, 3))->p_vaddr; });
    VARIANT("segment-below-ram",
            { ph(b, find_ph(b, PT_LOAD, 0))->p_vaddr = 0x400000; });
    VARIANT("segment-huge",
            { ph(b, find_ph(b, PT_LOAD, 3))->p_memsz = 1ull << 40; });
    VARIANT("segment-wraps", {
        Elf64_Phdr *p = ph(b, find_ph(b, PT_LOAD, 3));
        p->p_memsz = UINT64_MAX - p->p_vaddr + 2;
    });
    VARIANT("segment-past-file",
            { ph(b, find_ph(b, PT_LOAD, 1))->p_filesz = good_len * 4; });
    VARIANT("filesz-over-memsz", {
        Elf64_Phdr *p = ph(b, find_ph(b, PT_LOAD, 2));
        p->p_memsz = p->p_filesz / 2;
    });
    VARIANT("overlapping-segments", {
        Elf64_Phdr *a = ph(b, find_ph(b, PT_LOAD, 1));
        Elf64_Phdr *c = ph(b, find_ph(b, PT_LOAD, 2));
        c->p_vaddr = a->p_vaddr + 0x1000;
        c->p_offset = a->p_offset + 0x1000;
    });
    VARIANT("misaligned-segment",
            { ph(b, find_ph(b, PT_LOAD, 1))->p_vaddr += 8; });
    VARIANT("writable-code",
            { ph(b, find_ph(b, PT_LOAD, 1))->p_flags |= PF_W; });
    VARIANT("exec-stack",
            { ph(b, find_ph(b, PT_GNU_STACK, 0))->p_flags |= PF_X; });
    VARIANT("interp",
            { ph(b, find_ph(b, PT_GNU_STACK, 0))->p_type = PT_INTERP; });
    VARIANT("dynamic",
            { ph(b, find_ph(b, PT_GNU_STACK, 0))->p_type = PT_DYNAMIC; });
    VARIANT("unknown-phdr",
            { ph(b, find_ph(b, PT_GNU_STACK, 0))->p_type = 0x12345; });
    VARIANT("no-notes", { ph(b, find_ph(b, PT_NOTE, 0))->p_type = PT_NULL; });
    VARIANT("note-past-end",
            { ph(b, find_ph(b, PT_NOTE, 0))->p_offset = good_len - 8; });
    VARIANT("abi-version", {
        long d = find_note(b, LVM_NOTE_ABI);
        *(uint32_t *)(b + d) = 99;
    });
    VARIANT("abi-entry-bad", {
        long d = find_note(b, LVM_NOTE_ABI);
        *(uint64_t *)(b + d + 8) = 0x1234; /* sigsys_entry */
    });
    VARIANT("manifest-magic", {
        long d = find_note(b, LVM_NOTE_MANIFEST);
        *(uint32_t *)(b + d) = 0;
    });
    VARIANT("manifest-version", {
        long d = find_note(b, LVM_NOTE_MANIFEST);
        *(uint16_t *)(b + d + 4) = 7;
    });
    VARIANT("manifest-count", {
        long d = find_note(b, LVM_NOTE_MANIFEST);
        *(uint16_t *)(b + d + 6) = 1000;
    });
    VARIANT("manifest-size", {
        long d = find_note(b, LVM_NOTE_MANIFEST);
        *(uint16_t *)(b + d + 6) += 1; /* count no longer matches size */
    });
    /* The remaining variants need a manifest with a device (blockdev). */
    long d = find_note(good, LVM_NOTE_MANIFEST);
    if (d > 0 && *(uint16_t *)(good + d + 6) > 0) {
        size_t dev = (size_t)d + sizeof(struct lvm_manifest);
        VARIANT("manifest-type", { *(uint16_t *)(b + dev) = 9; });
        VARIANT("manifest-flags", { *(uint16_t *)(b + dev + 2) = 0x80; });
        VARIANT("manifest-name-empty", { b[dev + 8] = 0; });
        VARIANT("manifest-name-chars", { b[dev + 8] = '/'; });
        VARIANT("manifest-name-unterminated",
                { memset(b + dev + 8, 'a', LVM_DEVNAME_MAX); });
    }
    return 0;
}
