/*
 * unit_netns.h: the group fixture of the unit tests that make links:
 * everything happens in a network namespace of the test's own (it dies
 * with the test), over one netdev handle. Include after <cmocka.h>.
 */
#ifndef LVM_UNIT_NETNS_H
#define LVM_UNIT_NETNS_H

#include "toolstack/netaddr.h"
#include "toolstack/netdev.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

static struct netdev *nd;

static int group_setup(void **state)
{
    (void)state;
    if (unshare(CLONE_NEWNET) < 0) {
        fprintf(stderr, "unshare(CLONE_NEWNET): %s (run as root)\n",
                strerror(errno));
        return -1;
    }
    struct lvm_err err;
    return netdev_open(&nd, &err);
}

static int group_teardown(void **state)
{
    (void)state;
    netdev_close(nd);
    return 0;
}

/* An address from its dotted form (network order). */
static uint32_t ip(const char *s)
{
    uint32_t a = 0;
    assert_int_equal(netaddr_parse_ip4(s, &a), 0);
    return a;
}

#endif
