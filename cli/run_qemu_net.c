/*
 * run_qemu_net.c: a cold `lightvm run --monitor qemu --net` guest's NIC
 * on a lightvm bridge: the same host side (toolstack/nic.c) as proc and
 * kvm guests get, handed to QEMU as a tap fd (qemu_nic_attach). Linked
 * into lightvm-net only: libmnl has no static archive (cli/static_net.c).
 */
#include "cli/cli.h"
#include "cli/run.h"
#include "toolstack/qemu/qemu.h"
#include "toolstack/host.h"
#include "toolstack/netaddr.h"
#include "toolstack/nic.h"

#include <stdio.h>
#include <stdlib.h>

int run_qemu_nic(const struct guest_net_spec *ns, struct qemu_vm_config *cfg,
                 struct run_qemu_nic *n, struct lvm_err *err)
{
    struct guest_net_spec spec = *ns;
    const char *run = getenv("LIGHTVM_RUN_DIR");
    snprintf(n->run_dir, sizeof n->run_dir, "%s",
             run && *run ? run : HOST_RUN_DIR_DEFAULT);
    spec.run_dir = n->run_dir;
    guest_new_id(n->id);
    if (qemu_nic_attach(cfg, &n->gn, &spec, n->id, &n->tap_fd, err) < 0)
        return -1;
    for (unsigned i = 0; i < n->gn.n; i++) {
        const struct guest_nic *nic = &n->gn.nic[i];
        char ip[16], mac[18];
        netaddr_mac_str(nic->mac, mac);
        cli_msg("guest %s %s: ip %s/%u mac %s bridge %s tap %s", cfg->name,
                nic->dev, netaddr_ip4_str(nic->addr, ip),
                (unsigned)__builtin_popcount(nic->netmask), mac, nic->bridge,
                nic->tap);
    }
    return 0;
}

void run_qemu_nic_release(struct run_qemu_nic *n)
{
    if (n->gn.n)
        nic_release(&n->gn, n->id);
}
