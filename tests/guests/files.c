/*
 * files.c: the guest's file tree, through musl's ordinary calls.
 *
 *   files check        every served call against what Linux answers
 *   files cat PATH     print a file (stdio), exit 1 if it cannot be read
 *   files fill MIB     write MIB MiB to /tmp/fill, report ENOSPC and
 *                      where it struck
 *   files ticks MS     a snapshot's test: each tick appends a line to
 *                      /tmp/log through a descriptor opened at start,
 *                      reads the file back and checks it and the image's
 *                      files, then prints "tick N ok" (exit 0 on poweroff)
 *
 * Its image carries tests/guests/files-tree (and data/big.txt, the
 * numbers 1 to 5000, one a line), linked with lightvm-cc --files.
 */
#include <lightvm/guest.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static int passed, failed;

#define CHECK(name, cond)                                                      \
    do {                                                                       \
        errno = 0;                                                             \
        if (cond) {                                                            \
            passed++;                                                          \
        } else {                                                               \
            failed++;                                                          \
            printf("FAIL %s (line %d, errno %d %s)\n", name, __LINE__, errno,  \
                   strerror(errno));                                           \
        }                                                                      \
    } while (0)

/* The call fails with (err). */
#define FAILS(name, call, err)                                                 \
    do {                                                                       \
        errno = 0;                                                             \
        long r_ = (long)(call);                                                \
        int e_ = errno;                                                        \
        if (r_ == -1 && e_ == (err)) {                                         \
            passed++;                                                          \
        } else {                                                               \
            failed++;                                                          \
            printf("FAIL %s: returned %ld errno %d (%s), want %s\n", name, r_, \
                   e_, strerror(e_), strerror(err));                           \
        }                                                                      \
    } while (0)

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t r;
    while ((r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap)
            buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    buf[n] = 0;
    if (len)
        *len = n;
    return buf;
}

static int big_ok(void)
{
    FILE *f = fopen("/data/big.txt", "r");
    if (!f)
        return 0;
    char line[32];
    int k = 0, ok = 1;
    while (fgets(line, sizeof line, f))
        if (atoi(line) != ++k)
            ok = 0;
    fclose(f);
    return ok && k == 5000;
}

