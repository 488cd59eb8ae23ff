/*
 * image.c: parse, validate and load guest ELFs.
 *
 * libelf (elfutils) reads the ELF structures; everything a monitor relies
 * on is then checked here: a static x86_64 executable, every loadable
 * segment inside guest RAM, in order, without overlap or W+X, an entry
 * point in executable code, no interpreter or dynamic section, no
 * executable stack, and exactly one valid ABI note and manifest.
 */
#include "toolstack/image.h"
#include "toolstack/fsutil.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE 4096ull

static uint64_t page_down(uint64_t a)
{
    return a & ~(PAGE - 1);
}

static uint64_t page_up(uint64_t a)
{
    return (a + PAGE - 1) & ~(PAGE - 1);
}

const char *image_device_type_name(unsigned type)
{
    switch (type) {
    case LVM_DEV_CONSOLE: return "console";
    case LVM_DEV_CONTROL: return "control";
    case LVM_DEV_NET: return "net";
    case LVM_DEV_BLOCK: return "block";
    default: return "unknown";
    }
}

static int check_name(const char *name, size_t max)
{
    size_t n = strnlen(name, max);
    if (n == 0 || n == max)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '-'))
            return -1;
    }
    return 0;
}

static int parse_manifest(const char *desc, size_t len, struct image_info *info,
                          struct lvm_err *err)
{
    struct lvm_manifest m;
    if (len < sizeof m)
        return lvm_err_set(err, 0, "manifest note is truncated");
    memcpy(&m, desc, sizeof m);
    if (m.magic != LVM_MANIFEST_MAGIC)
        return lvm_err_set(err, 0, "manifest has a bad magic number");
    if (m.version != LVM_ABI_VERSION)
        return lvm_err_set(err, 0, "manifest is for ABI version %u, not %u",
                           m.version, LVM_ABI_VERSION);
    if (m.ndevices > LVM_MANIFEST_MAX_DEVICES)
        return lvm_err_set(err, 0, "manifest lists %u devices (at most %u)",
                           m.ndevices, LVM_MANIFEST_MAX_DEVICES);
    if (len != sizeof m + m.ndevices * sizeof(struct lvm_manifest_device))
        return lvm_err_set(
            err, 0, "manifest size does not match its %u devices", m.ndevices);
    info->ndevices = m.ndevices;
    for (unsigned i = 0; i < m.ndevices; i++) {
        struct lvm_manifest_device *d = &info->dev[i];
        memcpy(d, desc + sizeof m + i * sizeof *d, sizeof *d);
        if (check_name(d->name, sizeof d->name) < 0)
            return lvm_err_set(err, 0,
                               "manifest device %u has an invalid name "
                               "(1-15 characters of a-z, 0-9, _ and -)",
                               i);
        if (d->type != LVM_DEV_NET && d->type != LVM_DEV_BLOCK)
            return lvm_err_set(err, 0, "manifest device %s has unknown type %u",
                               d->name, d->type);
        unsigned ok = d->type == LVM_DEV_BLOCK ? LVM_DEVF_READONLY : 0;
        if (d->flags & ~ok || d->reserved)
            return lvm_err_set(err, 0, "manifest device %s has unknown flags",
                               d->name);
        for (unsigned j = 0; j < i; j++)
            if (strcmp(info->dev[j].name, d->name) == 0)
                return lvm_err_set(err, 0, "manifest names device %s twice",
                                   d->name);
    }
    return 0;
}

/* The segment containing [a, a + len) with all of (prot), or NULL. */
static const struct image_segment *segment_of(const struct image_info *info,
                                              uint64_t a, uint64_t len,
                                              uint32_t prot)
{
    for (unsigned i = 0; i < info->nsegs; i++) {
        const struct image_segment *s = &info->seg[i];
        if (a >= s->vaddr && len <= s->memsz &&
            a - s->vaddr <= s->memsz - len && (s->prot & prot) == prot)
            return s;
    }
    return NULL;
}

