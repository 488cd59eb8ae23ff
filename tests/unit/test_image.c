/*
 * test_image.c: image_parse on a real guest and on damaged copies of it.
 * The exhaustive list of malformed images is tests/integration/
 * test_badelf.sh; these check what a good image yields and that every
 * truncation of one is refused safely (run under ASan/UBSan).
 */
#include "unit.h"

#include "toolstack/image.h"

#include <elf.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static void *elf;
static size_t elf_len;

static int setup(void **state)
{
    (void)state;
    elf = unit_read_guest("blockdev.elf", &elf_len);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(elf);
    return 0;
}

static void test_good_image(void **state)
{
    (void)state;
    struct image_info info;
    struct lvm_err err;
    assert_int_equal(image_parse(elf, elf_len, &info, &err), 0);
    assert_int_equal(info.nsegs, 4);
    assert_int_equal(info.seg[0].vaddr, LVM_RAM_BASE);
    assert_int_equal(info.seg[0].prot, PROT_READ);
    assert_int_equal(info.seg[1].prot, PROT_READ | PROT_EXEC);
    assert_int_equal(info.seg[3].prot, PROT_READ | PROT_WRITE);
    assert_true(info.entry >= info.seg[1].vaddr &&
                info.entry < info.seg[1].vaddr + info.seg[1].memsz);
    assert_int_equal(info.image_end % 4096, 0);
    assert_true(info.image_end >= info.seg[3].vaddr + info.seg[3].memsz);
    /* Program headers sit in the first segment, right after the header. */
    assert_int_equal(info.phdr_vaddr, LVM_RAM_BASE + sizeof(Elf64_Ehdr));
    assert_int_equal(info.abi.abi_version, LVM_ABI_VERSION);
    assert_int_equal(info.ndevices, 1);
    assert_int_equal(info.dev[0].type, LVM_DEV_BLOCK);
    assert_string_equal(info.dev[0].name, "disk0");
}

static void test_every_truncation_refused(void **state)
{
    (void)state;
    /* Any prefix that cuts into the loaded bytes must be refused. */
    struct image_info info;
    struct lvm_err err;
    assert_int_equal(image_parse(elf, elf_len, &info, &err), 0);
    size_t needed = 0;
    for (unsigned i = 0; i < info.nsegs; i++)
        if (info.seg[i].offset + info.seg[i].filesz > needed)
            needed = info.seg[i].offset + info.seg[i].filesz;
    for (size_t len = 0; len < needed; len += len < 4096 ? 1 : 511) {
        char *copy =
            malloc(len ? len : 1); /* exact size: ASan sees overreads */
        memcpy(copy, elf, len);
        if (image_parse(copy, len, &info, &err) == 0)
            fail_msg("a %zu-byte prefix was accepted", len);
        assert_true(strlen(err.msg) > 0 && !strchr(err.msg, '\n'));
        free(copy);
    }
}

static void test_pie_refused(void **state)
{
    (void)state;
    char *copy = malloc(elf_len);
    memcpy(copy, elf, elf_len);
    ((Elf64_Ehdr *)copy)->e_type = ET_DYN;
    struct image_info info;
    struct lvm_err err;
    assert_int_equal(image_parse(copy, elf_len, &info, &err), -1);
    assert_non_null(strstr(err.msg, "position-independent"));
    free(copy);
}

static void test_random_bytes_refused_safely(void **state)
{
    (void)state;
    /* Flip bytes in the headers; whatever happens must be a clean verdict
     * (ASan/UBSan would abort on a memory error). */
    srand(1234);
    struct image_info info;
    struct lvm_err err;
    char *copy = malloc(elf_len);
    for (int round = 0; round < 2000; round++) {
        memcpy(copy, elf, elf_len);
        for (int k = 0; k < 4; k++)
            copy[rand() % 1024] = (char)rand();
        (void)image_parse(copy, elf_len, &info, &err);
    }
    free(copy);
}

static void test_bss_not_in_template(void **state)
{
    (void)state;
    /* A small file with a 512 MiB bss: the template holds the file's
     * pages only (the bss is mapped anonymous in each guest). */
    char *copy = malloc(elf_len);
    memcpy(copy, elf, elf_len);
    Elf64_Ehdr *eh = (Elf64_Ehdr *)copy;
    Elf64_Phdr *ph = (Elf64_Phdr *)(copy + eh->e_phoff);
    for (int i = 0; i < eh->e_phnum; i++)
        if (ph[i].p_type == PT_LOAD && (ph[i].p_flags & PF_W))
            ph[i].p_memsz += 512ull << 20;
    char path[] = "/tmp/lightvm-bss.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, copy, elf_len), (ssize_t)elf_len);
    close(fd);
    struct image *img;
    struct lvm_err err;
    assert_int_equal(image_load(path, &img, &err), 0);
    assert_true(img->info.image_end - LVM_RAM_BASE > (512ull << 20));
    struct stat st;
    assert_int_equal(fstat(img->template_fd, &st), 0);
    assert_true((uint64_t)st.st_blocks * 512 < elf_len + (64 << 10));
    image_free(img);
    unlink(path);
    free(copy);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_image),
        cmocka_unit_test(test_every_truncation_refused),
        cmocka_unit_test(test_pie_refused),
        cmocka_unit_test(test_random_bytes_refused_safely),
        cmocka_unit_test(test_bss_not_in_template),
    };
    return cmocka_run_group_tests_name("image", tests, setup, teardown);
}
