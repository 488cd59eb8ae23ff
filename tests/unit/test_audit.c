/*
 * test_audit.c: parsing the kernel's seccomp audit records.
 */
#include "unit.h"

#include "toolstack/audit.h"

static void test_x86_64_record(void **state)
{
    (void)state;
    const char *r = "audit(1795783734.715:3): auid=4294967295 uid=0 gid=0 "
                    "ses=4294967295 pid=3306 comm=\"sk\" exe=\"/tmp/sk\" "
                    "sig=31 arch=c000003e syscall=257 compat=0 "
                    "ip=0x7f845be44011 code=0x80000000";
    pid_t pid;
    long nr;
    assert_int_equal(audit_parse_seccomp(r, strlen(r), &pid, &nr), 0);
    assert_int_equal(pid, 3306);
    assert_int_equal(nr, 257);
}

static void test_i386_record(void **state)
{
    (void)state;
    const char *r = "audit(1:2): pid=77 comm=\"x\" sig=31 arch=40000003 "
                    "syscall=5 compat=1 ip=0x4000 code=0x80000000";
    pid_t pid;
    long nr;
    assert_int_equal(audit_parse_seccomp(r, strlen(r), &pid, &nr), 0);
    assert_int_equal(pid, 77);
    assert_int_equal(nr, -2 - 5); /* marked as another ABI's number */
}

static void test_comm_cannot_forge(void **state)
{
    (void)state;
    /* Quoted values (comm, exe) are never read as fields, whatever they
     * hold. */
    const char *r = "audit(1:2): auid=1 uid=0 pid=4242 comm=\"a pid=1 "
                    "syscall=0\" sig=31 arch=c000003e syscall=59 code=0";
    pid_t pid;
    long nr;
    assert_int_equal(audit_parse_seccomp(r, strlen(r), &pid, &nr), 0);
    assert_int_equal(pid, 4242);
    assert_int_equal(nr, 59);
}

static void test_garbage(void **state)
{
    (void)state;
    pid_t pid;
    long nr;
    const char *bad[] = {
        "",       "pid=", "syscall=5", "pid=abc syscall=1", "pid=-4 syscall=1",
        "pid=12", NULL};
    for (int i = 0; bad[i]; i++)
        assert_int_equal(audit_parse_seccomp(bad[i], strlen(bad[i]), &pid, &nr),
                         -1);
    /* Not NUL-terminated: the length bounds the parse. */
    char buf[] = {'p', 'i', 'd', '=', '1', ' ', 's', 'y', 's'};
    assert_int_equal(audit_parse_seccomp(buf, sizeof buf, &pid, &nr), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_x86_64_record),
        cmocka_unit_test(test_i386_record),
        cmocka_unit_test(test_comm_cannot_forge),
        cmocka_unit_test(test_garbage),
    };
    return cmocka_run_group_tests_name("audit", tests, NULL, NULL);
}
