/*
 * test_migstream.c: the live-migration stream (toolstack/migstream.c): a
 * whole stream sent with mig_send over a socketpair of each kind and read
 * back with mig_recv and the destination's state machine, the same bytes
 * fed one at a time, the memfd a unix socket passes, and one refusal per
 * kind of bad stream, each naming what is wrong.
 */
#include "unit.h"

#include "toolstack/migstream.h"

#include <endian.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define RAM (1u << 20) /* 256 pages */

static struct snap_info info_of(void)
{
    struct snap_info in;
    memset(&in, 0, sizeof in);
    snprintf(in.monitor, sizeof in.monitor, "proc");
    in.ram_size = RAM;
    memset(in.image_hash, 0xab, sizeof in.image_hash);
    in.image_size = 4321;
    snprintf(in.image_name, sizeof in.image_name, "app");
    snprintf(in.guest_name, sizeof in.guest_name, "g1");
    snprintf(in.guest_id, sizeof in.guest_id, "0123456789abcdef");
    in.config = (char *)"{\"image\":\"/srv/app.elf\",\"args\":[\"x\"]}";
    in.config_len = strlen(in.config);
    in.status.resume_count = 7;
    in.devpage.ndevices = 1;
    return in;
}

static void send_pages(int s, uint64_t first, uint64_t count, uint8_t fill)
{
    struct lvm_err err;
    uint8_t *buf = malloc(count * MIG_PAGE);
    assert_non_null(buf);
    memset(buf, fill, count * MIG_PAGE);
    uint64_t hdr[2] = {htole64(first), htole64(count)};
    assert_int_equal(mig_send(s, MIG_PAGES, hdr, sizeof hdr, buf,
                              count * MIG_PAGE, -1, &err),
                     0);
    free(buf);
}

/* The source's side of a stream, on (s). */
static void send_stream(int s, int memfd)
{
    struct lvm_err err;
    struct snap_info in = info_of();
    char *hello = mig_hello_json(&in, NULL);
    assert_non_null(hello);
    assert_int_equal(
        mig_send(s, MIG_HELLO, hello, strlen(hello), NULL, 0, -1, &err), 0);
    free(hello);
    if (memfd >= 0) {
        assert_int_equal(mig_send(s, MIG_MEMFD, NULL, 0, NULL, 0, memfd, &err),
                         0);
    } else {
        send_pages(s, 0, 4, 0x11);
        send_pages(s, 2, 1, 0x22); /* a later round: page 2 changed */
        uint64_t z[2] = {htole64(3), htole64(1)};
        assert_int_equal(mig_send(s, MIG_ZERO, z, sizeof z, NULL, 0, -1, &err),
                         0);
        send_pages(s, 255, 1, 0x33);
    }
    assert_int_equal(mig_send(s, MIG_STATE, &in.status, sizeof in.status,
                              &in.devpage, sizeof in.devpage, -1, &err),
                     0);
    assert_int_equal(mig_send(s, MIG_END, NULL, 0, NULL, 0, -1, &err), 0);
    assert_int_equal(mig_send(s, MIG_COMMIT, NULL, 0, NULL, 0, -1, &err), 0);
}

/* The destination's side: read (s) to the COMMIT; returns the state. */
static void receive_stream(int s, struct mig_in *mi)
{
    struct mig_reader rd;
    struct lvm_err err;
    mig_reader_init(&rd);
    mig_in_init(mi);
    for (;;) {
        struct mig_frame f;
        int fd;
        assert_int_equal(mig_recv(s, &rd, &f, &fd, &err), 0);
        int ev = mig_in_frame(mi, &f, fd, &err);
        assert_true(ev >= 0);
        if (ev == MIG_EV_HELLO) {
            int ram = memfd_create("t", MFD_CLOEXEC);
            assert_int_equal(ftruncate(ram, RAM), 0);
            mig_in_accept(mi, ram);
        } else if (ev == MIG_EV_END) {
            mig_in_held(mi);
        } else if (ev == MIG_EV_COMMIT) {
            break;
        }
    }
    mig_reader_free(&rd);
}