static int parse_notes(Elf *elf, const GElf_Phdr *ph, size_t len,
                       struct image_info *info, int *nabi, int *nmanifest,
                       struct lvm_err *err)
{
    if (ph->p_offset > len || ph->p_filesz > len - ph->p_offset)
        return lvm_err_set(err, 0, "note segment lies outside the file");
    Elf_Data *data = elf_getdata_rawchunk(elf, (int64_t)ph->p_offset,
                                          ph->p_filesz, ELF_T_NHDR);
    if (!data)
        return lvm_err_set(err, 0, "unreadable note segment: %s",
                           elf_errmsg(-1));
    size_t off = 0, name_off, desc_off;
    GElf_Nhdr nh;
    while (off < data->d_size) {
        size_t next = gelf_getnote(data, off, &nh, &name_off, &desc_off);
        if (next == 0)
            return lvm_err_set(err, 0, "malformed note in the note segment");
        off = next;
        const char *name = (const char *)data->d_buf + name_off;
        const char *desc = (const char *)data->d_buf + desc_off;
        if (nh.n_namesz != sizeof LVM_NOTE_OWNER ||
            memcmp(name, LVM_NOTE_OWNER, sizeof LVM_NOTE_OWNER) != 0)
            continue;
        if (nh.n_type == LVM_NOTE_ABI) {
            if (++*nabi > 1)
                return lvm_err_set(err, 0, "more than one ABI note");
            if (nh.n_descsz != sizeof info->abi)
                return lvm_err_set(err, 0, "ABI note has the wrong size");
            memcpy(&info->abi, desc, sizeof info->abi);
        } else if (nh.n_type == LVM_NOTE_MANIFEST) {
            if (++*nmanifest > 1)
                return lvm_err_set(err, 0, "more than one manifest");
            if (parse_manifest(desc, nh.n_descsz, info, err) < 0)
                return -1;
        }
    }
    return 0;
}

static int parse_load(const GElf_Phdr *ph, size_t len, struct image_info *info,
                      struct lvm_err *err)
{
    unsigned i = info->nsegs;
    if (i == IMAGE_MAX_SEGS)
        return lvm_err_set(err, 0, "more than %d loadable segments",
                           IMAGE_MAX_SEGS);
    if (ph->p_memsz == 0)
        return lvm_err_set(err, 0, "segment %u is empty", i);
    if (ph->p_filesz > ph->p_memsz)
        return lvm_err_set(err, 0, "segment %u has more file than memory", i);
    if (ph->p_offset > len || ph->p_filesz > len - ph->p_offset)
        return lvm_err_set(err, 0,
                           "segment %u extends past the end of the file", i);
    if (ph->p_align > 1 && (ph->p_align & (ph->p_align - 1)))
        return lvm_err_set(err, 0, "segment %u alignment is not a power of two",
                           i);
    if ((ph->p_vaddr - ph->p_offset) % PAGE)
        return lvm_err_set(err, 0,
                           "segment %u address and file offset disagree modulo "
                           "the page size",
                           i);
    uint64_t ram_end = LVM_RAM_BASE + LVM_RAM_MAX;
    if (ph->p_vaddr < LVM_RAM_BASE || ph->p_memsz > ram_end - LVM_RAM_BASE ||
        ph->p_vaddr > ram_end - ph->p_memsz)
        return lvm_err_set(err, 0,
                           "segment %u at %#llx+%#llx lies outside guest RAM "
                           "(link guests at %#llx with lightvm-cc)",
                           i, (unsigned long long)ph->p_vaddr,
                           (unsigned long long)ph->p_memsz,
                           (unsigned long long)LVM_RAM_BASE);
    if ((ph->p_flags & PF_W) && (ph->p_flags & PF_X))
        return lvm_err_set(err, 0, "segment %u is writable and executable", i);
    if (i > 0) {
        const struct image_segment *prev = &info->seg[i - 1];
        if (page_down(ph->p_vaddr) < page_up(prev->vaddr + prev->memsz))
            return lvm_err_set(err, 0,
                               "segment %u overlaps segment %u (or shares its "
                               "page, or is out of order)",
                               i, i - 1);
    }
    struct image_segment *s = &info->seg[i];
    s->vaddr = ph->p_vaddr;
    s->memsz = ph->p_memsz;
    s->offset = ph->p_offset;
    s->filesz = ph->p_filesz;
    s->prot = ((ph->p_flags & PF_R) ? PROT_READ : 0) |
              ((ph->p_flags & PF_W) ? PROT_WRITE : 0) |
              ((ph->p_flags & PF_X) ? PROT_EXEC : 0);
    info->nsegs++;
    return 0;
}

