/*
 * mem.c: the guest's memory, served to musl's malloc through brk and mmap.
 *
 * Guest RAM between the image and the stack is one region of free pages,
 * kept as a sorted list of free extents. brk grows from the bottom of the
 * region, anonymous mmap takes pages from the top, munmap gives them back.
 * Pages handed out are zero, as Linux promises: pages never used are zero
 * already, and reused ones are cleared when allocated again.
 */
#include "sdk.h"

#include <errno.h>
#include <sys/mman.h>

#define PAGE 4096ul
#define MAX_EXTENTS 256

struct extent {
    uintptr_t start, end; /* [start, end), page aligned */
};

static struct extent free_ext[MAX_EXTENTS];
static unsigned nfree;
static uintptr_t heap_start, heap_end;
static uintptr_t brk_cur;  /* current break */
static uintptr_t brk_high; /* highest break ever: below may be dirty */
static uintptr_t mmap_low; /* lowest mmap ever: above may be dirty */

static uintptr_t page_up(uintptr_t a)
{
    return (a + PAGE - 1) & ~(PAGE - 1);
}

void lvm__mem_init(uintptr_t start, uintptr_t end)
{
    heap_start = page_up(start);
    heap_end = end & ~(PAGE - 1);
    brk_cur = brk_high = heap_start;
    mmap_low = heap_end;
    nfree = 0;
    if (heap_end > heap_start) {
        free_ext[0].start = heap_start;
        free_ext[0].end = heap_end;
        nfree = 1;
    }
}

/* Clear the part of [a, b) that may have been written before. */
static void zero_dirty(uintptr_t a, uintptr_t b)
{
    uintptr_t lo = a, hi = b < brk_high ? b : brk_high;
    if (hi > lo)
        lvm__memzero((void *)lo, hi - lo);
    lo = a > mmap_low ? a : mmap_low;
    hi = b;
    if (hi > lo)
        lvm__memzero((void *)lo, hi - lo);
}

static void remove_at(unsigned i)
{
    for (; i + 1 < nfree; i++)
        free_ext[i] = free_ext[i + 1];
    nfree--;
}

/* Take [a, b) out of the free list; it must lie inside one extent. */
static int take(uintptr_t a, uintptr_t b)
{
    for (unsigned i = 0; i < nfree; i++) {
        struct extent *e = &free_ext[i];
        if (a < e->start || b > e->end)
            continue;
        if (a == e->start && b == e->end) {
            remove_at(i);
        } else if (a == e->start) {
            e->start = b;
        } else if (b == e->end) {
            e->end = a;
        } else {
            if (nfree == MAX_EXTENTS)
                return -ENOMEM;
            for (unsigned j = nfree; j > i + 1; j--)
                free_ext[j] = free_ext[j - 1];
            free_ext[i + 1].start = b;
            free_ext[i + 1].end = e->end;
            e->end = a;
            nfree++;
        }
        return 0;
    }
    return -ENOMEM;
}

/* Return [a, b) to the free list, merging with neighbours. */
static int give(uintptr_t a, uintptr_t b)
{
    unsigned i = 0;
    while (i < nfree && free_ext[i].start < a)
        i++;
    if (i > 0 && free_ext[i - 1].end > a)
        return -EINVAL; /* overlaps a free extent: not allocated */
    if (i < nfree && free_ext[i].start < b)
        return -EINVAL;
    int merge_prev = i > 0 && free_ext[i - 1].end == a;
    int merge_next = i < nfree && free_ext[i].start == b;
    if (merge_prev && merge_next) {
        free_ext[i - 1].end = free_ext[i].end;
        remove_at(i);
    } else if (merge_prev) {
        free_ext[i - 1].end = b;
    } else if (merge_next) {
        free_ext[i].start = a;
    } else {
        if (nfree == MAX_EXTENTS)
            return -ENOMEM;
        for (unsigned j = nfree; j > i; j--)
            free_ext[j] = free_ext[j - 1];
        free_ext[i].start = a;
        free_ext[i].end = b;
        nfree++;
    }
    return 0;
}

static int is_free(uintptr_t a, uintptr_t b)
{
    for (unsigned i = 0; i < nfree; i++)
        if (a >= free_ext[i].start && b <= free_ext[i].end)
            return 1;
    return 0;
}

long lvm__brk(uintptr_t addr)
{
    if (addr == 0 || addr < heap_start)
        return (long)brk_cur;
    uintptr_t want = page_up(addr), have = page_up(brk_cur);
    if (want > have) {
        if (take(have, want) < 0)
            return (long)brk_cur; /* Linux reports failure this way */
        zero_dirty(have, want);
        if (want > brk_high)
            brk_high = want;
    } else if (want < have) {
        give(want, have);
    }
    brk_cur = addr;
    return (long)brk_cur;
}

long lvm__mmap(uintptr_t addr, size_t len, int prot, int flags, int fd,
               long off)
{
    (void)prot;
    (void)off;
    if (!(flags & MAP_ANONYMOUS) || fd != -1)
        return -ENODEV; /* the file tree's files cannot be mapped */
    if (len == 0 || len > heap_end - heap_start)
        return -ENOMEM;
    uintptr_t size = page_up(len);
    if (flags & MAP_FIXED) {
        if (addr & (PAGE - 1))
            return -EINVAL;
        if (addr < heap_start || addr + size > heap_end || addr + size < addr)
            return -ENOMEM;
        /* musl maps a guard page at the break; free pages are taken,
         * pages already in use are left as they are. */
        if (is_free(addr, addr + size) && take(addr, addr + size) == 0)
            zero_dirty(addr, addr + size);
        return (long)addr;
    }
    /* Top-down first fit keeps mmap away from the break. */
    for (unsigned i = nfree; i-- > 0;) {
        struct extent *e = &free_ext[i];
        if (e->end - e->start < size)
            continue;
        uintptr_t a = e->end - size;
        if (take(a, a + size) < 0)
            return -ENOMEM;
        zero_dirty(a, a + size);
        if (a < mmap_low)
            mmap_low = a;
        return (long)a;
    }
    return -ENOMEM;
}

long lvm__munmap(uintptr_t addr, size_t len)
{
    if ((addr & (PAGE - 1)) || len == 0)
        return -EINVAL;
    uintptr_t end = page_up(addr + len);
    if (addr < heap_start || end > heap_end || end < addr)
        return -EINVAL;
    int r = give(addr, end);
    return r == -EINVAL ? 0 : r; /* unmapping free pages is not an error */
}

long lvm__madvise(uintptr_t addr, size_t len, int advice)
{
    if (advice == MADV_DONTNEED && addr >= heap_start &&
        addr + len <= heap_end && addr + len >= addr)
        lvm__memzero((void *)addr, len);
    return 0;
}

size_t lvm__mem_free_bytes(void)
{
    size_t n = 0;
    for (unsigned i = 0; i < nfree; i++)
        n += free_ext[i].end - free_ext[i].start;
    return n;
}
