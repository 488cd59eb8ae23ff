/*
 * nic.c: the host side of guest NICs, for every monitor (see nic.h).
 */
#include "toolstack/nic.h"
#include "toolstack/host.h"
#include "toolstack/netaddr.h"
#include "toolstack/netguard.h"
#include "toolstack/netsubnet.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int nic_lease_dir(const char *run_dir, const char *bridge, char *out,
                  size_t len, struct lvm_err *err)
{
    /* Keyed by the network namespace too: bridges of the same name in two
     * namespaces are two subnets. */
    struct stat st;
    if (stat("/proc/self/ns/net", &st) < 0)
        return lvm_err_set(err, errno, "identify the network namespace");
    snprintf(out, len, "%s/net/%llu-%s", run_dir, (unsigned long long)st.st_ino,
             bridge);
    return 0;
}

/* A lease's owner is alive while its tap exists under the same name. */
static int tap_alive(const struct lease_owner *o, void *ctx)
{
    struct netdev *nd = ctx;
    struct netdev_link l;
    struct lvm_err err;
    if (netdev_link_get(nd, o->ifindex, NULL, &l, &err) < 0)
        return err.code == ENODEV ? 0 : -1;
    return strcmp(l.name, o->tap) == 0;
}

static int lease(struct guest_net *gn, struct guest_nic *nic,
                 const struct netdev_bridge *br, uint32_t want,
                 const char *guest_id, struct netdev *nd, struct lvm_err *err)
{
    struct lease_dir d;
    if (lease_dir_open(&d, nic->lease_dir[0] ? nic->lease_dir : gn->lease_dir,
                       err) < 0)
        return -1;
    struct lease_owner o;
    memset(&o, 0, sizeof o);
    snprintf(o.guest_id, sizeof o.guest_id, "%s", guest_id);
    snprintf(o.tap, sizeof o.tap, "%s", nic->tap);
    o.ifindex = nic->tap_ifindex;
    struct lease_subnet sn = {br->addr & netaddr_mask(br->prefix), br->prefix,
                              br->addr};
    int r = lease_acquire(&d, &sn, want, &o, tap_alive, nd, &nic->addr, err);
    lease_dir_close(&d);
    if (r < 0)
        return lvm_err_wrap(err, "address for %s on %s", nic->dev, br->name);
    nic->leased = 1;
    return 0;
}

/* The bridge (ns) names for NIC (one) (NULL: not named on its own), made
 * sure of (with NAT and the filter table as asked) unless the caller did. */
static int bridge(struct netdev *nd, const struct guest_net_spec *ns,
                  const struct guest_nic_spec *one, struct netdev_bridge *br,
                  struct lvm_err *err)
{
    const char *bname = ns->bridge[0] ? ns->bridge : NETDEV_BRIDGE_DEFAULT;
    uint32_t baddr = ns->bridge_addr;
    unsigned prefix = ns->prefix;
    if (one && one->bridge[0]) {
        bname = one->bridge;
        baddr = one->bridge_addr;
        prefix = one->prefix;
    }
    /* The caller's bridge serves every NIC not sent elsewhere. */
    if (ns->ready && (!one || !one->bridge[0] ||
                      (!strcmp(ns->ready->name, bname) && !one->bridge_addr))) {
        *br = *ns->ready;
        return 0;
    }
    if (!baddr && strcmp(bname, NETDEV_BRIDGE_DEFAULT) != 0) {
        /* Another bridge given no subnet: a free one, not lvm0's. */
        if (netsubnet_bridge_ensure(nd, bname, br, err) < 0)
            return -1;
    } else {
        uint32_t given = baddr;
        if (!baddr &&
            netaddr_parse_cidr(NETDEV_SUBNET_DEFAULT, &baddr, &prefix, err) < 0)
            return -1;
        if (netdev_bridge_ensure(nd, bname, baddr, prefix, given != 0, br,
                                 err) < 0)
            return -1;
    }
    /* A NIC named on its own has its own network's NAT, never the
     * primary's (a member's NAT is its operator's network's). */
    int nat = one && one->bridge[0] ? one->nat : ns->nat;
    if (nat && netnat_enable(nd, br->name, br->addr, br->prefix, err) < 0)
        return -1;
    if (!ns->no_filter && netguard_ensure(nd, err) < 0)
        return -1;
    return 0;
}

