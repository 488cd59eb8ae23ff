/*
 * test_idrange.c: the guests' host id range against the host's users,
 * groups and subordinate id ranges.
 */
#include "unit.h"

#include "toolstack/idrange.h"

#include <unistd.h>

static char dir[64];
static char passwd[96], group[96], subuid[96], subgid[96];
static const struct idrange_files files = {passwd, group, subuid, subgid};

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void put_files(void);

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/lvm-idrange-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(passwd, sizeof passwd, "%s/passwd", dir);
    snprintf(group, sizeof group, "%s/group", dir);
    snprintf(subuid, sizeof subuid, "%s/subuid", dir);
    snprintf(subgid, sizeof subgid, "%s/subgid", dir);
    put_files();
    return 0;
}

static void put_files(void)
{
    put(passwd, "root:x:0:0:root:/root:/bin/bash\n"
                "# a comment\n"
                "broken line without colons\n"
                "odd:x:notanumber:0::/:/bin/sh\n"
                "alice:x:1000:1000::/home/alice:/bin/bash\n"
                "nobody:x:65534:65534::/nonexistent:/usr/sbin/nologin\n");
    put(group, "root:x:0:\nalice:x:1000:\n");
    put(subuid, "alice:100000:65536\n");
    put(subgid, "alice:100000:65536\n");
}

static int teardown(void **state)
{
    (void)state;
    unlink(passwd);
    unlink(group);
    unlink(subuid);
    unlink(subgid);
    return rmdir(dir);
}

static void test_free_range(void **state)
{
    (void)state;
    struct lvm_err err;
    assert_int_equal(idrange_check(&files, 0x40000000u, 4194304, &err), 0);
    /* Right after alice's subordinate ids, and right before them. */
    assert_int_equal(idrange_check(&files, 165536, 1000, &err), 0);
    assert_int_equal(idrange_check(&files, 99000, 1000, &err), 0);
}

static void test_user_inside(void **state)
{
    (void)state;
    struct lvm_err err;
    assert_int_equal(idrange_check(&files, 900, 200, &err), -1);
    assert_non_null(strstr(err.msg, "user 'alice' has id 1000"));
    assert_non_null(strstr(err.msg, "LIGHTVM_UID_BASE"));
    assert_int_equal(idrange_check(&files, 65534, 1, &err), -1);
    assert_non_null(strstr(err.msg, "'nobody'"));
}

static void test_group_inside(void **state)
{
    (void)state;
    struct lvm_err err;
    put(passwd, "root:x:0:0::/:/bin/sh\n");
    assert_int_equal(idrange_check(&files, 1000, 1, &err), -1);
    assert_non_null(strstr(err.msg, "group"));
    put_files(); /* as they were */
}

static void test_subordinate_overlap(void **state)
{
    (void)state;
    struct lvm_err err;
    /* Overlapping the end of alice's range, and inside it. */
    assert_int_equal(idrange_check(&files, 165535, 10, &err), -1);
    assert_non_null(strstr(err.msg, "ids 100000-165535"));
    assert_non_null(strstr(err.msg, subuid));
    assert_int_equal(idrange_check(&files, 120000, 1, &err), -1);
    /* Containing it. */
    assert_int_equal(idrange_check(&files, 50000, 200000, &err), -1);
}

static void test_invalid_ids(void **state)
{
    (void)state;
    struct lvm_err err;
    /* (uid_t)-1 means "no id". */
    assert_int_equal(idrange_check(&files, 0xffff0000u, 0x10000, &err), -1);
    assert_non_null(strstr(err.msg, "not valid"));
    assert_int_equal(idrange_check(&files, 0, 10, &err), -1);
}

static void test_missing_files(void **state)
{
    (void)state;
    struct lvm_err err;
    const struct idrange_files none = {"/nonexistent/a", "/nonexistent/b",
                                       "/nonexistent/c", "/nonexistent/d"};
    assert_int_equal(idrange_check(&none, 1000, 10, &err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_free_range),
        cmocka_unit_test(test_user_inside),
        cmocka_unit_test(test_group_inside),
        cmocka_unit_test(test_subordinate_overlap),
        cmocka_unit_test(test_invalid_ids),
        cmocka_unit_test(test_missing_files),
    };
    return cmocka_run_group_tests_name("idrange", tests, setup, teardown);
}
