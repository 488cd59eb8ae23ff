/*
 * test_snapfile.c: the state file (toolstack/snapfile.c): a round trip of
 * each kind, the layout docs/snapshot-format.md gives, the RAM memfd's
 * holes and seals, no file replaced without force and nothing left
 * behind by a failure, and one refusal per kind of bad file (each made
 * from a good file with one thing wrong and, unless the checksum is what
 * is tested, its checksum fixed so that the check under test is the one
 * that fires).
 */
#include "unit.h"

#include "toolstack/snapfile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE 4096u
#define RAM (1u << 20) /* LVM_RAM_MIN: 256 pages */
#define CONFIG "{\"devices\":[{\"type\":\"console\"}]}"

struct fixture {
    char dir[64];
    char path[128]; /* dir/state.snap */
    int dirfd;
    const void *param; /* a refusal case */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->param = *state;
    snprintf(f->dir, sizeof f->dir, "/tmp/test_snapfile.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/state.snap", f->dir);
    f->dirfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(f->dirfd >= 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    /* What test_dirfd_and_subdir makes, should it fail half-way. */
    unlinkat(f->dirfd, "sub/x.snap", 0);
    unlinkat(f->dirfd, "sub", AT_REMOVEDIR);
    DIR *d = fdopendir(f->dirfd);
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            unlinkat(f->dirfd, e->d_name, 0);
    closedir(d);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* Entries in (f)'s directory other than . and ..; (temps) counts the
 * hidden ones, which is what a temporary's name looks like. */
static int entries(const struct fixture *f, int *temps)
{
    DIR *d = opendir(f->dir);
    assert_non_null(d);
    int n = 0;
    *temps = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        n++;
        *temps += e->d_name[0] == '.';
    }
    closedir(d);
    return n;
}

static void assert_no_temp(const struct fixture *f)
{
    int temps;
    entries(f, &temps);
    assert_int_equal(temps, 0);
}

/* Page (i)'s bytes: its index, then a pattern of its own. */
static void fill_page(uint8_t *p, uint64_t i)
{
    for (unsigned k = 0; k < PAGE; k++)
        p[k] = (uint8_t)(i * 7 + k * 13 + 1);
    memcpy(p, &i, sizeof i);
}

static void write_pages(struct snap_writer *w, uint64_t first, uint64_t count)
{
    uint8_t *buf = malloc(count * PAGE);
    assert_non_null(buf);
    for (uint64_t i = 0; i < count; i++)
        fill_page(buf + i * PAGE, first + i);
    struct lvm_err err;
    assert_int_equal(snap_write_pages(w, first, count, buf, &err), 0);
    free(buf);
}

static void good_info(struct snap_info *info, uint32_t kind)
{
    memset(info, 0, sizeof *info);
    info->kind = kind;
    snprintf(info->monitor, sizeof info->monitor, "%s",
             kind == SNAP_KIND_QEMU ? "qemu" : "kvm");
    info->ram_size = kind == SNAP_KIND_QEMU ? 0 : RAM;
    for (int i = 0; i < SNAP_HASH_LEN; i++)
        info->image_hash[i] = (uint8_t)(0xa0 + i);
    info->image_size = 123456;
    snprintf(info->image_name, sizeof info->image_name, "hello.elf");
    snprintf(info->guest_name, sizeof info->guest_name, "web-1");
    snprintf(info->guest_id, sizeof info->guest_id, "0123456789abcdef");
    info->saved_unix_ms = 1790000000123ull;
    info->status.magic = LVM_STATUS_MAGIC;
    info->status.control_ack_seq = 5;
    snprintf(info->status.message, sizeof info->status.message, "saved");
    info->devpage.magic = LVM_DEVPAGE_MAGIC;
    info->devpage.abi_version = LVM_ABI_VERSION;
    info->devpage.ndevices = 1;
    info->devpage.dev[0].type = LVM_DEV_CONSOLE;
    info->config = (char *)CONFIG;
    info->config_len = strlen(CONFIG);
}

/* The good unikernel file every refusal starts from: pages [0, 3) (given
 * as two adjacent runs, merged), [10, 12) and the last page, 255. */
static void write_good(const struct fixture *f)
{
    struct snap_writer w;
    struct snap_info info;
    struct lvm_err err;
    good_info(&info, SNAP_KIND_UNIKERNEL);
    assert_int_equal(snap_write_begin(&w, AT_FDCWD, f->path, 0, &err), 0);
    write_pages(&w, 0, 2);
    write_pages(&w, 2, 1);
    write_pages(&w, 10, 2);
    write_pages(&w, 255, 1);
    if (snap_write_commit(&w, &info, &err) < 0)
        fail_msg("commit: %s", err.msg);
}

static uint8_t *read_whole(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    *len = (size_t)st.st_size;
    uint8_t *buf = malloc(*len + PAGE); /* room to grow a little */
    assert_non_null(buf);
    assert_int_equal(pread(fd, buf, *len, 0), (ssize_t)*len);
    close(fd);
    return buf;
}

static void write_whole(const char *path, const uint8_t *buf, size_t len)
{
    int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, buf, len), (ssize_t)len);
    close(fd);
}

