/*
 * dev_net.c: attach and release guest NICs (see dev_net.h).
 */
#include "toolstack/dev_net.h"
#include "toolstack/devices.h"
#include "toolstack/guest.h"
#include "toolstack/netaddr.h"
#include "toolstack/netguard.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int dev_net_lease_dir(const char *run_dir, const char *bridge, char *out,
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
    if (lease_dir_open(&d, gn->lease_dir, err) < 0)
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

int dev_net_attach(struct guest *g, const struct guest_spec *spec,
                   const struct lvm_manifest_device *want, int guest_fd,
                   unsigned evtchn, struct attach *a, struct lvm_err *err)
{
    const struct guest_net_spec *ns = &spec->net;
    if (!ns->enabled)
        return lvm_err_set(err, ENODEV,
                           "the guest needs network device %s: attach it "
                           "with --net [BRIDGE]",
                           want->name);
    if (!g->net) {
        g->net = calloc(1, sizeof *g->net);
        if (!g->net)
            return lvm_err_set(err, ENOMEM, "allocate the guest's NICs");
        g->net->nd = ns->nd;
    }
    struct guest_net *gn = g->net;
    if (gn->n == GUEST_MAX_NICS)
        return lvm_err_set(err, E2BIG, "at most %d network devices",
                           GUEST_MAX_NICS);
    unsigned index = gn->n;
    struct guest_nic *nic = &gn->nic[index];
    memset(nic, 0, sizeof *nic);
    memcpy(nic->dev, want->name, sizeof nic->dev);
    gn->n++; /* from here on, dev_net_release() undoes what is recorded */

    struct netdev *nd = ns->nd;
    if (!nd && netdev_open(&nd, err) < 0)
        return -1;
    int r = -1;
    struct netdev_tap tap = {.fd = -1};
    struct netdev_bridge br;
    const char *bname = ns->bridge[0] ? ns->bridge : NETDEV_BRIDGE_DEFAULT;
    uint32_t baddr = ns->bridge_addr;
    unsigned prefix = ns->prefix;
    if (ns->ready) {
        br = *ns->ready;
    } else {
        if (!baddr &&
            netaddr_parse_cidr(NETDEV_SUBNET_DEFAULT, &baddr, &prefix, err) < 0)
            goto out;
        if (netdev_bridge_ensure(nd, bname, baddr, prefix, ns->bridge_addr != 0,
                                 &br, err) < 0)
            goto out;
        if (ns->nat && netnat_enable(nd, br.name, br.addr, br.prefix, err) < 0)
            goto out;
        if (!ns->no_filter && netguard_ensure(nd, err) < 0)
            goto out;
    }
    snprintf(nic->bridge, sizeof nic->bridge, "%s", br.name);
    nic->bridge_ifindex = br.ifindex;

    /* The tap: one made ahead of time, or a new one named after the id. */
    if (index < ns->ntaps && ns->taps && ns->taps[index].fd >= 0) {
        tap = ns->taps[index];
        ns->taps[index].fd = -1; /* the guest owns it now */
    } else {
        char name[IF_NAMESIZE];
        netdev_tap_name(g->id, index, name);
        if (netdev_tap_create(nd, name, &tap, err) < 0)
            goto out;
    }
    snprintf(nic->tap, sizeof nic->tap, "%s", tap.name);
    nic->tap_ifindex = tap.ifindex;
    /* Sent with the plan, then closed here: from then on the guest holds
     * the only fd, and the tap lives exactly as long as the guest. */
    a->owned[a->nowned++] = tap.fd;
    int tap_fd = tap.fd;
    tap.fd = -1;
    /* A tap made ahead of time is usually a port of the bridge already. */
    if (tap.master != br.ifindex &&
        netdev_tap_attach(nd, &tap, br.ifindex, err) < 0)
        goto out;

    netaddr_guest_mac(g->id, index, nic->mac);
    nic->netmask = netaddr_mask(br.prefix);
    nic->gateway = br.addr;
    if (!ns->dhcp) {
        if (!gn->lease_dir[0] &&
            dev_net_lease_dir(ns->run_dir ? ns->run_dir : HOST_RUN_DIR_DEFAULT,
                              br.name, gn->lease_dir, sizeof gn->lease_dir,
                              err) < 0)
            goto out;
        if (lease(gn, nic, &br, index == 0 ? ns->want_addr : 0, g->id, nd,
                  err) < 0)
            goto out;
    }
    if (!ns->no_filter) {
        if (netguard_allow(nd, nic->tap_ifindex, nic->mac, nic->addr, err) < 0)
            goto out;
        nic->guarded = 1;
    }

    struct lvm_device d;
    memset(&d, 0, sizeof d);
    d.type = LVM_DEV_NET;
    d.flags = ns->dhcp ? LVM_DEVF_DHCP : 0;
    d.handle = (uint16_t)guest_fd;
    d.evtchn = (uint16_t)evtchn;
    memcpy(d.name, want->name, sizeof d.name);
    memcpy(d.u.net.mac, nic->mac, 6);
    d.u.net.mtu = 1500;
    d.u.net.ipv4_addr = nic->addr;
    d.u.net.ipv4_netmask = ns->dhcp ? 0 : nic->netmask;
    d.u.net.ipv4_gateway = ns->dhcp ? 0 : nic->gateway;
    if (devpage_add(g->dev.dp, &d, err) < 0)
        goto out;
    if (a->pol.ndevices >= POLICY_MAX_DEVICES) {
        lvm_err_set(err, E2BIG, "too many devices for the policy");
        goto out;
    }
    struct policy_device *pd = &a->pol.dev[a->pol.ndevices++];
    memset(pd, 0, sizeof *pd);
    pd->type = LVM_DEV_NET;
    pd->fd = guest_fd;
    if (attach_fd(a, tap_fd, guest_fd, err) < 0)
        goto out;
    r = 0;
out:
    if (r < 0)
        lvm_err_wrap(err, "network device %s", want->name);
    if (nd != ns->nd)
        netdev_close(nd);
    return r;
}

