/*
 * test_fn_clients.c: the gateway's count of invocations in flight per
 * client address (faas/clients.c, built into this test: faas/faas.mk):
 * the limit holds per address and not across them, a slot given back
 * can be taken again, and an address leaves the table with its last.
 */
#include "unit.h"

#include "faas/clients.c"

#include <arpa/inet.h>

static uint32_t ip(const char *s)
{
    struct in_addr a;
    assert_int_equal(inet_pton(AF_INET, s, &a), 1);
    return a.s_addr;
}

static void test_limit_per_address(void **state)
{
    (void)state;
    struct fn_clients t;
    fn_clients_init(&t, 3);
    uint32_t a = ip("10.0.0.1"), b = ip("10.0.0.2");
    for (int i = 0; i < 3; i++)
        assert_int_equal(fn_clients_take(&t, a), 0);
    assert_int_equal(fn_clients_take(&t, a), -1); /* its share is taken */
    assert_int_equal(fn_clients_in_flight(&t, a), 3);
    /* Another address is not held back by the first. */
    assert_int_equal(fn_clients_take(&t, b), 0);
    assert_int_equal(fn_clients_in_flight(&t, b), 1);
    /* One ends: the first may take one more, and no more than that. */
    fn_clients_put(&t, a);
    assert_int_equal(fn_clients_take(&t, a), 0);
    assert_int_equal(fn_clients_take(&t, a), -1);
    assert_int_equal(t.count, 2);
    fn_clients_fini(&t);
    assert_int_equal(t.count, 0);
}

static void test_entries_go(void **state)
{
    (void)state;
    struct fn_clients t;
    fn_clients_init(&t, 2);
    /* Many addresses, several per bucket. */
    for (unsigned i = 0; i < 2000; i++) {
        uint32_t a = htonl(0x0a000000u + i);
        assert_int_equal(fn_clients_take(&t, a), 0);
        assert_int_equal(fn_clients_take(&t, a), 0);
        assert_int_equal(fn_clients_take(&t, a), -1);
    }
    assert_int_equal(t.count, 2000);
    for (unsigned i = 0; i < 2000; i++) {
        uint32_t a = htonl(0x0a000000u + i);
        fn_clients_put(&t, a);
        assert_int_equal(fn_clients_in_flight(&t, a), 1);
        fn_clients_put(&t, a);
        assert_int_equal(fn_clients_in_flight(&t, a), 0);
        fn_clients_put(&t, a); /* one too many: ignored */
    }
    assert_int_equal(t.count, 0);
    for (unsigned i = 0; i < FN_CLIENT_BUCKETS; i++)
        assert_null(t.b[i]);
    fn_clients_fini(&t);
}

static void test_no_limit(void **state)
{
    (void)state;
    struct fn_clients t;
    fn_clients_init(&t, 0);
    uint32_t a = ip("127.0.0.1");
    for (int i = 0; i < 10000; i++)
        assert_int_equal(fn_clients_take(&t, a), 0);
    assert_int_equal(fn_clients_in_flight(&t, a), 10000);
    fn_clients_fini(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limit_per_address),
        cmocka_unit_test(test_entries_go),
        cmocka_unit_test(test_no_limit),
    };
    return cmocka_run_group_tests_name("fn_clients", tests, NULL, NULL);
}
