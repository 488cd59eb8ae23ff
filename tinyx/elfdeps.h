/*
 * elfdeps.h: what an ELF file needs to run: its interpreter (PT_INTERP),
 * its DT_NEEDED libraries and where to look for them (DT_RUNPATH/RPATH,
 * /etc/ld.so.conf, the default directories). Read with libelf, the way the
 * dynamic loader reads it (program headers), never by running ldd.
 */
#ifndef TINYX_ELFDEPS_H
#define TINYX_ELFDEPS_H

#include "toolstack/error.h"

#include <limits.h>
#include <stddef.h>

#define ELF_MAX_NEEDED 256

struct elf_info {
    int elfclass; /* ELFCLASS32 / ELFCLASS64 */
    int machine;  /* e_machine */
    int type;     /* ET_EXEC, ET_DYN, ... */
    int dynamic;  /* has PT_DYNAMIC */
    char interp[PATH_MAX];
    char runpath[1024]; /* DT_RUNPATH, or DT_RPATH if there is none */
    unsigned nneeded;
    char *needed[ELF_MAX_NEEDED];
};

/* Describe the ELF image in (buf, len). -1 if it is not a well-formed
 * ELF file (the reason in err). Safe on hostile input. */
int elf_inspect_mem(const void *buf, size_t len, struct elf_info *info,
                    struct lvm_err *err);

/* Same for the file at (path); err says "not an ELF file" for others. */
int elf_inspect(const char *path, struct elf_info *info, struct lvm_err *err);

/* 1 if (path) starts with the ELF magic. */
int elf_is_elf(const char *path);

void elf_info_free(struct elf_info *info);

/* The library search path: /etc/ld.so.conf (with its includes) and the
 * default directories, in the loader's order. */
struct ld_path {
    char **dirs;
    size_t n;
};

int ld_path_load(struct ld_path *p, struct lvm_err *err);
void ld_path_free(struct ld_path *p);

/* Find library (name), needed by the object at (from) described by
 * (info), as the loader would; the host path into (out). 0, or -1 if it
 * is nowhere. */
int ld_resolve(const struct ld_path *p, const char *from,
               const struct elf_info *info, const char *name, char *out,
               size_t len);

#endif
