/*
 * fs_tree.c: the guest's file tree as a table of nodes in guest RAM,
 * filled at the first file call from the ustar archive lightvm-cc put in
 * the image (section .lvm_files, between __lvm_files_start and
 * __lvm_files_end). Archive files are served in place; a write copies a
 * file into RAM first. RAM for nodes, names and contents comes from the
 * SDK's page allocator (mem.c), so it is guest memory, and the writable
 * area is bounded by fs_limit().
 */
#include "fs.h"
#include "fs_tar.h"
#include "sdk.h"

#include <lightvm/guest.h>

#include <errno.h>
#include <sys/mman.h>

/* The archive, if the guest was linked with one (weak: NULL if not). */
extern const char __lvm_files_start[] __attribute__((weak));
extern const char __lvm_files_end[] __attribute__((weak));

#define PAGE 4096u
#define ARENA_CHUNK (64u * 1024u)

static struct fs_node *nodes;
static uint32_t nnodes, capnodes;
static int ready;
static uint64_t used;           /* bytes of RAM the tree holds */
static char *arena, *arena_end; /* for names */

void fs_copy(void *dst, const void *src, size_t n)
{
    char *d = dst;
    const char *s = src;
    for (size_t i = 0; i < n; i++)
        d[i] = s[i];
}

int fs_nameeq(const struct fs_node *n, const char *name, size_t len)
{
    if (n->namelen != len)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (n->name[i] != name[i])
            return 0;
    return 1;
}

static uint64_t page_up(uint64_t n)
{
    return (n + PAGE - 1) & ~(uint64_t)(PAGE - 1);
}

uint64_t fs_limit(void)
{
    return LVM_BI->ram_size / 2;
}

uint64_t fs_used(void)
{
    return used;
}

