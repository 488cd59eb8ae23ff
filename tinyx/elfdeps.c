/*
 * elfdeps.c: ELF dependencies with libelf (see elfdeps.h). Only program
 * headers are trusted, as by ld.so: stripped section tables do not matter.
 */
#include "tinyx/elfdeps.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <glob.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define LD_MAX_DIRS 256

/* File offset of virtual address (vaddr), through the PT_LOAD segments. */
static int vaddr_to_off(Elf *e, size_t phnum, GElf_Addr vaddr, size_t filesize,
                        GElf_Off *off)
{
    for (size_t i = 0; i < phnum; i++) {
        GElf_Phdr ph;
        if (!gelf_getphdr(e, (int)i, &ph) || ph.p_type != PT_LOAD)
            continue;
        if (vaddr >= ph.p_vaddr && vaddr - ph.p_vaddr < ph.p_filesz) {
            *off = ph.p_offset + (vaddr - ph.p_vaddr);
            return *off < filesize ? 0 : -1;
        }
    }
    return -1;
}

static const char *str_at(const char *tab, size_t tablen, GElf_Xword idx)
{
    if (idx >= tablen || !memchr(tab + idx, 0, tablen - idx))
        return NULL;
    return tab + idx;
}

static int read_dynamic(Elf *e, size_t phnum, const GElf_Phdr *dyn,
                        const char *buf, size_t len, struct elf_info *info,
                        struct lvm_err *err)
{
    if (dyn->p_offset >= len || dyn->p_filesz > len - dyn->p_offset)
        return lvm_err_invalid(err, "PT_DYNAMIC outside the file");
    Elf_Data *d = elf_getdata_rawchunk(e, (int64_t)dyn->p_offset, dyn->p_filesz,
                                       ELF_T_DYN);
    if (!d)
        return lvm_err_invalid(err, "bad PT_DYNAMIC: %s", elf_errmsg(-1));
    size_t entsize = gelf_fsize(e, ELF_T_DYN, 1, EV_CURRENT);
    if (!entsize)
        return lvm_err_invalid(err, "bad ELF class");
    size_t n = d->d_size / entsize;
    GElf_Addr strtab = 0;
    GElf_Xword strsz = 0, runpath = (GElf_Xword)-1, rpath = (GElf_Xword)-1;
    for (size_t i = 0; i < n; i++) {
        GElf_Dyn dy;
        if (!gelf_getdyn(d, (int)i, &dy) || dy.d_tag == DT_NULL)
            break;
        if (dy.d_tag == DT_STRTAB)
            strtab = dy.d_un.d_ptr;
        else if (dy.d_tag == DT_STRSZ)
            strsz = dy.d_un.d_val;
        else if (dy.d_tag == DT_RUNPATH)
            runpath = dy.d_un.d_val;
        else if (dy.d_tag == DT_RPATH)
            rpath = dy.d_un.d_val;
    }
    if (!strtab || !strsz)
        return 0; /* no string table: nothing needed */
    GElf_Off off;
    if (vaddr_to_off(e, phnum, strtab, len, &off) < 0)
        return lvm_err_invalid(err, "DT_STRTAB outside the file");
    if (strsz > len - off)
        strsz = len - off;
    const char *tab = buf + off;
    const char *rp =
        str_at(tab, strsz, runpath != (GElf_Xword)-1 ? runpath : rpath);
    if (rp)
        snprintf(info->runpath, sizeof info->runpath, "%s", rp);
    for (size_t i = 0; i < n; i++) {
        GElf_Dyn dy;
        if (!gelf_getdyn(d, (int)i, &dy) || dy.d_tag == DT_NULL)
            break;
        if (dy.d_tag != DT_NEEDED)
            continue;
        const char *name = str_at(tab, strsz, dy.d_un.d_val);
        if (!name || !*name)
            return lvm_err_invalid(err, "bad DT_NEEDED entry");
        if (info->nneeded == ELF_MAX_NEEDED)
            return lvm_err_set(err, E2BIG, "more than %d DT_NEEDED entries",
                               ELF_MAX_NEEDED);
        info->needed[info->nneeded] = strdup(name);
        if (!info->needed[info->nneeded])
            return lvm_err_set(err, ENOMEM, "DT_NEEDED");
        info->nneeded++;
    }
    return 0;
}

