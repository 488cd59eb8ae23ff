/*
 * test_net_addr.c: guest MACs, address parsing and file-per-address
 * leases (toolstack/netaddr.c), with no network needed.
 */
#include "toolstack/netaddr.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

static uint32_t ip(const char *s)
{
    uint32_t a = 0;
    assert_int_equal(netaddr_parse_ip4(s, &a), 0);
    return a;
}

/* ---- MACs ------------------------------------------------------------- */

static void mac_is_local_unicast(void **state)
{
    (void)state;
    char id[32];
    for (int i = 0; i < 1000; i++) {
        uint8_t mac[6];
        snprintf(id, sizeof id, "%016x", i * 2654435761u);
        netaddr_guest_mac(id, (unsigned)i % 4, mac);
        assert_int_equal(mac[0] & 1, 0); /* unicast */
        assert_int_equal(mac[0] & 2, 2); /* locally administered */
    }
}

static void mac_is_derived(void **state)
{
    (void)state;
    uint8_t a[6], b[6], c[6], d[6];
    netaddr_guest_mac("0123456789abcdef", 0, a);
    netaddr_guest_mac("0123456789abcdef", 0, b);
    netaddr_guest_mac("0123456789abcdef", 1, c);
    netaddr_guest_mac("0123456789abcdee", 0, d);
    assert_memory_equal(a, b, 6);     /* the same guest, the same MAC */
    assert_memory_not_equal(a, c, 6); /* its second NIC differs */
    assert_memory_not_equal(a, d, 6); /* one digit of the id matters */
}

static int cmp_mac(const void *x, const void *y)
{
    return memcmp(x, y, 6);
}

/* 46 random bits: 100,000 guests should not collide (p ~ 1e-4). */
static void mac_no_collisions(void **state)
{
    (void)state;
    enum { N = 100000 };
    uint8_t(*macs)[6] = malloc(N * 6);
    assert_non_null(macs);
    char id[32];
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "%08x%08x", i, ~i);
        netaddr_guest_mac(id, 0, macs[i]);
    }
    qsort(macs, N, 6, cmp_mac);
    for (int i = 1; i < N; i++)
        assert_memory_not_equal(macs[i - 1], macs[i], 6);
    free(macs);
}

static void bridge_mac_fixed(void **state)
{
    (void)state;
    uint8_t a[6], b[6], c[6];
    netaddr_bridge_mac("lvm0", a);
    netaddr_bridge_mac("lvm0", b);
    netaddr_bridge_mac("lvm1", c);
    assert_memory_equal(a, b, 6);
    assert_memory_not_equal(a, c, 6);
    assert_int_equal(a[0] & 3, 2);
}

/* ---- Text ---------------------------------------------------------------- */

