/*
 * qemu_nic.c: a qemu guest's NIC on a lightvm bridge (see qemu.h): the
 * host side is toolstack/nic.c's, as for proc and kvm guests, and QEMU
 * gets the tap's fd as a virtio-net device.
 */
#include "toolstack/qemu/qemu.h"
#include "toolstack/netaddr.h"

#include <stdio.h>

int qemu_nic_attach(struct qemu_vm_config *cfg, struct guest_net *gn,
                    const struct guest_net_spec *ns, const char *guest_id,
                    int *tap_fd, struct lvm_err *err)
{
    *tap_fd = -1;
    /* The Tinyx init configures a static address from the kernel command
     * line; it has no DHCP client. */
    if (ns->dhcp)
        return lvm_err_set(err, 0,
                           "net: DHCP is not supported for qemu guests (the "
                           "Tinyx init takes its address from lightvm)");
    if (nic_attach(gn, ns, guest_id, "net0", tap_fd, err) < 0)
        return lvm_err_wrap(err, "network device net0");
    const struct guest_nic *n = &gn->nic[gn->n - 1];
    char ip[16];
    cfg->net = QEMU_NET_TAP;
    cfg->tap_fd = *tap_fd;
    cfg->tap_ifname = NULL;
    /* Forwards are user-mode networking's; the guest has an address of
     * its own on the bridge instead. */
    cfg->nfwd = 0;
    /* The filter entry allows this MAC and address only: the guest must
     * use both (QEMU's default MAC would be dropped). */
    netaddr_mac_str(n->mac, cfg->mac);
    snprintf(cfg->guest_ip, sizeof cfg->guest_ip, "%s/%d",
             netaddr_ip4_str(n->addr, ip), __builtin_popcount(n->netmask));
    netaddr_ip4_str(n->gateway, cfg->gateway);
    cfg->dns[0] = 0; /* none: a bridge has no resolver */
    return 0;
}
