/*
 * kvm_mem.c: guest memory from the plan. The same maps proc makes (boot
 * info, device and status pages, the image copy-on-write from its
 * template, heap, stack), at the same addresses, here in the monitor's
 * address space where the memory slots point. Hypercall buffers are
 * checked against these maps before the monitor touches them: a guest
 * pointer into its guard page, past its RAM or into read-only memory gets
 * an error, as a proc guest's system call would get EFAULT, and never
 * faults the monitor.
 */
#include "shell/kvm/kvm.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

static int in_range(uint64_t a, uint64_t len, uint64_t lo, uint64_t hi)
{
    return a >= lo && len <= hi - lo && a - lo <= hi - lo - len;
}

static void check_plan(const struct lvm_msg_plan *p, int nfds)
{
    if (p->nmaps > LVM_PLAN_MAX_MAPS || p->ncopies > LVM_PLAN_MAX_COPIES ||
        p->nfds > LVM_PLAN_MAX_FDS)
        kvm_fail(EINVAL, "plan has too many entries");
    if (p->ram_end <= LVM_RAM_BASE || p->ram_end % KVM_PAGE ||
        p->ram_end - LVM_RAM_BASE < LVM_RAM_MIN ||
        p->ram_end - LVM_RAM_BASE > LVM_RAM_MAX)
        kvm_fail(EINVAL, "plan RAM end out of range");
    for (uint32_t i = 0; i < p->nmaps; i++) {
        const struct lvm_plan_map *m = &p->maps[i];
        if ((m->addr | m->len | m->offset) & (KVM_PAGE - 1) || !m->len)
            kvm_fail(EINVAL, "map %u not page aligned", i);
        /* Monitor pages below the private ones, or RAM: never the pages
         * that hold the guest's GDT, IDT and page tables. */
        if (!in_range(m->addr, m->len, LVM_MON_BASE, LVM_MON_PRIVATE_ADDR) &&
            !in_range(m->addr, m->len, LVM_RAM_BASE, p->ram_end))
            kvm_fail(EINVAL, "map %u outside the guest region", i);
        if (m->kind != LVM_MAP_ANON && (m->fd_index < 0 || m->fd_index >= nfds))
            kvm_fail(EINVAL, "map %u names a missing fd", i);
        if (m->kind < LVM_MAP_ANON || m->kind > LVM_MAP_FILE_SHARED)
            kvm_fail(EINVAL, "map %u has an unknown kind", i);
        if (m->prot & ~(unsigned)(PROT_READ | PROT_WRITE | PROT_EXEC) ||
            (m->prot & PROT_WRITE && m->prot & PROT_EXEC))
            kvm_fail(EINVAL, "map %u is writable and executable", i);
        for (uint32_t j = 0; j < i; j++) {
            const struct lvm_plan_map *o = &p->maps[j];
            if (m->addr < o->addr + o->len && o->addr < m->addr + m->len)
                kvm_fail(EINVAL, "maps %u and %u overlap", j, i);
        }
    }
    for (uint32_t i = 0; i < p->ncopies; i++) {
        const struct lvm_plan_copy *c = &p->copies[i];
        if (c->data_off > p->data_len || c->len > p->data_len - c->data_off)
            kvm_fail(EINVAL, "copy %u outside the plan's data", i);
    }
    if (p->bpf_len == 0 || p->bpf_len > LVM_PLAN_MAX_BPF ||
        p->bpf_off > p->data_len ||
        (uint64_t)p->bpf_len * 8 > p->data_len - p->bpf_off)
        kvm_fail(EINVAL, "plan has no valid seccomp filter for the monitor");
    if (p->report_fd_index < 0 || p->report_fd_index >= nfds)
        kvm_fail(EINVAL, "plan has no report page");
}

/* The map containing [a, a + len), or NULL. */
static const struct lvm_plan_map *find_map(const struct lvm_msg_plan *p,
                                           uint64_t a, uint64_t len)
{
    for (uint32_t i = 0; i < p->nmaps; i++)
        if (in_range(a, len, p->maps[i].addr, p->maps[i].addr + p->maps[i].len))
            return &p->maps[i];
    return NULL;
}