static void parse_ip4(void **state)
{
    (void)state;
    char buf[16];
    assert_string_equal(netaddr_ip4_str(ip("10.213.0.1"), buf), "10.213.0.1");
    assert_int_equal(ip("1.2.3.4"), htonl(0x01020304));
    uint32_t a;
    const char *bad[] = {"",          "1.2.3",    "1.2.3.4.5",
                         "256.1.1.1", "1.2.3.4 ", " 1.2.3.4",
                         "a.b.c.d",   "1..2.3",   "-1.2.3.4"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(netaddr_parse_ip4(bad[i], &a), -1);
    uint8_t mac[6] = {0x02, 0xab, 0, 1, 0xff, 0x10};
    char m[18];
    assert_string_equal(netaddr_mac_str(mac, m), "02:ab:00:01:ff:10");
}

static void parse_cidr(void **state)
{
    (void)state;
    struct lvm_err err;
    uint32_t a;
    unsigned p;
    assert_int_equal(netaddr_parse_cidr("10.213.0.1/16", &a, &p, &err), 0);
    assert_int_equal(a, ip("10.213.0.1"));
    assert_int_equal(p, 16);
    assert_int_equal(netaddr_parse_cidr("192.168.7.254/24", &a, &p, &err), 0);
    assert_int_equal(netaddr_parse_cidr("10.0.0.5/30", &a, &p, &err), 0);
    const char *bad[] = {"10.213.0.1",        "10.213.0.1/",
                         "10.213.0.1/7",      "10.213.0.1/31",
                         "10.213.0.1/x",      "10.213.0.0/16",
                         "10.213.255.255/16", "10.213.0.300/16",
                         "10.213.0.1/16x",    "/16"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err.code = 0;
        assert_int_equal(netaddr_parse_cidr(bad[i], &a, &p, &err), -1);
        assert_int_equal(err.code, EINVAL);
    }
    assert_int_equal(netaddr_mask(16), htonl(0xffff0000));
    assert_int_equal(netaddr_mask(30), htonl(0xfffffffc));
    assert_int_equal(netaddr_mask(0), 0);
}

static void parse_lease(void **state)
{
    (void)state;
    struct lease_owner o, back;
    const char good[] = "guest=0123456789abcdef\ntap=lvt0123456789ab\n"
                        "ifindex=42\n";
    assert_int_equal(lease_parse(good, sizeof good - 1, &o), 0);
    assert_string_equal(o.guest_id, "0123456789abcdef");
    assert_string_equal(o.tap, "lvt0123456789ab");
    assert_int_equal(o.ifindex, 42);
    char buf[256];
    size_t n = lease_format(&o, buf, sizeof buf);
    assert_int_equal(lease_parse(buf, n, &back), 0);
    assert_memory_equal(&o, &back, sizeof o);
    /* Keys from a newer toolstack are ignored; order does not matter. */
    const char newer[] = "ifindex=7\nowner=x\ntap=t\nguest=g\n";
    assert_int_equal(lease_parse(newer, sizeof newer - 1, &o), 0);
    const char *bad[] = {
        "",
        "guest=g\ntap=t\n",            /* no ifindex */
        "guest=g\ntap=t\nifindex=0\n", /* not an index */
        "guest=g\ntap=t\nifindex=-3\n",
        "guest=g\ntap=t\nifindex=12x\n",
        "guest=g\ntap=t\nifindex=99999999999\n",
        "guest=g\ntap=t\nifindex=5",                   /* torn: no newline */
        "guest=\ntap=t\nifindex=5\n",                  /* empty id */
        "guest=g\ntap=0123456789abcdefg\nifindex=5\n", /* tap too long */
        "guest=g\ntapt\nifindex=5\n",                  /* no '=' */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(lease_parse(bad[i], strlen(bad[i]), &o), -1);
    char longid[200] = "guest=";
    memset(longid + 6, 'a', 60);
    strcat(longid, "\ntap=t\nifindex=1\n");
    assert_int_equal(lease_parse(longid, strlen(longid), &o), -1);
}

/* ---- Leases -------------------------------------------------------------- */

struct fixture {
    char dir[64];
    struct lease_dir d;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/lvm-lease-test.XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    char sub[128];
    snprintf(sub, sizeof sub, "%s/net/1-lvm0", f->dir);
    struct lvm_err err;
    if (lease_dir_open(&f->d, sub, &err) < 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    lease_dir_close(&f->d);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

/* Owners whose guest id starts with 'x' are gone; 'u' unknown. */
static int fake_alive(const struct lease_owner *o, void *ctx)
{
    int *calls = ctx;
    if (calls)
        (*calls)++;
    return o->guest_id[0] == 'x' ? 0 : o->guest_id[0] == 'u' ? -1 : 1;
}

static struct lease_owner owner(const char *id, int ifindex)
{
    struct lease_owner o;
    memset(&o, 0, sizeof o);
    snprintf(o.guest_id, sizeof o.guest_id, "%s", id);
    snprintf(o.tap, sizeof o.tap, "lvt%.12s", id);
    o.ifindex = ifindex;
    return o;
}

/* 10.9.9.0/29: hosts .1-.6, .1 the bridge's: five to lease. */
static const struct lease_subnet small = {0, 29, 0};

static struct lease_subnet subnet29(void)
{
    struct lease_subnet sn = small;
    sn.net = ip("10.9.9.0");
    sn.reserved = ip("10.9.9.1");
    return sn;
}

static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static void lease_fill_and_exhaust(void **state)
{
    struct fixture *f = *state;
    struct lease_subnet sn = subnet29();
    struct lvm_err err;
    uint32_t got[5];
    char id[16];
    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof id, "guest%d", i);
        struct lease_owner o = owner(id, 10 + i);
        assert_int_equal(
            lease_acquire(&f->d, &sn, 0, &o, fake_alive, NULL, &got[i], &err),
            0);
        assert_int_equal(got[i] & netaddr_mask(29), sn.net);
        assert_int_not_equal(got[i], sn.reserved);
        assert_int_not_equal(got[i], sn.net);
        assert_int_not_equal(got[i], ip("10.9.9.7"));
        for (int j = 0; j < i; j++)
            assert_int_not_equal(got[i], got[j]);
        /* The lease names its owner. */
        struct lease_owner back;
        assert_int_equal(lease_read(&f->d, got[i], &back), 0);
        assert_string_equal(back.guest_id, id);
        assert_int_equal(back.ifindex, 10 + i);
    }
    struct lease_owner o = owner("guest5", 20);
    uint32_t a;
    assert_int_equal(
        lease_acquire(&f->d, &sn, 0, &o, fake_alive, NULL, &a, &err), -1);
    assert_int_equal(err.code, ENOSPC);
    /* No temporary files left behind. */
    assert_int_equal(count_files(f->d.path), 5);

    /* Released by its owner only. */
    assert_int_equal(lease_release(&f->d, got[2], "not-the-owner", &err), 0);
    assert_int_equal(lease_read(&f->d, got[2], &o), 0);
    assert_int_equal(lease_release(&f->d, got[2], "guest2", &err), 0);
    assert_int_equal(lease_read(&f->d, got[2], &o), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(lease_release(&f->d, got[2], "guest2", &err), 0);
    /* And the address is free again. */
    o = owner("guest6", 21);
    assert_int_equal(
        lease_acquire(&f->d, &sn, 0, &o, fake_alive, NULL, &a, &err), 0);
    assert_int_equal(a, got[2]);
}

static void lease_reclaims_stale_only_when_full(void **state)
{
    struct fixture *f = *state;
    struct lease_subnet sn = subnet29();
    struct lvm_err err;
    uint32_t a, stale = 0;
    int calls = 0;
    /* Four live guests and one whose tap is gone ('x'). */
    const char *ids[] = {"live1", "live2", "xdead", "live3", "live4"};
    for (int i = 0; i < 5; i++) {
        struct lease_owner o = owner(ids[i], 30 + i);
        assert_int_equal(
            lease_acquire(&f->d, &sn, 0, &o, fake_alive, &calls, &a, &err), 0);
        if (ids[i][0] == 'x')
            stale = a;
    }
    /* Free addresses were there: no owner was ever checked. */
    assert_int_equal(calls, 0);
    struct lease_owner o = owner("new", 40);
    assert_int_equal(
        lease_acquire(&f->d, &sn, 0, &o, fake_alive, &calls, &a, &err), 0);
    assert_int_equal(a, stale);
    assert_true(calls > 0);
    struct lease_owner back;
    assert_int_equal(lease_read(&f->d, a, &back), 0);
    assert_string_equal(back.guest_id, "new");
}

static void lease_unknown_owner_is_kept(void **state)
{
    struct fixture *f = *state;
    struct lease_subnet sn = subnet29();
    struct lvm_err err;
    uint32_t a;
    for (int i = 0; i < 5; i++) {
        char id[16];
        snprintf(id, sizeof id, "u%d", i); /* liveness unknown */
        struct lease_owner o = owner(id, 50 + i);
        assert_int_equal(
            lease_acquire(&f->d, &sn, 0, &o, fake_alive, NULL, &a, &err), 0);
    }
    struct lease_owner o = owner("new", 60);
    assert_int_equal(
        lease_acquire(&f->d, &sn, 0, &o, fake_alive, NULL, &a, &err), -1);
    assert_int_equal(err.code, ENOSPC);
}

static void lease_wanted_address(void **state)
{
    struct fixture *f = *state;
    struct lease_subnet sn = subnet29();
    struct lvm_err err;
    uint32_t a;
    struct lease_owner o = owner("want", 70);
    assert_int_equal(lease_acquire(&f->d, &sn, ip("10.9.9.5"), &o, fake_alive,
                                   NULL, &a, &err),
                     0);
    assert_int_equal(a, ip("10.9.9.5"));
    o = owner("want2", 71);
    assert_int_equal(lease_acquire(&f->d, &sn, ip("10.9.9.5"), &o, fake_alive,
                                   NULL, &a, &err),
                     -1);
    assert_int_equal(err.code, EADDRINUSE);
    const char *bad[] = {"10.9.9.1", "10.9.9.0", "10.9.9.7", "10.9.10.2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(lease_acquire(&f->d, &sn, ip(bad[i]), &o, fake_alive,
                                       NULL, &a, &err),
                         -1);
        assert_int_equal(err.code, EINVAL);
    }
    /* A stale holder of the wanted address gives it up. */
    o = owner("xgone", 72);
    assert_int_equal(lease_acquire(&f->d, &sn, ip("10.9.9.6"), &o, fake_alive,
                                   NULL, &a, &err),
                     0);
    o = owner("want3", 73);
    assert_int_equal(lease_acquire(&f->d, &sn, ip("10.9.9.6"), &o, fake_alive,
                                   NULL, &a, &err),
                     0);
}

static void lease_sweep_removes_stale(void **state)
{
    struct fixture *f = *state;
    struct lease_subnet sn = subnet29();
    struct lvm_err err;
    uint32_t a;
    const char *ids[] = {"xa", "live", "xb", "ukn"};
    for (int i = 0; i < 4; i++) {
        struct lease_owner o = owner(ids[i], 80 + i);
        assert_int_equal(
            lease_acquire(&f->d, &sn, 0, &o, fake_alive, NULL, &a, &err), 0);
    }
    /* Junk in the directory is stale too; a temporary file of a live
     * process is not touched. */
    int fd = openat(f->d.fd, "10.9.9.250", O_CREAT | O_EXCL | O_WRONLY, 0644);
    if (fd >= 0) {
        assert_int_equal(write(fd, "junk", 4), 4);
        close(fd);
    }
    char tmp[64];
    snprintf(tmp, sizeof tmp, ".tmp.%d.someone", (int)getpid());
    fd = openat(f->d.fd, tmp, O_CREAT | O_WRONLY, 0644);
    assert_true(fd >= 0);
    close(fd);
    unsigned removed = 0;
    assert_int_equal(lease_sweep(&f->d, fake_alive, NULL, &removed, &err), 0);
    assert_int_equal(removed, 3);                /* xa, xb and the junk */
    assert_int_equal(count_files(f->d.path), 2); /* live, ukn */
    assert_int_equal(faccessat(f->d.fd, tmp, F_OK, 0), 0);
}

/* Guests created at the same moment by separate toolstacks never share
 * an address. */
static void lease_concurrent(void **state)
{
    struct fixture *f = *state;
    struct lease_subnet sn = {ip("10.8.0.0"), 24, ip("10.8.0.1")};
    enum { PROCS = 8, EACH = 25 };
    for (int p = 0; p < PROCS; p++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            struct lvm_err err;
            for (int i = 0; i < EACH; i++) {
                char id[32];
                snprintf(id, sizeof id, "p%dg%d", p, i);
                struct lease_owner o = owner(id, 100 + p * EACH + i);
                uint32_t a;
                if (lease_acquire(&f->d, &sn, 0, &o, fake_alive, NULL, &a,
                                  &err) < 0)
                    _exit(1);
            }
            _exit(0);
        }
    }
    for (int p = 0; p < PROCS; p++) {
        int st;
        assert_true(wait(&st) > 0);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    /* One file per guest, each naming a distinct guest. */
    assert_int_equal(count_files(f->d.path), PROCS * EACH);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mac_is_local_unicast),
        cmocka_unit_test(mac_is_derived),
        cmocka_unit_test(mac_no_collisions),
        cmocka_unit_test(bridge_mac_fixed),
        cmocka_unit_test(parse_ip4),
        cmocka_unit_test(parse_cidr),
        cmocka_unit_test(parse_lease),
        cmocka_unit_test_setup_teardown(lease_fill_and_exhaust, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(lease_reclaims_stale_only_when_full,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(lease_unknown_owner_is_kept, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(lease_wanted_address, setup, teardown),
        cmocka_unit_test_setup_teardown(lease_sweep_removes_stale, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(lease_concurrent, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
