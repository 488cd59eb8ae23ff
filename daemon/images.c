/*
 * images.c: each guest image is loaded and validated once into its sealed
 * template memfd, then shared by every guest of it. Keyed by path and the
 * file's identity (device, inode, size, mtime), so a rebuilt image is
 * loaded again. Unused images are dropped beyond a few.
 */
#include "daemon/daemon.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define KEEP_UNUSED 8

struct cached_image *images_get(struct daemon *d, const char *path, int fd,
                                struct lvm_err *err)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return lvm_err_set(err, errno, "%s", path), NULL;
    long long mtime =
        (long long)st.st_mtim.tv_sec * 1000000000ll + st.st_mtim.tv_nsec;
    for (struct cached_image *c = d->images; c; c = c->next)
        if (c->dev == st.st_dev && c->ino == st.st_ino &&
            c->size == st.st_size && c->mtime_ns == mtime &&
            !strcmp(c->img->path, path)) {
            c->refs++;
            return c;
        }
    struct cached_image *c = calloc(1, sizeof *c);
    if (!c)
        return lvm_err_set(err, ENOMEM, "cache %s", path), NULL;
    if (image_load_fd(fd, path, &c->img, err) < 0) {
        free(c);
        return NULL;
    }
    c->dev = st.st_dev;
    c->ino = st.st_ino;
    c->size = st.st_size;
    c->mtime_ns = mtime;
    c->refs = 1;
    c->next = d->images;
    d->images = c;
    return c;
}

void images_put(struct daemon *d, struct cached_image *ci)
{
    if (--ci->refs > 0)
        return;
    unsigned unused = 0;
    for (struct cached_image **p = &d->images; *p;) {
        struct cached_image *c = *p;
        if (c->refs == 0 && ++unused > KEEP_UNUSED) {
            *p = c->next;
            image_free(c->img);
            free(c);
            continue;
        }
        p = &c->next;
    }
}

void images_free_all(struct daemon *d)
{
    while (d->images) {
        struct cached_image *c = d->images;
        d->images = c->next;
        image_free(c->img);
        free(c);
    }
}
