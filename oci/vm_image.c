/*
 * vm_image.c: the root image cache (vm_image.h).
 */
#include "oci/errf.h"
#include "oci/vm_image.h"
#include "oci/state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

/* Recursion bound: deeper trees are refused rather than overflow. */
#define TREE_DEPTH_MAX 64

struct walk {
    EVP_MD_CTX *md;
    const char *const *skip;
    int nskip;
    char *err;
    size_t errlen;
};

static int skipped(const struct walk *w, const char *path)
{
    for (int i = 0; i < w->nskip; i++)
        if (!strcmp(w->skip[i], path))
            return 1;
    return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int walk_dir(struct walk *w, int dfd, const char *path, int depth);

/* One entry (name) of (dfd), at (path) in the tree. */
/* A regular file's bytes into the key. */
static int hash_contents(struct walk *w, int dfd, const char *name,
                         const char *path)
{
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return oci_errf(w->err, w->errlen, "rootfs %s: %s", path,
                        strerror(errno));
    static char buf[1 << 16];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        if (!EVP_DigestUpdate(w->md, buf, (size_t)n)) {
            n = -1;
            errno = ENOMEM;
            break;
        }
    int e = errno;
    close(fd);
    if (n < 0)
        return oci_errf(w->err, w->errlen, "rootfs %s: %s", path, strerror(e));
    return 0;
}

/* An entry's extended attributes (names and values, in the order the
 * filesystem lists them: the same tree lists them alike) into the key;
 * mkfs.erofs copies them. */
static int hash_xattrs(struct walk *w, int dfd, const char *name,
                       const char *path)
{
    char self[64];
    int fd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return oci_errf(w->err, w->errlen, "rootfs %s: %s", path,
                        strerror(errno));
    snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
    static char names[1 << 16], value[1 << 16];
    ssize_t len = llistxattr(self, names, sizeof names);
    int r = 0;
    for (ssize_t off = 0; len > 0 && off < len && r == 0;) {
        const char *k = names + off;
        off += (ssize_t)strlen(k) + 1;
        ssize_t vl = lgetxattr(self, k, value, sizeof value);
        if (vl < 0 || !EVP_DigestUpdate(w->md, k, strlen(k) + 1) ||
            !EVP_DigestUpdate(w->md, value, (size_t)vl))
            r = oci_errf(w->err, w->errlen, "rootfs %s: xattr %s", path, k);
    }
    close(fd);
    return r;
}

static int walk_entry(struct walk *w, int dfd, const char *name,
                      const char *path, int depth)
{
    struct stat st;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return oci_errf(w->err, w->errlen, "rootfs %s: %s", path,
                        strerror(errno));
    if (skipped(w, path))
        return 0;
    char rec[PATH_MAX + 256], target[PATH_MAX] = "";
    long long mtime = 0, size = 0;
    if (S_ISREG(st.st_mode)) {
        mtime =
            (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
        size = (long long)st.st_size;
    } else if (S_ISLNK(st.st_mode)) {
        ssize_t n = readlinkat(dfd, name, target, sizeof target - 1);
        if (n < 0)
            return oci_errf(w->err, w->errlen, "rootfs %s: %s", path,
                            strerror(errno));
        target[n] = 0;
    }
    int n =
        snprintf(rec, sizeof rec, "%s%c%o %u %u %lld %lld %llx %s", path, 0,
                 (unsigned)st.st_mode, (unsigned)st.st_uid, (unsigned)st.st_gid,
                 size, mtime, (unsigned long long)st.st_rdev, target);
    if (n < 0 || (size_t)n >= sizeof rec ||
        !EVP_DigestUpdate(w->md, rec, (size_t)n + 1))
        return oci_errf(w->err, w->errlen, "rootfs %s: path too long", path);
    /* What the image holds, not only what describes it: an image's author
     * sets every metadata field (tar headers), so metadata alone would let
     * one image be served for another. Contents and xattrs go in too. */
    if (hash_xattrs(w, dfd, name, path) < 0)
        return -1;
    if (S_ISREG(st.st_mode))
        return hash_contents(w, dfd, name, path);
    if (!S_ISDIR(st.st_mode))
        return 0;
    int sub =
        openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub < 0)
        return oci_errf(w->err, w->errlen, "rootfs %s: %s", path,
                        strerror(errno));
    int r = walk_dir(w, sub, path, depth + 1);
    close(sub);
    return r;
}

static int walk_dir(struct walk *w, int dfd, const char *path, int depth)
{
    if (depth > TREE_DEPTH_MAX)
        return oci_errf(w->err, w->errlen, "rootfs %s: deeper than %d levels",
                        path, TREE_DEPTH_MAX);
    int fd = dup(dfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return oci_errf(w->err, w->errlen, "rootfs %s: %s", path,
                        strerror(errno));
    }
    /* Sorted: readdir's order is the filesystem's, not the content's. */
    struct dirent **names = NULL;
    int count = 0, cap = 0, r = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (count == cap) {
            cap = cap ? cap * 2 : 32;
            struct dirent **nn = realloc(names, (size_t)cap * sizeof *nn);
            if (!nn) {
                r = oci_errf(w->err, w->errlen, "out of memory");
                break;
            }
            names = nn;
        }
        size_t sz = offsetof(struct dirent, d_name) + strlen(e->d_name) + 1;
        names[count] = malloc(sz);
        if (!names[count]) {
            r = oci_errf(w->err, w->errlen, "out of memory");
            break;
        }
        memcpy(names[count++], e, sz);
    }
    if (r == 0 && count > 1) /* (an empty directory has no array) */
        qsort(names, (size_t)count, sizeof *names,
              (int (*)(const void *, const void *))by_name);
    for (int i = 0; r == 0 && i < count; i++) {
        char sub[PATH_MAX];
        if (snprintf(sub, sizeof sub, "%s/%s", strcmp(path, "/") ? path : "",
                     names[i]->d_name) >= (int)sizeof sub)
            r = oci_errf(w->err, w->errlen, "rootfs %s: path too long", path);
        else
            r = walk_entry(w, dfd, names[i]->d_name, sub, depth);
    }
    for (int i = 0; i < count; i++)
        free(names[i]);
    free(names);
    closedir(d);
    return r;
}

