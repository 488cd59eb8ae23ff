/*
 * test_layout.c: guest memory layout, the initial stack as musl reads it,
 * boot info and size parsing.
 */
#include "unit.h"

#include "toolstack/layout.h"

#include <elf.h>

static struct image_info fake_image(uint64_t size)
{
    struct image_info info;
    memset(&info, 0, sizeof info);
    info.image_end = LVM_RAM_BASE + size;
    info.phdr_vaddr = LVM_RAM_BASE + 64;
    info.phnum = 7;
    info.entry = LVM_RAM_BASE + 0x1000;
    return info;
}

static void test_layout_16m(void **state)
{
    (void)state;
    struct image_info info = fake_image(0x20000);
    struct layout lay;
    struct lvm_err err;
    assert_int_equal(layout_compute(&info, 16 << 20, &lay, &err), 0);
    assert_int_equal(lay.ram_end, LVM_RAM_BASE + (16 << 20));
    assert_int_equal(lay.stack_top, lay.ram_end);
    assert_int_equal(lay.stack_top - lay.stack_bottom, 1 << 20); /* capped */
    assert_int_equal(lay.heap_start, info.image_end);
    assert_int_equal(lay.heap_end, lay.stack_bottom - 4096); /* guard page */
}

static void test_layout_small_stack(void **state)
{
    (void)state;
    struct image_info info = fake_image(0x20000);
    struct layout lay;
    struct lvm_err err;
    assert_int_equal(layout_compute(&info, 2 << 20, &lay, &err), 0);
    assert_int_equal(lay.stack_top - lay.stack_bottom, (2 << 20) / 8);
}

static void test_layout_refusals(void **state)
{
    (void)state;
    struct image_info info = fake_image(0x20000);
    struct layout lay;
    struct lvm_err err;
    assert_int_equal(layout_compute(&info, 512 << 10, &lay, &err), -1);
    assert_int_equal(layout_compute(&info, (16 << 20) + 1, &lay, &err), -1);
    assert_int_equal(layout_compute(&info, 4ull << 30, &lay, &err), -1);
    /* An image filling its RAM leaves no heap. */
    info = fake_image(15 << 20);
    assert_int_equal(layout_compute(&info, 16 << 20, &lay, &err), -1);
    assert_non_null(strstr(err.msg, "too little"));
}

static void test_initial_stack(void **state)
{
    (void)state;
    struct image_info info = fake_image(0x20000);
    struct layout lay;
    struct lvm_err err;
    assert_int_equal(layout_compute(&info, 16 << 20, &lay, &err), 0);
    char *argv[] = {"guest.elf", "one", "two words"};
    char *envp[] = {"A=1", "LONG=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"};
    struct layout_args a = {3, argv, 2, envp, {0}, {0}, 0x1234};
    for (int i = 0; i < 16; i++)
        a.random[i] = (uint8_t)(i * 17);
    for (int i = 0; i < 32; i++)
        a.seed[i] = (uint8_t)(i * 5 + 1);
    static uint8_t buf[65536];
    uint64_t sp, seed_addr;
    size_t len;
    assert_int_equal(layout_stack(&info, NULL, &lay, &a, buf, sizeof buf, &sp,
                                  &len, &seed_addr, &err),
                     0);
    assert_int_equal(sp % 16, 0);
    assert_int_equal(sp + len, lay.stack_top);
    /* Read it back as musl's start-up does, translating guest addresses. */
#define AT(addr) ((const char *)buf + ((addr)-sp))
    const uint64_t *w = (const uint64_t *)buf;
    assert_int_equal(w[0], 3);
    for (int i = 0; i < 3; i++)
        assert_string_equal(AT(w[1 + i]), argv[i]);
    assert_int_equal(w[4], 0);
    assert_string_equal(AT(w[5]), "A=1");
    assert_string_equal(AT(w[6]), envp[1]);
    assert_int_equal(w[7], 0);
    int seen_phdr = 0, seen_random = 0, seen_null = 0;
    for (const uint64_t *aux = &w[8]; !seen_null; aux += 2) {
        switch (aux[0]) {
        case AT_PHDR: seen_phdr = aux[1] == info.phdr_vaddr; break;
        case AT_RANDOM:
            seen_random = memcmp(AT(aux[1]), a.random, 16) == 0;
            break;
        case AT_PAGESZ: assert_int_equal(aux[1], 4096); break;
        case AT_HWCAP: assert_int_equal(aux[1], 0x1234); break;
        case AT_SYSINFO_EHDR: fail_msg("guests have no vDSO");
        case AT_NULL: seen_null = 1; break;
        }
    }
    assert_true(seen_phdr && seen_random);
    /* The seed: inside the stack image, not overlapping anything. */
    assert_true(seed_addr >= sp && seed_addr + 32 <= lay.stack_top);
    assert_memory_equal(AT(seed_addr), a.seed, 32);
#undef AT
}

