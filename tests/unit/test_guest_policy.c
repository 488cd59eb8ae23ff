/*
 * test_guest_policy.c: guest defaults and limits (toolstack/guest_policy.c):
 * RAM per monitor and kernel, the memory-limit rule, the CPU quota,
 * console limits and names, with the figures docs/cli.md states.
 */
#include "unit.h"

#include "toolstack/guest_policy.h"

#include <fcntl.h>
#include <unistd.h>

#define MiB (1ull << 20)

static void test_ram_ranges(void **state)
{
    (void)state;
    struct guest_ram_range r = guest_ram_range(GUEST_MON_PROC, 0);
    assert_int_equal(r.def, 16 * MiB);
    assert_int_equal(r.min, 1 * MiB);
    assert_int_equal(r.max, 2048 * MiB);
    r = guest_ram_range(GUEST_MON_KVM, GUEST_KERNEL_STOCK); /* no kernel */
    assert_int_equal(r.def, 16 * MiB);
    r = guest_ram_range(GUEST_MON_QEMU, GUEST_KERNEL_TINY);
    assert_int_equal(r.def, 128 * MiB);
    assert_int_equal(r.min, 32 * MiB);
    assert_int_equal(r.max, 64ull << 30);
    r = guest_ram_range(GUEST_MON_QEMU, GUEST_KERNEL_STOCK);
    assert_int_equal(r.def, 256 * MiB);
    assert_int_equal(r.min, 128 * MiB);
}

static void test_ram_pick(void **state)
{
    (void)state;
    uint64_t ram = 0;
    struct lvm_err err;
    /* asked, else the image's, else the default */
    assert_int_equal(guest_ram_pick(GUEST_MON_PROC, 0, 0, 0, &ram, &err), 0);
    assert_int_equal(ram, 16 * MiB);
    assert_int_equal(guest_ram_pick(GUEST_MON_QEMU, 0, 0, 96 * MiB, &ram, &err),
                     0);
    assert_int_equal(ram, 96 * MiB);
    assert_int_equal(
        guest_ram_pick(GUEST_MON_QEMU, 0, 64 * MiB, 96 * MiB, &ram, &err), 0);
    assert_int_equal(ram, 64 * MiB);
    assert_int_equal(
        guest_ram_pick(GUEST_MON_QEMU, GUEST_KERNEL_STOCK, 0, 0, &ram, &err),
        0);
    assert_int_equal(ram, 256 * MiB);
    /* below the minimum: one line naming the option and the rule */
    ram = 7;
    assert_int_equal(guest_ram_pick(GUEST_MON_QEMU, 0, 16 * MiB, 0, &ram, &err),
                     -1);
    assert_int_equal(ram, 7);
    assert_string_equal(err.msg,
                        "mem: a qemu guest needs at least 32 MiB, not 16 MiB");
    assert_int_equal(guest_ram_pick(GUEST_MON_QEMU, GUEST_KERNEL_STOCK, 0,
                                    96 * MiB, &ram, &err),
                     -1);
    assert_string_equal(err.msg,
                        "mem: a qemu guest booting Debian's kernel needs at "
                        "least 128 MiB, not the image's 96 MiB");
    assert_int_equal(
        guest_ram_pick(GUEST_MON_KVM, 0, 512 * 1024, 0, &ram, &err), -1);
    assert_string_equal(err.msg,
                        "mem: a kvm guest needs at least 1 MiB, not 512 KiB");
    assert_int_equal(
        guest_ram_pick(GUEST_MON_PROC, 0, 4096 * MiB, 0, &ram, &err), -1);
    assert_string_equal(
        err.msg, "mem: a proc guest needs at most 2048 MiB, not 4096 MiB");
    /* the bounds themselves are allowed */
    assert_int_equal(guest_ram_pick(GUEST_MON_QEMU, 0, 32 * MiB, 0, &ram, &err),
                     0);
    assert_int_equal(
        guest_ram_pick(GUEST_MON_PROC, 0, 2048 * MiB, 0, &ram, &err), 0);
}

static void test_memory_limit_unikernel(void **state)
{
    (void)state;
    struct guest_mem_need n = {.mon = GUEST_MON_PROC, .ram = 16 * MiB};
    assert_int_equal(guest_memory_limit(&n), 20 * MiB); /* RAM + 4M */
    n.mon = GUEST_MON_KVM;
    assert_int_equal(guest_memory_limit(&n), 20 * MiB);
    /* a console file's page cache: its limit, or the default */
    n.console_file = 1;
    assert_int_equal(guest_memory_limit(&n), (20 + 16) * MiB);
    n.console_limit = 1 * MiB;
    assert_int_equal(guest_memory_limit(&n), (20 + 1) * MiB);
    /* kernel files mean nothing to a unikernel */
    n.kernel_size = 100 * MiB;
    assert_int_equal(guest_memory_limit(&n), (20 + 1) * MiB);
}