static uint8_t page_byte(int fd, uint64_t page)
{
    uint8_t b = 0xee;
    assert_int_equal(pread(fd, &b, 1, (off_t)(page * MIG_PAGE + 100)), 1);
    return b;
}

static void check_received(struct mig_in *mi)
{
    assert_int_equal(mi->stage, MIG_IN_COMMITED);
    assert_string_equal(mi->info.monitor, "proc");
    assert_string_equal(mi->info.guest_name, "g1");
    assert_string_equal(mi->info.image_name, "app");
    assert_int_equal(mi->info.ram_size, RAM);
    assert_int_equal(mi->info.image_size, 4321);
    assert_int_equal(mi->info.image_hash[31], 0xab);
    assert_non_null(strstr(mi->info.config, "\"/srv/app.elf\""));
    assert_int_equal(mi->info.status.resume_count, 7);
    assert_int_equal(mi->info.devpage.ndevices, 1);
}

static void stream_over(int type)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, type, 0, sv), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(sv[0]);
        send_stream(sv[1], -1);
        _exit(0);
    }
    close(sv[1]);
    struct mig_in mi;
    receive_stream(sv[0], &mi);
    check_received(&mi);
    assert_int_equal(page_byte(mi.ram_fd, 0), 0x11);
    assert_int_equal(page_byte(mi.ram_fd, 2), 0x22); /* the later round's */
    assert_int_equal(page_byte(mi.ram_fd, 3), 0);    /* zero again */
    assert_int_equal(page_byte(mi.ram_fd, 4), 0);    /* never sent */
    assert_int_equal(page_byte(mi.ram_fd, 255), 0x33);
    assert_int_equal(mi.npages, 6);
    mig_in_free(&mi);
    close(sv[0]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_int_equal(st, 0);
}

static void test_stream_tcp_like(void **state)
{
    (void)state;
    stream_over(SOCK_STREAM);
}

static void test_stream_seqpacket(void **state)
{
    (void)state;
    stream_over(SOCK_SEQPACKET);
}

