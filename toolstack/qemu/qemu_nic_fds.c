/*
 * qemu_nic_fds.c: the caller's copies of a qemu guest's tap fds, closed
 * once QEMU has its own. Apart from qemu_nic.c (netlink, lightvm-net
 * only) because the static CLI closes them too.
 */
#include "toolstack/qemu/qemu.h"

#include <unistd.h>

void qemu_nic_close(struct qemu_vm_config *cfg, int *tap_fd)
{
    if (*tap_fd >= 0)
        close(*tap_fd);
    *tap_fd = -1;
    for (unsigned i = 0; i < cfg->nxnics && i < QEMU_MAX_XNICS; i++)
        if (cfg->xnic[i].tap_fd >= 0) {
            close(cfg->xnic[i].tap_fd);
            cfg->xnic[i].tap_fd = -1;
        }
}