int elf_inspect_mem(const void *buf, size_t len, struct elf_info *info,
                    struct lvm_err *err)
{
    memset(info, 0, sizeof *info);
    if (len < 4 || memcmp(buf, ELFMAG, SELFMAG) != 0)
        return lvm_err_set(err, ENOEXEC, "not an ELF file");
    if (elf_version(EV_CURRENT) == EV_NONE)
        return lvm_err_set(err, 0, "libelf: %s", elf_errmsg(-1));
    Elf *e = elf_memory((char *)buf, len);
    if (!e)
        return lvm_err_set(err, ENOEXEC, "libelf: %s", elf_errmsg(-1));
    int r = -1;
    GElf_Ehdr eh;
    size_t phnum;
    if (elf_kind(e) != ELF_K_ELF || !gelf_getehdr(e, &eh) ||
        elf_getphdrnum(e, &phnum) < 0) {
        lvm_err_set(err, ENOEXEC, "not a well-formed ELF file");
        goto out;
    }
    info->elfclass = gelf_getclass(e);
    info->machine = eh.e_machine;
    info->type = eh.e_type;
    for (size_t i = 0; i < phnum; i++) {
        GElf_Phdr ph;
        if (!gelf_getphdr(e, (int)i, &ph)) {
            lvm_err_set(err, ENOEXEC, "bad program header %zu", i);
            goto out;
        }
        if (ph.p_type == PT_INTERP) {
            if (ph.p_offset >= len || ph.p_filesz > len - ph.p_offset ||
                ph.p_filesz == 0 || ph.p_filesz >= sizeof info->interp) {
                lvm_err_set(err, ENOEXEC, "bad PT_INTERP");
                goto out;
            }
            memcpy(info->interp, (const char *)buf + ph.p_offset, ph.p_filesz);
            info->interp[ph.p_filesz] = 0;
        } else if (ph.p_type == PT_DYNAMIC && !info->dynamic) {
            info->dynamic = 1;
            if (read_dynamic(e, phnum, &ph, buf, len, info, err) < 0)
                goto out;
        }
    }
    r = 0;
out:
    elf_end(e);
    if (r < 0)
        elf_info_free(info);
    return r;
}

int elf_is_elf(const char *path)
{
    unsigned char m[SELFMAG];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    int ok = read(fd, m, sizeof m) == SELFMAG && !memcmp(m, ELFMAG, SELFMAG);
    close(fd);
    return ok;
}

int elf_inspect(const char *path, struct elf_info *info, struct lvm_err *err)
{
    memset(info, 0, sizeof *info);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return lvm_err_set(err, errno, "open %s", path);
    struct stat st;
    if (fstat(fd, &st) < 0) {
        close(fd);
        return lvm_err_set(err, errno, "stat %s", path);
    }
    if (!S_ISREG(st.st_mode) || st.st_size < 4) {
        close(fd);
        return lvm_err_set(err, ENOEXEC, "%s is not an ELF file", path);
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return lvm_err_set(err, errno, "map %s", path);
    int r = elf_inspect_mem(map, (size_t)st.st_size, info, err);
    munmap(map, (size_t)st.st_size);
    if (r < 0)
        return lvm_err_wrap(err, "%s", path);
    return 0;
}

void elf_info_free(struct elf_info *info)
{
    for (unsigned i = 0; i < info->nneeded; i++)
        free(info->needed[i]);
    info->nneeded = 0;
}

/* ---- search path ------------------------------------------------------ */

static int add_dir(struct ld_path *p, const char *dir)
{
    for (size_t i = 0; i < p->n; i++)
        if (!strcmp(p->dirs[i], dir))
            return 0;
    if (p->n == LD_MAX_DIRS)
        return 0;
    char **n = realloc(p->dirs, (p->n + 1) * sizeof *n);
    if (!n)
        return -1;
    p->dirs = n;
    if (!(p->dirs[p->n] = strdup(dir)))
        return -1;
    p->n++;
    return 0;
}

/* One ld.so.conf file: directories, "include GLOB" lines, comments. */
static int read_conf(struct ld_path *p, const char *path, int depth)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    char line[1024];
    int r = 0;
    while (r == 0 && fgets(line, sizeof line, f)) {
        line[strcspn(line, "#\n")] = 0;
        char *s = line + strspn(line, " \t");
        size_t l = strlen(s);
        while (l && (s[l - 1] == ' ' || s[l - 1] == '\t'))
            s[--l] = 0;
        if (!*s)
            continue;
        if (!strncmp(s, "include", 7) && (s[7] == ' ' || s[7] == '\t')) {
            if (depth > 4)
                continue;
            glob_t g;
            const char *pat = s + 8 + strspn(s + 8, " \t");
            if (glob(pat, 0, NULL, &g) == 0) {
                for (size_t i = 0; i < g.gl_pathc && r == 0; i++)
                    r = read_conf(p, g.gl_pathv[i], depth + 1);
                globfree(&g);
            }
        } else if (*s == '/') {
            r = add_dir(p, s);
        }
    }
    fclose(f);
    return r;
}