/* Everything but the tap's fd, which the caller holds. */
static int attach(struct netdev *nd, struct guest_net *gn,
                  struct guest_nic *nic, const struct guest_net_spec *ns,
                  const char *guest_id, unsigned index, struct netdev_tap *tap,
                  const struct netdev_bridge *br,
                  const struct guest_nic_spec *one, struct lvm_err *err)
{
    snprintf(nic->tap, sizeof nic->tap, "%s", tap->name);
    nic->tap_ifindex = tap->ifindex;
    /* A tap made ahead of time is usually a port of the bridge already. */
    if (tap->master != br->ifindex &&
        netdev_tap_attach(nd, tap, br->ifindex, err) < 0)
        return -1;
    if (index == 0 && ns->have_mac)
        memcpy(nic->mac, ns->want_mac, sizeof nic->mac);
    else
        netaddr_guest_mac(guest_id, index, nic->mac);
    nic->netmask = netaddr_mask(br->prefix);
    nic->gateway = br->addr;
    if (!ns->dhcp) {
        const char *run_dir = ns->run_dir ? ns->run_dir : HOST_RUN_DIR_DEFAULT;
        if (!gn->lease_dir[0] && nic_lease_dir(run_dir, br->name, gn->lease_dir,
                                               sizeof gn->lease_dir, err) < 0)
            return -1;
        /* NICs on several bridges lease from several directories. */
        if (nic_lease_dir(run_dir, br->name, nic->lease_dir,
                          sizeof nic->lease_dir, err) < 0)
            return -1;
        uint32_t want = one && one->want_addr ? one->want_addr
                        : index == 0          ? ns->want_addr
                                              : 0;
        if (lease(gn, nic, br, want, guest_id, nd, err) < 0)
            return -1;
    }
    if (!ns->no_filter) {
        int fwd = one && one->forward;
        if ((fwd ? netguard_allow_forward(nd, nic->tap_ifindex, nic->mac,
                                          nic->addr, err)
                 : netguard_allow(nd, nic->tap_ifindex, nic->mac, nic->addr,
                                  err)) < 0)
            return -1;
        nic->guarded = 1;
        nic->forward = fwd;
    }
    return 0;
}

int nic_attach(struct guest_net *gn, const struct guest_net_spec *ns,
               const char *guest_id, const char *dev, int *tap_fd,
               struct lvm_err *err)
{
    *tap_fd = -1;
    if (gn->n == GUEST_MAX_NICS)
        return lvm_err_set(err, E2BIG, "at most %d network devices",
                           GUEST_MAX_NICS);
    unsigned index = gn->n;
    struct guest_nic *nic = &gn->nic[index];
    memset(nic, 0, sizeof *nic);
    snprintf(nic->dev, sizeof nic->dev, "%s", dev);
    if (index == 0)
        gn->nd = ns->nd;
    gn->n++; /* from here on, nic_release() undoes what is recorded */

    struct netdev *nd = ns->nd;
    if (!nd && netdev_open(&nd, err) < 0)
        return -1;
    int r = -1;
    struct netdev_tap tap = {.fd = -1};
    struct netdev_bridge br;
    const struct guest_nic_spec *one = nic_spec_find(ns, dev);
    if (bridge(nd, ns, one, &br, err) < 0)
        goto out;
    snprintf(nic->bridge, sizeof nic->bridge, "%s", br.name);
    nic->bridge_ifindex = br.ifindex;

