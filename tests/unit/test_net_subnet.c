/*
 * test_net_subnet.c: the subnet a new bridge gets when given none
 * (toolstack/netsubnet.c): the pick itself, then against the kernel in a
 * network namespace of the test's own (needs root): never lvm0's, never
 * another bridge's, also when several processes make bridges at once.
 */
#include "toolstack/netaddr.h"
#include "toolstack/netdev.h"
#include "toolstack/netsubnet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "unit_netns.h"

static int overlap(uint32_t a, unsigned pa, uint32_t b, unsigned pb)
{
    uint32_t m = netaddr_mask(pa < pb ? pa : pb);
    return (a & m) == (b & m);
}

/* The second octet of a bridge address of the range, checked. */
static unsigned second(uint32_t addr, unsigned prefix)
{
    uint32_t h = ntohl(addr);
    assert_int_equal(prefix, NETSUBNET_PREFIX);
    assert_int_equal(h >> 24, 10);
    assert_int_equal(h & 0xffff, 1);
    unsigned s = (h >> 16) & 0xff;
    assert_true(s >= NETSUBNET_FIRST && s <= NETSUBNET_LAST);
    return s;
}

static void pick_is_deterministic_and_free(void **state)
{
    (void)state;
    struct netsubnet_used u = {0};
    uint32_t a, b;
    unsigned pa, pb;
    assert_int_equal(netsubnet_pick("br-a", &u, &a, &pa), 0);
    assert_int_equal(netsubnet_pick("br-a", &u, &b, &pb), 0);
    assert_int_equal(a, b); /* same name, same state: same subnet */
    unsigned s = second(a, pa);
    /* Taken by an address: the next one. */
    netsubnet_note(a & netaddr_mask(16), 16, &u);
    assert_int_equal(netsubnet_pick("br-a", &u, &b, &pb), 0);
    assert_int_equal(second(b, pb),
                     s == NETSUBNET_LAST ? NETSUBNET_FIRST : s + 1);
    /* A route to a bigger network covers many: none of them is taken. */
    netsubnet_note(ip("10.192.0.0"), 10, &u); /* 10.192-10.255 */
    assert_int_equal(netsubnet_pick("br-a", &u, &b, &pb), -1);
    /* A smaller one inside a /16 takes the /16. */
    struct netsubnet_used v = {0};
    for (unsigned i = NETSUBNET_FIRST; i <= NETSUBNET_LAST; i++)
        if (i != 230)
            netsubnet_note(htonl(10u << 24 | i << 16 | 5 << 8), 24, &v);
    assert_int_equal(netsubnet_pick("anything", &v, &b, &pb), 0);
    assert_int_equal(second(b, pb), 230);
    netsubnet_note(ip("10.230.255.252"), 30, &v);
    assert_int_equal(netsubnet_pick("anything", &v, &b, &pb), -1);
}