static void test_memory_limit_qemu(void **state)
{
    (void)state;
    /* The README's redis image on Debian's kernel: a 14.2 MB vmlinuz and a
     * 6.4 MB zstd initramfs, 128 MiB, a 1 MiB console log. It peaked at
     * 224.2 MiB (229.6 MB) under TCG; the old rule gave it 212.6 MiB. */
    struct guest_mem_need n = {.mon = GUEST_MON_QEMU,
                               .ram = 128 * MiB,
                               .console_file = 1,
                               .console_limit = 1 * MiB,
                               .kernel_size = 14190528,
                               .initrd_size = 6374177,
                               .kernel = GUEST_KERNEL_STOCK};
    uint64_t files = 14190528 + 6374177;
    assert_int_equal(guest_memory_limit(&n), (128 + 1 + 128) * MiB + files);
    assert_true(guest_memory_limit(&n) > 229624ull * 1024 + 32 * MiB);
    /* a tiny kernel: the smaller overhead */
    n.kernel = GUEST_KERNEL_TINY;
    assert_int_equal(guest_memory_limit(&n), (128 + 1 + 64) * MiB + files);
    /* files count at most RAM's worth (QEMU refuses larger) */
    n.ram = 32 * MiB;
    n.initrd_size = 1ull << 30;
    assert_int_equal(guest_memory_limit(&n), (32 + 1 + 64 + 32) * MiB);
    /* the limit grows with the image */
    n.ram = 128 * MiB;
    n.initrd_size = 6374177;
    uint64_t small = guest_memory_limit(&n);
    n.initrd_size += 10 * MiB;
    assert_int_equal(guest_memory_limit(&n), small + 10 * MiB);
}

static void test_console(void **state)
{
    (void)state;
    assert_int_equal(guest_console_limit(0, 1), 1 * MiB);
    assert_int_equal(guest_console_limit(0, 0), 16 * MiB);
    assert_int_equal(guest_console_limit(5000, 1), 5000);
    char path[] = "/tmp/test_guest_policy.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    assert_int_equal(guest_console_is_file(fd), 1);
    close(fd);
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(guest_console_is_file(p[1]), 0);
    close(p[0]);
    close(p[1]);
    assert_int_equal(guest_console_is_file(-1), 0);
}

static void test_cpu(void **state)
{
    (void)state;
    struct cgroup_limits lim = {.memory_max = 42};
    guest_cpu_limits(0, &lim);
    assert_int_equal(lim.cpu_quota_us, 0); /* none */
    assert_int_equal(lim.cpu_period_us, 0);
    guest_cpu_limits(0.5, &lim);
    assert_int_equal(lim.cpu_period_us, 100000);
    assert_int_equal(lim.cpu_quota_us, 50000);
    assert_int_equal(lim.memory_max, 42); /* the rest left alone */
    guest_cpu_limits(2, &lim);
    assert_int_equal(lim.cpu_quota_us, 200000);
    guest_cpu_limits(0.001, &lim); /* 100 us: below the kernel's 1 ms */
    assert_int_equal(lim.cpu_quota_us, 1000);
    guest_cpu_limits(5000, &lim); /* past the maximum */
    assert_int_equal(lim.cpu_quota_us, 1024ull * 100000);
    assert_int_equal(guest_qemu_vcpus(0), 1);
    assert_int_equal(guest_qemu_vcpus(0.5), 1);
    assert_int_equal(guest_qemu_vcpus(1), 1);
    assert_int_equal(guest_qemu_vcpus(1.2), 2);
    assert_int_equal(guest_qemu_vcpus(4), 4);
    assert_int_equal(guest_qemu_vcpus(200), 64);
}

static void test_names(void **state)
{
    (void)state;
    static const char *good[] = {"cache", "a", "9", "redis-1.2_x", "A.b-C"};
    static const char *bad[] = {"",  "-rm",  ".hidden", "_x",    "a b", "a/b",
                                "ü", "a\nb", "x\"y",    "tab\t", "a:b", NULL};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        assert_true(guest_name_valid(good[i]));
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_false(guest_name_valid(bad[i]));
    char n63[64], n64[65];
    memset(n63, 'x', 63);
    n63[63] = 0;
    memset(n64, 'x', 64);
    n64[64] = 0;
    assert_true(guest_name_valid(n63));
    assert_false(guest_name_valid(n64));
    struct lvm_err err;
    assert_int_equal(guest_name_check(n64, &err), -1);
    assert_non_null(strstr(err.msg, "name: 64 characters is too long"));
    assert_int_equal(guest_name_check("a\nb", &err), -1);
    assert_non_null(strstr(err.msg, "character 2 (byte 0x0a) is not allowed"));
    assert_null(strchr(err.msg, '\n')); /* one line */
    assert_int_equal(guest_name_check("-rm", &err), -1);
    assert_non_null(strstr(err.msg, "character 1 ('-')"));
}

static void test_monitor_names(void **state)
{
    (void)state;
    assert_int_equal(guest_mon_of("proc"), GUEST_MON_PROC);
    assert_int_equal(guest_mon_of("kvm"), GUEST_MON_KVM);
    assert_int_equal(guest_mon_of("qemu"), GUEST_MON_QEMU);
    assert_int_equal(guest_mon_of("xen"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ram_ranges),
        cmocka_unit_test(test_ram_pick),
        cmocka_unit_test(test_memory_limit_unikernel),
        cmocka_unit_test(test_memory_limit_qemu),
        cmocka_unit_test(test_console),
        cmocka_unit_test(test_cpu),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_monitor_names),
    };
    return cmocka_run_group_tests_name("guest_policy", tests, NULL, NULL);
}
