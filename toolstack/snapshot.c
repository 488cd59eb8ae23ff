/*
 * snapshot.c: take a parked guest's RAM, give a restored guest its status
 * page (see snapshot.h).
 */
#include "toolstack/snapshot.h"

#include "toolstack/guest.h"
#include "toolstack/layout.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define PAGE 4096ull
#define PM_PRESENT (1ull << 63)
#define PM_SWAPPED (1ull << 62)
#define BATCH 64 /* pages read at once */

int snapshot_parked(const struct guest *g)
{
    if (!g->dev.dp || !g->dev.st)
        return 0;
    return g->dev.st->suspended == LVM_SUSPENDED_SNAPSHOT &&
           g->dev.st->control_ack_seq == g->dev.dp->control_seq;
}

/* The pages to save, one bit each. */
struct pageset {
    uint64_t *bits;
    uint64_t npages;
};

static void mark(struct pageset *ps, uint64_t first, uint64_t count)
{
    for (uint64_t p = first; p < first + count && p < ps->npages; p++)
        ps->bits[p / 64] |= 1ull << (p % 64);
}

static int marked(const struct pageset *ps, uint64_t p)
{
    return (ps->bits[p / 64] >> (p % 64)) & 1;
}

/* Pages of [lo, hi) (guest addresses) that exist in the shell. */
static int mark_present(struct pageset *ps, int pagemap, uint64_t lo,
                        uint64_t hi, struct lvm_err *err)
{
    uint64_t buf[512];
    for (uint64_t a = lo; a < hi;) {
        uint64_t n = (hi - a) / PAGE;
        if (n > 512)
            n = 512;
        ssize_t got = pread(pagemap, buf, n * 8, (off_t)(a / PAGE * 8));
        if (got != (ssize_t)(n * 8))
            return lvm_err_set(err, got < 0 ? errno : EIO,
                               "read the guest's page map");
        for (uint64_t i = 0; i < n; i++)
            if (buf[i] & (PM_PRESENT | PM_SWAPPED))
                mark(ps, (a - LVM_RAM_BASE) / PAGE + i, 1);
        a += n * PAGE;
    }
    return 0;
}

/* Pages the saved RAM (base) holds. */
static int mark_base(struct pageset *ps, int base, struct lvm_err *err)
{
    off_t end = lseek(base, 0, SEEK_END);
    if (end < 0)
        return lvm_err_set(err, errno, "size the guest's saved RAM");
    for (off_t at = 0; at < end;) {
        off_t data = lseek(base, at, SEEK_DATA);
        if (data < 0)
            break; /* ENXIO: no more data */
        off_t hole = lseek(base, data, SEEK_HOLE);
        if (hole < 0)
            return lvm_err_set(err, errno, "read the guest's saved RAM");
        mark(ps, (uint64_t)data / PAGE,
             ((uint64_t)hole - (uint64_t)data + PAGE - 1) / PAGE);
        at = hole;
    }
    return 0;
}

static int all_zero(const uint8_t *p)
{
    const uint64_t *w = (const uint64_t *)(const void *)p;
    for (unsigned i = 0; i < PAGE / 8; i++)
        if (w[i])
            return 0;
    return 1;
}

/* Guest pages [first, first + count) from its shell, into (buf). */
static int read_guest(pid_t pid, uint64_t first, uint64_t count, uint8_t *buf,
                      struct lvm_err *err)
{
    struct iovec local = {buf, count * PAGE};
    struct iovec remote = {(void *)(uintptr_t)(LVM_RAM_BASE + first * PAGE),
                           count * PAGE};
    ssize_t got = process_vm_readv(pid, &local, 1, &remote, 1, 0);
    if (got != (ssize_t)(count * PAGE))
        return lvm_err_set(err, got < 0 ? errno : EIO,
                           "read the guest's memory at %#llx",
                           (unsigned long long)(LVM_RAM_BASE + first * PAGE));
    return 0;
}

/* Read marked pages [first, first + count) and hand the non-zero runs to
 * the sink. */
static int read_run(pid_t pid, uint64_t first, uint64_t count, uint8_t *buf,
                    snapshot_sink sink, void *arg, uint64_t *npages,
                    struct lvm_err *err)
{
    if (read_guest(pid, first, count, buf, err) < 0)
        return -1;
    uint64_t i = 0;
    while (i < count) {
        while (i < count && all_zero(buf + i * PAGE))
            i++;
        uint64_t start = i;
        while (i < count && !all_zero(buf + i * PAGE))
            i++;
        if (i > start) {
            if (sink(arg, first + start, i - start, buf + start * PAGE, err) <
                0)
                return -1;
            *npages += i - start;
        }
    }
    return 0;
}