static void two_bridges_and_lvm0(void **state)
{
    (void)state;
    struct lvm_err err;
    struct netdev_bridge lvm0, a, b, again;
    uint32_t daddr;
    unsigned dprefix;
    assert_int_equal(
        netaddr_parse_cidr(NETDEV_SUBNET_DEFAULT, &daddr, &dprefix, &err), 0);
    assert_int_equal(netdev_bridge_ensure(nd, NETDEV_BRIDGE_DEFAULT, daddr,
                                          dprefix, 0, &lvm0, &err),
                     0);
    assert_int_equal(netsubnet_bridge_ensure(nd, "tsa", &a, &err), 0);
    assert_int_equal(netsubnet_bridge_ensure(nd, "tsb", &b, &err), 0);
    assert_true(a.created && b.created);
    second(a.addr, a.prefix);
    second(b.addr, b.prefix);
    assert_false(overlap(a.addr, a.prefix, b.addr, b.prefix));
    assert_false(overlap(a.addr, a.prefix, lvm0.addr, lvm0.prefix));
    assert_false(overlap(b.addr, b.prefix, lvm0.addr, lvm0.prefix));
    /* An existing bridge keeps its address. */
    assert_int_equal(netsubnet_bridge_ensure(nd, "tsa", &again, &err), 0);
    assert_false(again.created);
    assert_int_equal(again.addr, a.addr);
    /* A subnet some other interface has (here a route) is not picked:
     * made again after deletion, tsa gets the same one only if free. */
    uint32_t old = a.addr;
    assert_int_equal(netdev_bridge_delete(nd, "tsa", &err), 0);
    assert_int_equal(netdev_bridge_ensure(nd, "tsx", old, 16, 1, &again, &err),
                     0);
    assert_int_equal(netsubnet_bridge_ensure(nd, "tsa", &a, &err), 0);
    assert_int_not_equal(a.addr, old);
    assert_false(overlap(a.addr, 16, b.addr, 16));
    assert_int_equal(netdev_bridge_delete(nd, "tsx", &err), 0);
    assert_int_equal(netdev_bridge_delete(nd, "tsa", &err), 0);
    assert_int_equal(netsubnet_bridge_ensure(nd, "tsa", &a, &err), 0);
    assert_int_equal(a.addr, old); /* free again: its own again */
    assert_int_equal(netdev_bridge_delete(nd, "tsa", &err), 0);
    assert_int_equal(netdev_bridge_delete(nd, "tsb", &err), 0);
}

#define RACERS 8

/* RACERS bridge names whose first pick on an empty host is the same
 * subnet, so that racers that were not serialized would collide. */
static void same_start_names(char names[][16])
{
    struct netsubnet_used none = {0};
    uint32_t want = 0, a;
    unsigned p;
    int n = 0;
    for (unsigned i = 0; n < RACERS && i < 100000; i++) {
        snprintf(names[n], 16, "tsr%u", i);
        assert_int_equal(netsubnet_pick(names[n], &none, &a, &p), 0);
        if (!want)
            want = a;
        if (a == want)
            n++;
    }
    assert_int_equal(n, RACERS);
}

/* Several processes make a bridge each at the same moment (released
 * together through a pipe), all with names that would start at the same
 * subnet: their subnets never overlap. */
static void concurrent_creations(void **state)
{
    (void)state;
    char names[RACERS][16];
    same_start_names(names);
    int go[2], res[2];
    assert_int_equal(pipe(go), 0);
    assert_int_equal(pipe(res), 0);
    pid_t pids[RACERS];
    for (int i = 0; i < RACERS; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            close(go[1]);
            char c;
            /* EOF when the parent closes its end: all start together. */
            if (read(go[0], &c, 1) != 0)
                _exit(2);
            struct netdev *cnd;
            struct lvm_err e;
            struct netdev_bridge br;
            uint32_t out[2] = {0, 0};
            if (netdev_open(&cnd, &e) == 0 &&
                netsubnet_bridge_ensure(cnd, names[i], &br, &e) == 0) {
                out[0] = br.addr;
                out[1] = br.prefix;
            }
            if (write(res[1], out, sizeof out) != sizeof out)
                _exit(3);
            _exit(out[0] ? 0 : 1);
        }
    }
    close(go[0]);
    close(go[1]);
    close(res[1]);
    uint32_t got[RACERS][2];
    for (int i = 0; i < RACERS; i++) {
        int st;
        assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    for (int i = 0; i < RACERS; i++)
        assert_int_equal(read(res[0], got[i], sizeof got[i]), sizeof got[i]);
    close(res[0]);
    for (int i = 0; i < RACERS; i++) {
        second(got[i][0], got[i][1]);
        for (int j = 0; j < i; j++)
            assert_false(overlap(got[i][0], got[i][1], got[j][0], got[j][1]));
    }
    struct lvm_err err;
    for (int i = 0; i < RACERS; i++)
        assert_int_equal(netdev_bridge_delete(nd, names[i], &err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pick_is_deterministic_and_free),
        cmocka_unit_test(two_bridges_and_lvm0),
        cmocka_unit_test(concurrent_creations),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