    /* The tap: one made ahead of time, or a new one named after the id. */
    if (index < ns->ntaps && ns->taps && ns->taps[index].fd >= 0) {
        tap = ns->taps[index];
        ns->taps[index].fd = -1; /* the guest's now */
    } else {
        char name[IF_NAMESIZE];
        netdev_tap_name(guest_id, index, name);
        if (netdev_tap_create(nd, name, &tap, err) < 0)
            goto out;
    }
    r = attach(nd, gn, nic, ns, guest_id, index, &tap, &br, one, err);
    if (r == 0) {
        *tap_fd = tap.fd;
    } else {
        close(tap.fd); /* a tap goes with its last fd */
    }
out:
    if (nd != ns->nd)
        netdev_close(nd);
    return r;
}

void nic_release(struct guest_net *gn, const char *guest_id)
{
    if (!gn || gn->n == 0)
        return;
    struct netdev *nd = gn->nd;
    struct lvm_err err;
    if (!nd && netdev_open(&nd, &err) < 0)
        nd = NULL; /* nothing can be undone; a sweep will */
    for (unsigned i = 0; i < gn->n && nd; i++) {
        struct guest_nic *nic = &gn->nic[i];
        if (nic->guarded && nic->forward)
            netguard_revoke_forward(nd, nic->tap_ifindex, &err);
        if (nic->guarded)
            netguard_revoke(nd, nic->tap_ifindex, nic->mac, nic->addr, &err);
        nic->guarded = 0;
        if (nic->leased) {
            struct lease_dir d;
            if (lease_dir_open(
                    &d, nic->lease_dir[0] ? nic->lease_dir : gn->lease_dir,
                    &err) == 0) {
                lease_release(&d, nic->addr, guest_id, &err);
                lease_dir_close(&d);
            }
            netdev_neigh_forget(nd, nic->bridge_ifindex, nic->addr);
        }
        nic->leased = 0;
        if (nic->tap_ifindex > 0) {
            struct netdev_tap t = {.fd = -1, .ifindex = nic->tap_ifindex};
            snprintf(t.name, sizeof t.name, "%s", nic->tap);
            netdev_tap_destroy(nd, &t);
        }
        nic->tap_ifindex = 0;
    }
    if (nd && nd != gn->nd)
        netdev_close(nd);
    gn->n = 0;
}

int nic_stats(struct netdev *nd, const struct guest_nic *nic,
              struct netdev_stats *out, struct lvm_err *err)
{
    struct netdev *use = nd;
    if (!use && netdev_open(&use, err) < 0)
        return -1;
    struct netdev_stats t;
    int r = netdev_link_stats(use, nic->tap_ifindex, &t, err);
    if (use != nd)
        netdev_close(use);
    if (r < 0)
        return -1;
    /* The tap's receive side is what the guest sent, and back. */
    out->rx_packets = t.tx_packets;
    out->tx_packets = t.rx_packets;
    out->rx_bytes = t.tx_bytes;
    out->tx_bytes = t.rx_bytes;
    out->rx_dropped = t.tx_dropped;
    out->tx_dropped = t.rx_dropped;
    out->rx_errors = t.tx_errors;
    out->tx_errors = t.rx_errors;
    return 0;
}

int nic_sweep(struct netdev *nd, const char *run_dir, const char *bridge,
              unsigned *leases, unsigned *elems, struct lvm_err *err)
{
    char dir[PATH_MAX];
    *leases = *elems = 0;
    if (nic_lease_dir(run_dir, bridge, dir, sizeof dir, err) < 0)
        return -1;
    struct stat st;
    if (stat(dir, &st) == 0) {
        struct lease_dir d;
        if (lease_dir_open(&d, dir, err) < 0)
            return -1;
        int r = lease_sweep(&d, tap_alive, nd, leases, err);
        lease_dir_close(&d);
        if (r < 0)
            return -1;
    }
    return netguard_sweep(nd, elems, err);
}