static void test_stack_too_big(void **state)
{
    (void)state;
    struct image_info info = fake_image(0x20000);
    struct layout lay;
    struct lvm_err err;
    layout_compute(&info, 16 << 20, &lay, &err);
    static char big[40 << 10];
    memset(big, 'x', sizeof big - 1);
    char *argv[] = {"guest", big};
    struct layout_args a = {2, argv, 0, NULL, {0}, {0}, 0};
    static uint8_t buf[128 << 10];
    uint64_t sp, seed_addr;
    size_t len;
    assert_int_equal(layout_stack(&info, NULL, &lay, &a, buf, sizeof buf, &sp,
                                  &len, &seed_addr, &err),
                     -1);
    assert_non_null(strstr(err.msg, "arguments"));
}

static void test_bootinfo(void **state)
{
    (void)state;
    struct image_info info = fake_image(0x20000);
    struct layout lay;
    struct lvm_err err;
    layout_compute(&info, 16 << 20, &lay, &err);
    char *argv[] = {"hello.elf", "a", "b"};
    struct lvm_bootinfo bi;
    layout_bootinfo(&lay, LVM_BINDING_PROC, LVM_BOOT_FSGSBASE, "abcd", "hello",
                    3, argv, lay.stack_top - 64, 99, &bi);
    assert_int_equal(bi.magic, LVM_BOOTINFO_MAGIC);
    assert_int_equal(bi.abi_version, LVM_ABI_VERSION);
    assert_int_equal(bi.binding, LVM_BINDING_PROC);
    assert_int_equal(bi.heap_start, lay.heap_start);
    assert_int_equal(bi.stack_top, lay.stack_top);
    assert_string_equal(bi.cmdline, "hello.elf a b");
    assert_int_equal(bi.cmdline_len, 13);
    assert_string_equal(bi.guest_id, "abcd");
    assert_int_equal(bi.seed_addr, lay.stack_top - 64);
}

static void test_parse_size(void **state)
{
    (void)state;
    uint64_t v;
    assert_int_equal(layout_parse_size("4096", &v), 0);
    assert_int_equal(v, 4096);
    assert_int_equal(layout_parse_size("64M", &v), 0);
    assert_int_equal(v, 64 << 20);
    assert_int_equal(layout_parse_size("1G", &v), 0);
    assert_int_equal(v, 1ull << 30);
    assert_int_equal(layout_parse_size("512KiB", &v), 0);
    assert_int_equal(v, 512 << 10);
    assert_int_equal(layout_parse_size("2MB", &v), 0);
    assert_int_equal(v, 2 << 20);
    const char *bad[] = {"",
                         "M",
                         "-1",
                         "12Q",
                         "1.5M",
                         "99999999999999999999",
                         "18446744073709551615G",
                         "4 M",
                         NULL};
    for (int i = 0; bad[i]; i++)
        if (layout_parse_size(bad[i], &v) == 0)
            fail_msg("'%s' was accepted", bad[i]);
    assert_int_equal(layout_parse_size(NULL, &v), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_16m),
        cmocka_unit_test(test_layout_small_stack),
        cmocka_unit_test(test_layout_refusals),
        cmocka_unit_test(test_initial_stack),
        cmocka_unit_test(test_stack_too_big),
        cmocka_unit_test(test_bootinfo),
        cmocka_unit_test(test_parse_size),
    };
    return cmocka_run_group_tests_name("layout", tests, NULL, NULL);
}
