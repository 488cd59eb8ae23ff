/*
 * no_net.c: lightvm-runtime makes no host networking yet (docs/oci.md,
 * "Not supported"), so it links without libmnl and stays static: these
 * stand in for the library's NIC code (toolstack/dev_net.c), as
 * cli/static_net.c does for the static CLI.
 */
#include "toolstack/dev_net.h"
#include "toolstack/guest.h"

int dev_net_attach(struct guest *g, const struct guest_spec *spec,
                   const struct lvm_manifest_device *want, int fd,
                   unsigned evtchn, struct attach *a, struct lvm_err *err)
{
    (void)g;
    (void)spec;
    (void)fd;
    (void)evtchn;
    (void)a;
    return lvm_err_set(err, 0,
                       "the guest needs network device %s: lightvm-runtime "
                       "does not attach NICs yet (docs/oci.md)",
                       want->name);
}

void dev_net_release(struct guest *g)
{
    (void)g; /* nothing was attached */
}