static int check_ehdr(const GElf_Ehdr *eh, struct lvm_err *err)
{
    if (eh->e_ident[EI_DATA] != ELFDATA2LSB)
        return lvm_err_set(err, 0, "not a little-endian ELF");
    if (eh->e_ident[EI_VERSION] != EV_CURRENT || eh->e_version != EV_CURRENT)
        return lvm_err_set(err, 0, "unknown ELF version");
    if (eh->e_ident[EI_OSABI] != ELFOSABI_SYSV &&
        eh->e_ident[EI_OSABI] != ELFOSABI_LINUX)
        return lvm_err_set(err, 0, "ELF OS ABI %u is not System V or Linux",
                           eh->e_ident[EI_OSABI]);
    if (eh->e_machine != EM_X86_64)
        return lvm_err_set(err, 0, "ELF machine %u is not x86_64",
                           eh->e_machine);
    if (eh->e_type == ET_DYN)
        return lvm_err_set(err, 0,
                           "position-independent executable; guests are "
                           "static, linked at %#llx (build with lightvm-cc)",
                           (unsigned long long)LVM_RAM_BASE);
    if (eh->e_type != ET_EXEC)
        return lvm_err_set(err, 0, "ELF type %u is not an executable",
                           eh->e_type);
    if (eh->e_phentsize != sizeof(Elf64_Phdr))
        return lvm_err_set(err, 0, "program header size %u is not %zu",
                           eh->e_phentsize, sizeof(Elf64_Phdr));
    return 0;
}

static int parse_elf(Elf *elf, size_t len, struct image_info *info,
                     struct lvm_err *err)
{
    if (elf_kind(elf) != ELF_K_ELF)
        return lvm_err_set(err, 0, "not an ELF file");
    if (gelf_getclass(elf) != ELFCLASS64)
        return lvm_err_set(err, 0, "not a 64-bit ELF");
    GElf_Ehdr eh;
    if (!gelf_getehdr(elf, &eh))
        return lvm_err_set(err, 0, "unreadable ELF header: %s", elf_errmsg(-1));
    if (check_ehdr(&eh, err) < 0)
        return -1;
    if (eh.e_phnum == 0)
        return lvm_err_set(err, 0, "no program headers");
    if (eh.e_phnum == PN_XNUM || eh.e_phnum > 64)
        return lvm_err_set(err, 0, "too many program headers (at most 64)");
    if (eh.e_phoff > len ||
        (size_t)eh.e_phnum * sizeof(Elf64_Phdr) > len - eh.e_phoff)
        return lvm_err_set(err, 0, "program headers lie outside the file");
    size_t phnum;
    if (elf_getphdrnum(elf, &phnum) != 0 || phnum != eh.e_phnum)
        return lvm_err_set(err, 0, "unreadable program headers: %s",
                           elf_errmsg(-1));
    info->phnum = (uint16_t)phnum;
    info->phentsize = eh.e_phentsize;
    info->phoff = eh.e_phoff;
    info->entry = eh.e_entry;

