/*
 * images.c: each guest image is loaded and validated once into its sealed
 * template memfd, then shared by every guest of it. Keyed by the file's
 * identity (device, inode, size, mtime) and never by path: one file
 * reached through hard links, symlinks or bind mounts is one template,
 * and a rebuilt image is loaded again. A template lives exactly as long
 * as a guest uses it (the daemon's memory outside any cgroup: nothing is
 * kept "for later", not even after a failed create), and is charged to
 * each user holding it (quota "templates").
 */
#include "daemon/quota.h"

#include <errno.h>
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

static void drop(struct daemon *d, struct cached_image *ci)
{
    for (struct cached_image **p = &d->images; *p; p = &(*p)->next)
        if (*p == ci) {
            *p = ci->next;
            break;
        }
    image_free(ci->img);
    free(ci);
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
        if (image_load_fd(fd, path, &c->img, err) < 0) {
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
    struct image_holder **h = holder_of(c, cr->uid);
    if (!*h) { /* a new holder pays for the whole template */
        struct image_holder *n = calloc(1, sizeof *n);
        if (!n || quota_take(d, cr, QUOTA_TEMPLATES, c->bytes, err) < 0) {
            if (!n)
                lvm_err_set(err, ENOMEM, "cache %s", path);
            free(n);
            if (!c->refs)
                drop(d, c);
            return NULL;
        }
        n->uid = cr->uid;
        *h = n;
    }
    (*h)->refs++;
    c->refs++;
    return c;
}

void images_put(struct daemon *d, struct cached_image *ci, uid_t uid)
{
    struct image_holder **h = holder_of(ci, uid);
    if (*h && --(*h)->refs == 0) {
        struct image_holder *gone = *h;
        *h = gone->next;
        quota_give(d, uid, QUOTA_TEMPLATES, ci->bytes);
        free(gone);
    }
    if (--ci->refs == 0)
        drop(d, ci);
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
        free(c);
    }
}
