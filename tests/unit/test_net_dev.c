/*
 * test_net_dev.c: the bridge, taps, link counters, the nftables guard and
 * NAT chains (toolstack/netdev.c, netguard.c, dev_net.c), against the
 * kernel, in a network namespace of the test's own (needs root).
 */
#include "toolstack/dev_net.h"
#include "toolstack/devices.h"
#include "toolstack/guest.h"
#include "toolstack/netaddr.h"
#include "toolstack/netdev.h"
#include "toolstack/netguard.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "unit_netns.h"

/* Whether (name) has an IPv6 address (this namespace's /proc/net). */
static int has_ipv6(const char *name)
{
    FILE *f = fopen("/proc/net/if_inet6", "r");
    if (!f)
        return 0; /* no IPv6 in this kernel */
    char line[256];
    int found = 0;
    while (fgets(line, sizeof line, f)) {
        char dev[IF_NAMESIZE + 1] = "";
        if (sscanf(line, "%*s %*s %*s %*s %*s %16s", dev) == 1 &&
            strcmp(dev, name) == 0)
            found = 1;
    }
    fclose(f);
    return found;
}

static void bridge_first_use(void **state)
{
    (void)state;
    struct lvm_err err;
    struct netdev_bridge br, again;
    assert_int_equal(
        netdev_bridge_ensure(nd, "tbr0", ip("10.77.0.1"), 16, 0, &br, &err), 0);
    assert_true(br.created);
    assert_true(br.ifindex > 0);
    assert_int_equal(br.addr, ip("10.77.0.1"));
    assert_int_equal(br.prefix, 16);
    struct netdev_link l;
    assert_int_equal(netdev_link_get(nd, 0, "tbr0", &l, &err), 0);
    assert_string_equal(l.kind, "bridge");
    assert_true(l.flags & IFF_UP);
    uint8_t mac[6];
    netaddr_bridge_mac("tbr0", mac);
    assert_memory_equal(l.mac, mac, 6); /* fixed, not the lowest port's */
    assert_false(has_ipv6("tbr0"));

    /* Second use: found, its own address reported, nothing created. */
    assert_int_equal(
        netdev_bridge_ensure(nd, "tbr0", ip("10.1.0.1"), 24, 0, &again, &err),
        0);
    assert_false(again.created);
    assert_int_equal(again.ifindex, br.ifindex);
    assert_int_equal(again.addr, ip("10.77.0.1"));
    assert_int_equal(again.prefix, 16);
    /* An explicit, different subnet is an error, not silently ignored. */
    assert_int_equal(
        netdev_bridge_ensure(nd, "tbr0", ip("10.1.0.1"), 24, 1, &again, &err),
        -1);
    assert_int_equal(err.code, EEXIST);
}

static void bridge_name_taken(void **state)
{
    (void)state;
    struct lvm_err err;
    struct netdev_tap t;
    struct netdev_bridge br;
    assert_int_equal(netdev_tap_create(nd, "notbr", &t, &err), 0);
    assert_int_equal(
        netdev_bridge_ensure(nd, "notbr", ip("10.78.0.1"), 16, 0, &br, &err),
        -1);
    assert_int_equal(err.code, EEXIST);
    assert_non_null(strstr(err.msg, "not a bridge"));
    netdev_tap_destroy(nd, &t);
    assert_int_equal(netdev_bridge_ensure(nd, "", 1, 16, 0, &br, &err), -1);
    assert_int_equal(
        netdev_bridge_ensure(nd, "name-far-too-long", 1, 16, 0, &br, &err), -1);
}

/* The first IPv4 address of (name) as "A.B.C.D/P", "" if none. */
static void ipv4_of(const char *name, char *buf, size_t len)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd,
             "ip -o -4 addr show dev %s | awk '{print $4}' | head -n1", name);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    buf[0] = 0;
    if (fgets(buf, (int)len, f))
        buf[strcspn(buf, "\n")] = 0;
    pclose(f);
}