    int nabi = 0, nmanifest = 0, ntls = 0;
    GElf_Phdr tls;
    for (size_t i = 0; i < phnum; i++) {
        GElf_Phdr ph;
        if (!gelf_getphdr(elf, (int)i, &ph))
            return lvm_err_set(err, 0, "unreadable program header %zu", i);
        switch (ph.p_type) {
        case PT_LOAD:
            if (parse_load(&ph, len, info, err) < 0)
                return -1;
            break;
        case PT_NOTE:
            if (parse_notes(elf, &ph, len, info, &nabi, &nmanifest, err) < 0)
                return -1;
            break;
        case PT_INTERP:
        case PT_DYNAMIC:
            return lvm_err_set(err, 0,
                               "dynamically linked; guests must be static");
        case PT_TLS:
            if (++ntls > 1)
                return lvm_err_set(err, 0, "more than one TLS segment");
            tls = ph;
            break;
        case PT_GNU_STACK:
            if (ph.p_flags & PF_X)
                return lvm_err_set(err, 0, "asks for an executable stack");
            break;
        case PT_NULL:
        case PT_PHDR:
        case PT_GNU_RELRO:
        case PT_GNU_EH_FRAME:
        case PT_GNU_PROPERTY: break;
        default:
            return lvm_err_set(err, 0, "unsupported program header type %#x",
                               (unsigned)ph.p_type);
        }
    }
    if (info->nsegs == 0)
        return lvm_err_set(err, 0, "no loadable segments");
    if (ntls && (tls.p_filesz > tls.p_memsz ||
                 !segment_of(info, tls.p_vaddr, tls.p_filesz, PROT_READ)))
        return lvm_err_set(err, 0, "TLS segment lies outside loaded memory");
    if (!segment_of(info, info->entry, 1, PROT_EXEC))
        return lvm_err_set(err, 0,
                           "entry point %#llx is not in executable code",
                           (unsigned long long)info->entry);
    if (nabi == 0)
        return lvm_err_set(
            err, 0, "no lightvm ABI note: not built with the lightvm SDK");
    if (nmanifest == 0)
        return lvm_err_set(err, 0, "no lightvm manifest");
    if (info->abi.abi_version != LVM_ABI_VERSION)
        return lvm_err_set(
            err, 0,
            "built for guest ABI version %u; this lightvm speaks "
            "%u",
            info->abi.abi_version, LVM_ABI_VERSION);
    if (!segment_of(info, info->abi.sigsys_entry, 1, PROT_EXEC) ||
        !segment_of(info, info->abi.sigreturn_entry, 1, PROT_EXEC) ||
        !segment_of(info, info->abi.syscall_entry, 1, PROT_EXEC) ||
        !segment_of(info, info->abi.resume_entry, 1, PROT_EXEC))
        return lvm_err_set(err, 0, "ABI note entry points are not in code");
    const struct image_segment *last = &info->seg[info->nsegs - 1];
    info->image_end = page_up(last->vaddr + last->memsz);
    /* Program headers visible to the guest (musl finds TLS through them). */
    for (unsigned i = 0; i < info->nsegs; i++) {
        const struct image_segment *s = &info->seg[i];
        uint64_t bytes = (uint64_t)phnum * sizeof(Elf64_Phdr);
        if (info->phoff >= s->offset && bytes <= s->filesz &&
            info->phoff - s->offset <= s->filesz - bytes) {
            info->phdr_vaddr = s->vaddr + (info->phoff - s->offset);
            break;
        }
    }
    return 0;
}

/* Parse (buf), which libelf may use as its own: (owned) says it is a
 * private copy already, else libelf gets one. */
static int parse_buffer(const void *buf, size_t len, int owned,
                        struct image_info *info, struct lvm_err *err);

int image_parse(const void *buf, size_t len, struct image_info *info,
                struct lvm_err *err)
{
    return parse_buffer(buf, len, 0, info, err);
}

static int parse_buffer(const void *buf, size_t len, int owned,
                        struct image_info *info, struct lvm_err *err)
{
    memset(info, 0, sizeof *info);
    info->file_size = len;
    if (len == 0)
        return lvm_err_set(err, 0, "empty file");
    if (len < sizeof(Elf64_Ehdr))
        return lvm_err_set(err, 0,
                           "truncated: %zu bytes is smaller than an "
                           "ELF header",
                           len);
    if (len > IMAGE_MAX_FILE)
        return lvm_err_set(err, 0, "too large: %zu bytes (at most %u)", len,
                           IMAGE_MAX_FILE);
    if (memcmp(buf, ELFMAG, SELFMAG) != 0)
        return lvm_err_set(err, 0, "not an ELF file");
    elf_version(EV_CURRENT);
    /* libelf converts a foreign byte order in place: only our native
     * little-endian files may be handed to it without a copy (a foreign
     * one is refused right after, by parse_elf). */
    const unsigned char *ident = buf;
    char *copy = NULL;
    if (!owned || ident[EI_DATA] != ELFDATA2LSB) {
        copy = malloc(len);
        if (!copy)
            return lvm_err_set(err, ENOMEM, "copy the image");
        memcpy(copy, buf, len);
    }
    Elf *elf = elf_memory(copy ? copy : (char *)buf, len);
    int r;
    if (!elf)
        r = lvm_err_set(err, 0, "not a readable ELF: %s", elf_errmsg(-1));
    else
        r = parse_elf(elf, len, info, err);
    if (elf)
        elf_end(elf);
    free(copy);
    return r;
}

static int read_fd(int fd, const char *path, void **out, size_t *len,
                   struct lvm_err *err)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return lvm_err_set(err, errno, "stat %s", path);
    if (!S_ISREG(st.st_mode))
        return lvm_err_set(err, 0, "%s is not a regular file", path);
    if ((uint64_t)st.st_size > IMAGE_MAX_FILE)
        return lvm_err_set(err, 0, "%s: too large: %lld bytes (at most %u)",
                           path, (long long)st.st_size, IMAGE_MAX_FILE);
    size_t n = (size_t)st.st_size;
    /* Populated in one go: a fault per page, each a trap to the
     * hypervisor on a virtual machine, cost more here than the read. */
    char *buf = mmap(NULL, n ? n : 1, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (buf == MAP_FAILED)
        return lvm_err_set(err, ENOMEM, "read %s", path);
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(fd, buf + done, n - done, (off_t)done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = r < 0 ? errno : 0;
            munmap(buf, n ? n : 1);
            return lvm_err_set(err, e, "read %s%s", path,
                               e ? "" : ": it shrank while being read");
        }
        done += (size_t)r;
    }
    *out = buf;
    *len = n;
    return 0;
}