void dev_net_release(struct guest *g)
{
    struct guest_net *gn = g->net;
    if (!gn || gn->n == 0)
        return;
    struct netdev *nd = gn->nd;
    struct lvm_err err;
    if (!nd && netdev_open(&nd, &err) < 0)
        nd = NULL; /* nothing can be undone; a sweep will */
    for (unsigned i = 0; i < gn->n && nd; i++) {
        struct guest_nic *nic = &gn->nic[i];
        if (nic->guarded)
            netguard_revoke(nd, nic->tap_ifindex, nic->mac, nic->addr, &err);
        nic->guarded = 0;
        if (nic->leased) {
            struct lease_dir d;
            if (lease_dir_open(&d, gn->lease_dir, &err) == 0) {
                lease_release(&d, nic->addr, g->id, &err);
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

int dev_net_stats(const struct guest *g, unsigned nic, struct netdev_stats *out,
                  struct lvm_err *err)
{
    if (!g->net || nic >= g->net->n)
        return lvm_err_set(err, ENODEV, "guest %s has no NIC %u", g->id, nic);
    struct netdev *nd = g->net->nd;
    if (!nd && netdev_open(&nd, err) < 0)
        return -1;
    struct netdev_stats t;
    int r = netdev_link_stats(nd, g->net->nic[nic].tap_ifindex, &t, err);
    if (nd != g->net->nd)
        netdev_close(nd);
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

int dev_net_sweep(struct netdev *nd, const char *run_dir, const char *bridge,
                  unsigned *leases, unsigned *elems, struct lvm_err *err)
{
    char dir[PATH_MAX];
    *leases = *elems = 0;
    if (dev_net_lease_dir(run_dir, bridge, dir, sizeof dir, err) < 0)
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