/* Recompute the checksum as the format defines it (independently of the
 * library): SHA-256(body || header with the checksum zeroed). */
static void fix_checksum(uint8_t *buf, size_t len)
{
    struct snap_header *h = (struct snap_header *)buf;
    memset(h->checksum, 0, sizeof h->checksum);
    unsigned n = 0;
    uint8_t sum[SNAP_HASH_LEN];
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    assert_non_null(c);
    assert_true(EVP_DigestInit_ex(c, EVP_sha256(), NULL));
    if (len > SNAP_HEADER_LEN)
        assert_true(
            EVP_DigestUpdate(c, buf + SNAP_HEADER_LEN, len - SNAP_HEADER_LEN));
    assert_true(EVP_DigestUpdate(c, buf, SNAP_HEADER_LEN));
    assert_true(EVP_DigestFinal_ex(c, sum, &n));
    EVP_MD_CTX_free(c);
    memcpy(h->checksum, sum, sizeof sum);
}

static int open_read(const char *path, struct snap_info *info,
                     struct lvm_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    int rc = snap_read_info(fd, info, err);
    close(fd);
    return rc;
}

/* ---- Round trips -------------------------------------------------------- */

static void assert_same_header(const struct snap_info *a,
                               const struct snap_info *b)
{
    assert_int_equal(a->version, SNAP_VERSION);
    assert_int_equal(a->kind, b->kind);
    assert_string_equal(a->monitor, b->monitor);
    assert_true(a->ram_size == b->ram_size);
    assert_memory_equal(a->image_hash, b->image_hash, SNAP_HASH_LEN);
    assert_true(a->image_size == b->image_size);
    assert_string_equal(a->image_name, b->image_name);
    assert_string_equal(a->guest_name, b->guest_name);
    assert_string_equal(a->guest_id, b->guest_id);
    assert_true(a->saved_unix_ms == b->saved_unix_ms);
    assert_int_equal(a->config_len, b->config_len);
    assert_string_equal(a->config, b->config);
}

static void test_roundtrip_unikernel(void **state)
{
    struct fixture *f = *state;
    write_good(f);
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_no_temp(f);

    struct snap_info want, got;
    struct lvm_err err;
    good_info(&want, SNAP_KIND_UNIKERNEL);
    if (open_read(f->path, &got, &err) < 0)
        fail_msg("read: %s", err.msg);
    assert_same_header(&got, &want);
    assert_memory_equal(&got.status, &want.status, sizeof want.status);
    assert_memory_equal(&got.devpage, &want.devpage, sizeof want.devpage);
    /* The adjacent runs [0, 2) and [2, 3) were merged. */
    assert_int_equal(got.nruns, 3);
    const struct snap_run runs[3] = {{0, 3}, {10, 2}, {255, 1}};
    for (int i = 0; i < 3; i++) {
        assert_true(got.runs[i].first == runs[i].first);
        assert_true(got.runs[i].count == runs[i].count);
    }
    assert_true(got.npages == 6);
    assert_true(got.data_off == SNAP_HEADER_LEN);
    assert_true(got.file_len == (uint64_t)st.st_size);
    snap_info_free(&got);
    assert_null(got.config);
    assert_null(got.runs);
}

/* The sections sit where docs/snapshot-format.md says the writer puts
 * them: pages, runs, config, status (8-aligned), device page, end. */