/*
 * The template: the file-backed pages of every segment, at their offset
 * from LVM_RAM_BASE, allocated (so guests' read faults never grow it) and
 * sealed. Only file-backed pages: a segment's bss past its last file page
 * is mapped anonymous in each guest (plan.c), so a small file with a huge
 * bss cannot make the toolstack hold that much memory.
 */
static int make_template(struct image *img, struct lvm_err *err)
{
    const struct image_info *info = &img->info;
    char name[80];
    snprintf(name, sizeof name, "lightvm-image:%s", img->name);
    int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return lvm_err_set(err, errno, "create the image template");
    uint64_t size = 0;
    for (unsigned i = 0; i < info->nsegs; i++) {
        const struct image_segment *s = &info->seg[i];
        if (s->filesz && page_up(s->vaddr + s->filesz) - LVM_RAM_BASE > size)
            size = page_up(s->vaddr + s->filesz) - LVM_RAM_BASE;
    }
    if (ftruncate(fd, (off_t)size) < 0) {
        close(fd);
        return lvm_err_set(err, errno, "size the template");
    }
    for (unsigned i = 0; i < info->nsegs; i++) {
        const struct image_segment *s = &info->seg[i];
        if (!s->filesz)
            continue;
        uint64_t lo = page_down(s->vaddr) - LVM_RAM_BASE;
        uint64_t hi = page_up(s->vaddr + s->filesz) - LVM_RAM_BASE;
        if (fallocate(fd, 0, (off_t)lo, (off_t)(hi - lo)) < 0) {
            close(fd);
            return lvm_err_set(err, errno, "allocate the template");
        }
    }
    const char *file = img->file;
    for (unsigned i = 0; i < info->nsegs; i++) {
        const struct image_segment *s = &info->seg[i];
        size_t done = 0;
        while (done < s->filesz) {
            ssize_t r = pwrite(fd, file + s->offset + done, s->filesz - done,
                               (off_t)(s->vaddr - LVM_RAM_BASE + done));
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0) {
                close(fd);
                return lvm_err_set(err, r < 0 ? errno : EIO,
                                   "write segment %u into the template", i);
            }
            done += (size_t)r;
        }
    }
    if (fcntl(fd, F_ADD_SEALS,
              F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
        close(fd);
        return lvm_err_set(err, errno, "seal the image template");
    }
    img->template_fd = fd;
    return 0;
}

int image_load_fd(int fd, const char *path, struct image **out,
                  struct lvm_err *err)
{
    struct image *img = calloc(1, sizeof *img);
    if (!img)
        return lvm_err_set(err, ENOMEM, "load %s", path);
    img->template_fd = -1;
    snprintf(img->path, sizeof img->path, "%s", path);
    const char *base = strrchr(path, '/');
    snprintf(img->name, sizeof img->name, "%s", base ? base + 1 : path);
    char *dot = strrchr(img->name, '.');
    if (dot && strcmp(dot, ".elf") == 0)
        *dot = 0;
    if (read_fd(fd, path, &img->file, &img->file_len, err) < 0) {
        image_free(img);
        return -1;
    }
    if (parse_buffer(img->file, img->file_len, 1, &img->info, err) < 0) {
        lvm_err_wrap(err, "%s", path);
        image_free(img);
        return -1;
    }
    if (make_template(img, err) < 0) {
        image_free(img);
        return -1;
    }
    *out = img;
    return 0;
}

int image_load(const char *path, struct image **out, struct lvm_err *err)
{
    /* Never block on a FIFO or a device given as an image. */
    int fd = fs_open_data(path, 0, 0, err);
    if (fd < 0)
        return -1;
    int r = image_load_fd(fd, path, out, err);
    close(fd);
    return r;
}

void image_free(struct image *img)
{
    if (!img)
        return;
    if (img->template_fd >= 0)
        close(img->template_fd);
    if (img->file)
        munmap(img->file, img->file_len ? img->file_len : 1);
    free(img);
}