/* A sealed memfd passed whole, as between two daemons on one host. */
static void test_memfd_passed(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    int ram = memfd_create("ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    assert_int_equal(ftruncate(ram, RAM), 0);
    uint8_t b = 0x44;
    assert_int_equal(pwrite(ram, &b, 1, 7 * MIG_PAGE + 100), 1);
    assert_int_equal(
        fcntl(ram, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW), 0);
    send_stream(sv[1], ram);
    close(ram);
    struct mig_in mi;
    receive_stream(sv[0], &mi);
    check_received(&mi);
    assert_true(mi.ram_whole);
    assert_int_equal(page_byte(mi.ram_fd, 7), 0x44);
    mig_in_free(&mi);
    close(sv[0]);
    close(sv[1]);
}

/* An unsealed memfd could change under the guest that maps it. */
static void test_memfd_unsealed_refused(void **state)
{
    (void)state;
    struct mig_in mi;
    struct lvm_err err;
    mig_in_init(&mi);
    mi.info.ram_size = RAM;
    mig_in_accept(&mi, -1);
    int ram = memfd_create("ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    assert_int_equal(ftruncate(ram, RAM), 0);
    struct mig_frame f = {MIG_MEMFD, 0, NULL};
    assert_int_equal(mig_in_frame(&mi, &f, ram, &err), -1);
    assert_non_null(strstr(err.msg, "not sealed"));
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    close(pipefd[1]);
    assert_int_equal(mig_in_frame(&mi, &f, pipefd[0], &err), -1);
    assert_non_null(strstr(err.msg, "not a memfd"));
    mig_in_free(&mi);
}

/* The same bytes, one at a time: frames come out whole and in order. */
static void test_byte_at_a_time(void **state)
{
    (void)state;
    struct mig_reader rd;
    struct lvm_err err;
    mig_reader_init(&rd);
    uint8_t buf[16 + 5];
    uint32_t t = htole32(MIG_HELLO), fl = 0;
    uint64_t len = htole64(5);
    memcpy(buf, &t, 4);
    memcpy(buf + 4, &fl, 4);
    memcpy(buf + 8, &len, 8);
    memcpy(buf + 16, "{}{}x", 5);
    for (size_t i = 0; i < sizeof buf; i++) {
        assert_false(rd.complete);
        assert_int_equal(mig_reader_feed(&rd, buf + i, 1, &err), 1);
    }
    assert_true(rd.complete);
    struct mig_frame f;
    mig_reader_frame(&rd, &f);
    assert_int_equal(f.type, MIG_HELLO);
    assert_int_equal(f.len, 5);
    assert_memory_equal(f.body, "{}{}x", 5);
    mig_reader_free(&rd);
}

/* The TCP port's secret goes in HELLO, and is compared in constant time. */
static void test_token(void **state)
{
    (void)state;
    struct snap_info in = info_of();
    char *hello = mig_hello_json(&in, "s3cret-token");
    struct mig_in mi;
    struct lvm_err err;
    mig_in_init(&mi);
    struct mig_frame f = {MIG_HELLO, strlen(hello), (const uint8_t *)hello};
    assert_int_equal(mig_in_frame(&mi, &f, -1, &err), MIG_EV_HELLO);
    assert_string_equal(mi.token, "s3cret-token");
    assert_true(mig_token_equal(mi.token, "s3cret-token"));
    assert_false(mig_token_equal(mi.token, "s3cret-tokeN"));
    assert_false(mig_token_equal(mi.token, "s3cret"));
    assert_false(mig_token_equal("", ""));
    free(hello);
    mig_in_free(&mi);
}

/* ---- refusals ------------------------------------------------------------- */

struct refusal {
    const char *name;
    const char *hello; /* NULL: a good one */
    uint32_t type;     /* then this frame */
    uint64_t first, count, len;
    const char *want; /* in the message */
};

static const struct refusal refusals[] = {
    {"pages before hello", NULL, 0, 0, 0, 0, "where HELLO was due"},
    {"hello version", "{\"version\":2}", 0, 0, 0, 0, "version 2"},
    {"hello kind", "{\"version\":1,\"kind\":\"qemu\"}", 0, 0, 0, 0,
     "kind must be"},
    {"hello not json", "{x", 0, 0, 0, 0, "not a JSON object"},
    {"hello ram", "HELLO-RAM", 0, 0, 0, 0, "ram_size 4097"},
    {"page past end", NULL, MIG_PAGES, 255, 2, 16 + 2 * 4096, "outside"},
    {"page count 0", NULL, MIG_PAGES, 0, 0, 16, "outside"},
    {"page len", NULL, MIG_PAGES, 0, 2, 16 + 4096, "is 4112 bytes"},
    {"zero past end", NULL, MIG_ZERO, 256, 1, 16, "outside"},
    {"state short", NULL, MIG_STATE, 0, 0, 10, "STATE frame of 10"},
    {"end before state", NULL, MIG_END, 0, 0, 0, "END before STATE"},
    {"commit early", NULL, MIG_COMMIT, 0, 0, 0, "COMMIT frame where"},
    {"memfd without fd", NULL, MIG_MEMFD, 0, 0, 0, "without its fd"},
    {"answer type", NULL, MIG_READY, 0, 0, 2, "READY frame where"},
};
#define NREFUSALS (sizeof refusals / sizeof refusals[0])

static void test_refusal(void **state)
{
    const struct refusal *r = *state;
    struct mig_in mi;
    struct lvm_err err;
    mig_in_init(&mi);
    uint8_t body[16 + 2 * 4096];
    memset(body, 0, sizeof body);
    struct mig_frame f;
    if (!strcmp(r->name, "pages before hello")) {
        f = (struct mig_frame){MIG_PAGES, 16 + 4096, body};
        assert_int_equal(mig_in_frame(&mi, &f, -1, &err), -1);
        assert_non_null(strstr(err.msg, r->want));
        return;
    }
    struct snap_info in = info_of();
    char *hello = mig_hello_json(&in, NULL);
    if (r->hello && !strcmp(r->hello, "HELLO-RAM")) {
        in.ram_size = 4097;
        free(hello);
        hello = mig_hello_json(&in, NULL);
    }
    const char *h =
        r->hello && strcmp(r->hello, "HELLO-RAM") ? r->hello : hello;
    f = (struct mig_frame){MIG_HELLO, strlen(h), (const uint8_t *)h};
    int ev = mig_in_frame(&mi, &f, -1, &err);
    free(hello);
    if (r->hello) { /* refused at HELLO */
        assert_int_equal(ev, -1);
        assert_non_null(strstr(err.msg, r->want));
        assert_null(strchr(err.msg, '\n'));
        mig_in_free(&mi);
        return;
    }
    assert_int_equal(ev, MIG_EV_HELLO);
    int ram = memfd_create("t", MFD_CLOEXEC);
    assert_int_equal(ftruncate(ram, RAM), 0);
    mig_in_accept(&mi, ram);
    uint64_t fc[2] = {htole64(r->first), htole64(r->count)};
    if (r->len >= 16)
        memcpy(body, fc, 16);
    f = (struct mig_frame){r->type, r->len, body};
    assert_int_equal(mig_in_frame(&mi, &f, -1, &err), -1);
    assert_non_null(strstr(err.msg, r->want));
    assert_null(strchr(err.msg, '\n'));
    mig_in_free(&mi);
}

/* The reader's own bounds: before any body is buffered. */
static void test_reader_bounds(void **state)
{
    (void)state;
    struct {
        uint32_t type, flags;
        uint64_t len;
        const char *want;
    } cases[] = {
        {0, 0, 0, "unknown frame type 0"},
        {12, 0, 0, "unknown frame type 12"},
        {MIG_END, 1, 0, "flags"},
        {MIG_END, 0, MIG_END_MAX + 1, "END frame of 4097 bytes"},
        {MIG_COMMIT, 0, 1, "COMMIT frame of 1 bytes"},
        {MIG_PAGES, 0, MIG_BODY_MAX + 1, "at most"},
        {MIG_HELLO, 0, MIG_JSON_MAX + 1, "at most"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct mig_reader rd;
        struct lvm_err err;
        mig_reader_init(&rd);
        uint8_t h[16];
        uint32_t t = htole32(cases[i].type), fl = htole32(cases[i].flags);
        uint64_t l = htole64(cases[i].len);
        memcpy(h, &t, 4);
        memcpy(h + 4, &fl, 4);
        memcpy(h + 8, &l, 8);
        assert_int_equal(mig_reader_feed(&rd, h, sizeof h, &err), -1);
        assert_non_null(strstr(err.msg, cases[i].want));
        mig_reader_free(&rd);
    }
}

int main(void)
{
    struct CMUnitTest tests[NREFUSALS + 8] = {
        cmocka_unit_test(test_stream_tcp_like),
        cmocka_unit_test(test_stream_seqpacket),
        cmocka_unit_test(test_memfd_passed),
        cmocka_unit_test(test_memfd_unsealed_refused),
        cmocka_unit_test(test_byte_at_a_time),
        cmocka_unit_test(test_reader_bounds),
        cmocka_unit_test(test_token),
    };
    size_t n = 7;
    for (size_t i = 0; i < NREFUSALS; i++)
        tests[n++] = (struct CMUnitTest){refusals[i].name, test_refusal, NULL,
                                         NULL, (void *)&refusals[i]};
    return _cmocka_run_group_tests("migstream", tests, n, NULL, NULL);
}
