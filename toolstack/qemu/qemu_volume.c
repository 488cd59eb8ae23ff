/*
 * qemu_volume.c: a Tinyx guest's volumes (qemu_volume.h).
 */
#include "toolstack/qemu/qemu_volume.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

int qemu_volume_target_ok(const char *t, struct lvm_err *err)
{
    if (t[0] != '/')
        return lvm_err_invalid(
            err, "volume target '%.64s' is not an absolute path", t);
    if (strlen(t) > QEMU_VOLUME_TARGET_MAX)
        return lvm_err_invalid(err, "volume target longer than %d bytes",
                               QEMU_VOLUME_TARGET_MAX);
    for (const char *p = t; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == ',')
            return lvm_err_invalid(
                err,
                "volume target '%.64s': no spaces, commas or "
                "control characters",
                t);
    /* One spelling per place: no "..", "." or empty component ("//dev"
     * is /dev). */
    for (const char *p = t; *p;) {
        const char *c = p + 1, *e = strchr(c, '/');
        size_t l = e ? (size_t)(e - c) : strlen(c);
        if ((l == 0 && e) || (l == 1 && c[0] == '.') ||
            (l == 2 && c[0] == '.' && c[1] == '.'))
            return lvm_err_invalid(
                err,
                "volume target '%.64s': no '.', '..' or '//' "
                "in it",
                t);
        p = c + l;
    }
    static const char *const system[] = {"/dev", "/proc", "/sys"};
    size_t n = strlen(t);
    while (n > 1 && t[n - 1] == '/')
        n--;
    if (n == 1)
        return lvm_err_invalid(err, "a volume cannot be mounted on /");
    for (size_t i = 0; i < sizeof system / sizeof *system; i++) {
        size_t l = strlen(system[i]);
        if (n >= l && !strncmp(t, system[i], l) && (n == l || t[l] == '/'))
            return lvm_err_invalid(err,
                                   "a volume cannot be mounted under %s (the "
                                   "guest's own)",
                                   system[i]);
    }
    return 0;
}

int qemu_volume_parse(const char *spec, struct qemu_volume *v,
                      struct lvm_err *err)
{
    memset(v, 0, sizeof *v);
    const char *c1 = strchr(spec, ':');
    if (!c1 || c1 == spec)
        return lvm_err_invalid(err, "volume '%.64s': expected FILE:PATH[:ro]",
                               spec);
    size_t fl = (size_t)(c1 - spec);
    if (fl >= sizeof v->path)
        return lvm_err_set(err, ENAMETOOLONG, "volume file name too long");
    memcpy(v->path, spec, fl);
    const char *t = c1 + 1;
    const char *c2 = strchr(t, ':');
    size_t tl = c2 ? (size_t)(c2 - t) : strlen(t);
    if (tl == 0 || tl > QEMU_VOLUME_TARGET_MAX)
        return lvm_err_invalid(err, "volume '%.64s': expected FILE:PATH[:ro]",
                               spec);
    memcpy(v->target, t, tl);
    if (c2) {
        if (!strcmp(c2 + 1, "ro"))
            v->readonly = 1;
        else if (strcmp(c2 + 1, "rw"))
            return lvm_err_invalid(err,
                                   "volume '%.64s': the mode is ro or rw, not "
                                   "'%.16s'",
                                   spec, c2 + 1);
    }
    return qemu_volume_target_ok(v->target, err);
}

int qemu_volume_fstype(int fd, const char *path, const char **fstype,
                       struct lvm_err *err)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return lvm_err_set(err, errno, "volume %s", path);
    if (S_ISDIR(st.st_mode))
        return lvm_err_set(err, 0, /* says it all */
                           "volume %s is a directory: a Tinyx guest mounts "
                           "a filesystem image (make one: mke2fs -t ext4 -d "
                           "%s IMAGE 256M)",
                           path, path);
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
        return lvm_err_set(err, 0, /* says it all */
                           "volume %s is not a regular file or a block device",
                           path);
    /* The superblocks' magic numbers: ext2/3/4 at 1080, erofs at 1024. */
    uint8_t sb[2048];
    ssize_t n = pread(fd, sb, sizeof sb, 0);
    if (n == (ssize_t)sizeof sb) {
        if (sb[1080] == 0x53 && sb[1081] == 0xef) {
            *fstype = "ext4";
            return 0;
        }
        if (sb[1024] == 0xe2 && sb[1025] == 0xe1 && sb[1026] == 0xf5 &&
            sb[1027] == 0xe0) {
            *fstype = "erofs";
            return 0;
        }
    }
    return lvm_err_set(err, 0, /* says it all */
                       "volume %s holds no ext4 or erofs filesystem (make an "
                       "image: mke2fs -t ext4 -d DIR IMAGE 256M)",
                       path);
}

int qemu_volume_lock(int fd, const char *path, int readonly,
                     struct lvm_err *err)
{
    if (flock(fd, (readonly ? LOCK_SH : LOCK_EX) | LOCK_NB) == 0)
        return 0;
    if (errno == EWOULDBLOCK)
        return lvm_err_set(err, 0, "volume %s is in use by another guest%s",
                           path, readonly ? " (writable there)" : "");
    return lvm_err_set(err, errno, "lock volume %s", path);
}

int qemu_volume_conf(char **conf, unsigned i, const struct qemu_volume *v,
                     const char *fstype, struct lvm_err *err)
{
    /* ext4 read-only: no journal replay, which would write. */
    const char *opts = !v->readonly              ? "rw"
                       : !strcmp(fstype, "ext4") ? "ro,noload"
                                                 : "ro";
    char line[QEMU_VOLUME_TARGET_MAX + 64];
    int n = snprintf(line, sizeof line, "mount serial:vol%u %s %s %s\n", i,
                     v->target, fstype, opts);
    size_t old = *conf ? strlen(*conf) : 0;
    char *c = realloc(*conf, old + (size_t)n + 1);
    if (!c)
        return lvm_err_set(err, ENOMEM, "volume settings");
    memcpy(c + old, line, (size_t)n + 1);
    *conf = c;
    return 0;
}