static void check_read(void)
{
    size_t n;
    char *s = slurp("/etc/motd", &n);
    CHECK("read motd", s && !strcmp(s, "hello from the image\nsecond line\n"));
    free(s);
    CHECK("read big through stdio", big_ok());

    int fd = open("/etc/motd", O_RDONLY | O_CLOEXEC);
    CHECK("open returns a tree fd", fd >= 256);
    char buf[64];
    CHECK("pread", pread(fd, buf, 4, 6) == 4 && !memcmp(buf, "from", 4));
    CHECK("lseek END", lseek(fd, 0, SEEK_END) == 33);
    CHECK("read at EOF", read(fd, buf, sizeof buf) == 0);
    CHECK("lseek SET", lseek(fd, 21, SEEK_SET) == 21);
    char a[6] = {0}, b[7] = {0};
    struct iovec iov[2] = {{a, 5}, {b, 6}};
    CHECK("readv", readv(fd, iov, 2) == 11 && !strcmp(a, "secon") &&
                       !strcmp(b, "d line"));
    FAILS("lseek negative", lseek(fd, -100, SEEK_CUR), EINVAL);
    FAILS("write to O_RDONLY", write(fd, "x", 1), EBADF);
    struct stat st;
    CHECK("fstat", fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
                       st.st_size == 33 && (st.st_mode & 0777) == 0644);
    CHECK("F_GETFD", fcntl(fd, F_GETFD) == FD_CLOEXEC);
    CHECK("F_SETFD", fcntl(fd, F_SETFD, 0) == 0 && fcntl(fd, F_GETFD) == 0);
    CHECK("F_GETFL", (fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDONLY);
    int d = dup(fd);
    CHECK("dup shares the offset",
          d > fd && lseek(fd, 3, SEEK_SET) == 3 && lseek(d, 0, SEEK_CUR) == 3);
    CHECK("dup2", dup2(fd, 300) == 300 && lseek(300, 0, SEEK_CUR) == 3);
    CHECK("close", close(fd) == 0 && close(d) == 0 && close(300) == 0);
    FAILS("close twice", close(fd), EBADF);
    FAILS("read closed", read(fd, buf, 1), EBADF);
    FAILS("fstat closed", fstat(fd, &st), EBADF);

    CHECK("stat", stat("/data/sub/deep.txt", &st) == 0 && st.st_size == 7);
    CHECK("stat dir", stat("/data/sub", &st) == 0 && S_ISDIR(st.st_mode));
    CHECK("lstat", lstat("/etc/app.conf", &st) == 0 && S_ISREG(st.st_mode));
    CHECK("stat . and ..",
          stat("/data/./sub/../sub//deep.txt", &st) == 0 && st.st_size == 7);
    CHECK("access R_OK", access("/etc/motd", R_OK) == 0);
    FAILS("access X_OK of a data file", access("/etc/motd", X_OK), EACCES);
    FAILS("open missing", open("/etc/passwd", O_RDONLY), ENOENT);
    FAILS("no way above the root", open("/../../../etc/passwd", O_RDONLY),
          ENOENT);
    CHECK("the root's parent is the root",
          access("/..//etc/../etc/motd", R_OK) == 0);
    FAILS("stat missing", stat("/nope/x", &st), ENOENT);
    FAILS("file as a directory", open("/etc/motd/x", O_RDONLY), ENOTDIR);
    FAILS("O_DIRECTORY on a file", open("/etc/motd", O_RDONLY | O_DIRECTORY),
          ENOTDIR);
    FAILS("write a directory", open("/etc", O_WRONLY), EISDIR);
    FAILS("empty path", open("", O_RDONLY), ENOENT);
    char longname[300];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    FAILS("name too long", open(longname, O_RDONLY), ENAMETOOLONG);
    FAILS("fopen missing", fopen("/no/such", "r") ? 0 : -1, ENOENT);
}

static void check_dirs(void)
{
    DIR *d = opendir("/data");
    CHECK("opendir", d != NULL);
    int seen = 0, n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        n++;
        if (!strcmp(e->d_name, "big.txt") && e->d_type == DT_REG)
            seen |= 1;
        if (!strcmp(e->d_name, "sub") && e->d_type == DT_DIR)
            seen |= 2;
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            seen |= 4;
    }
    CHECK("readdir", seen == 7 && n == 4);
    if (d) {
        rewinddir(d);
        CHECK("rewinddir", readdir(d) != NULL);
        closedir(d);
    }
    FAILS("opendir a file", opendir("/etc/motd") ? 0 : -1, ENOTDIR);

    char cwd[256];
    CHECK("getcwd /", getcwd(cwd, sizeof cwd) && !strcmp(cwd, "/"));
    CHECK("chdir", chdir("/data/sub") == 0);
    CHECK("getcwd", getcwd(cwd, sizeof cwd) && !strcmp(cwd, "/data/sub"));
    CHECK("relative open", access("deep.txt", R_OK) == 0);
    CHECK("relative ..", access("../big.txt", R_OK) == 0);
    FAILS("getcwd small buffer", getcwd(cwd, 4) ? 0 : -1, ERANGE);
    FAILS("chdir to a file", chdir("deep.txt"), ENOTDIR);
    CHECK("chdir back", chdir("/") == 0);
    int dfd = open("/data", O_RDONLY | O_DIRECTORY);
    CHECK("openat a dir fd",
          dfd >= 0 && faccessat(dfd, "sub/deep.txt", R_OK, 0) == 0);
    struct stat st;
    CHECK("fstatat",
          fstatat(dfd, "big.txt", &st, 0) == 0 && st.st_size > 20000);
    close(dfd);
}

