/*
 * images.c: each guest image is loaded and validated once into its sealed
 * template memfd, then shared by every guest of it. Keyed by the file's
 * identity (device, inode, size, mtime), the file held open meanwhile so
 * that its inode is never freed and given to another file (a tenant
 * could make its own file match a deleted one's size and mtime), and
 * never by path: one file
 * reached through hard links, symlinks or bind mounts is one template,
 * and a rebuilt image is loaded again. A template lives as long as a
 * guest uses it, and is charged to each user holding it (quota
 * "templates": it is the daemon's memory, outside any cgroup). Once
 * unused, a template a guest started from is kept warm, charged to
 * nobody, within a small daemon-wide bound (IMAGES_WARM_MAX and
 * IMAGES_WARM_BYTES); one that never started a guest (a failed create)
 * is freed at once.
 */
#include "daemon/quota.h"
#include "toolstack/snapfile.h"

#include <errno.h>
#include <unistd.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static struct image_holder **holder_of(struct cached_image *c, uid_t uid)
{
    struct image_holder **h = &c->holders;
    while (*h && (*h)->uid != uid)
        h = &(*h)->next;
    return h;
}

/* Whether the warm templates are past their bound. */
static int too_warm(const struct daemon *d)
{
    unsigned n = 0;
    uint64_t bytes = 0;
    for (const struct cached_image *c = d->images; c; c = c->next)
        if (c->warm) {
            n++;
            bytes += c->bytes;
        }
    return n > IMAGES_WARM_MAX || bytes > IMAGES_WARM_BYTES;
}

static void drop(struct daemon *d, struct cached_image *ci)
{
    for (struct cached_image **p = &d->images; *p; p = &(*p)->next)
        if (*p == ci) {
            *p = ci->next;
            break;
        }
    image_free(ci->img);
    close(ci->file_fd);
    free(ci);
}

/* Free the oldest warm template. */
static void evict(struct daemon *d)
{
    struct cached_image *old = NULL;
    for (struct cached_image *c = d->images; c; c = c->next)
        if (c->warm && (!old || c->warm_since < old->warm_since))
            old = c;
    if (old)
        drop(d, old);
}

/* (cr) takes a reference to (c); a new holder pays for all of it. */
static int take(struct daemon *d, struct cached_image *c,
                const struct creds *cr, struct lvm_err *err)
{
    struct image_holder **h = holder_of(c, cr->uid);
    if (!*h) {
        struct image_holder *n = calloc(1, sizeof *n);
        if (!n)
            return lvm_err_set(err, ENOMEM, "cache an image");
        if (quota_take(d, cr, QUOTA_TEMPLATES, c->bytes, err) < 0) {
            free(n);
            return -1;
        }
        n->uid = cr->uid;
        *h = n;
    }
    c->warm = 0;
    (*h)->refs++;
    c->refs++;
    return 0;
}

struct cached_image *images_get(struct daemon *d, const char *path, int fd,
                                const struct creds *cr, struct lvm_err *err)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return lvm_err_set(err, errno, "%s", path), NULL;
    long long mtime =
        (long long)st.st_mtim.tv_sec * 1000000000ll + st.st_mtim.tv_nsec;
    struct cached_image *c = d->images;
    while (c && !(c->dev == st.st_dev && c->ino == st.st_ino &&
                  c->size == st.st_size && c->mtime_ns == mtime))
        c = c->next;
    if (!c) {
        if (!(c = calloc(1, sizeof *c)))
            return lvm_err_set(err, ENOMEM, "cache %s", path), NULL;
        c->file_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
        if (c->file_fd < 0) {
            free(c);
            return lvm_err_set(err, errno, "cache %s", path), NULL;
        }
        if (image_load_fd(fd, path, &c->img, err) < 0) {
            close(c->file_fd);
            free(c);
            return NULL;
        }
        c->dev = st.st_dev;
        c->ino = st.st_ino;
        c->size = st.st_size;
        c->mtime_ns = mtime;
        c->bytes = c->img->info.image_end - LVM_RAM_BASE + c->img->file_len;
        c->next = d->images;
        d->images = c;
    }
    if (take(d, c, cr, err) < 0) {
        if (!c->refs && !c->warm)
            drop(d, c);
        return NULL;
    }
    return c;
}

int images_hash(struct cached_image *ci, struct lvm_err *err)
{
    if (ci->hashed)
        return 0;
    /* The bytes the guest was loaded from, not the file as it is now:
     * a file rewritten in place since must not lend its identity to a
     * state of the old one. */
    if (snap_hash_buf(ci->img->file, ci->img->file_len, ci->hash, err) < 0)
        return -1;
    ci->hashed = 1;
    return 0;
}

void images_launched(struct cached_image *ci)
{
    ci->launched = 1;
}

void images_put(struct daemon *d, struct cached_image *ci, uid_t uid)
{
    static uint64_t clock;
    struct image_holder **h = holder_of(ci, uid);
    if (*h && --(*h)->refs == 0) {
        struct image_holder *gone = *h;
        *h = gone->next;
        free(gone);
        quota_give(d, uid, QUOTA_TEMPLATES, ci->bytes);
    }
    if (--ci->refs > 0)
        return;
    if (!ci->launched || ci->bytes > IMAGES_WARM_BYTES) {
        drop(d, ci);
        return;
    }
    ci->warm = 1;
    ci->warm_since = ++clock;
    while (too_warm(d))
        evict(d);
}

void images_free_all(struct daemon *d)
{
    while (d->images) {
        struct cached_image *c = d->images;
        d->images = c->next;
        while (c->holders) {
            struct image_holder *h = c->holders;
            c->holders = h->next;
            free(h);
        }
        image_free(c->img);
        close(c->file_fd);
        free(c);
    }
}