static int mark_writable(struct pageset *ps, const struct image *img,
                         const struct layout *lay, int pagemap,
                         struct lvm_err *err)
{
    for (unsigned i = 0; i < img->info.nsegs; i++) {
        const struct image_segment *s = &img->info.seg[i];
        if (!(s->prot & PROT_WRITE))
            continue;
        uint64_t lo = s->vaddr & ~(PAGE - 1);
        uint64_t hi = (s->vaddr + s->memsz + PAGE - 1) & ~(PAGE - 1);
        uint64_t file_hi =
            s->filesz ? (s->vaddr + s->filesz + PAGE - 1) & ~(PAGE - 1) : lo;
        /* The image's initial data, read or not, is the guest's now. */
        mark(ps, (lo - LVM_RAM_BASE) / PAGE, (file_hi - lo) / PAGE);
        if (mark_present(ps, pagemap, lo, hi, err) < 0)
            return -1;
    }
    if (mark_present(ps, pagemap, lay->heap_start, lay->heap_end, err) < 0 ||
        mark_present(ps, pagemap, lay->stack_bottom, lay->stack_top, err) < 0)
        return -1;
    return 0;
}

/* The pages of (g) worth reading: those it may have written (present in
 * its shell), those of the saved RAM it came from (base_fd), and those of
 * (other_fd), a copy the other side has (-1: none). */
static int guest_pageset(const struct guest *g, const struct image *img,
                         int base_fd, int other_fd, struct pageset *ps,
                         struct lvm_err *err)
{
    struct layout lay;
    ps->npages = g->ram_size / PAGE;
    ps->bits = NULL;
    if (layout_compute(&img->info, g->ram_size, &lay, err) < 0)
        return -1;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/pagemap", (int)g->sb.pid);
    int pagemap = open(path, O_RDONLY | O_CLOEXEC);
    if (pagemap < 0)
        return lvm_err_set(err, errno, "open the guest's page map");
    int r = -1;
    if (!(ps->bits = calloc((ps->npages + 63) / 64, 8)))
        lvm_err_set(err, ENOMEM, "allocate the page set");
    else if (mark_writable(ps, img, &lay, pagemap, err) == 0 &&
             (base_fd < 0 || mark_base(ps, base_fd, err) == 0) &&
             (other_fd < 0 || mark_base(ps, other_fd, err) == 0))
        r = 0;
    close(pagemap);
    if (r < 0) {
        free(ps->bits);
        ps->bits = NULL;
    }
    return r;
}

/* fn(arg, first, count) for each run of marked pages, at most BATCH
 * long, in order; stops at the first -1. */
static int each_run(const struct pageset *ps,
                    int (*fn)(void *arg, uint64_t first, uint64_t count),
                    void *arg)
{
    for (uint64_t p = 0; p < ps->npages;) {
        if (!marked(ps, p)) {
            p++;
            continue;
        }
        uint64_t n = 1;
        while (n < BATCH && p + n < ps->npages && marked(ps, p + n))
            n++;
        if (fn(arg, p, n) < 0)
            return -1;
        p += n;
    }
    return 0;
}

struct capture_walk {
    pid_t pid;
    uint8_t *buf;
    snapshot_sink sink;
    void *arg;
    uint64_t *npages;
    struct lvm_err *err;
};

static int capture_run(void *arg, uint64_t first, uint64_t count)
{
    struct capture_walk *c = arg;
    return read_run(c->pid, first, count, c->buf, c->sink, c->arg, c->npages,
                    c->err);
}

int snapshot_capture(const struct guest *g, const struct image *img,
                     int base_fd, snapshot_sink sink, void *arg,
                     uint64_t *npages, struct lvm_err *err)
{
    *npages = 0;
    struct pageset ps;
    if (guest_pageset(g, img, base_fd, -1, &ps, err) < 0)
        return -1;
    struct capture_walk c = {g->sb.pid, malloc(BATCH * PAGE), sink, arg, npages,
                             err};
    int r = c.buf ? each_run(&ps, capture_run, &c)
                  : lvm_err_set(err, ENOMEM, "allocate a page buffer");
    free(c.buf);
    free(ps.bits);
    return r;
}