static void bridge_foreign(void **state)
{
    /* A bridge lightvm did not make is used as it is, never given an
     * address or brought up: that would route the host's traffic for the
     * subnet to guests, or join whatever its ports are. */
    (void)state;
    struct lvm_err err;
    struct netdev_bridge br;
    struct netdev_link l;
    char have[64];
    assert_int_equal(system("ip link add fbr0 type bridge"), 0);
    assert_int_equal(
        netdev_bridge_ensure(nd, "fbr0", ip("10.79.0.1"), 24, 1, &br, &err),
        -1);
    assert_int_equal(err.code, EADDRNOTAVAIL);
    assert_non_null(strstr(err.msg, "not made by lightvm"));
    ipv4_of("fbr0", have, sizeof have);
    assert_string_equal(have, "");
    assert_int_equal(system("ip addr add 10.79.0.1/24 dev fbr0"), 0);
    assert_int_equal(
        netdev_bridge_ensure(nd, "fbr0", ip("10.79.0.1"), 24, 1, &br, &err),
        -1);
    assert_int_equal(err.code, ENETDOWN);
    assert_int_equal(netdev_link_get(nd, 0, "fbr0", &l, &err), 0);
    assert_false(l.flags & IFF_UP);
    /* Addressed and up by its owner: usable, its address kept. */
    assert_int_equal(system("ip link set fbr0 up"), 0);
    assert_int_equal(
        netdev_bridge_ensure(nd, "fbr0", ip("10.80.0.1"), 24, 0, &br, &err), 0);
    assert_true(br.foreign);
    assert_int_equal(br.addr, ip("10.79.0.1"));
    ipv4_of("fbr0", have, sizeof have);
    assert_string_equal(have, "10.79.0.1/24");
    assert_int_equal(netdev_bridge_delete(nd, "fbr0", &err), 0);
    /* lightvm's own bridge is not foreign. */
    assert_int_equal(
        netdev_bridge_ensure(nd, "tbr0", ip("10.77.0.1"), 16, 0, &br, &err), 0);
    assert_false(br.foreign);
}

static void tap_names(void **state)
{
    (void)state;
    char n0[IF_NAMESIZE], n1[IF_NAMESIZE];
    netdev_tap_name("0123456789abcdef", 0, n0);
    netdev_tap_name("0123456789abcdef", 1, n1);
    assert_string_equal(n0, "lvt0123456789ab");
    assert_string_equal(n1, "lvt0123456789n1");
    assert_int_equal(strlen(n0), IF_NAMESIZE - 1);
    assert_int_equal(strlen(n1), IF_NAMESIZE - 1);
    /* A first NIC whose id's 12th digit is 1 is not another's second. */
    netdev_tap_name("0123456789a1cdef", 0, n0);
    netdev_tap_name("0123456789a1cdef", 1, n1);
    assert_string_not_equal(n0, n1);
}

static void tap_lifecycle(void **state)
{
    (void)state;
    struct lvm_err err;
    struct netdev_bridge br;
    assert_int_equal(
        netdev_bridge_ensure(nd, "tbr0", ip("10.77.0.1"), 16, 0, &br, &err), 0);
    struct netdev_tap t;
    assert_int_equal(netdev_tap_create(nd, "lvttest0", &t, &err), 0);
    assert_true(t.fd >= 0);
    assert_true(t.ifindex > 0);
    assert_true(fcntl(t.fd, F_GETFL) & O_NONBLOCK);
    /* Never two guests on one tap. */
    struct netdev_tap t2;
    assert_int_equal(netdev_tap_create(nd, "lvttest0", &t2, &err), -1);
    assert_int_equal(err.code, EBUSY);

    assert_int_equal(netdev_tap_attach(nd, &t, br.ifindex, &err), 0);
    struct netdev_link l;
    assert_int_equal(netdev_link_get(nd, t.ifindex, NULL, &l, &err), 0);
    assert_string_equal(l.name, "lvttest0");
    assert_string_equal(l.kind, "tun");
    assert_int_equal(l.master, br.ifindex);
    assert_true(l.flags & IFF_UP);
    assert_false(has_ipv6("lvttest0"));

    /* A frame the guest writes is one packet the tap received. */
    struct netdev_stats st;
    assert_int_equal(netdev_link_stats(nd, t.ifindex, &st, &err), 0);
    uint8_t frame[60] = {
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 1,
        2,    3,    4,    5,    0x88, 0xb5}; /* local experimental EtherType */
    assert_int_equal(write(t.fd, frame, sizeof frame), sizeof frame);
    struct netdev_stats st2;
    assert_int_equal(netdev_link_stats(nd, t.ifindex, &st2, &err), 0);
    assert_int_equal(st2.rx_packets, st.rx_packets + 1);
    assert_int_equal(st2.rx_bytes, st.rx_bytes + sizeof frame);

    /* Destroyed: gone even though the fd was still open. */
    int index = t.ifindex;
    netdev_tap_destroy(nd, &t);
    assert_int_equal(t.fd, -1);
    assert_int_equal(netdev_link_get(nd, index, NULL, &l, &err), -1);
    assert_int_equal(err.code, ENODEV);
    netdev_tap_destroy(nd, &t); /* twice is harmless */
}

