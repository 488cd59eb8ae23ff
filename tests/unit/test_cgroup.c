/*
 * test_cgroup.c: the v1 backend on a host that co-mounts controllers
 * (cpu,cpuacct with cpu and cpuacct as symlinks to it, as Debian and
 * most distributions do). The hierarchy is faked with plain directories
 * under $LIGHTVM_CGROUP_ROOT: the backend's directory walk is what is
 * tested, not the kernel's controllers.
 */
#include "unit.h"

#include "toolstack/cgroup.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[64];

static int is_dir(const char *rel)
{
    char path[256];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", root, rel);
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof root, "/tmp/lvm-cgroup-XXXXXX");
    if (!mkdtemp(root))
        return -1;
    static const char *const dirs[] = {"memory", "cpu,cpuacct", "pids",
                                       "freezer"};
    char path[256];
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", root, dirs[i]);
        if (mkdir(path, 0755) < 0)
            return -1;
    }
    snprintf(path, sizeof path, "%s/cpu", root);
    if (symlink("cpu,cpuacct", path) < 0)
        return -1;
    snprintf(path, sizeof path, "%s/cpuacct", root);
    if (symlink("cpu,cpuacct", path) < 0)
        return -1;
    return setenv("LIGHTVM_CGROUP_ROOT", root, 1);
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_comounted_create_destroy(void **state)
{
    (void)state;
    struct cgroup cg;
    struct cgroup_limits none = {0};
    struct lvm_err err;
    assert_int_equal(cgroup_version(), 1);
    if (cgroup_create(&cg, "g1", &none, &err) < 0)
        fail_msg("create on co-mounted cpu,cpuacct: %s", err.msg);
    assert_true(is_dir("memory/lightvm/g1"));
    assert_true(is_dir("cpu,cpuacct/lightvm/g1"));
    assert_true(is_dir("pids/lightvm/g1"));
    assert_true(is_dir("freezer/lightvm/g1"));
    assert_true(cgroup_exists(&cg));
    if (cgroup_destroy(&cg, &err) < 0)
        fail_msg("destroy on co-mounted cpu,cpuacct: %s", err.msg);
    assert_false(is_dir("cpu,cpuacct/lightvm/g1"));
    assert_false(is_dir("memory/lightvm/g1"));
    assert_false(cgroup_exists(&cg));
}

static void test_lean(void **state)
{
    (void)state;
    struct cgroup cg;
    struct cgroup_limits lean = {.lean = 1};
    struct lvm_err err;
    /* A cold run's cgroup: memory and pids only; no accounting, no
     * freezer, and no cpu controller without a quota. */
    assert_int_equal(cgroup_create(&cg, "g3", &lean, &err), 0);
    assert_true(is_dir("memory/lightvm/g3"));
    assert_true(is_dir("pids/lightvm/g3"));
    assert_false(is_dir("cpu,cpuacct/lightvm/g3"));
    assert_false(is_dir("freezer/lightvm/g3"));
    assert_int_equal(cgroup_destroy(&cg, &err), 0);
    assert_false(is_dir("memory/lightvm/g3"));
    assert_false(is_dir("pids/lightvm/g3"));
}

static void test_name_taken(void **state)
{
    (void)state;
    struct cgroup a, b;
    struct cgroup_limits none = {0};
    struct lvm_err err;
    assert_int_equal(cgroup_create(&a, "g2", &none, &err), 0);
    /* A second guest of the same name is refused... */
    assert_int_equal(cgroup_create(&b, "g2", &none, &err), -1);
    assert_int_equal(err.code, EEXIST);
    /* ... and its failed create does not remove the first's. */
    assert_true(is_dir("memory/lightvm/g2"));
    assert_int_equal(cgroup_destroy(&a, &err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_comounted_create_destroy),
        cmocka_unit_test(test_lean),
        cmocka_unit_test(test_name_taken),
    };
    return cmocka_run_group_tests_name("cgroup", tests, setup, teardown);
}
