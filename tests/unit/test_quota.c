/*
 * test_quota.c: the "quotas" section of lightvmd's config file
 * (daemon/config_quota.c): parsing and its one-line refusals, the
 * members' defaults derived from the host, and which quotas a client
 * gets (root exempt unless configured; user over groups over members).
 */
#include "unit.h"

#include "unit_config.h"
#include "daemon/creds.h"

#include <stdint.h>
#include <fcntl.h>
#include <unistd.h>

#define GIB (1ull << 30)
#define MIB (1ull << 20)

static void values(void **state)
{
    (void)state;
    struct daemon_config c;
    parse_ok(&c, "{\"quotas\": {\"members\": {\"guests\": 8, \"ram\": \"1G\", "
                 "\"memory_limit\": \"1536M\", \"cpus\": 2.5, "
                 "\"console\": 4096, \"console_total\": \"64K\", "
                 "\"ports\": 0, \"templates\": \"unlimited\"}}}");
    const uint64_t *v = c.quotas.members.v;
    assert_int_equal(v[QUOTA_GUESTS], 8);
    assert_int_equal(v[QUOTA_RAM], GIB);
    assert_int_equal(v[QUOTA_MEM_LIMIT], 1536 * MIB);
    assert_int_equal(v[QUOTA_CPUS], 2500);
    assert_int_equal(v[QUOTA_CONSOLE], 4096);
    assert_int_equal(v[QUOTA_CONSOLE_TOTAL], 64 << 10);
    assert_int_equal(v[QUOTA_PORTS], 0);
    assert_true(v[QUOTA_TEMPLATES] == QUOTA_UNLIMITED);
    /* Root is exempt unless the file says otherwise. */
    for (unsigned k = 0; k < QUOTA_KINDS; k++)
        assert_true(c.quotas.root.v[k] == QUOTA_UNLIMITED);
    parse_ok(&c, "{\"quotas\": {\"root\": {\"guests\": 1000}}}");
    assert_int_equal(c.quotas.root.v[QUOTA_GUESTS], 1000);
    assert_true(c.quotas.root.v[QUOTA_RAM] == QUOTA_UNLIMITED);
    assert_true(c.quotas.members.v[QUOTA_RAM] == QUOTA_UNSET);
}

static void errors(void **state)
{
    (void)state;
    parse_bad("{\"quotas\": []}", "field quotas: must be an object");
    parse_bad("{\"quotas\": {\"member\": {}}}", "field quotas.member: unknown");
    parse_bad("{\"quotas\": {\"members\": {\"gusts\": 1}}}",
              "field quotas.members.gusts: unknown quota");
    parse_bad("{\"quotas\": {\"members\": {\"guests\": -1}}}",
              "quotas.members.guests: must be a count");
    parse_bad("{\"quotas\": {\"members\": {\"guests\": 1.5}}}",
              "quotas.members.guests: must be a count");
    parse_bad("{\"quotas\": {\"members\": {\"ram\": \"12X\"}}}",
              "'12X' is not a size");
    parse_bad("{\"quotas\": {\"members\": {\"ram\": \"\"}}}", "is not a size");
    parse_bad("{\"quotas\": {\"members\": {\"ram\": \"1G \"}}}",
              "is not a size");
    parse_bad("{\"quotas\": {\"members\": {\"ram\": \"99999999T\"}}}",
              "is not a size");
    parse_bad("{\"quotas\": {\"members\": {\"ram\": true}}}",
              "quotas.members.ram: must be a size");
    parse_bad("{\"quotas\": {\"members\": {\"cpus\": -0.5}}}",
              "quotas.members.cpus: must be a number of CPUs");
    parse_bad("{\"quotas\": {\"members\": {\"cpus\": \"2\"}}}",
              "must be a number of CPUs");
    parse_bad("{\"quotas\": {\"users\": []}}", "field quotas.users: must be");
    parse_bad("{\"quotas\": {\"users\": {\"a:b\": {}}}}",
              "'a:b' is not a user name");
    parse_bad("{\"quotas\": {\"groups\": {\"\": {}}}}", "is not a group name");
    parse_bad("{\"quotas\": {\"groups\": {\"g\": 3}}}",
              "field quotas.groups.g: must be an object");
    parse_bad("{\"quotas\": {\"users\": {\"a\": {\"ports\": \"x\"}}}}",
              "quotas.users.a.ports: must be a count");
    /* Unprintable names are shown, not echoed. */
    parse_bad("{\"quotas\": {\"members\": {\"a\\u001b[31m\": 1}}}",
              "quotas.members.a?[31m: unknown quota");
    /* At most CONFIG_MAX_QUOTA_ENTRIES entries. */
    char big[8192];
    int n = snprintf(big, sizeof big, "{\"quotas\": {\"users\": {");
    for (int i = 0; i <= CONFIG_MAX_QUOTA_ENTRIES; i++)
        n += snprintf(big + n, sizeof big - (size_t)n, "%s\"u%d\": {}",
                      i ? ", " : "", i);
    snprintf(big + n, sizeof big - (size_t)n, "}}}");
    parse_bad(big, "at most 64 user and group entries");
}