/* Not persistent: closing the last fd removes the tap (a dead guest's). */
static void tap_dies_with_fd(void **state)
{
    (void)state;
    struct lvm_err err;
    struct netdev_tap t;
    assert_int_equal(netdev_tap_create(nd, "lvttest1", &t, &err), 0);
    int index = t.ifindex;
    close(t.fd);
    struct netdev_link l;
    assert_int_equal(netdev_link_get(nd, index, NULL, &l, &err), -1);
    assert_int_equal(err.code, ENODEV);
}

static void guard_and_sweep(void **state)
{
    (void)state;
    struct lvm_err err;
    assert_int_equal(netguard_ensure(nd, &err), 0);
    assert_int_equal(netguard_ensure(nd, &err), 0); /* idempotent */
    struct netdev_tap a, b;
    assert_int_equal(netdev_tap_create(nd, "lvtga", &a, &err), 0);
    assert_int_equal(netdev_tap_create(nd, "lvtgb", &b, &err), 0);
    uint8_t ma[6] = {2, 0, 0, 0, 0, 0xa}, mb[6] = {2, 0, 0, 0, 0, 0xb};
    assert_int_equal(netguard_allow(nd, a.ifindex, ma, ip("10.77.0.10"), &err),
                     0);
    assert_int_equal(netguard_allow(nd, b.ifindex, mb, 0, &err), 0); /* DHCP */
    assert_int_equal(netguard_allow(nd, a.ifindex, ma, ip("10.77.0.10"), &err),
                     0); /* again: no error */
    unsigned removed = 99;
    assert_int_equal(netguard_sweep(nd, &removed, &err), 0);
    assert_int_equal(removed, 0); /* both taps exist */
    /* Tap b goes without a revoke (its toolstack died): a sweep finds its
     * three entries (port, MAC, DHCP port). */
    int bi = b.ifindex;
    close(b.fd);
    assert_int_equal(netguard_sweep(nd, &removed, &err), 0);
    assert_int_equal(removed, 3);
    assert_int_equal(netguard_revoke(nd, bi, mb, 0, &err), 0); /* gone: ok */
    /* Tap a is revoked properly; then nothing is left to sweep. */
    assert_int_equal(netguard_revoke(nd, a.ifindex, ma, ip("10.77.0.10"), &err),
                     0);
    netdev_tap_destroy(nd, &a);
    assert_int_equal(netguard_sweep(nd, &removed, &err), 0);
    assert_int_equal(removed, 0);
    assert_int_equal(netguard_remove(nd, &err), 0);
    assert_int_equal(netguard_remove(nd, &err), 0);
    assert_int_equal(netguard_sweep(nd, &removed, &err), 0); /* no table */
}

static void nat_chain(void **state)
{
    (void)state;
    struct lvm_err err;
    assert_int_equal(netnat_enable(nd, "tbr0", ip("10.77.0.1"), 16, &err), 0);
    assert_int_equal(netnat_enable(nd, "tbr0", ip("10.77.0.1"), 16, &err), 0);
    assert_int_equal(netnat_enable(nd, "tbr9", ip("10.79.0.1"), 16, &err), 0);
    FILE *f = fopen("/proc/sys/net/ipv4/ip_forward", "r");
    assert_non_null(f);
    assert_int_equal(fgetc(f), '1');
    fclose(f);
    assert_int_equal(netnat_disable(nd, "tbr0", &err), 0);
    assert_int_equal(netnat_disable(nd, "tbr0", &err), 0);
    assert_int_equal(netnat_disable(nd, "tbr9", &err), 0);
}

