/*
 * init_mount.c: the init's "mount", "root" and "copy" lines (see
 * docs/tinyx.md, "Disks and mounts"): disks found by their virtio serial,
 * whatever order the devices came up in; overlayfs with its upper and
 * work directories made; the switch into a new root as switch_root(8)
 * does it (an initramfs cannot be pivoted away: the new root is moved
 * over / and chrooted into, and the init stays PID 1); files copied from
 * the initramfs into that root.
 */
#include "init.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* How long a disk may take to appear after virtio_blk is loaded (the
 * driver probes as it loads, so this only covers a slow emulated host). */
#define DISK_WAIT_MS 3000

static const struct {
    const char *name;
    unsigned long set, clear;
} flag_names[] = {
    {"ro", MS_RDONLY, 0},
    {"rw", 0, MS_RDONLY},
    {"nosuid", MS_NOSUID, 0},
    {"suid", 0, MS_NOSUID},
    {"nodev", MS_NODEV, 0},
    {"dev", 0, MS_NODEV},
    {"noexec", MS_NOEXEC, 0},
    {"exec", 0, MS_NOEXEC},
    {"noatime", MS_NOATIME, 0},
    {"nodiratime", MS_NODIRATIME, 0},
    {"relatime", MS_RELATIME, 0},
    {"strictatime", MS_STRICTATIME, 0},
    {"sync", MS_SYNCHRONOUS, 0},
    {"dirsync", MS_DIRSYNC, 0},
    {"remount", MS_REMOUNT, 0},
    {"bind", MS_BIND, 0},
    {"rbind", MS_BIND | MS_REC, 0},
    /* Propagation: every mount of the guest is its own; nothing to
     * share with. Accepted so that a container's options pass as they
     * are. */
    {"private", 0, 0},
    {"rprivate", 0, 0},
    {"shared", 0, 0},
    {"rshared", 0, 0},
    {"slave", 0, 0},
    {"rslave", 0, 0},
    {"unbindable", 0, 0},
    {"runbindable", 0, 0},
    {"defaults", 0, 0},
};

int init_mount_options(const char *options, unsigned long *flags, char *data,
                       size_t len)
{
    *flags = 0;
    data[0] = 0;
    size_t used = 0;
    for (const char *p = options; *p;) {
        size_t n = strcspn(p, ",");
        size_t i;
        for (i = 0; i < sizeof flag_names / sizeof flag_names[0]; i++)
            if (strlen(flag_names[i].name) == n &&
                !strncmp(p, flag_names[i].name, n))
                break;
        if (i < sizeof flag_names / sizeof flag_names[0]) {
            *flags = (*flags & ~flag_names[i].clear) | flag_names[i].set;
        } else if (n) {
            if (used + n + 2 > len)
                return -1;
            if (used)
                data[used++] = ',';
            memcpy(data + used, p, n);
            used += n;
            data[used] = 0;
        }
        p += n;
        if (*p == ',')
            p++;
    }
    return 0;
}

static int mkdir_p(const char *path, mode_t mode)
{
    char buf[512];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(buf, mode) < 0 && errno != EEXIST)
        return -1;
    return 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* /dev/vdX whose /sys/block/vdX/serial is (serial). */
static int find_disk(const char *serial, char *dev, size_t len)
{
    for (long waited = 0; waited <= DISK_WAIT_MS; waited += 10) {
        DIR *d = opendir("/sys/block");
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (strncmp(e->d_name, "vd", 2))
                continue;
            char path[300], got[64] = "";
            snprintf(path, sizeof path, "/sys/block/%s/serial", e->d_name);
            int fd = open(path, O_RDONLY | O_CLOEXEC);
            if (fd < 0)
                continue;
            ssize_t n = read(fd, got, sizeof got - 1);
            close(fd);
            if (n <= 0)
                continue;
            got[n] = 0;
            got[strcspn(got, "\n")] = 0;
            if (!strcmp(got, serial)) {
                snprintf(dev, len, "/dev/%s", e->d_name);
                closedir(d);
                return 0;
            }
        }
        if (d)
            closedir(d);
        sleep_ms(10);
    }
    errno = ENODEV;
    return -1;
}

/* overlayfs wants its upper and work directories to exist. */
static int overlay_dirs(const char *data)
{
    static const char *const keys[] = {"upperdir=", "workdir="};
    for (size_t k = 0; k < 2; k++) {
        const char *p = strstr(data, keys[k]);
        if (!p)
            continue;
        p += strlen(keys[k]);
        char dir[512];
        size_t n = strcspn(p, ",");
        if (n >= sizeof dir) {
            errno = ENAMETOOLONG;
            return -1;
        }
        memcpy(dir, p, n);
        dir[n] = 0;
        if (mkdir_p(dir, 0755) < 0)
            return -1;
    }
    return 0;
}

