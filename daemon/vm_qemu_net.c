/*
 * vm_qemu_net.c: a qemu guest's NIC in lightvmd. A create with "net"
 * gets the same host side as a proc or kvm guest (toolstack/nic.c, through
 * vm_net.c's bridge cache): a tap on the bridge, whose fd QEMU inherits
 * as a virtio-net device with the leased MAC; its address for the Tinyx
 * init; the anti-spoofing filter entry. Recorded in config.json like a
 * shell guest's, so a restarted daemon releases it when the guest goes.
 */
#include "daemon/vm_qemu.h"

#include <errno.h>
#include <stdlib.h>

int qvm_net_check(const struct request *r, struct lvm_err *err)
{
    if (!r->net.enabled)
        return 0;
    /* User-mode networking (and its forwards) or the bridges. */
    if (r->nports)
        return lvm_err_set(err, 0,
                           "fields 'ports' (-p) and 'net' (--net) exclude "
                           "each other for a qemu guest: with --net it has "
                           "an address of its own");
    /* A saved guest keeps the MAC and address it had (QEMU restores the
     * device with its MAC); a new lease would not match them. */
    if (r->op == OP_RESTORE)
        return lvm_err_set(err, 0,
                           "field 'net' is not supported when restoring a "
                           "qemu guest");
    if (r->net.dhcp)
        return lvm_err_set(err, 0,
                           "net: DHCP is not supported for qemu guests (the "
                           "Tinyx init takes its address from lightvm)");
    return 0;
}

int qvm_net_attach(struct daemon *d, struct vm *v, const struct request *r,
                   struct qemu_vm_config *cfg, int *tap_fd, struct lvm_err *err)
{
    struct qvm *q = qvm_of(v);
    *tap_fd = -1;
    if (!r->net.enabled)
        return 0;
    struct guest_net_spec ns;
    if (vm_net_spec(d, r, &ns, err) < 0)
        return lvm_err_wrap(err, "network");
    q->net = calloc(1, sizeof *q->net);
    if (!q->net)
        return lvm_err_set(err, ENOMEM, "allocate the guest's NIC");
    if (qemu_nic_attach(cfg, q->net, &ns, v->id, tap_fd, err) < 0) {
        if (err->code == ENODEV)
            vm_net_forget_bridge(d, r->net.bridge); /* deleted under us? */
        return -1;
    }
    return 0;
}

void qvm_net_release(struct vm *v)
{
    struct qvm *q = qvm_of(v);
    nic_release(q->net, v->id);
    free(q->net);
    q->net = NULL;
}