/* (n) bytes of zeroed guest RAM, counted against the limit. */
static void *ram_get(uint64_t n)
{
    n = page_up(n);
    if (n == 0 || used + n > fs_limit())
        return 0;
    long a = lvm__mmap(0, (size_t)n, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (a < 0)
        return 0;
    used += n;
    return (void *)a;
}

static void ram_put(void *p, uint64_t n)
{
    n = page_up(n);
    if (!p || !n)
        return;
    lvm__munmap((uintptr_t)p, (size_t)n);
    used -= n;
}

/* A copy of a name; names are small and kept until the guest ends. */
static const char *name_copy(const char *s, size_t len)
{
    if ((size_t)(arena_end - arena) < len + 1) {
        char *c = ram_get(ARENA_CHUNK);
        if (!c)
            return 0;
        arena = c;
        arena_end = c + ARENA_CHUNK;
    }
    char *d = arena;
    fs_copy(d, s, len);
    d[len] = 0;
    arena += len + 1;
    return d;
}

struct fs_node *fs_node(uint32_t i)
{
    return i < nnodes && (nodes[i].flags & FS_USED) ? &nodes[i] : 0;
}

uint32_t fs_node_count(void)
{
    return nnodes;
}

/* A free slot, growing the table when full; FS_NONE if out of memory. */
static uint32_t slot(void)
{
    for (uint32_t i = 1; i < nnodes; i++)
        if (!(nodes[i].flags & FS_USED))
            return i;
    if (nnodes == capnodes) {
        uint32_t ncap = capnodes ? capnodes * 2 : 128;
        struct fs_node *n = ram_get((uint64_t)ncap * sizeof *n);
        if (!n)
            return FS_NONE;
        fs_copy(n, nodes, (size_t)nnodes * sizeof *n);
        ram_put(nodes, (uint64_t)capnodes * sizeof *n);
        nodes = n;
        capnodes = ncap;
    }
    return nnodes++;
}

uint32_t fs_child(uint32_t dir, const char *name, size_t len)
{
    for (uint32_t i = 1; i < nnodes; i++) {
        const struct fs_node *n = &nodes[i];
        if ((n->flags & (FS_USED | FS_LINKED)) == (FS_USED | FS_LINKED) &&
            n->parent == dir && fs_nameeq(n, name, len))
            return i;
    }
    return FS_NONE;
}

void fs_touch(uint32_t i)
{
    nodes[i].mtime_ns = lvm__hc->clock_wall();
}

long fs_create(uint32_t dir, const char *name, size_t len, int is_dir,
               unsigned mode)
{
    const char *nm = name_copy(name, len);
    if (!nm)
        return -ENOSPC;
    uint32_t i = slot();
    if (i == FS_NONE)
        return -ENOSPC;
    struct fs_node *n = &nodes[i];
    lvm__memzero(n, sizeof *n);
    n->parent = dir;
    n->flags = FS_USED | FS_LINKED | (is_dir ? FS_DIR : 0);
    n->mode = mode & 07777;
    n->name = nm;
    n->namelen = len;
    fs_touch(i);
    return i;
}

static void free_node(uint32_t i)
{
    struct fs_node *n = &nodes[i];
    if (!(n->flags & FS_IMAGE))
        ram_put(n->data, n->cap);
    lvm__memzero(n, sizeof *n);
}

void fs_unlink_node(uint32_t i)
{
    struct fs_node *n = &nodes[i];
    n->flags &= ~FS_LINKED;
    n->parent = FS_NONE;
    if (!n->opens)
        free_node(i);
}

void fs_release(uint32_t i)
{
    struct fs_node *n = &nodes[i];
    if (n->opens)
        n->opens--;
    if (!n->opens && !(n->flags & FS_LINKED))
        free_node(i);
}

static int is_under(uint32_t i, uint32_t dir)
{
    for (uint32_t d = dir; d != FS_NONE; d = nodes[d].parent)
        if (d == i)
            return 1;
    return 0;
}

static int dir_empty(uint32_t d)
{
    for (uint32_t i = 1; i < nnodes; i++)
        if ((nodes[i].flags & FS_LINKED) && nodes[i].parent == d)
            return 0;
    return 1;
}

long fs_rename_node(uint32_t i, uint32_t dir, const char *name, size_t len)
{
    if ((nodes[i].flags & FS_DIR) && is_under(i, dir))
        return -EINVAL; /* into itself */
    uint32_t t = fs_child(dir, name, len);
    if (t == i)
        return 0;
    if (t != FS_NONE) {
        int tdir = !!(nodes[t].flags & FS_DIR);
        if (tdir && !(nodes[i].flags & FS_DIR))
            return -EISDIR;
        if (!tdir && (nodes[i].flags & FS_DIR))
            return -ENOTDIR;
        if (tdir && !dir_empty(t))
            return -ENOTEMPTY;
    }
    const char *nm = name_copy(name, len);
    if (!nm)
        return -ENOSPC;
    if (t != FS_NONE)
        fs_unlink_node(t);
    nodes[i].parent = dir;
    nodes[i].name = nm;
    nodes[i].namelen = len;
    return 0;
}

long fs_reserve(uint32_t i, uint64_t need)
{
    struct fs_node *n = &nodes[i];
    if (!(n->flags & FS_IMAGE) && need <= n->cap)
        return 0;
    if (need > fs_limit())
        return -EFBIG;
    uint64_t ncap = n->cap * 2;
    if (ncap < need)
        ncap = need;
    ncap = page_up(ncap < PAGE ? PAGE : ncap);
    uint64_t old = n->flags & FS_IMAGE ? 0 : n->cap;
    if (used - page_up(old) + ncap > fs_limit())
        ncap = page_up(need < PAGE ? PAGE : need);
    char *d = ram_get(ncap);
    if (!d)
        return -ENOSPC;
    fs_copy(d, n->data, (size_t)n->size);
    if (!(n->flags & FS_IMAGE))
        ram_put(n->data, n->cap);
    n->data = d;
    n->cap = ncap;
    n->flags &= ~FS_IMAGE;
    return 0;
}

long fs_truncate(uint32_t i, uint64_t size)
{
    struct fs_node *n = &nodes[i];
    if (size > n->size) {
        long r = fs_reserve(i, size);
        if (r < 0)
            return r;
    } else if (!(n->flags & FS_IMAGE)) {
        lvm__memzero(n->data + size, (size_t)(n->size - size));
    }
    n->size = size;
    fs_touch(i);
    return 0;
}

/* The directory at (path) below the root, made if missing (mkdir -p). */
static long make_dirs(const char *path, size_t len)
{
    uint32_t d = FS_ROOT;
    size_t s = 0;
    while (s < len) {
        size_t e = s;
        while (e < len && path[e] != '/')
            e++;
        uint32_t c = fs_child(d, path + s, e - s);
        if (c == FS_NONE) {
            long r = fs_create(d, path + s, e - s, 1, 0755);
            if (r < 0)
                return r;
            c = (uint32_t)r;
        } else if (!(nodes[c].flags & FS_DIR)) {
            return -ENOTDIR;
        }
        d = c;
        s = e + 1;
    }
    return d;
}

/* One archive member into the tree; a later member replaces an earlier
 * file of the same name, as tar x would. */
static int add_member(void *ctx, const struct lvm_tar_entry *e)
{
    (void)ctx;
    size_t cut = e->path_len;
    while (cut > 0 && e->path[cut - 1] != '/')
        cut--;
    long d = make_dirs(e->path, cut ? cut - 1 : 0);
    if (d < 0)
        return (int)d;
    const char *base = e->path + cut;
    size_t blen = e->path_len - cut;
    uint32_t i = fs_child((uint32_t)d, base, blen);
    if (i != FS_NONE && !!(nodes[i].flags & FS_DIR) != (e->type == LVM_TAR_DIR))
        return -EEXIST;
    if (i == FS_NONE) {
        long r =
            fs_create((uint32_t)d, base, blen, e->type == LVM_TAR_DIR, e->mode);
        if (r < 0)
            return (int)r;
        i = (uint32_t)r;
    }
    struct fs_node *n = &nodes[i];
    n->mode = e->mode;
    n->mtime_ns = e->mtime * 1000000000ull;
    if (e->type == LVM_TAR_FILE) {
        n->flags |= FS_IMAGE;
        n->data = (char *)(uintptr_t)e->data; /* never written: FS_IMAGE */
        n->size = e->size;
        n->cap = 0;
    }
    return 0;
}

/* /dev/null, zero, random and urandom, unless the archive has a /dev. */
static void add_devices(void)
{
    static const struct {
        const char *name;
        uint32_t dev;
    } devs[] = {{"null", FS_DEV_NULL},
                {"zero", FS_DEV_ZERO},
                {"random", FS_DEV_RANDOM},
                {"urandom", FS_DEV_RANDOM}};
    if (fs_child(FS_ROOT, "dev", 3) != FS_NONE)
        return;
    long d = fs_create(FS_ROOT, "dev", 3, 1, 0755);
    for (unsigned i = 0; d >= 0 && i < sizeof devs / sizeof *devs; i++) {
        long n = fs_create((uint32_t)d, devs[i].name, lvm__strlen(devs[i].name),
                           0, 0666);
        if (n >= 0)
            nodes[n].dev = devs[i].dev;
    }
}

static void warn(const char *what, const char *why)
{
    lvm__hc->console_write("lightvm: file tree: ", 20);
    lvm__hc->console_write(what, lvm__strlen(what));
    lvm__hc->console_write(why, lvm__strlen(why));
    lvm__hc->console_write("\n", 1);
}

/* The archive on the read-only block device "files" (LVM_FS_BLOCK), read
 * into guest RAM once and merged over the image's tree: the same reader,
 * so a tree on a disk behaves as one in the image. A copy rather than
 * reads on demand because the tar reader wants the archive contiguous and
 * the trees it is for (a function's source, its data) are small; the copy
 * counts against fs_limit(). */
static void add_block_tree(void)
{
    const struct lvm_device *d = lvm_device_find(LVM_DEV_BLOCK, LVM_FS_BLOCK);
    if (!d)
        return;
    if (!(d->flags & LVM_DEVF_READONLY)) {
        warn("block device " LVM_FS_BLOCK ": ", "not read-only, not mounted");
        return;
    }
    uint64_t cap = d->u.block.capacity;
    char *buf = ram_get(cap);
    if (!buf) {
        warn("block device " LVM_FS_BLOCK ": ", "bigger than half the RAM");
        return;
    }
    if (lvm_block_read(d, 0, buf, (size_t)cap) != (long)cap) {
        warn("block device " LVM_FS_BLOCK ": ", "read failed");
        ram_put(buf, cap);
        return;
    }
    const char *why;
    long n = lvm_tar_walk(buf, (size_t)cap, add_member, 0, &why);
    if (n < 0 && n != -1)
        warn("block device " LVM_FS_BLOCK ": the archive does not fit: ",
             "out of memory");
    else if (n == -1)
        warn("block device " LVM_FS_BLOCK ": the archive is cut short: ", why);
}

int fs_ready(void)
{
    if (ready)
        return 0;
    uint32_t r = slot();
    if (r != FS_ROOT)
        return -ENOMEM;
    struct fs_node *root = &nodes[FS_ROOT];
    lvm__memzero(root, sizeof *root);
    root->parent = FS_NONE;
    root->flags = FS_USED | FS_LINKED | FS_DIR;
    root->mode = 0755;
    root->name = "";
    fs_touch(FS_ROOT);
    ready = 1;
    uintptr_t a = (uintptr_t)__lvm_files_start, b = (uintptr_t)__lvm_files_end;
    if (a && b > a) {
        const char *why;
        long n =
            lvm_tar_walk((const void *)a, (size_t)(b - a), add_member, 0, &why);
        if (n < 0 && n != -1)
            warn("the image's archive does not fit: ", "out of memory");
        else if (n == -1)
            warn("the image's archive is cut short: ", why);
    }
    add_block_tree();
    if (fs_child(FS_ROOT, "tmp", 3) == FS_NONE)
        fs_create(FS_ROOT, "tmp", 3, 1, 01777);
    add_devices();
    return 0;
}