static int do_mount(const struct init_mount *m, char *why, size_t len)
{
    unsigned long flags;
    char data[1024], dev[64];
    const char *src = m->source;
    if (init_mount_options(m->options, &flags, data, sizeof data) < 0) {
        snprintf(why, len, "mount %s: options too long", m->target);
        return -1;
    }
    if (!strncmp(src, "serial:", 7)) {
        if (find_disk(src + 7, dev, sizeof dev) < 0) {
            snprintf(why, len, "mount %s: no disk with serial %s", m->target,
                     src + 7);
            return -1;
        }
        src = dev;
    }
    if (mkdir_p(m->target, 0755) < 0 ||
        (!strcmp(m->fstype, "overlay") && overlay_dirs(data) < 0)) {
        snprintf(why, len, "mount %s: mkdir: %s", m->target, strerror(errno));
        return -1;
    }
    int r;
    if (flags & MS_BIND) {
        /* A bind takes no flags but MS_REC; the rest is a remount. */
        r = mount(src, m->target, NULL, flags & (MS_BIND | MS_REC), NULL);
        unsigned long rest = flags & ~(MS_BIND | MS_REC);
        if (r == 0 && rest)
            r = mount(NULL, m->target, NULL, MS_REMOUNT | MS_BIND | rest, NULL);
    } else {
        r = mount(src, m->target, m->fstype, flags, data[0] ? data : NULL);
    }
    if (r < 0) {
        snprintf(why, len, "mount %s on %s (%s): %s", m->source, m->target,
                 m->fstype, strerror(errno));
        return -1;
    }
    return 0;
}

/* As switch_root(8): the kernel filesystems move along, the new root
 * goes over /, and / is chrooted into. The initramfs stays in memory
 * (its files are what "copy" lines read, through (*oldroot)). */
static int switch_root(const char *root, int *oldroot, char *why, size_t len)
{
    static const char *const keep[] = {"/dev", "/proc", "/sys"};
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
        char to[512];
        snprintf(to, sizeof to, "%s%s", root, keep[i]);
        mkdir(to, 0755);
        if (mount(keep[i], to, NULL, MS_MOVE, NULL) < 0) {
            snprintf(why, len, "root %s: move %s: %s", root, keep[i],
                     strerror(errno));
            return -1;
        }
    }
    *oldroot = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (*oldroot < 0 || chdir(root) < 0 ||
        mount(root, "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 ||
        chdir("/") < 0) {
        snprintf(why, len, "root %s: %s", root, strerror(errno));
        return -1;
    }
    return 0;
}

/* A snapshot of a file of the initramfs, written over whatever (dst)
 * was (a symlink is replaced, not followed). */
static int copy_file(int oldroot, const struct init_copy *cp, char *why,
                     size_t len)
{
    int in = openat(oldroot, cp->src + 1, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (in < 0 || fstat(in, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(why, len, "copy %s: %s", cp->src,
                 in < 0 ? strerror(errno) : "not a file");
        if (in >= 0)
            close(in);
        return -1;
    }
    char parent[512];
    snprintf(parent, sizeof parent, "%s", cp->dst);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent) {
        *slash = 0;
        mkdir_p(parent, 0755);
    }
    unlink(cp->dst);
    int out = open(cp->dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                   st.st_mode & 07777);
    int r = out < 0 ? -1 : 0;
    char buf[8192];
    ssize_t n;
    while (r == 0 && (n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)n) != n)
            r = -1;
    if (r == 0 && (fchown(out, st.st_uid, st.st_gid) < 0 ||
                   fchmod(out, st.st_mode & 07777) < 0))
        r = -1;
    if (r < 0)
        snprintf(why, len, "copy %s to %s: %s", cp->src, cp->dst,
                 strerror(errno));
    close(in);
    if (out >= 0)
        close(out);
    return r;
}

int init_mount_all(const struct init_conf *c, char *why, size_t len)
{
    for (int i = 0; i < c->nmounts; i++)
        if (!c->mounts[i].in_root && do_mount(&c->mounts[i], why, len) < 0)
            return -1;
    if (!c->root) {
        if (c->ncopies) {
            snprintf(why, len, "copy lines need a root line");
            return -1;
        }
        return 0;
    }
    int oldroot = -1;
    int r = switch_root(c->root, &oldroot, why, len);
    for (int i = 0; r == 0 && i < c->ncopies; i++)
        r = copy_file(oldroot, &c->copies[i], why, len);
    if (oldroot >= 0)
        close(oldroot);
    for (int i = 0; r == 0 && i < c->nmounts; i++)
        if (c->mounts[i].in_root)
            r = do_mount(&c->mounts[i], why, len);
    return r;
}