/* A lease whose tap is gone is swept; one whose tap lives is kept. */
static void dev_net_sweeps_leases(void **state)
{
    (void)state;
    struct lvm_err err;
    char run[] = "/tmp/lvm-devnet-test.XXXXXX";
    assert_non_null(mkdtemp(run));
    char dir[PATH_MAX];
    assert_int_equal(dev_net_lease_dir(run, "tbr0", dir, sizeof dir, &err), 0);
    struct lease_dir d;
    assert_int_equal(lease_dir_open(&d, dir, &err), 0);
    struct netdev_tap live, dead;
    assert_int_equal(netdev_tap_create(nd, "lvtlive", &live, &err), 0);
    assert_int_equal(netdev_tap_create(nd, "lvtdead", &dead, &err), 0);
    struct lease_subnet sn = {ip("10.77.0.0"), 16, ip("10.77.0.1")};
    struct lease_owner o1 = {"guest-live", "lvtlive", live.ifindex};
    struct lease_owner o2 = {"guest-dead", "lvtdead", dead.ifindex};
    uint32_t a1, a2;
    assert_int_equal(lease_acquire(&d, &sn, 0, &o1, NULL, NULL, &a1, &err), 0);
    assert_int_equal(lease_acquire(&d, &sn, 0, &o2, NULL, NULL, &a2, &err), 0);
    close(dead.fd);
    unsigned leases, elems;
    assert_int_equal(dev_net_sweep(nd, run, "tbr0", &leases, &elems, &err), 0);
    assert_int_equal(leases, 1);
    struct lease_owner back;
    assert_int_equal(lease_read(&d, a1, &back), 0);
    assert_int_equal(lease_read(&d, a2, &back), -1);
    netdev_tap_destroy(nd, &live);
    lease_dir_close(&d);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", run);
    assert_int_equal(system(cmd), 0);
}

/* The attach path a guest's start takes (devices.c -> dev_net_attach),
 * with a fresh tap or one made ahead of time, and its undoing. */
static void attach_and_release(int pooled)
{
    struct lvm_err err;
    char run[] = "/tmp/lvm-devnet-attach.XXXXXX";
    assert_non_null(mkdtemp(run));
    struct guest g;
    memset(&g, 0, sizeof g);
    snprintf(g.id, sizeof g.id,
             pooled ? "00112233aabbccdd" : "44556677eeff0011");
    assert_int_equal(devpage_create(&g.dev, NULL, &err), 0);
    struct guest_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.net.enabled = 1;
    spec.net.run_dir = run;
    spec.net.nd = nd;
    snprintf(spec.net.bridge, sizeof spec.net.bridge, "tbr1");
    assert_int_equal(netaddr_parse_cidr("10.88.0.1/24", &spec.net.bridge_addr,
                                        &spec.net.prefix, &err),
                     0);
    struct netdev_bridge br;
    struct netdev_tap pool = {.fd = -1};
    if (pooled) {
        /* A daemon's prepare phase. */
        assert_int_equal(netdev_bridge_ensure(nd, "tbr1", spec.net.bridge_addr,
                                              24, 1, &br, &err),
                         0);
        assert_int_equal(netguard_ensure(nd, &err), 0);
        assert_int_equal(netdev_tap_create(nd, "lvtpool0", &pool, &err), 0);
        assert_int_equal(netdev_tap_attach(nd, &pool, br.ifindex, &err), 0);
        assert_int_equal(pool.master, br.ifindex);
        spec.net.taps = &pool;
        spec.net.ntaps = 1;
        spec.net.ready = &br;
    }
    struct attach a;
    memset(&a, 0, sizeof a);
    a.pol.control_fd = -1;
    struct lvm_manifest_device want = {.type = LVM_DEV_NET, .name = "net0"};
    assert_int_equal(dev_net_attach(&g, &spec, &want, 4, 1, &a, &err), 0);
    if (pooled)
        assert_int_equal(pool.fd, -1); /* the guest's now */

    /* The device page entry. */
    const struct lvm_device *d = devpage_find(g.dev.dp, LVM_DEV_NET, "net0");
    assert_non_null(d);
    assert_int_equal(d->handle, 4);
    assert_int_equal(d->evtchn, 1);
    assert_int_equal(d->flags, 0);
    uint8_t mac[6];
    netaddr_guest_mac(g.id, 0, mac);
    assert_memory_equal(d->u.net.mac, mac, 6);
    assert_int_equal(d->u.net.mtu, 1500);
    assert_int_equal(d->u.net.ipv4_netmask, netaddr_mask(24));
    assert_int_equal(d->u.net.ipv4_gateway, ip("10.88.0.1"));
    assert_int_equal(d->u.net.ipv4_addr & netaddr_mask(24), ip("10.88.0.0"));
    assert_int_not_equal(d->u.net.ipv4_addr, ip("10.88.0.1"));
    /* The policy allows the NIC's fd, and the tap's fd goes to the guest
     * as fd 4. */
    assert_int_equal(a.pol.ndevices, 1);
    assert_int_equal(a.pol.dev[0].type, LVM_DEV_NET);
    assert_int_equal(a.pol.dev[0].fd, 4);
    assert_int_equal(a.nfds, 1);
    assert_int_equal(a.map[0].target, 4);
    /* The toolstack's record of it. */
    assert_non_null(g.net);
    assert_int_equal(g.net->n, 1);
    const struct guest_nic *nic = &g.net->nic[0];
    if (pooled)
        assert_string_equal(nic->tap, "lvtpool0");
    else
        assert_string_equal(nic->tap, "lvt44556677eeff");
    struct netdev_link l;
    assert_int_equal(netdev_link_get(nd, nic->tap_ifindex, NULL, &l, &err), 0);
    assert_int_equal(l.master, nic->bridge_ifindex);
    struct lease_dir ld;
    assert_int_equal(lease_dir_open(&ld, g.net->lease_dir, &err), 0);
    struct lease_owner o;
    assert_int_equal(lease_read(&ld, nic->addr, &o), 0);
    assert_string_equal(o.guest_id, g.id);
    assert_int_equal(o.ifindex, nic->tap_ifindex);
    /* Counters, as the guest sees them: a frame it sends is its tx. */
    uint8_t frame[60] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    memcpy(frame + 6, mac, 6);
    frame[12] = 0x88, frame[13] = 0xb5;
    assert_int_equal(write(a.fds[0], frame, sizeof frame), sizeof frame);
    struct netdev_stats st;
    assert_int_equal(dev_net_stats(&g, 0, &st, &err), 0);
    assert_int_equal(st.tx_packets, 1);
    assert_int_equal(st.tx_bytes, sizeof frame);
    assert_int_equal(dev_net_stats(&g, 1, &st, &err), -1);

    /* The plan is sent; the toolstack closes its copy: with no guest to
     * hold it, the tap goes. Then the guest is released. */
    devices_release(&a);
    assert_int_equal(netdev_link_get(nd, nic->tap_ifindex, NULL, &l, &err), -1);
    uint32_t addr = nic->addr;
    dev_net_release(&g);
    assert_int_equal(lease_read(&ld, addr, &o), -1);
    unsigned removed;
    assert_int_equal(netguard_sweep(nd, &removed, &err), 0);
    assert_int_equal(removed, 0); /* revoked, not left for a sweep */
    dev_net_release(&g);          /* twice is harmless */
    free(g.net);
    lease_dir_close(&ld);
    devpage_destroy(&g.dev);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", run);
    assert_int_equal(system(cmd), 0);
}