static void host_defaults(void **state)
{
    (void)state;
    struct daemon_config c;
    parse_ok(&c, "{\"quotas\": {\"members\": {\"ram\": \"3G\"}}}");
    quota_host_defaults(&c.quotas.members, 8 * GIB, 2);
    const uint64_t *v = c.quotas.members.v;
    assert_int_equal(v[QUOTA_RAM], 3 * GIB); /* the file's stays */
    assert_int_equal(v[QUOTA_MEM_LIMIT], 4 * GIB);
    assert_int_equal(v[QUOTA_CPUS], 64000);
    assert_int_equal(v[QUOTA_GUESTS], 64);
    assert_int_equal(v[QUOTA_CONSOLE], 16 * MIB);
    assert_int_equal(v[QUOTA_CONSOLE_TOTAL], 512 * MIB);
    assert_int_equal(v[QUOTA_TEMPLATES], 512 * MIB);
    /* lightvmd's own per-member cap bounds connections unless set. */
    assert_true(v[QUOTA_CONNECTIONS] == QUOTA_UNLIMITED);
    /* Nothing is left unset, whatever the host says. */
    struct quota_limits q;
    for (unsigned k = 0; k < QUOTA_KINDS; k++)
        q.v[k] = QUOTA_UNSET;
    quota_host_defaults(&q, 0, 0);
    for (unsigned k = 0; k < QUOTA_KINDS; k++)
        assert_true(q.v[k] != QUOTA_UNSET && q.v[k] > 0);
}

static void who_gets_what(void **state)
{
    (void)state;
    struct daemon_config c;
    parse_ok(&c, "{\"quotas\": {\"members\": {\"guests\": 4, \"ram\": 100},\n"
                 " \"root\": {\"ports\": 2},\n"
                 " \"users\": {\"alice\": {\"guests\": 1}},\n"
                 " \"groups\": {\"small\": {\"guests\": 2, \"ram\": 50},\n"
                 "            \"big\": {\"guests\": 10}}}}");
    quota_host_defaults(&c.quotas.members, 8 * GIB, 2);
    /* Names as config_load resolves them. */
    c.quotas.e[0].id = 1001; /* user alice */
    c.quotas.e[1].id = 500;  /* group small */
    c.quotas.e[2].id = 600;  /* group big */
    struct quota_limits l;
    struct creds cr = {.uid = 1002, .gid = 1002};
    quota_limits_for(&c.quotas, &cr, &l);
    assert_int_equal(l.v[QUOTA_GUESTS], 4); /* a member */
    assert_int_equal(l.v[QUOTA_RAM], 100);
    assert_int_equal(l.v[QUOTA_MEM_LIMIT], 4 * GIB);
    /* Groups, primary or supplementary: the largest a group grants. */
    cr.ngroups = 2;
    cr.groups[0] = 500;
    cr.groups[1] = 600;
    quota_limits_for(&c.quotas, &cr, &l);
    assert_int_equal(l.v[QUOTA_GUESTS], 10);
    assert_int_equal(l.v[QUOTA_RAM], 50); /* only "small" says */
    /* A user entry over its groups, field by field. */
    cr.uid = 1001;
    quota_limits_for(&c.quotas, &cr, &l);
    assert_int_equal(l.v[QUOTA_GUESTS], 1);
    assert_int_equal(l.v[QUOTA_RAM], 50);
    /* Root: its own section only, unlimited elsewhere. */
    cr.uid = 0;
    quota_limits_for(&c.quotas, &cr, &l);
    assert_int_equal(l.v[QUOTA_PORTS], 2);
    assert_true(l.v[QUOTA_GUESTS] == QUOTA_UNLIMITED);
}

static void names(void **state)
{
    (void)state;
    assert_string_equal(quota_name(QUOTA_MEM_LIMIT), "memory_limit");
    assert_string_equal(quota_name(QUOTA_TEMPLATES), "templates");
    assert_string_equal(quota_name(QUOTA_KINDS), "?");
}

/* config_load resolves names, and refuses one that does not resolve. */
static void load_resolves(void **state)
{
    (void)state;
    char path[] = "/tmp/lvm-quota-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *t = "{\"quotas\": {\"users\": {\"root\": {\"guests\": 3}},"
                    " \"groups\": {\"root\": {}}}}";
    assert_int_equal(write(fd, t, strlen(t)), (ssize_t)strlen(t));
    close(fd);
    struct daemon_config c;
    struct lvm_err err = {0};
    if (config_load(path, &c, &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(c.quotas.n, 2);
    assert_int_equal(c.quotas.e[0].id, 0);
    assert_true(c.quotas.members.v[QUOTA_MEM_LIMIT] < QUOTA_UNSET);
    fd = open(path, O_WRONLY | O_TRUNC);
    t = "{\"quotas\": {\"users\": {\"no-such-user-lvmq\": {}}}}";
    assert_int_equal(write(fd, t, strlen(t)), (ssize_t)strlen(t));
    close(fd);
    assert_int_equal(config_load(path, &c, &err), -1);
    assert_non_null(strstr(err.msg, "no user 'no-such-user-lvmq'"));
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(values),        cmocka_unit_test(errors),
        cmocka_unit_test(host_defaults), cmocka_unit_test(who_gets_what),
        cmocka_unit_test(names),         cmocka_unit_test(load_resolves),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
