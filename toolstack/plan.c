/*
 * plan.c: the parts of a launch plan every unikernel monitor shares: boot
 * info, the initial stack and the guest's memory map.
 */
#include "toolstack/guest.h"
#include "toolstack/layout.h"
#include "toolstack/monitor.h"

#include <errno.h>
#include <linux/filter.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>

int attach_fd(struct attach *a, int fd, int target, struct lvm_err *err)
{
    if (a->nfds == LVM_PLAN_MAX_FDS ||
        (target >= 0 && a->nmap == LVM_PLAN_MAX_FDS))
        return lvm_err_set(err, E2BIG, "too many fds for one guest");
    int index = a->nfds++;
    a->fds[index] = fd;
    if (target >= 0)
        a->map[a->nmap++] = (struct lvm_plan_fd){index, target};
    return index;
}

long plan_data(struct plan_builder *b, const void *data, size_t len)
{
    size_t at = (b->used + 7) & ~(size_t)7;
    if (at > LVM_PLAN_MAX_DATA || len > LVM_PLAN_MAX_DATA - at)
        return -1;
    memcpy(b->data + at, data, len);
    b->used = at + len;
    return (long)at;
}

/* The Linux-style initial stack of a booting guest, with its seed. */
static int initial_stack(struct plan_builder *b, const struct lvm_host *h,
                         const struct image *img, const struct guest_spec *spec,
                         const struct layout *lay, uint64_t *sp,
                         uint64_t *seed_addr, struct lvm_err *err)
{
    struct layout_args la = {.argc = spec->argc,
                             .argv = spec->argv,
                             .envc = spec->envc,
                             .envp = spec->envp,
                             .hwcap = h->hwcap};
    if (getrandom(la.seed, sizeof la.seed, 0) != sizeof la.seed ||
        getrandom(la.random, sizeof la.random, 0) != sizeof la.random)
        return lvm_err_set(err, errno, "getrandom");
    /* The initial stack is built straight into the plan's data. */
    size_t len;
    size_t at = (b->used + 15) & ~(size_t)15;
    int r = layout_stack(&img->info, img->file, lay, &la, b->data + at,
                         LVM_PLAN_MAX_DATA - at - (LVM_PLAN_MAX_DATA / 4), sp,
                         &len, seed_addr, err);
    explicit_bzero(la.seed, sizeof la.seed);
    if (r < 0)
        return -1;
    b->p->copies[b->p->ncopies++] =
        (struct lvm_plan_copy){*sp, (uint32_t)len, (uint32_t)at};
    b->used = at + len;
    return 0;
}

int plan_begin(struct plan_builder *b, unsigned kind, uint16_t binding,
               const struct lvm_host *h, const struct image *img,
               const struct guest_spec *spec, const struct guest *g,
               struct layout *lay, struct lvm_err *err)
{
    memset(b, 0, sizeof *b);
    if (layout_compute(&img->info, spec->ram_size, lay, err) < 0)
        return -1;
    /* Only the header is zeroed: the data area is written as it is
     * used, so its untouched pages never fault in. */
    b->p = malloc(sizeof *b->p + LVM_PLAN_MAX_DATA);
    if (!b->p)
        return lvm_err_set(err, ENOMEM, "allocate the plan");
    memset(b->p, 0, sizeof *b->p);
    b->data = (uint8_t *)(b->p + 1);
    b->p->hdr =
        (struct lvm_msg_hdr){LVM_PLAN_MAGIC, LVM_PLAN_VERSION, LVM_MSG_PLAN};
    b->p->monitor = kind;
    b->p->report_fd_index = -1;
    b->p->gate_fd_index = -1;

    uint32_t flags = 0;
    if (binding == LVM_BINDING_PROC && h->fsgsbase)
        flags |= LVM_BOOT_FSGSBASE;
    uint64_t sp, seed_addr = 0;
    if (spec->resume) {
        /* It continues on its own stack (__lvm_resume); this one only
         * satisfies the monitors' checks. Its seed comes in its status
         * page. */
        sp = lay->stack_top - 64;
    } else if (initial_stack(b, h, img, spec, lay, &sp, &seed_addr, err) < 0) {
        return -1;
    }
    struct lvm_bootinfo bi;
    layout_bootinfo(lay, binding, flags, g->id, g->name, spec->argc, spec->argv,
                    seed_addr, host_now_ns(), &bi);
    long off = plan_data(b, &bi, sizeof bi);
    b->p->copies[b->p->ncopies++] =
        (struct lvm_plan_copy){LVM_BOOTINFO_ADDR, sizeof bi, (uint32_t)off};
    b->p->stack_pointer = sp;
    return 0;
}

static int add_map(struct plan_builder *b, struct lvm_plan_map m,
                   struct lvm_err *err)
{
    if (b->p->nmaps == LVM_PLAN_MAX_MAPS)
        return lvm_err_set(err, E2BIG, "too many memory maps");
    b->p->maps[b->p->nmaps++] = m;
    return 0;
}