static void test_layout(void **state)
{
    struct fixture *f = *state;
    write_good(f);
    size_t len;
    uint8_t *buf = read_whole(f->path, &len);
    const struct snap_header *h = (const struct snap_header *)buf;
    const struct snap_section *s = h->sec;
    assert_memory_equal(h->magic, "LVMSNAP", 8);
    assert_int_equal(h->header_len, 4096);
    assert_true(s[SNAP_SEC_DATA].off == 4096);
    assert_true(s[SNAP_SEC_DATA].len == 6 * PAGE);
    assert_true(s[SNAP_SEC_RUNS].off == 4096 + 6 * PAGE);
    assert_true(s[SNAP_SEC_RUNS].len == 3 * 16);
    assert_true(s[SNAP_SEC_CONFIG].off == s[SNAP_SEC_RUNS].off + 48);
    assert_memory_equal(buf + s[SNAP_SEC_CONFIG].off, CONFIG, strlen(CONFIG));
    uint64_t cend = s[SNAP_SEC_CONFIG].off + strlen(CONFIG);
    assert_true(s[SNAP_SEC_STATUS].off == (cend + 7) / 8 * 8);
    assert_true(s[SNAP_SEC_DEVPAGE].off ==
                s[SNAP_SEC_STATUS].off + sizeof(struct lvm_status));
    assert_true(h->file_len == len);
    assert_true(len == s[SNAP_SEC_DEVPAGE].off + sizeof(struct lvm_devpage));
    assert_true(s[SNAP_SEC_BLOB].off == 0 && s[SNAP_SEC_BLOB].len == 0);
    /* Run table: little-endian pairs. */
    uint64_t r[2];
    memcpy(r, buf + s[SNAP_SEC_RUNS].off + 16, sizeof r);
    assert_true(r[0] == 10 && r[1] == 2);
    /* The checksum is the one the format defines. */
    uint8_t sum[SNAP_HASH_LEN];
    memcpy(sum, h->checksum, sizeof sum);
    fix_checksum(buf, len);
    assert_memory_equal(sum, h->checksum, sizeof sum);
    free(buf);
}

static void assert_hole(int fd, off_t off)
{
    assert_true(lseek(fd, off, SEEK_HOLE) == off);
}

static void test_ram_memfd(void **state)
{
    struct fixture *f = *state;
    write_good(f);
    int fd = open(f->path, O_RDONLY | O_CLOEXEC);
    struct snap_info info;
    struct lvm_err err;
    assert_int_equal(snap_read_info(fd, &info, &err), 0);
    int m = snap_read_ram(fd, &info, &err);
    if (m < 0)
        fail_msg("read_ram: %s", err.msg);
    close(fd);
    struct stat st;
    assert_int_equal(fstat(m, &st), 0);
    assert_int_equal(st.st_size, RAM);
    /* The saved pages are there... */
    uint8_t page[PAGE], want[PAGE];
    const uint64_t saved[] = {0, 1, 2, 10, 11, 255};
    for (size_t i = 0; i < sizeof saved / sizeof saved[0]; i++) {
        assert_int_equal(pread(m, page, PAGE, (off_t)(saved[i] * PAGE)), PAGE);
        fill_page(want, saved[i]);
        assert_memory_equal(page, want, PAGE);
    }
    /* ...and nothing else: holes between and after them. */
    assert_true(lseek(m, 0, SEEK_DATA) == 0);
    assert_hole(m, 3 * PAGE);
    assert_true(lseek(m, 3 * PAGE, SEEK_DATA) == 10 * PAGE);
    assert_hole(m, 12 * PAGE);
    assert_true(lseek(m, 12 * PAGE, SEEK_DATA) == 255 * PAGE);
    assert_int_equal(st.st_blocks * 512, 6 * PAGE);
    /* Sealed: neither grows nor shrinks, and the seals are final. */
    int seals = fcntl(m, F_GET_SEALS);
    assert_int_equal(seals & (F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL),
                     F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL);
    assert_int_equal(ftruncate(m, 2 * RAM), -1);
    assert_int_equal(ftruncate(m, PAGE), -1);
    assert_true(fcntl(m, F_GETFD) & FD_CLOEXEC);
    close(m);
    snap_info_free(&info);
}

/* More runs than the writer's first table holds, all single pages. */
static void test_many_runs(void **state)
{
    struct fixture *f = *state;
    struct snap_writer w;
    struct snap_info info, got;
    struct lvm_err err;
    good_info(&info, SNAP_KIND_UNIKERNEL);
    assert_int_equal(snap_write_begin(&w, AT_FDCWD, f->path, 0, &err), 0);
    for (uint64_t p = 0; p < 256; p += 2)
        write_pages(&w, p, 1);
    assert_int_equal(snap_write_commit(&w, &info, &err), 0);
    assert_int_equal(open_read(f->path, &got, &err), 0);
    assert_int_equal(got.nruns, 128);
    assert_true(got.npages == 128);
    assert_true(got.runs[127].first == 254);
    snap_info_free(&got);
}

