/*
 * qemu_nic.c: a qemu guest's NICs on lightvm bridges (see qemu.h): the
 * host side is toolstack/nic.c's, as for proc and kvm guests, and QEMU
 * gets each tap's fd as a virtio-net device.
 */
#include "toolstack/qemu/qemu.h"
#include "toolstack/netaddr.h"

#include <stdio.h>
#include <string.h>

static void nic_ip(const struct guest_nic *n, char *out, size_t len)
{
    char ip[16];
    snprintf(out, len, "%s/%d", netaddr_ip4_str(n->addr, ip),
             __builtin_popcount(n->netmask));
}

int qemu_nic_attach(struct qemu_vm_config *cfg, struct guest_net *gn,
                    const struct guest_net_spec *ns, const char *guest_id,
                    int *tap_fd, struct lvm_err *err)
{
    *tap_fd = -1;
    cfg->nxnics = 0;
    /* The Tinyx init configures a static address from the kernel command
     * line; it has no DHCP client. */
    if (ns->dhcp)
        return lvm_err_set(err, 0,
                           "net: DHCP is not supported for qemu guests (the "
                           "Tinyx init takes its address from lightvm)");
    /* Counted first: a refusal must not leave the bridges of the NICs
     * attached before it (nic_attach makes a missing bridge). */
    unsigned extra = 0;
    for (unsigned i = 0; i < ns->nnics && i < GUEST_MAX_NICS; i++)
        extra += strcmp(ns->nics[i].dev, "net0") != 0;
    if (extra > QEMU_MAX_XNICS)
        return lvm_err_invalid(err, "a qemu guest has at most %d NICs",
                               QEMU_MAX_XNICS + 1);
    if (nic_attach(gn, ns, guest_id, "net0", tap_fd, err) < 0)
        return lvm_err_wrap(err, "network device net0");
    const struct guest_nic *n = &gn->nic[gn->n - 1];
    cfg->net = QEMU_NET_TAP;
    cfg->tap_fd = *tap_fd;
    cfg->tap_ifname = NULL;
    /* Forwards are user-mode networking's; the guest has an address of
     * its own on the bridge instead. */
    cfg->nfwd = 0;
    /* The filter entry allows this MAC and address only: the guest must
     * use both (QEMU's default MAC would be dropped). */
    netaddr_mac_str(n->mac, cfg->mac);
    nic_ip(n, cfg->guest_ip, sizeof cfg->guest_ip);
    netaddr_ip4_str(n->gateway, cfg->gateway);
    cfg->dns[0] = 0; /* none: a bridge has no resolver */
    /* A Tinyx image declares no NICs: the others are the ones named on
     * their own, in the order given. Each is its own tap, MAC, lease and
     * filter entry, exactly as a proc guest's. */
    for (unsigned i = 0; i < ns->nnics && i < GUEST_MAX_NICS; i++) {
        const char *dev = ns->nics[i].dev;
        if (!strcmp(dev, "net0"))
            continue;
        if (cfg->nxnics == QEMU_MAX_XNICS) {
            qemu_nic_close(cfg, tap_fd);
            return lvm_err_set(err, 0, "a qemu guest has at most %d NICs",
                               QEMU_MAX_XNICS + 1);
        }
        struct qemu_xnic *x = &cfg->xnic[cfg->nxnics];
        if (nic_attach(gn, ns, guest_id, dev, &x->tap_fd, err) < 0) {
            qemu_nic_close(cfg, tap_fd);
            return lvm_err_wrap(err, "network device %s", dev);
        }
        cfg->nxnics++;
        n = &gn->nic[gn->n - 1];
        netaddr_mac_str(n->mac, x->mac);
        nic_ip(n, x->ip, sizeof x->ip);
    }
    return 0;
}
