/*
 * test_devpage.c: building a guest's device page and posting control
 * requests to it.
 */
#include "unit.h"

#include "toolstack/devpage.h"

#include <unistd.h>

static struct lvm_device dev(unsigned type, const char *name, unsigned ch)
{
    struct lvm_device d;
    memset(&d, 0, sizeof d);
    d.type = (uint16_t)type;
    d.evtchn = (uint16_t)ch;
    snprintf(d.name, sizeof d.name, "%s", name);
    return d;
}

static void test_create(void **state)
{
    (void)state;
    struct devpage p;
    struct lvm_err err;
    assert_int_equal(devpage_create(&p, NULL, &err), 0);
    assert_int_equal(p.dp->magic, LVM_DEVPAGE_MAGIC);
    assert_int_equal(p.dp->abi_version, LVM_ABI_VERSION);
    assert_int_equal(p.dp->ndevices, 0);
    /* The status page is the memfd's second page. */
    p.st->magic = 7;
    uint32_t v;
    assert_int_equal(pread(p.fd, &v, 4, DEVPAGE_STATUS_OFFSET), 4);
    assert_int_equal(v, 7);
    devpage_destroy(&p);
    assert_int_equal(p.fd, -1);
}

static void test_add_and_find(void **state)
{
    (void)state;
    struct devpage p;
    struct lvm_err err;
    assert_int_equal(devpage_create(&p, NULL, &err), 0);
    struct lvm_device c = dev(LVM_DEV_CONSOLE, "console", LVM_EVTCHN_NONE);
    struct lvm_device k = dev(LVM_DEV_CONTROL, "control", 0);
    struct lvm_device b = dev(LVM_DEV_BLOCK, "disk0", LVM_EVTCHN_NONE);
    b.u.block.capacity = 4096;
    assert_int_equal(devpage_add(p.dp, &c, &err), 0);
    assert_int_equal(devpage_add(p.dp, &k, &err), 0);
    assert_int_equal(devpage_add(p.dp, &b, &err), 0);
    assert_int_equal(p.dp->ndevices, 3);
    assert_true(p.dp->generation >= 3);
    const struct lvm_device *f = devpage_find(p.dp, LVM_DEV_BLOCK, "disk0");
    assert_non_null(f);
    assert_int_equal(f->u.block.capacity, 4096);
    assert_null(devpage_find(p.dp, LVM_DEV_NET, NULL));
    assert_non_null(devpage_find(p.dp, LVM_DEV_CONTROL, NULL));
    devpage_destroy(&p);
}

static void test_refusals(void **state)
{
    (void)state;
    struct devpage p;
    struct lvm_err err;
    assert_int_equal(devpage_create(&p, NULL, &err), 0);
    struct lvm_device d = dev(LVM_DEV_NET, "net0", 1);
    assert_int_equal(devpage_add(p.dp, &d, &err), 0);
    assert_int_equal(devpage_add(p.dp, &d, &err), -1); /* same name */
    d = dev(LVM_DEV_NET, "net1", 1);
    assert_int_equal(devpage_add(p.dp, &d, &err), -1); /* same channel */
    d = dev(LVM_DEV_NET, "net1", LVM_MAX_EVTCHN);
    assert_int_equal(devpage_add(p.dp, &d, &err), -1); /* channel range */
    d = dev(9, "odd", LVM_EVTCHN_NONE);
    assert_int_equal(devpage_add(p.dp, &d, &err), -1); /* type */
    d = dev(LVM_DEV_BLOCK, "x", LVM_EVTCHN_NONE);
    memset(d.name, 'a', sizeof d.name);
    assert_int_equal(devpage_add(p.dp, &d, &err), -1); /* unterminated */
    for (int i = p.dp->ndevices; i < LVM_MAX_DEVICES; i++) {
        char name[16];
        snprintf(name, sizeof name, "disk%d", i);
        d = dev(LVM_DEV_BLOCK, name, LVM_EVTCHN_NONE);
        assert_int_equal(devpage_add(p.dp, &d, &err), 0);
    }
    d = dev(LVM_DEV_BLOCK, "onetoomany", LVM_EVTCHN_NONE);
    assert_int_equal(devpage_add(p.dp, &d, &err), -1);
    assert_int_equal(p.dp->ndevices, LVM_MAX_DEVICES);
    devpage_destroy(&p);
}

static void test_control(void **state)
{
    (void)state;
    struct devpage p;
    struct lvm_err err;
    assert_int_equal(devpage_create(&p, NULL, &err), 0);
    devpage_control(p.dp, LVM_CTRL_SUSPEND);
    assert_int_equal(p.dp->control_request, LVM_CTRL_SUSPEND);
    assert_int_equal(p.dp->control_seq, 1);
    devpage_control(p.dp, LVM_CTRL_POWEROFF);
    assert_int_equal(p.dp->control_request, LVM_CTRL_POWEROFF);
    assert_int_equal(p.dp->control_seq, 2);
    devpage_destroy(&p);
}

static void test_file_and_reopen(void **state)
{
    (void)state;
    char dir[] = "/tmp/lightvm-devpage.XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/devpage", dir);
    struct devpage p, q;
    struct lvm_err err;
    assert_int_equal(devpage_create(&p, path, &err), 0);
    assert_int_equal(devpage_create(&q, path, &err), -1); /* exists */
    struct lvm_device d = dev(LVM_DEV_CONTROL, "control", 0);
    assert_int_equal(devpage_add(p.dp, &d, &err), 0);
    p.st->control_ack_seq = 5;
    devpage_destroy(&p);
    /* A restarted daemon maps the same pages again. */
    assert_int_equal(devpage_open(&q, path, &err), 0);
    assert_int_equal(q.dp->ndevices, 1);
    assert_int_equal(q.st->control_ack_seq, 5);
    devpage_destroy(&q);
    assert_int_equal(truncate(path, 100), 0);
    assert_int_equal(devpage_open(&q, path, &err), -1);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create),
        cmocka_unit_test(test_add_and_find),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_control),
        cmocka_unit_test(test_file_and_reopen),
    };
    return cmocka_run_group_tests_name("devpage", tests, NULL, NULL);
}
