/*
 * test_tinyx_init_conf.c: unit tests of the Tinyx init's configuration
 * parser (tinyx/init/init_conf.c) and mount options (init_mount.c): the
 * keys the qemu monitor, lightvm-runtime and a runtime config write.
 * The init's files are built for the guest with musl; here they are
 * compiled in, with the host's libc.
 */
#include "unit.h"

#include "../../tinyx/init/init_conf.c"
#include "../../tinyx/init/init_mount.c"

#include <sys/mount.h>
#include <sys/resource.h>

void init_log(const char *fmt, ...)
{
    (void)fmt;
}

static int parse(struct init_conf *c, const char *text, char *why)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s", text);
    memset(c, 0, sizeof *c);
    return init_conf_parse(c, buf, why, 64);
}

static void mounts_root_and_copies(void **state)
{
    (void)state;
    struct init_conf c;
    char why[64];
    assert_int_equal(parse(&c,
                           "arg /usr/bin/redis-server\n"
                           "mount serial:root /lower ext4 ro,noload\n"
                           "mount tmpfs /rw tmpfs mode=0755\n"
                           "mount overlay /newroot overlay "
                           "lowerdir=/lower,upperdir=/rw/up,workdir=/rw/work\n"
                           "root /newroot\n"
                           "copy /files/0 /etc/hosts\n"
                           "mount tmpfs /dev/shm tmpfs nosuid,nodev,mode=1777\n"
                           "mount devpts /dev/pts devpts\n"
                           "rlimit RLIMIT_NOFILE 1024 4096\n"
                           "rlimit core 0 unlimited\n",
                           why),
                     0);
    assert_int_equal(c.argc, 1);
    assert_int_equal(c.nmounts, 5);
    assert_string_equal(c.mounts[0].source, "serial:root");
    assert_string_equal(c.mounts[0].target, "/lower");
    assert_string_equal(c.mounts[0].fstype, "ext4");
    assert_string_equal(c.mounts[0].options, "ro,noload");
    assert_int_equal(c.mounts[0].in_root, 0);
    assert_int_equal(c.mounts[2].in_root, 0);
    assert_string_equal(c.root, "/newroot");
    assert_int_equal(c.mounts[3].in_root, 1);
    assert_string_equal(c.mounts[4].options, "");
    assert_int_equal(c.ncopies, 1);
    assert_string_equal(c.copies[0].src, "/files/0");
    assert_string_equal(c.copies[0].dst, "/etc/hosts");
    assert_int_equal(c.nrlimits, 2);
    assert_int_equal(c.rlimits[0].resource, RLIMIT_NOFILE);
    assert_int_equal(c.rlimits[0].soft, 1024);
    assert_int_equal(c.rlimits[0].hard, 4096);
    assert_int_equal(c.rlimits[1].resource, RLIMIT_CORE);
    assert_true(c.rlimits[1].hard == ~0ull);
}

static void bad_lines(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "mount serial:root\n",            /* no target */
        "mount serial:root lower ext4\n", /* relative target */
        "mount a /b c d e\n",             /* options with a space */
        "root newroot\n",                 /* relative root */
        "root /a\nroot /b\n",             /* two roots */
        "copy /a\n",                      /* no destination */
        "copy a /b\n",                    /* relative source */
        "rlimit nofile 10\n",             /* no hard limit */
        "rlimit nosuch 1 2\n",            /* unknown resource */
        "rlimit nofile 20 10\n",          /* soft above hard */
        "rlimit nofile -5 10\n",          /* negative */
        "rlimit nofile 1x 10\n",          /* not a number */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct init_conf c;
        char why[64];
        assert_int_equal(parse(&c, bad[i], why), -1);
        assert_non_null(strstr(why, "bad line"));
    }
    /* a line number names the line */
    struct init_conf c;
    char why[64];
    assert_int_equal(parse(&c, "arg x\n\n# note\nroot x\n", why), -1);
    assert_string_equal(why, "4: bad line");
    /* and over the limit */
    char text[4096] = "";
    for (int i = 0; i <= INIT_MAX_MOUNTS; i++)
        strcat(text, "mount tmpfs /t tmpfs\n");
    assert_int_equal(parse(&c, text, why), -1);
}

static void mount_options(void **state)
{
    (void)state;
    unsigned long fl;
    char data[64];
    assert_int_equal(init_mount_options("ro,nosuid,nodev,mode=0755,size=64k",
                                        &fl, data, sizeof data),
                     0);
    assert_int_equal(fl, MS_RDONLY | MS_NOSUID | MS_NODEV);
    assert_string_equal(data, "mode=0755,size=64k");
    assert_int_equal(
        init_mount_options("rbind,rprivate,rw,ro", &fl, data, sizeof data), 0);
    assert_int_equal(fl, MS_BIND | MS_REC | MS_RDONLY);
    assert_string_equal(data, "");
    /* a later word undoes an earlier one, as mount(8) reads them */
    assert_int_equal(init_mount_options("ro,rw,,", &fl, data, sizeof data), 0);
    assert_int_equal(fl, 0);
    assert_int_equal(
        init_mount_options("lowerdir=/a,upperdir=/b", &fl, data, sizeof data),
        0);
    assert_string_equal(data, "lowerdir=/a,upperdir=/b");
    char small[8];
    assert_int_equal(
        init_mount_options("size=123456789", &fl, small, sizeof small), -1);
}

/* The network words of the kernel command line: tinyx.mac= names the
 * first NIC, tinyx.nic= (repeated, at most INIT_MAX_NICS) the others. */
static void cmdline_nics(void **state)
{
    (void)state;
    struct init_conf c;
    memset(&c, 0, sizeof c);
    init_conf_cmdline(&c,
                      "console=ttyS0 tinyx.ip=10.1.0.2/24 tinyx.gw=10.1.0.1 "
                      "tinyx.mac=46:00:00:00:00:01 "
                      "tinyx.nic=46:00:00:00:00:02,10.2.0.2/16 "
                      "tinyx.nic=46:00:00:00:00:03,10.3.0.2/24 "
                      "tinyx.nic=46:00:00:00:00:04,10.4.0.2/24 "
                      "tinyx.nic=46:00:00:00:00:05,10.5.0.2/24 quiet");
    assert_string_equal(c.ip, "10.1.0.2/24");
    assert_string_equal(c.mac, "46:00:00:00:00:01");
    assert_int_equal(c.nnics, INIT_MAX_NICS); /* the fifth is ignored */
    assert_string_equal(c.nics[0], "46:00:00:00:00:02,10.2.0.2/16");
    assert_string_equal(c.nics[2], "46:00:00:00:00:04,10.4.0.2/24");
    assert_int_equal(c.quiet, 1);
    memset(&c, 0, sizeof c);
    init_conf_cmdline(&c, "tinyx.ip=10.0.2.15/24");
    assert_int_equal(c.nnics, 0);
    assert_string_equal(c.mac, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mounts_root_and_copies),
        cmocka_unit_test(bad_lines),
        cmocka_unit_test(mount_options),
        cmocka_unit_test(cmdline_nics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