int snapshot_memfd(uint64_t ram_size, struct lvm_err *err)
{
    int fd = memfd_create("lightvm-snapshot", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return lvm_err_set(err, errno, "memfd for a snapshot");
    if (ftruncate(fd, (off_t)ram_size) < 0) {
        int e = errno;
        close(fd);
        return lvm_err_set(err, e, "size a snapshot's memory");
    }
    return fd;
}

int snapshot_sink_memfd(void *arg, uint64_t first, uint64_t count,
                        const void *data, struct lvm_err *err)
{
    int fd = *(int *)arg;
    size_t len = count * PAGE;
    for (size_t done = 0; done < len;) {
        ssize_t n = pwrite(fd, (const uint8_t *)data + done, len - done,
                           (off_t)(first * PAGE + done));
        if (n <= 0)
            return lvm_err_set(err, n < 0 ? errno : EIO,
                               "copy a snapshot's memory");
        done += (size_t)n;
    }
    return 0;
}

int snapshot_resume_status(struct guest *g, const struct guest_resume *r,
                           struct lvm_err *err)
{
    struct stat st;
    if (fstat(r->ram_fd, &st) < 0 || (uint64_t)st.st_size < g->ram_size)
        return lvm_err_invalid(err,
                               "the saved memory is smaller than the guest's "
                               "%llu KiB",
                               (unsigned long long)(g->ram_size >> 10));
    struct lvm_status s = *r->status;
    s.suspended = 0;
    s.resume_flags = r->flags;
    s.resume_count++;
    s.watchdog_ns = 0;
    s.first_insn_ns = 0; /* set again by the guest when it runs */
    if (getrandom(s.resume_seed, sizeof s.resume_seed, 0) !=
        sizeof s.resume_seed)
        return lvm_err_set(err, errno, "getrandom");
    memcpy((void *)g->dev.st, &s, sizeof s);
    explicit_bzero(&s, sizeof s);
    /* No request pending: the guest acknowledged this sequence last. */
    g->dev.dp->control_request = LVM_CTRL_NONE;
    g->dev.dp->control_seq = r->status->control_ack_seq;
    return 0;
}

/* ---- Live migration: what changed since the last look --------------------- */

struct sync_run {
    uint64_t first, count;
    int zero;
    const uint8_t *data;
};

static int sync_flush(struct sync_run *run, snapshot_sink sink, void *arg,
                      struct lvm_err *err)
{
    if (!run->count)
        return 0;
    int rc =
        sink(arg, run->first, run->count, run->zero ? NULL : run->data, err);
    run->count = 0;
    return rc;
}

/* Compare pages [first, first + count) of the guest (in buf) with the
 * shadow's (in old); write those that differ into the shadow and hand
 * them to the sink. */
static int sync_batch(int shadow, uint64_t first, uint64_t count,
                      const uint8_t *buf, const uint8_t *old,
                      snapshot_sink sink, void *arg, uint64_t *changed,
                      struct lvm_err *err)
{
    struct sync_run run = {0, 0, 0, NULL};
    for (uint64_t i = 0; i < count; i++) {
        const uint8_t *now = buf + i * PAGE;
        int differs = memcmp(now, old + i * PAGE, PAGE) != 0;
        int zero = differs && all_zero(now);
        if (run.count && (!differs || zero != run.zero)) {
            if (sync_flush(&run, sink, arg, err) < 0)
                return -1;
        }
        if (!differs)
            continue;
        off_t at = (off_t)((first + i) * PAGE);
        if (zero ? fallocate(shadow, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                             at, (off_t)PAGE)
                 : pwrite(shadow, now, PAGE, at) != (ssize_t)PAGE)
            return lvm_err_set(err, errno ? errno : EIO,
                               "update the migration's copy of the RAM");
        if (!run.count)
            run = (struct sync_run){first + i, 0, zero, now};
        run.count++;
        (*changed)++;
    }
    return sync_flush(&run, sink, arg, err);
}

struct sync_walk {
    pid_t pid;
    int shadow;
    uint8_t *buf, *old;
    snapshot_sink sink;
    void *arg;
    uint64_t *changed;
    struct lvm_err *err;
};

static int sync_run(void *arg, uint64_t p, uint64_t n)
{
    struct sync_walk *w = arg;
    if (read_guest(w->pid, p, n, w->buf, w->err) < 0)
        return -1;
    if (pread(w->shadow, w->old, n * PAGE, (off_t)(p * PAGE)) !=
        (ssize_t)(n * PAGE))
        return lvm_err_set(w->err, errno ? errno : EIO,
                           "read the migration's copy of the RAM");
    return sync_batch(w->shadow, p, n, w->buf, w->old, w->sink, w->arg,
                      w->changed, w->err);
}

int snapshot_sync(const struct guest *g, const struct image *img, int base_fd,
                  int shadow_fd, snapshot_sink sink, void *arg,
                  uint64_t *changed, struct lvm_err *err)
{
    *changed = 0;
    /* What the guest may have now, and what the other side has: a page
     * the guest gave back reads as it is now (zero, or its base's). */
    struct pageset ps;
    if (guest_pageset(g, img, base_fd, shadow_fd, &ps, err) < 0)
        return -1;
    uint8_t *buf = malloc(2 * BATCH * PAGE);
    struct sync_walk w = {
        g->sb.pid, shadow_fd, buf,     buf ? buf + BATCH * PAGE : NULL,
        sink,      arg,       changed, err};
    int r = buf ? each_run(&ps, sync_run, &w)
                : lvm_err_set(err, ENOMEM, "allocate a page buffer");
    free(buf);
    free(ps.bits);
    return r;
}
