/*
 * test_error.c: how an error reads (toolstack/error.c): a failed system
 * call keeps its strerror, a wrong request or input does not get a
 * needless ": Invalid argument", and context added on top keeps either.
 */
#include "unit.h"

#include "toolstack/error.h"

#include <errno.h>

static const char *str(const struct lvm_err *e)
{
    static char buf[LVM_ERR_MSG_MAX + 128];
    return lvm_err_str(e, buf, sizeof buf);
}

static void test_syscall_keeps_strerror(void **state)
{
    (void)state;
    struct lvm_err e;
    assert_int_equal(lvm_err_set(&e, ENOENT, "open %s", "/x"), -1);
    assert_string_equal(str(&e), "open /x: No such file or directory");
    /* EINVAL from a system call is its reason: kept. */
    lvm_err_set(&e, EINVAL, "mount %s", "/y");
    assert_string_equal(str(&e), "mount /y: Invalid argument");
}

static void test_invalid_says_it_all(void **state)
{
    (void)state;
    struct lvm_err e;
    assert_int_equal(lvm_err_invalid(&e, "guest %s is not running", "ab"), -1);
    assert_int_equal(e.code, EINVAL); /* the API still answers "invalid" */
    assert_string_equal(str(&e), "guest ab is not running");
    lvm_err_wrap(&e, "kill %s", "web");
    assert_string_equal(str(&e), "kill web: guest ab is not running");
}

static void test_set_after_invalid(void **state)
{
    (void)state;
    struct lvm_err e;
    lvm_err_invalid(&e, "bad");
    lvm_err_set(&e, EACCES, "open %s", "/z"); /* the same struct, reused */
    assert_string_equal(str(&e), "open /z: Permission denied");
    lvm_err_set(&e, 0, "a logic error");
    assert_string_equal(str(&e), "a logic error");
    assert_int_equal(lvm_err_invalid(NULL, "nowhere"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_syscall_keeps_strerror),
        cmocka_unit_test(test_invalid_says_it_all),
        cmocka_unit_test(test_set_after_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
