/*
 * kvm_pagetables.c: the guest's page tables, an identity map of exactly
 * the memory it has, with the protections proc gives the same pages: code
 * read-only and executable, data and stack writable and no-execute, the
 * boot info and device pages read-only, the heap's guard page absent.
 * A stray access the proc guest would die of with SIGSEGV so faults here
 * too, and is reported. Guest pages are user pages (the guest runs at CPL
 * 3), and so is the `syscall` trampoline; the monitor's GDT, IDT, stubs
 * and exception stack are supervisor pages, and the page tables themselves
 * are not mapped at all.
 *
 * 2 MiB pages wherever a whole 2 MiB range has one protection (the heap),
 * 4 KiB pages at the edges. Accessed and dirty bits are preset, so a CPU
 * need not write the tables.
 */
#include "shell/kvm/kvm.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#define PTE_P (1ull << 0)
#define PTE_RW (1ull << 1)
#define PTE_US (1ull << 2)
#define PTE_A (1ull << 5)
#define PTE_D (1ull << 6)
#define PTE_PS (1ull << 7)
#define PTE_NX (1ull << 63)
#define TABLE_FLAGS (PTE_P | PTE_RW | PTE_US | PTE_A) /* leaves decide */
#define PROT_KERNEL 0x100 /* a monitor page: CPL 0 only */

#define SZ_2M (2ull << 20)
#define SZ_1G (1ull << 30)
#define MAX_RANGES (LVM_PLAN_MAX_MAPS + 4)

struct pt_builder {
    uint64_t next; /* next free table page */
    uint64_t *pml4, *pdpt;
    uint64_t *pd[4]; /* one per GiB of the first 4 */
};

static uint64_t *new_table(struct pt_builder *b)
{
    if (b->next + KVM_PAGE > KVM_PT_END)
        kvm_fail(ENOMEM, "the guest's page tables do not fit");
    uint64_t *t = (uint64_t *)(uintptr_t)b->next;
    memset(t, 0, KVM_PAGE);
    b->next += KVM_PAGE;
    return t;
}

static uint64_t leaf_flags(uint32_t prot)
{
    if (!(prot & (PROT_READ | PROT_WRITE | PROT_EXEC)))
        return 0;
    uint64_t f = PTE_P | PTE_A | PTE_D;
    if (!(prot & PROT_KERNEL))
        f |= PTE_US; /* the guest's own memory, for its ring 3 */
    if (prot & PROT_WRITE)
        f |= PTE_RW;
    if (!(prot & PROT_EXEC))
        f |= PTE_NX;
    return f;
}

static uint64_t *pd_of(struct pt_builder *b, uint64_t addr)
{
    unsigned gi = (unsigned)(addr / SZ_1G);
    if (gi >= 4)
        kvm_fail(EINVAL, "guest memory beyond 4 GiB");
    // cppcheck-suppress arrayIndexOutOfBoundsCond ; kvm_fail never returns
    if (!b->pd[gi]) {
        b->pd[gi] = new_table(b);
        b->pdpt[gi] = (uint64_t)(uintptr_t)b->pd[gi] | TABLE_FLAGS;
    }
    return b->pd[gi];
}

/* Map the 2 MiB at (chunk) from the sorted ranges (r, n). */
static void map_chunk(struct pt_builder *b, uint64_t chunk,
                      const struct kvm_region *r, unsigned n)
{
    uint64_t end = chunk + SZ_2M;
    unsigned i = 0;
    while (i < n && r[i].end <= chunk)
        i++;
    if (i == n || r[i].start >= end)
        return; /* nothing here */
    uint64_t *pde = &pd_of(b, chunk)[(chunk / SZ_2M) % 512];
    if (r[i].start <= chunk && r[i].end >= end) {
        /* One range covers it all (ranges do not overlap): a 2 MiB page. */
        uint64_t f = leaf_flags(r[i].prot);
        if (f)
            *pde = chunk | f | PTE_PS;
        return;
    }
    uint64_t *pt = new_table(b);
    *pde = (uint64_t)(uintptr_t)pt | TABLE_FLAGS;
    for (; i < n && r[i].start < end; i++) {
        uint64_t lo = r[i].start > chunk ? r[i].start : chunk;
        uint64_t hi = r[i].end < end ? r[i].end : end;
        uint64_t f = leaf_flags(r[i].prot);
        for (uint64_t a = lo; a < hi && f; a += KVM_PAGE)
            pt[(a - chunk) / KVM_PAGE] = a | f;
    }
}

void kvm_pagetables_build(struct kvm_monitor *m)
{
    /* The guest's regions and the monitor pages the CPU must reach, in
     * address order (the monitor pages sit below RAM). */
    struct kvm_region r[MAX_RANGES];
    unsigned n = 0;
    for (unsigned i = 0;
         i < m->nregions && m->region[i].start < KVM_XSTACK_ADDR; i++)
        r[n++] = m->region[i];
    r[n++] = (struct kvm_region){KVM_XSTACK_ADDR, KVM_XSTACK_ADDR + KVM_PAGE,
                                 PROT_KERNEL | PROT_READ | PROT_WRITE};
    r[n++] = (struct kvm_region){KVM_GDT_ADDR, KVM_GDT_ADDR + KVM_PAGE,
                                 PROT_KERNEL | PROT_READ};
    r[n++] = (struct kvm_region){KVM_IDT_ADDR, KVM_IDT_ADDR + KVM_PAGE,
                                 PROT_KERNEL | PROT_READ};
    r[n++] = (struct kvm_region){KVM_STUBS_ADDR, KVM_STUBS_ADDR + KVM_PAGE,
                                 PROT_KERNEL | PROT_READ | PROT_EXEC};
    r[n++] = (struct kvm_region){KVM_TRAMP_ADDR, KVM_TRAMP_ADDR + KVM_PAGE,
                                 PROT_READ | PROT_EXEC};
    for (unsigned i = 0; i < m->nregions; i++)
        if (m->region[i].start >= KVM_XSTACK_ADDR)
            r[n++] = m->region[i];

    struct pt_builder b = {.next = KVM_PT_ADDR};
    b.pml4 = new_table(&b);
    b.pdpt = new_table(&b);
    b.pml4[0] = (uint64_t)(uintptr_t)b.pdpt | TABLE_FLAGS;
    uint64_t lo = LVM_MON_BASE & ~(SZ_2M - 1);
    uint64_t hi = (m->ram_end + SZ_2M - 1) & ~(SZ_2M - 1);
    for (uint64_t c = lo; c < hi; c += SZ_2M)
        map_chunk(&b, c, r, n);
}