static void test_roundtrip_qemu(void **state)
{
    struct fixture *f = *state;
    /* The blob is read from the fd's position, not from its start. */
    char src[128];
    snprintf(src, sizeof src, "%s/stream", f->dir);
    int in = open(src, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    uint8_t stream[5000];
    for (size_t i = 0; i < sizeof stream; i++)
        stream[i] = (uint8_t)(i * 31);
    assert_int_equal(write(in, stream, sizeof stream), sizeof stream);
    assert_int_equal(lseek(in, 100, SEEK_SET), 100);

    struct snap_writer w;
    struct snap_info want, got;
    struct lvm_err err;
    good_info(&want, SNAP_KIND_QEMU);
    assert_int_equal(snap_write_begin(&w, AT_FDCWD, f->path, 0, &err), 0);
    assert_int_equal(snap_write_blob(&w, in, 4000, &err), 0);
    close(in);
    assert_int_equal(snap_write_commit(&w, &want, &err), 0);
    assert_int_equal(unlink(src), 0);
    assert_no_temp(f);

    int fd = open(f->path, O_RDONLY | O_CLOEXEC);
    if (snap_read_info(fd, &got, &err) < 0)
        fail_msg("read: %s", err.msg);
    assert_same_header(&got, &want);
    assert_int_equal(got.nruns, 0);
    assert_true(got.npages == 0);
    assert_true(got.blob_off == SNAP_HEADER_LEN && got.blob_len == 4000);
    uint8_t back[4000];
    assert_int_equal(pread(fd, back, sizeof back, (off_t)got.blob_off),
                     sizeof back);
    assert_memory_equal(back, stream + 100, sizeof back);
    /* A QEMU state has no RAM of ours to rebuild. */
    assert_int_equal(snap_read_ram(fd, &got, &err), -1);
    close(fd);
    snap_info_free(&got);
}

/* A name relative to a directory fd, and a path through a directory. */
static void test_dirfd_and_subdir(void **state)
{
    struct fixture *f = *state;
    struct snap_writer w;
    struct snap_info info, got;
    struct lvm_err err;
    good_info(&info, SNAP_KIND_UNIKERNEL);
    assert_int_equal(mkdirat(f->dirfd, "sub", 0700), 0);
    assert_int_equal(snap_write_begin(&w, f->dirfd, "sub/x.snap", 0, &err), 0);
    write_pages(&w, 4, 1);
    assert_int_equal(snap_write_commit(&w, &info, &err), 0);
    char path[160];
    snprintf(path, sizeof path, "%s/sub/x.snap", f->dir);
    assert_int_equal(open_read(path, &got, &err), 0);
    snap_info_free(&got);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(unlinkat(f->dirfd, "sub", AT_REMOVEDIR), 0);
}

/* ---- Never replaced without force; nothing left after a failure ------- */

static void test_no_overwrite_without_force(void **state)
{
    struct fixture *f = *state;
    int fd = open(f->path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    assert_int_equal(write(fd, "precious", 8), 8);
    close(fd);
    struct snap_writer w;
    struct lvm_err err;
    assert_int_equal(snap_write_begin(&w, AT_FDCWD, f->path, 0, &err), -1);
    assert_int_equal(err.code, EEXIST);
    assert_non_null(strstr(err.msg, "exists"));
    assert_non_null(strstr(err.msg, "--force"));
    snap_write_abort(&w); /* harmless after a failed begin */
    int temps;
    assert_int_equal(entries(f, &temps), 1);
    assert_int_equal(temps, 0);
    size_t len;
    uint8_t *buf = read_whole(f->path, &len);
    assert_memory_equal(buf, "precious", 8);
    free(buf);
}

static void test_overwrite_with_force(void **state)
{
    struct fixture *f = *state;
    int fd = open(f->path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    assert_int_equal(write(fd, "old", 3), 3);
    close(fd);
    struct snap_writer w;
    struct snap_info info, got;
    struct lvm_err err;
    good_info(&info, SNAP_KIND_UNIKERNEL);
    assert_int_equal(snap_write_begin(&w, AT_FDCWD, f->path, 1, &err), 0);
    write_pages(&w, 7, 1);
    assert_int_equal(snap_write_commit(&w, &info, &err), 0);
    assert_int_equal(open_read(f->path, &got, &err), 0);
    assert_true(got.npages == 1);
    snap_info_free(&got);
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    int temps;
    assert_int_equal(entries(f, &temps), 1);
    assert_int_equal(temps, 0);
}

/* A file made between begin and commit is not replaced either. */
static void test_exists_at_rename(void **state)
{
    struct fixture *f = *state;
    struct snap_writer w;
    struct snap_info info;
    struct lvm_err err;
    good_info(&info, SNAP_KIND_UNIKERNEL);
    assert_int_equal(snap_write_begin(&w, AT_FDCWD, f->path, 0, &err), 0);
    write_pages(&w, 0, 1);
    int fd = open(f->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    assert_int_equal(write(fd, "raced", 5), 5);
    close(fd);
    assert_int_equal(snap_write_commit(&w, &info, &err), -1);
    assert_int_equal(err.code, EEXIST);
    assert_non_null(strstr(err.msg, "--force"));
    int temps;
    assert_int_equal(entries(f, &temps), 1);
    assert_int_equal(temps, 0);
    size_t len;
    uint8_t *buf = read_whole(f->path, &len);
    assert_int_equal(len, 5);
    free(buf);
    snap_write_abort(&w); /* harmless after commit */
}

static void assert_dir_empty(const struct fixture *f)
{
    int temps;
    assert_int_equal(entries(f, &temps), 0);
}

static void test_failed_commit_leaves_nothing(void **state)
{
    struct fixture *f = *state;
    struct snap_writer w;
    struct snap_info info;
    struct lvm_err err;
    good_info(&info, SNAP_KIND_UNIKERNEL);
    assert_int_equal(snap_write_begin(&w, AT_FDCWD, f->path, 0, &err), 0);
    write_pages(&w, 256, 1); /* past the 1 MiB given at commit */
    assert_int_equal(snap_write_commit(&w, &info, &err), -1);
    assert_non_null(strstr(err.msg, "outside the guest's RAM"));
    assert_dir_empty(f);
    /* A config the reader would refuse is refused at commit too. */
    assert_int_equal(snap_write_begin(&w, AT_FDCWD, f->path, 0, &err), 0);
    info.config_len = SNAP_CONFIG_MAX + 1;
    assert_int_equal(snap_write_commit(&w, &info, &err), -1);
    assert_dir_empty(f);
    /* So is a name without its NUL. */
    good_info(&info, SNAP_KIND_UNIKERNEL);
    memset(info.monitor, 'k', sizeof info.monitor);
    assert_int_equal(snap_write_begin(&w, AT_FDCWD, f->path, 0, &err), 0);
    assert_int_equal(snap_write_commit(&w, &info, &err), -1);
    assert_non_null(strstr(err.msg, "monitor name"));
    assert_dir_empty(f);
}

static void test_failed_pages_leave_nothing(void **state)
{
    struct fixture *f = *state;
    struct snap_writer w;
    struct lvm_err err;
    uint8_t page[PAGE] = {0};
    assert_int_equal(snap_write_begin(&w, AT_FDCWD, f->path, 0, &err), 0);
    write_pages(&w, 5, 2);
    assert_int_equal(snap_write_pages(&w, 6, 1, page, &err), -1);
    assert_non_null(strstr(err.msg, "increasing order"));
    assert_dir_empty(f);
    assert_int_equal(snap_write_pages(&w, 9, 1, page, &err), -1);
    snap_write_abort(&w);
    snap_write_abort(&w);
    assert_dir_empty(f);
}

static void test_abort_removes_temp(void **state)
{
    struct fixture *f = *state;
    struct snap_writer w;
    struct lvm_err err;
    assert_int_equal(snap_write_begin(&w, AT_FDCWD, f->path, 0, &err), 0);
    write_pages(&w, 1, 1);
    /* The temporary has no name (O_TMPFILE) until it is complete: a
     * writer killed now leaves nothing. */
    assert_dir_empty(f);
    snap_write_abort(&w);
    assert_dir_empty(f);
}

static void test_short_blob_leaves_nothing(void **state)
{
    struct fixture *f = *state;
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    assert_int_equal(write(p[1], "0123456789", 10), 10);
    close(p[1]);
    struct snap_writer w;
    struct lvm_err err;
    assert_int_equal(snap_write_begin(&w, AT_FDCWD, f->path, 0, &err), 0);
    assert_int_equal(snap_write_blob(&w, p[0], 100, &err), -1);
    close(p[0]);
    assert_non_null(strstr(err.msg, "ended after 10 of 100 bytes"));
    assert_dir_empty(f);
}

/* ---- Hashes ------------------------------------------------------------- */

static void test_hash_file(void **state)
{
    struct fixture *f = *state;
    int fd = open(f->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    uint8_t h[SNAP_HASH_LEN];
    uint64_t size = 7;
    char hex[65];
    struct lvm_err err;
    assert_int_equal(snap_hash_file(fd, h, &size, &err), 0);
    snap_hash_hex(h, hex);
    assert_true(size == 0);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb924"
                             "27ae41e4649b934ca495991b7852b855");
    assert_int_equal(write(fd, "abc", 3), 3); /* position: 3 */
    assert_int_equal(snap_hash_file(fd, h, &size, &err), 0);
    snap_hash_hex(h, hex);
    assert_true(size == 3);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223"
                             "b00361a396177a9cb410ff61f20015ad");
    close(fd);
}

/* ---- The committed seeds stay valid files ------------------------------ */

/* The fuzzer's seeds (made by tests/fuzz/make_snapfile_seeds.py from the
 * format's documentation) named valid-* are accepted; a format change
 * that forgets them fails here. Run from the repository's root. */
static void test_seed_corpus(void **state)
{
    (void)state;
    const char *dir = "tests/fuzz/corpus/snapfile";
    DIR *d = opendir(dir);
    if (!d)
        fail_msg("cannot open %s (run from the repository's root)", dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "valid-", 6))
            continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct snap_info info;
        struct lvm_err err;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        if (snap_read_info(fd, &info, &err) < 0)
            fail_msg("%s: %s", path, err.msg);
        if (info.kind == SNAP_KIND_UNIKERNEL) {
            int m = snap_read_ram(fd, &info, &err);
            assert_true(m >= 0);
            close(m);
        }
        close(fd);
        snap_info_free(&info);
        n++;
    }
    closedir(d);
    assert_true(n >= 3);
}

/* ---- Refusals ----------------------------------------------------------- */

/* One bad file: (patch) breaks a good one (and may change its length);
 * its checksum is then fixed unless (keep_sum); the reader must refuse
 * it with (msg) in its one-line message. */
struct refusal {
    const char *name;
    void (*patch)(uint8_t *buf, size_t *len);
    int keep_sum;
    const char *msg;
};

#define HDR(buf) ((struct snap_header *)(buf))
#define SEC(buf, i) (HDR(buf)->sec[SNAP_SEC_##i])
#define RUN(buf, i) ((uint64_t *)((buf) + SEC(buf, RUNS).off) + 2 * (i))

static void p_magic(uint8_t *b, size_t *n)
{
    b[0] = 'X';
}
static void p_version(uint8_t *b, size_t *n)
{
    HDR(b)->version = 2;
}
static void p_short(uint8_t *b, size_t *n)
{
    *n -= 1;
}
static void p_short_header(uint8_t *b, size_t *n)
{
    *n = 100;
}
static void p_trailing(uint8_t *b, size_t *n)
{
    b[(*n)++] = 0;
}
/* A page of zeros after the last section, the header saying so: a
 * file made long (sparse) to keep the reader hashing. */
static void p_sparse_tail(uint8_t *b, size_t *n)
{
    memset(b + *n, 0, PAGE);
    *n += PAGE;
    HDR(b)->file_len = *n;
}
/* The last section moved a page on, a page of zeros before it. */
static void p_gap(uint8_t *b, size_t *n)
{
    uint64_t off = SEC(b, DEVPAGE).off;
    memmove(b + off + PAGE, b + off, *n - off);
    memset(b + off, 0, PAGE);
    SEC(b, DEVPAGE).off += PAGE;
    *n += PAGE;
    HDR(b)->file_len = *n;
}
static void p_header_len(uint8_t *b, size_t *n)
{
    HDR(b)->header_len = 8192;
}
static void p_kind(uint8_t *b, size_t *n)
{
    HDR(b)->kind = 3;
}
static void p_flags(uint8_t *b, size_t *n)
{
    HDR(b)->flags = 1;
}
static void p_reserved(uint8_t *b, size_t *n)
{
    HDR(b)->reserved[100] = 1;
}
static void p_image_name(uint8_t *b, size_t *n)
{
    memset(HDR(b)->image_name, 'a', sizeof HDR(b)->image_name);
}
static void p_monitor(uint8_t *b, size_t *n)
{
    memset(HDR(b)->monitor, 'a', sizeof HDR(b)->monitor);
}
static void p_guest_name(uint8_t *b, size_t *n)
{
    memset(HDR(b)->guest_name, 'a', sizeof HDR(b)->guest_name);
}
static void p_guest_id(uint8_t *b, size_t *n)
{
    memset(HDR(b)->guest_id, 'a', sizeof HDR(b)->guest_id);
}
static void p_nruns(uint8_t *b, size_t *n)
{
    HDR(b)->nruns = SNAP_MAX_RUNS + 1;
}
static void p_config_long(uint8_t *b, size_t *n)
{
    SEC(b, CONFIG).len = SNAP_CONFIG_MAX + 1;
}
static void p_ram_odd(uint8_t *b, size_t *n)
{
    HDR(b)->ram_size = RAM + 1;
}
static void p_ram_small(uint8_t *b, size_t *n)
{
    HDR(b)->ram_size = LVM_RAM_MIN - PAGE;
}
static void p_ram_big(uint8_t *b, size_t *n)
{
    HDR(b)->ram_size = LVM_RAM_MAX + PAGE;
}
static void p_npages(uint8_t *b, size_t *n)
{
    HDR(b)->npages = RAM / PAGE + 1;
}
static void p_data_len(uint8_t *b, size_t *n)
{
    SEC(b, DATA).len += PAGE;
}
static void p_status_len(uint8_t *b, size_t *n)
{
    SEC(b, STATUS).len = 8;
}
static void p_qemu_pages(uint8_t *b, size_t *n)
{
    HDR(b)->kind = SNAP_KIND_QEMU;
}
static void p_past_end(uint8_t *b, size_t *n)
{
    SEC(b, CONFIG).off = HDR(b)->file_len - 1;
}
static void p_in_header(uint8_t *b, size_t *n)
{
    SEC(b, CONFIG).off = 8;
}
static void p_wraps(uint8_t *b, size_t *n)
{
    SEC(b, RUNS).off = UINT64_MAX - 15; /* off + len wraps to 32 */
}
static void p_misaligned(uint8_t *b, size_t *n)
{
    SEC(b, STATUS).off += 4;
}
static void p_overlap(uint8_t *b, size_t *n)
{
    SEC(b, CONFIG).off = SEC(b, RUNS).off + 8;
}
static void p_empty_offset(uint8_t *b, size_t *n)
{
    SEC(b, BLOB).off = PAGE;
}
static void p_runs_unsorted(uint8_t *b, size_t *n)
{
    uint64_t t[2];
    memcpy(t, RUN(b, 0), 16);
    memcpy(RUN(b, 0), RUN(b, 1), 16);
    memcpy(RUN(b, 1), t, 16);
}
static void p_runs_overlap(uint8_t *b, size_t *n)
{
    RUN(b, 1)[0] = 1; /* [1, 3) over [0, 3) */
}
static void p_run_outside(uint8_t *b, size_t *n)
{
    RUN(b, 2)[0] = 256;
}
static void p_run_wraps(uint8_t *b, size_t *n)
{
    RUN(b, 2)[0] = UINT64_MAX; /* first + count wraps to 0 */
}
static void p_run_empty(uint8_t *b, size_t *n)
{
    RUN(b, 1)[1] = 0;
}
static void p_runs_sum(uint8_t *b, size_t *n)
{
    RUN(b, 1)[1] = 3; /* 7 pages in runs, 6 in the header */
}
static void p_config_nul(uint8_t *b, size_t *n)
{
    b[SEC(b, CONFIG).off + 3] = 0;
}
static void p_data_byte(uint8_t *b, size_t *n)
{
    b[SNAP_HEADER_LEN + 5 * PAGE + 17] ^= 1;
}
static void p_header_byte(uint8_t *b, size_t *n)
{
    HDR(b)->image_size ^= 1;
}
static void p_checksum_byte(uint8_t *b, size_t *n)
{
    HDR(b)->checksum[0] ^= 1;
}

static const struct refusal refusals[] = {
    {"bad magic", p_magic, 0, "not a lightvm state file (bad magic)"},
    {"version", p_version, 0,
     "state file version 2, this lightvm reads version 1"},
    {"truncated", p_short, 0, "truncated"},
    {"truncated header", p_short_header, 1, "truncated"},
    {"trailing bytes", p_trailing, 0, "1 bytes past its end"},
    {"sparse tail", p_sparse_tail, 0, "4096 bytes after its last section"},
    {"gap between sections", p_gap, 0,
     "state file has a gap before its device page"},
    {"header length", p_header_len, 0, "header length 8192"},
    {"unknown kind", p_kind, 0, "unknown kind 3"},
    {"unknown flags", p_flags, 0, "unknown flags 0x1"},
    {"reserved bytes", p_reserved, 0, "reserved bytes"},
    {"image name", p_image_name, 0, "image name is not NUL-terminated"},
    {"monitor name", p_monitor, 0, "monitor name is not NUL-terminated"},
    {"guest name", p_guest_name, 0, "guest name is not NUL-terminated"},
    {"guest id", p_guest_id, 0, "guest id is not NUL-terminated"},
    {"too many runs", p_nruns, 0, "1048577 RAM runs, at most 1048576"},
    {"config too long", p_config_long, 0, "config is too long"},
    {"RAM not whole pages", p_ram_odd, 0, "not a multiple of 4096"},
    {"RAM too small", p_ram_small, 0, "outside"},
    {"RAM too large", p_ram_big, 0, "outside"},
    {"pages beyond RAM", p_npages, 0, "more than its RAM"},
    {"data length", p_data_len, 0, "page data is 28672 bytes, expected"},
    {"status length", p_status_len, 0, "status page is 8 bytes, expected"},
    {"QEMU kind with pages", p_qemu_pages, 0, "QEMU state file with RAM"},
    {"section past the end", p_past_end, 0, "config is out of bounds"},
    {"section in the header", p_in_header, 0, "config is out of bounds"},
    {"section wraps", p_wraps, 0, "run table is out of bounds"},
    {"misaligned section", p_misaligned, 0, "status page is misaligned"},
    {"overlapping sections", p_overlap, 0, "run table and config overlap"},
    {"empty section with offset", p_empty_offset, 0,
     "empty blob has an offset"},
    {"runs unsorted", p_runs_unsorted, 0, "run 1 is unsorted"},
    {"runs overlap", p_runs_overlap, 0, "run 1 is unsorted or overlaps"},
    {"run outside RAM", p_run_outside, 0, "run 2 is outside the guest's RAM"},
    {"run wraps", p_run_wraps, 0, "run 2 is outside the guest's RAM"},
    {"empty run", p_run_empty, 0, "run 1 is empty"},
    {"runs sum", p_runs_sum, 0, "hold 7 pages, its header says 6"},
    {"config with NUL", p_config_nul, 0, "config contains a NUL byte"},
    {"page data corrupted", p_data_byte, 1,
     "checksum mismatch: the state file is corrupted"},
    {"header corrupted", p_header_byte, 1, "checksum mismatch"},
    {"checksum corrupted", p_checksum_byte, 1, "checksum mismatch"},
};
#define NREFUSALS (sizeof refusals / sizeof refusals[0])

static void test_refusal(void **state)
{
    struct fixture *f = *state;
    const struct refusal *r = f->param;
    write_good(f);
    size_t len;
    uint8_t *buf = read_whole(f->path, &len);
    r->patch(buf, &len);
    if (!r->keep_sum)
        fix_checksum(buf, len);
    write_whole(f->path, buf, len);
    free(buf);
    struct snap_info info;
    struct lvm_err err;
    memset(&err, 0, sizeof err);
    assert_int_equal(open_read(f->path, &info, &err), -1);
    if (!strstr(err.msg, r->msg))
        fail_msg("%s: got \"%s\", want \"%s\"", r->name, err.msg, r->msg);
    assert_null(strchr(err.msg, '\n'));
    assert_null(info.config);
    assert_null(info.runs);
}

/* The good file with its checksum fixed the test's way is accepted: the
 * refusals above are not checksum mismatches in disguise. */
static void test_fixed_checksum_accepted(void **state)
{
    struct fixture *f = *state;
    write_good(f);
    size_t len;
    uint8_t *buf = read_whole(f->path, &len);
    HDR(buf)->image_size = 42;
    fix_checksum(buf, len);
    write_whole(f->path, buf, len);
    free(buf);
    struct snap_info info;
    struct lvm_err err;
    if (open_read(f->path, &info, &err) < 0)
        fail_msg("%s", err.msg);
    assert_true(info.image_size == 42);
    snap_info_free(&info);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    struct CMUnitTest tests[NREFUSALS + 16] = {
        T(test_roundtrip_unikernel),
        T(test_layout),
        T(test_ram_memfd),
        T(test_many_runs),
        T(test_roundtrip_qemu),
        T(test_dirfd_and_subdir),
        T(test_no_overwrite_without_force),
        T(test_overwrite_with_force),
        T(test_exists_at_rename),
        T(test_failed_commit_leaves_nothing),
        T(test_failed_pages_leave_nothing),
        T(test_abort_removes_temp),
        T(test_short_blob_leaves_nothing),
        T(test_hash_file),
        cmocka_unit_test(test_seed_corpus),
        T(test_fixed_checksum_accepted),
    };
    for (size_t i = 0; i < NREFUSALS; i++)
        tests[16 + i] =
            (struct CMUnitTest){refusals[i].name, test_refusal, setup, teardown,
                                (void *)&refusals[i]};
    return cmocka_run_group_tests_name("snapfile", tests, NULL, NULL);
}