static void add_region(struct kvm_monitor *m, const struct lvm_plan_map *map)
{
    /* Insertion sort: at most LVM_PLAN_MAX_MAPS entries. */
    unsigned i = m->nregions++;
    while (i > 0 && m->region[i - 1].start > map->addr) {
        m->region[i] = m->region[i - 1];
        i--;
    }
    m->region[i] =
        (struct kvm_region){map->addr, map->addr + map->len, map->prot};
}

void kvm_mem_map(struct kvm_monitor *m, const struct lvm_msg_plan *p,
                 const int *fds, int nfds)
{
    check_plan(p, nfds);
    const char *data = (const char *)(p + 1);
    m->nregions = 0;
    for (uint32_t i = 0; i < p->nmaps; i++) {
        const struct lvm_plan_map *map = &p->maps[i];
        int prot = (int)map->prot, fd = -1;
        /* MAP_FIXED is safe here: the range is the monitor's own
         * reservation (kvm_vm.c), checked above. */
        int flags = MAP_FIXED;
        for (uint32_t k = 0; k < p->ncopies; k++)
            if (find_map(p, p->copies[k].addr, p->copies[k].len) == map)
                prot |= PROT_WRITE; /* while the plan's data is copied */
        if (map->kind == LVM_MAP_ANON) {
            flags |= MAP_PRIVATE | MAP_ANONYMOUS;
        } else {
            flags |=
                map->kind == LVM_MAP_FILE_SHARED ? MAP_SHARED : MAP_PRIVATE;
            fd = fds[map->fd_index];
        }
        void *r = mmap((void *)(uintptr_t)map->addr, map->len, prot, flags, fd,
                       (off_t)map->offset);
        if (r == MAP_FAILED)
            kvm_fail(errno, "map guest memory at %#llx",
                     (unsigned long long)map->addr);
        add_region(m, map);
    }
    for (uint32_t k = 0; k < p->ncopies; k++) {
        const struct lvm_plan_copy *c = &p->copies[k];
        if (!find_map(p, c->addr, c->len))
            kvm_fail(EINVAL, "copy %u lands outside guest memory", k);
        memcpy((void *)(uintptr_t)c->addr, data + c->data_off, c->len);
    }
    for (uint32_t i = 0; i < p->nmaps; i++) {
        const struct lvm_plan_map *map = &p->maps[i];
        if (mprotect((void *)(uintptr_t)map->addr, map->len, (int)map->prot) <
            0)
            kvm_fail(errno, "protect guest memory");
    }
    if (!kvm_mem_ok(m, LVM_DEVPAGE_ADDR, KVM_PAGE, PROT_READ) ||
        !kvm_mem_ok(m, LVM_STATUS_ADDR, KVM_PAGE, PROT_READ | PROT_WRITE) ||
        !kvm_mem_ok(m, LVM_BOOTINFO_ADDR, KVM_PAGE, PROT_READ))
        kvm_fail(EINVAL, "plan lacks the boot info, device or status page");
    m->dp = (const volatile struct lvm_devpage *)(uintptr_t)LVM_DEVPAGE_ADDR;
    m->st = (volatile struct lvm_status *)(uintptr_t)LVM_STATUS_ADDR;
    m->ram_end = p->ram_end;
}

void kvm_mem_map_report(struct kvm_monitor *m, int fd)
{
    struct stat st;
    if (fstat(fd, &st) < 0 ||
        (uint64_t)st.st_size < LVM_REPORT_OFFSET + KVM_PAGE)
        kvm_fail(EINVAL, "the device-page memfd has no report page");
    void *p = mmap(NULL, KVM_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
                   LVM_REPORT_OFFSET);
    if (p == MAP_FAILED)
        kvm_fail(errno, "map the report page");
    m->report = p;
}

int kvm_mem_ok(const struct kvm_monitor *m, uint64_t addr, uint64_t len,
               uint32_t prot)
{
    if (len == 0)
        return 1;
    if (addr + len < addr)
        return 0;
    uint64_t end = addr + len;
    for (unsigned i = 0; i < m->nregions && addr < end; i++) {
        const struct kvm_region *r = &m->region[i];
        if (r->end <= addr)
            continue;
        if (r->start > addr || (r->prot & prot) != prot)
            return 0; /* a hole, or the wrong protection */
        addr = r->end;
    }
    return addr >= end;
}