int oci_vm_tree_key(int dirfd, const char *const *skip, int nskip, char key[65],
                    char *err, size_t errlen)
{
    struct walk w = {EVP_MD_CTX_new(), skip, nskip, err, errlen};
    if (!w.md || !EVP_DigestInit_ex(w.md, EVP_sha256(), NULL)) {
        EVP_MD_CTX_free(w.md);
        return oci_errf(err, errlen, "SHA-256: out of memory");
    }
    /* The format's version: a change of what is hashed changes keys. */
    static const char version[] = "lightvm-rootfs-key 1";
    EVP_DigestUpdate(w.md, version, sizeof version);
    int r = walk_dir(&w, dirfd, "/", 0);
    unsigned char h[32];
    unsigned hl = 0;
    if (r == 0 && !EVP_DigestFinal_ex(w.md, h, &hl))
        r = oci_errf(err, errlen, "SHA-256 failed");
    EVP_MD_CTX_free(w.md);
    if (r == 0)
        for (unsigned i = 0; i < 32; i++)
            snprintf(key + 2 * i, 3, "%02x", h[i]);
    return r;
}

const char *oci_vm_cache_dir(void)
{
    const char *env = getenv("LIGHTVM_ROOTFS_CACHE");
    return env && *env ? env : OCI_VM_CACHE_DEFAULT;
}

/* mkfs.erofs (image) (rootfs), its output kept in (log) for errors. */
static int mkfs(const char *image, const char *rootfs, char *err, size_t errlen)
{
    FILE *log = tmpfile();
    pid_t pid = fork();
    if (pid < 0) {
        if (log)
            fclose(log);
        return oci_errf(err, errlen, "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        int nul = open("/dev/null", O_RDWR);
        dup2(nul, 0);
        dup2(log ? fileno(log) : nul, 1);
        dup2(log ? fileno(log) : nul, 2);
        /* -T0: every inode's time 0 where the tree gives none (the build
         * time), so one tree makes one image. */
        execlp("mkfs.erofs", "mkfs.erofs", "-T0", image, rootfs, (char *)NULL);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            break;
    int r = 0;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        char last[256] = "";
        if (log) {
            rewind(log);
            char line[256];
            while (fgets(line, sizeof line, log))
                if (line[0] != '\n')
                    snprintf(last, sizeof last, "%s", line);
            last[strcspn(last, "\n")] = 0;
        }
        if (WIFEXITED(st) && WEXITSTATUS(st) == 127 && !last[0])
            r = oci_errf(err, errlen,
                         "mkfs.erofs not found: install erofs-utils (a VM "
                         "container's root image is made with it)");
        else
            r = oci_errf(err, errlen, "mkfs.erofs %s: %s", rootfs,
                         last[0] ? last : "failed");
    }
    if (log)
        fclose(log);
    return r;
}

int oci_vm_image(const char *rootfs, const char *key, char *path,
                 size_t pathlen, char *err, size_t errlen)
{
    const char *dir = oci_vm_cache_dir();
    if (oci_mkdir_p(dir, 0700) < 0)
        return oci_errf(err, errlen, "image cache %s: %s", dir,
                        strerror(errno));
    if (snprintf(path, pathlen, "%s/%s.erofs", dir, key) >= (int)pathlen)
        return oci_errf(err, errlen, "image cache %s: path too long", dir);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
        return 0; /* cached */
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s/.%s.%d.tmp", dir, key, (int)getpid());
    int r = mkfs(tmp, rootfs, err, errlen);
    if (r == 0 && rename(tmp, path) < 0)
        r = oci_errf(err, errlen, "image cache %s: %s", path, strerror(errno));
    if (r < 0)
        unlink(tmp);
    return r;
}