static void check_write(void)
{
    FILE *f = fopen("/tmp/out.txt", "w");
    CHECK("fopen w in /tmp", f != NULL);
    if (f) {
        for (int i = 0; i < 1000; i++)
            fprintf(f, "line %d\n", i);
        CHECK("fclose", fclose(f) == 0);
    }
    size_t n;
    char *s = slurp("/tmp/out.txt", &n);
    CHECK("written and read back",
          s && n == 8890 && !strncmp(s + n - 9, "line 999\n", 9));
    free(s);
    f = fopen("/tmp/out.txt", "a");
    fputs("tail\n", f);
    fclose(f);
    struct stat st;
    CHECK("append", stat("/tmp/out.txt", &st) == 0 && st.st_size == 8895);
    CHECK("truncate", truncate("/tmp/out.txt", 10) == 0 &&
                          stat("/tmp/out.txt", &st) == 0 && st.st_size == 10);

    int fd = open("/tmp/sparse", O_RDWR | O_CREAT | O_EXCL, 0600);
    CHECK("O_CREAT|O_EXCL", fd >= 0);
    FAILS("O_EXCL again", open("/tmp/sparse", O_RDWR | O_CREAT | O_EXCL, 0600),
          EEXIST);
    CHECK("pwrite past the end", pwrite(fd, "end", 3, 10000) == 3);
    char buf[16] = {1};
    CHECK("the hole reads as zeros", pread(fd, buf, 4, 5000) == 4 && !buf[0] &&
                                         !buf[1] && !buf[2] && !buf[3]);
    CHECK("ftruncate",
          ftruncate(fd, 2) == 0 && fstat(fd, &st) == 0 && st.st_size == 2);
    CHECK("mode from umask", (st.st_mode & 0777) == 0600);
    close(fd);

    /* Writes anywhere shadow the image; the image itself never changes. */
    f = fopen("/etc/motd", "r+");
    CHECK("open an image file for writing", f != NULL);
    if (f) {
        fputs("HELLO", f);
        fclose(f);
    }
    s = slurp("/etc/motd", &n);
    CHECK("copy on write",
          s && !strcmp(s, "HELLO from the image\nsecond line\n"));
    free(s);

    CHECK("mkdir", mkdir("/tmp/d", 0755) == 0);
    FAILS("mkdir exists", mkdir("/tmp/d", 0755), EEXIST);
    FAILS("mkdir in a missing dir", mkdir("/tmp/no/d", 0755), ENOENT);
    CHECK("create in new dir",
          (fd = creat("/tmp/d/f", 0644)) >= 0 && close(fd) == 0);
    FAILS("rmdir non-empty", rmdir("/tmp/d"), ENOTEMPTY);
    CHECK("rename",
          rename("/tmp/d/f", "/tmp/d/g") == 0 && access("/tmp/d/g", F_OK) == 0);
    FAILS("renamed away", access("/tmp/d/f", F_OK), ENOENT);
    CHECK("rename over a file", rename("/tmp/out.txt", "/tmp/d/g") == 0 &&
                                    stat("/tmp/d/g", &st) == 0 &&
                                    st.st_size == 10);
    FAILS("rename a dir into itself", rename("/tmp/d", "/tmp/d/x"), EINVAL);
    FAILS("unlink a dir", unlink("/tmp/d"), EISDIR);
    CHECK("unlink", unlink("/tmp/d/g") == 0);
    FAILS("unlinked", stat("/tmp/d/g", &st), ENOENT);
    CHECK("rmdir", rmdir("/tmp/d") == 0);
    FAILS("rmdir a file", rmdir("/etc/motd"), ENOTDIR);

    /* tmpfile(): open, unlink, use, close. */
    f = tmpfile();
    CHECK("tmpfile", f != NULL);
    if (f) {
        fputs("scratch", f);
        rewind(f);
        char t[16] = {0};
        CHECK("tmpfile read back",
              fgets(t, sizeof t, f) && !strcmp(t, "scratch"));
        fclose(f);
    }
    char tmpl[] = "/tmp/fooXXXXXX";
    fd = mkstemp(tmpl);
    CHECK("mkstemp", fd >= 0 && unlink(tmpl) == 0 && write(fd, "x", 1) == 1 &&
                         close(fd) == 0);
}