int plan_filter(struct plan_builder *b, struct sock_filter *bpf, size_t bpf_len,
                struct lvm_err *err)
{
    long off = bpf_len <= LVM_PLAN_MAX_BPF
                   ? plan_data(b, bpf, bpf_len * sizeof *bpf)
                   : -1;
    free(bpf);
    if (off < 0)
        return lvm_err_set(err, E2BIG, "seccomp filter too long");
    b->p->bpf_off = (uint32_t)off;
    b->p->bpf_len = (uint32_t)bpf_len;
    return 0;
}

int plan_guest_memory(struct plan_builder *b, const struct image *img,
                      const struct guest_spec *spec, const struct guest *g,
                      struct attach *a, const struct layout *lay, int *devp,
                      struct lvm_err *err)
{
    int tmpl = attach_fd(a, img->template_fd, -1, err);
    *devp = attach_fd(a, g->dev.fd, -1, err);
    int ram = spec->resume ? attach_fd(a, spec->resume->ram_fd, -1, err) : -1;
    if (tmpl < 0 || *devp < 0 || (spec->resume && ram < 0))
        return -1;
    return plan_memory(b, img, lay, tmpl, *devp, ram, err);
}

/* Guest memory that is written (writable segments, heap, stack): fresh
 * (ANON) when it boots, or the saved RAM's pages copy-on-write (fd index
 * (ram)) when it is restored. Read-only segments always come from the
 * image's template: a state file names the image it needs. */
static struct lvm_plan_map writable_map(uint64_t lo, uint64_t hi, uint32_t prot,
                                        int ram)
{
    if (ram < 0)
        return (struct lvm_plan_map){lo, hi - lo, 0, prot, LVM_MAP_ANON, -1, 0};
    return (struct lvm_plan_map){
        lo, hi - lo, lo - LVM_RAM_BASE, prot, LVM_MAP_FILE_PRIVATE, ram, 0};
}

int plan_memory(struct plan_builder *b, const struct image *img,
                const struct layout *lay, int tmpl, int devp, int ram,
                struct lvm_err *err)
{
    const uint64_t page = LVM_PAGE_SIZE;
    if (add_map(b,
                (struct lvm_plan_map){LVM_BOOTINFO_ADDR, page, 0, PROT_READ,
                                      LVM_MAP_ANON, -1, 0},
                err) < 0 ||
        add_map(b,
                (struct lvm_plan_map){LVM_DEVPAGE_ADDR, page, 0, PROT_READ,
                                      LVM_MAP_FILE_SHARED, devp, 0},
                err) < 0 ||
        add_map(b,
                (struct lvm_plan_map){
                    LVM_STATUS_ADDR, page, DEVPAGE_STATUS_OFFSET,
                    PROT_READ | PROT_WRITE, LVM_MAP_FILE_SHARED, devp, 0},
                err) < 0)
        return -1;
    for (unsigned i = 0; i < img->info.nsegs; i++) {
        /* File-backed pages copy-on-write from the template, the rest of
         * the segment (bss) anonymous, both with the segment's rights. */
        const struct image_segment *s = &img->info.seg[i];
        uint64_t lo = s->vaddr & ~(page - 1);
        uint64_t file_hi =
            s->filesz ? (s->vaddr + s->filesz + page - 1) & ~(page - 1) : lo;
        uint64_t hi = (s->vaddr + s->memsz + page - 1) & ~(page - 1);
        if (ram >= 0 && (s->prot & PROT_WRITE)) {
            if (add_map(b, writable_map(lo, hi, s->prot, ram), err) < 0)
                return -1;
            continue;
        }
        if (file_hi > lo && add_map(b,
                                    (struct lvm_plan_map){
                                        lo, file_hi - lo, lo - LVM_RAM_BASE,
                                        s->prot, LVM_MAP_FILE_PRIVATE, tmpl, 0},
                                    err) < 0)
            return -1;
        if (hi > file_hi &&
            add_map(b,
                    (struct lvm_plan_map){file_hi, hi - file_hi, 0, s->prot,
                                          LVM_MAP_ANON, -1, 0},
                    err) < 0)
            return -1;
    }
    const uint32_t rw = PROT_READ | PROT_WRITE;
    if (add_map(b, writable_map(lay->heap_start, lay->heap_end, rw, ram), err) <
            0 ||
        add_map(b, writable_map(lay->stack_bottom, lay->stack_top, rw, ram),
                err) < 0)
        return -1;
    b->p->ram_end = lay->ram_end;
    return 0;
}

void plan_end(struct plan_builder *b, const struct image *img,
              const struct guest_spec *spec, const struct guest *g,
              const struct attach *a, const struct layout *lay)
{
    struct lvm_msg_plan *p = b->p;
    p->nfds = a->nmap;
    memcpy(p->fds, a->map, sizeof(struct lvm_plan_fd) * a->nmap);
    p->entry = spec->resume ? img->info.abi.resume_entry : img->info.entry;
    p->sigsys_entry = img->info.abi.sigsys_entry;
    p->sigreturn_entry = img->info.abi.sigreturn_entry;
    p->syscall_entry = img->info.abi.syscall_entry;
    p->rlimit_fsize = guest_console_limit(spec->console_limit, 0);
    p->ram_end = lay->ram_end;
    p->data_len = (uint32_t)b->used;
    snprintf(p->comm, sizeof p->comm, "lvm-%s", g->name);
}
