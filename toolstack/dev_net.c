/*
 * dev_net.c: attach and release the NICs of proc and kvm guests (see
 * dev_net.h); their host side is nic.c's.
 */
#include "toolstack/dev_net.h"
#include "toolstack/devices.h"
#include "toolstack/guest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int dev_net_lease_dir(const char *run_dir, const char *bridge, char *out,
                      size_t len, struct lvm_err *err)
{
    return nic_lease_dir(run_dir, bridge, out, len, err);
}

int dev_net_sweep(struct netdev *nd, const char *run_dir, const char *bridge,
                  unsigned *leases, unsigned *elems, struct lvm_err *err)
{
    return nic_sweep(nd, run_dir, bridge, leases, elems, err);
}

/* The guest's side: its device page entry, its fd, its seccomp rule. */
static int guest_side(struct guest *g, const struct guest_net_spec *ns,
                      const struct guest_nic *nic, int tap_fd, int guest_fd,
                      unsigned evtchn, struct attach *a, struct lvm_err *err)
{
    struct lvm_device d;
    memset(&d, 0, sizeof d);
    d.type = LVM_DEV_NET;
    d.flags = ns->dhcp ? LVM_DEVF_DHCP : 0;
    d.handle = (uint16_t)guest_fd;
    d.evtchn = (uint16_t)evtchn;
    memcpy(d.name, nic->dev, sizeof d.name);
    memcpy(d.u.net.mac, nic->mac, 6);
    d.u.net.mtu = 1500;
    d.u.net.ipv4_addr = nic->addr;
    d.u.net.ipv4_netmask = ns->dhcp ? 0 : nic->netmask;
    d.u.net.ipv4_gateway = ns->dhcp ? 0 : nic->gateway;
    if (devpage_add(g->dev.dp, &d, err) < 0)
        return -1;
    if (a->pol.ndevices >= POLICY_MAX_DEVICES)
        return lvm_err_set(err, E2BIG, "too many devices for the policy");
    struct policy_device *pd = &a->pol.dev[a->pol.ndevices++];
    memset(pd, 0, sizeof *pd);
    pd->type = LVM_DEV_NET;
    pd->fd = guest_fd;
    return attach_fd(a, tap_fd, guest_fd, err);
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
    }
    char dev[LVM_DEVNAME_MAX + 1];
    memcpy(dev, want->name, LVM_DEVNAME_MAX);
    dev[LVM_DEVNAME_MAX] = 0;
    int tap_fd;
    if (nic_attach(g->net, ns, g->id, dev, &tap_fd, err) < 0)
        return lvm_err_wrap(err, "network device %s", dev);
    /* Sent with the plan, then closed here: from then on the guest holds
     * the only fd, and the tap lives exactly as long as the guest. */
    a->owned[a->nowned++] = tap_fd;
    if (guest_side(g, ns, &g->net->nic[g->net->n - 1], tap_fd, guest_fd, evtchn,
                   a, err) < 0)
        return lvm_err_wrap(err, "network device %s", dev);
    return 0;
}

void dev_net_release(struct guest *g)
{
    nic_release(g->net, g->id);
}

int dev_net_stats(const struct guest *g, unsigned nic, struct netdev_stats *out,
                  struct lvm_err *err)
{
    if (!g->net || nic >= g->net->n)
        return lvm_err_set(err, ENODEV, "guest %s has no NIC %u", g->id, nic);
    return nic_stats(g->net->nd, &g->net->nic[nic], out, err);
}