static void check_devices(void)
{
    unsigned char a[32], b[32], z[8] = {1};
    int fd = open("/dev/urandom", O_RDONLY);
    CHECK("/dev/urandom", fd >= 0 && read(fd, a, sizeof a) == 32 &&
                              read(fd, b, sizeof b) == 32 && memcmp(a, b, 32));
    close(fd);
    fd = open("/dev/zero", O_RDONLY);
    CHECK("/dev/zero", fd >= 0 && read(fd, z, sizeof z) == 8 && !z[0] && !z[7]);
    close(fd);
    FILE *f = fopen("/dev/null", "w");
    CHECK("/dev/null", f && fputs("gone", f) >= 0 && fclose(f) == 0);
    struct stat st;
    CHECK("a character device",
          stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode));
}

static void check_limits(void)
{
    int fds[80], n = 0;
    while (n < 80 && (fds[n] = open("/etc/app.conf", O_RDONLY)) >= 0)
        n++;
    int e = errno;
    CHECK("EMFILE after 64", n == 64 && e == EMFILE);
    while (n > 0)
        close(fds[--n]);
    char buf[8];
    FAILS("bad fd", read(999, buf, 1), EBADF);
    FAILS("negative fd", read(-5, buf, 1), EBADF);
    CHECK("isatty on a file",
          (n = open("/etc/motd", O_RDONLY)) >= 0 && !isatty(n));
    close(n);
}

static int fill(long mib)
{
    int fd = open("/tmp/fill", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return 2;
    static char chunk[65536];
    memset(chunk, 'f', sizeof chunk);
    long long total = 0;
    for (long i = 0; i < mib * 16; i++) {
        ssize_t r = write(fd, chunk, sizeof chunk);
        if (r < 0) {
            printf("write failed after %lld KiB: %s\n", total >> 10,
                   strerror(errno));
            /* The guest goes on: the space comes back with the file. */
            close(fd);
            unlink("/tmp/fill");
            fd = open("/tmp/again", O_WRONLY | O_CREAT, 0644);
            printf("after unlink: %s\n",
                   fd >= 0 && write(fd, chunk, sizeof chunk) ==
                                  (ssize_t)sizeof chunk
                       ? "writable"
                       : "full");
            return 0;
        }
        total += r;
    }
    printf("wrote %lld KiB\n", total >> 10);
    close(fd);
    return 0;
}

static int ticks(long ms)
{
    int fd = open("/tmp/log", O_RDWR | O_CREAT | O_APPEND, 0644);
    int img = open("/etc/motd", O_RDONLY);
    if (fd < 0 || img < 0)
        return 2;
    setvbuf(stdout, NULL, _IOLBF, 0);
    char want[64 * 1024];
    size_t wlen = 0;
    for (unsigned long tick = 1; !lvm_poweroff_requested(); tick++) {
        int l = snprintf(want + wlen, sizeof want - wlen, "tick %lu\n", tick);
        if (wlen + (size_t)l >= sizeof want)
            wlen = 0; /* long runs: the check below still covers a file */
        if (write(fd, want + wlen, (size_t)l) != l)
            return 3;
        wlen += (size_t)l;
        size_t n;
        char *s = slurp("/tmp/log", &n);
        char m[8] = {0};
        int ok = s && n >= wlen && !memcmp(s + n - wlen, want, wlen) &&
                 pread(img, m, 5, 0) == 5 && !strcmp(m, "hello") && big_ok();
        free(s);
        printf("tick %lu %s\n", tick, ok ? "ok" : "BAD");
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "check";
    if (!strcmp(what, "cat") && argc > 2) {
        char *s = slurp(argv[2], NULL);
        if (!s) {
            printf("cat: %s: %s\n", argv[2], strerror(errno));
            return 1;
        }
        fputs(s, stdout);
        return 0;
    }
    if (!strcmp(what, "fill") && argc > 2)
        return fill(atol(argv[2]));
    if (!strcmp(what, "ticks"))
        return ticks(argc > 2 ? atol(argv[2]) : 20);
    check_read();
    check_dirs();
    check_write();
    check_devices();
    check_limits();
    printf("files: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