int ld_path_load(struct ld_path *p, struct lvm_err *err)
{
    memset(p, 0, sizeof *p);
    static const char *defaults[] = {"/lib/x86_64-linux-gnu",
                                     "/usr/lib/x86_64-linux-gnu", "/lib",
                                     "/usr/lib"};
    int r = read_conf(p, "/etc/ld.so.conf", 0);
    for (size_t i = 0; r == 0 && i < sizeof defaults / sizeof *defaults; i++)
        r = add_dir(p, defaults[i]);
    if (r < 0) {
        ld_path_free(p);
        return lvm_err_set(err, ENOMEM, "library search path");
    }
    return 0;
}

void ld_path_free(struct ld_path *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->dirs[i]);
    free(p->dirs);
    memset(p, 0, sizeof *p);
}

/* (dir/name) exists and is an ELF of the same class and machine. */
static int try_dir(const char *dir, const char *name,
                   const struct elf_info *want, char *out, size_t len)
{
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
        return -1;
    struct elf_info i;
    struct lvm_err ignore;
    if (access(path, F_OK) < 0 || elf_inspect(path, &i, &ignore) < 0)
        return -1;
    int ok = i.elfclass == want->elfclass && i.machine == want->machine;
    elf_info_free(&i);
    if (!ok)
        return -1;
    snprintf(out, len, "%s", path);
    return 0;
}

/* Each directory of a colon list, with $ORIGIN replaced by (origin). */
static int try_list(const char *list, const char *origin, const char *name,
                    const struct elf_info *want, char *out, size_t len)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save, *d = strtok_r(buf, ":", &save); d;
         d = strtok_r(NULL, ":", &save)) {
        char dir[PATH_MAX];
        const char *o = strstr(d, "$ORIGIN");
        if (o)
            snprintf(dir, sizeof dir, "%.*s%s%s", (int)(o - d), d, origin,
                     o + 7);
        else
            snprintf(dir, sizeof dir, "%s", d);
        if (try_dir(dir, name, want, out, len) == 0)
            return 0;
    }
    return -1;
}

int ld_resolve(const struct ld_path *p, const char *from,
               const struct elf_info *info, const char *name, char *out,
               size_t len)
{
    if (strchr(name, '/')) {
        snprintf(out, len, "%s", name);
        return access(out, F_OK);
    }
    char origin[PATH_MAX];
    snprintf(origin, sizeof origin, "%s", from);
    char *slash = strrchr(origin, '/');
    if (slash)
        *slash = 0;
    if (info->runpath[0] &&
        try_list(info->runpath, origin, name, info, out, len) == 0)
        return 0;
    for (size_t i = 0; i < p->n; i++)
        if (try_dir(p->dirs[i], name, info, out, len) == 0)
            return 0;
    return -1;
}
