/*
 * vm_initrd.c: write a VM container's initramfs (vm_initrd.h), a newc
 * cpio archive (the format the kernel's initramfs unpacker reads:
 * Documentation/driver-api/early-userspace/buffer-format.rst).
 */
#include "oci/errf.h"
#include "oci/vm_initrd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define FILE_BIND_MAX (1u << 20)
#define DIRS_MAX 64

struct cpio {
    FILE *f;
    unsigned ino;
    char dirs[DIRS_MAX][256]; /* made so far */
    int ndirs;
};

static int pad4(FILE *f, size_t n)
{
    static const char zero[4];
    size_t p = (4 - n % 4) % 4;
    return p && fwrite(zero, 1, p, f) != p ? -1 : 0;
}

/* One entry: header, name, data. */
static int entry(struct cpio *c, const char *name, unsigned mode,
                 const void *data, size_t size, unsigned rmaj, unsigned rmin)
{
    size_t nl = strlen(name) + 1;
    if (fprintf(c->f,
                "070701%08X%08X%08X%08X%08X%08X%08zX%08X%08X%08X%08X%08zX"
                "%08X",
                ++c->ino, mode, 0u, 0u, 1u, 0u, size, 0u, 0u, rmaj, rmin, nl,
                0u) != 110 ||
        fwrite(name, 1, nl, c->f) != nl || pad4(c->f, 110 + nl) < 0 ||
        (size && fwrite(data, 1, size, c->f) != size) || pad4(c->f, size) < 0)
        return -1;
    return 0;
}

/* The parents of (path) ("lib/modules/x/a.ko"), each once. */
static int parents(struct cpio *c, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = strchr(buf, '/'); p; p = strchr(p + 1, '/')) {
        *p = 0;
        int seen = 0;
        for (int i = 0; i < c->ndirs && !seen; i++)
            seen = !strcmp(c->dirs[i], buf);
        if (!seen) {
            if (c->ndirs == DIRS_MAX ||
                entry(c, buf, S_IFDIR | 0755, NULL, 0, 0, 0) < 0)
                return -1;
            snprintf(c->dirs[c->ndirs++], sizeof c->dirs[0], "%s", buf);
        }
        *p = '/';
    }
    return 0;
}

/* The host file (src) as (name), whole; at most (max) bytes. */
static int host_file(struct cpio *c, const char *name, const char *src,
                     size_t max, unsigned mode, char *err, size_t errlen)
{
    int fd = open(src, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return oci_errf(err, errlen, "%s: %s", src, strerror(e));
    }
    if (!S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
        close(fd);
        return oci_errf(err, errlen, "%s: %s", src,
                        S_ISREG(st.st_mode) ? "larger than 1 MiB"
                                            : "not a regular file");
    }
    char *buf = malloc((size_t)st.st_size + 1);
    ssize_t got = buf ? read(fd, buf, (size_t)st.st_size) : -1;
    close(fd);
    int r = 0;
    if (got != st.st_size)
        r = oci_errf(err, errlen, "read %s: %s", src,
                     got < 0 ? strerror(errno) : "short read");
    else if (parents(c, name) < 0 ||
             entry(c, name, S_IFREG | (mode ? mode : (st.st_mode & 07777)), buf,
                   (size_t)got, 0, 0) < 0)
        r = oci_errf(err, errlen, "write the initramfs: %s", strerror(errno));
    free(buf);
    return r;
}

int oci_vm_initrd_write(const char *path, const char *init, char *const *mods,
                        size_t nmods, const struct oci_vm_conf *vc, char *err,
                        size_t errlen)
{
    struct cpio c = {0};
    /* 0600: it holds the container's environment (secrets, often) and
     * its copied files; the state directory is traversable by others. */
    int fd =
        open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    c.f = fd >= 0 ? fdopen(fd, "we") : NULL;
    if (fd >= 0 && !c.f)
        close(fd);
    if (!c.f)
        return oci_errf(err, errlen, "%s: %s", path, strerror(errno));
    int r = -1;
    /* The console node: the kernel opens it for the init's stdio before
     * devtmpfs is mounted. */
    if (entry(&c, "dev", S_IFDIR | 0755, NULL, 0, 0, 0) < 0 ||
        entry(&c, "dev/console", S_IFCHR | 0600, NULL, 0, 5, 1) < 0) {
        oci_errf(err, errlen, "write %s: %s", path, strerror(errno));
        goto out;
    }
    if (host_file(&c, "init", init, 16u << 20, 0755, err, errlen) < 0)
        goto out;
    char *conf = NULL;
    size_t conflen = 0;
    FILE *cf = open_memstream(&conf, &conflen);
    if (!cf) {
        oci_errf(err, errlen, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < nmods; i++) {
        if (mods[i][0] != '/' || host_file(&c, mods[i] + 1, mods[i], 64u << 20,
                                           0644, err, errlen) < 0) {
            fclose(cf);
            free(conf);
            if (mods[i][0] != '/')
                oci_errf(err, errlen, "module %s: not an absolute path",
                         mods[i]);
            goto out;
        }
        fprintf(cf, "module %s\n", mods[i]);
    }
    fwrite(vc->init_conf, 1, vc->len, cf);
    fclose(cf);
    int bad = parents(&c, "etc/tinyx/init.conf") < 0 ||
              entry(&c, "etc/tinyx/init.conf", S_IFREG | 0644, conf, conflen, 0,
                    0) < 0;
    free(conf);
    if (bad) {
        oci_errf(err, errlen, "write %s: %s", path, strerror(errno));
        goto out;
    }
    for (int i = 0; i < vc->nfiles; i++) {
        char name[32];
        snprintf(name, sizeof name, "files/%d", i);
        if (host_file(&c, name, vc->files[i].source, FILE_BIND_MAX, 0, err,
                      errlen) < 0) {
            char inner[512];
            snprintf(inner, sizeof inner, "%s", err);
            oci_errf(err, errlen, "mount %s: %s", vc->files[i].destination,
                     inner);
            goto out;
        }
    }
    if (entry(&c, "TRAILER!!!", 0, NULL, 0, 0, 0) < 0) {
        oci_errf(err, errlen, "write %s: %s", path, strerror(errno));
        goto out;
    }
    r = 0;
out:
    if (fclose(c.f) != 0 && r == 0)
        r = oci_errf(err, errlen, "write %s: %s", path, strerror(errno));
    if (r < 0)
        unlink(path);
    return r;
}