static void attach_fresh(void **state)
{
    (void)state;
    attach_and_release(0);
}

static void attach_pooled(void **state)
{
    (void)state;
    attach_and_release(1);
}

static void attach_needs_net_option(void **state)
{
    (void)state;
    struct guest g;
    memset(&g, 0, sizeof g);
    struct guest_spec spec;
    memset(&spec, 0, sizeof spec);
    struct attach a;
    memset(&a, 0, sizeof a);
    struct lvm_manifest_device want = {.type = LVM_DEV_NET, .name = "net0"};
    struct lvm_err err;
    assert_int_equal(dev_net_attach(&g, &spec, &want, 4, 1, &a, &err), -1);
    assert_int_equal(err.code, ENODEV);
    assert_non_null(strstr(err.msg, "--net"));
    assert_null(g.net);
}

static void bridge_delete(void **state)
{
    (void)state;
    struct lvm_err err;
    assert_int_equal(netdev_bridge_delete(nd, "tbr0", &err), 0);
    struct netdev_link l;
    assert_int_equal(netdev_link_get(nd, 0, "tbr0", &l, &err), -1);
    assert_int_equal(err.code, ENODEV);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bridge_first_use),
        cmocka_unit_test(bridge_name_taken),
        cmocka_unit_test(bridge_foreign),
        cmocka_unit_test(tap_names),
        cmocka_unit_test(tap_lifecycle),
        cmocka_unit_test(tap_dies_with_fd),
        cmocka_unit_test(guard_and_sweep),
        cmocka_unit_test(nat_chain),
        cmocka_unit_test(dev_net_sweeps_leases),
        cmocka_unit_test(attach_fresh),
        cmocka_unit_test(attach_pooled),
        cmocka_unit_test(attach_needs_net_option),
        cmocka_unit_test(bridge_delete),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
