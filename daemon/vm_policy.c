/*
 * vm_policy.c: the operator's network policy applied to a create or
 * restore request, before anything acts on it (netpolicy.h has the
 * decisions). A member's "net" is resolved to one of the operator's
 * networks, and its port forwards are checked and their host ports
 * picked here, so that QEMU is never started with a forward outside the
 * operator's ranges and addresses for members (QEMU, unprivileged, can
 * listen on none below 1024 anyway: docs/security.md).
 */
#include "daemon/daemon.h"
#include "daemon/netpolicy.h"
#include "toolstack/qemu/qemu.h"

#include <stdio.h>

int vm_policy_apply(struct daemon *d, const struct client *c, struct request *r,
                    struct lvm_err *err)
{
    int admin = netpolicy_admin(&d->cfg, &c->cr);
    if (netpolicy_net(&d->cfg, admin, &r->net, err) < 0)
        return -1;
    for (unsigned i = 0; i < r->nports; i++) {
        struct qemu_fwd f;
        if (qemu_fwd_parse(r->ports[i], &f) < 0)
            continue; /* malformed: the monitor refuses it, by name */
        if (netpolicy_port(&d->cfg, admin, r->ports[i], f.host_addr,
                           f.host_port, err) < 0)
            return -1;
        if (admin || f.host_port)
            continue;
        /* Port 0: picked now, within the member's ranges, and written
         * back as an explicit forward for the monitor. */
        const char *a = f.host_addr[0] ? f.host_addr : "127.0.0.1";
        if (netpolicy_pick_port(&d->cfg, a, &f.host_port, err) < 0)
            return -1;
        snprintf(r->ports[i], sizeof r->ports[i], "%s:%u:%u", a, f.host_port,
                 f.guest_port);
    }
    return 0;
}
