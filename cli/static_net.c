/*
 * static_net.c: networking for the statically linked `lightvm`.
 *
 * The CLI is linked statically so that every command starts without the
 * dynamic loader (it runs from shells and scripts, once per guest). The
 * host side of networking needs libmnl, of which Debian ships no static
 * archive, so the static CLI leaves it out: `lightvm net ...` and a
 * `lightvm run --net` that runs its guest itself (no daemon) are handed,
 * same arguments, to `lightvm-net`, the same CLI linked with libmnl
 * (installed next to it). Guests created through lightvmd get their NICs
 * from the daemon and need neither.
 *
 * This file replaces cmd_net.c and the toolstack's dev_net.c in that link
 * only (see the Makefile); the dynamic and sanitizer builds have the real
 * ones.
 */
#include "cli/cli.h"
#include "cli/run.h"
#include "toolstack/dev_net.h"
#include "toolstack/guest.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const int cli_has_net = 0;

int cli_exec_net(int argc, char **argv)
{
    /* argv[0] is the command ("run", "net"): prepend the program. */
    char *full[argc + 2];
    full[0] = "lightvm-net";
    for (int i = 0; i < argc; i++)
        full[i + 1] = argv[i];
    full[argc + 1] = NULL;
    char path[PATH_MAX];
    const char *env = getenv("LIGHTVM_NET_CLI");
    if (env && *env) {
        snprintf(path, sizeof path, "%s", env);
    } else {
        ssize_t n = readlink("/proc/self/exe", path, sizeof path - 16);
        if (n < 0) {
            cli_msg("networking: cannot find the running program: %s",
                    strerror(errno));
            return CLI_EXIT_ERROR;
        }
        path[n] = 0;
        char *slash = strrchr(path, '/');
        snprintf(slash ? slash + 1 : path,
                 sizeof path - (size_t)(slash ? slash + 1 - path : 0),
                 "lightvm-net");
    }
    execv(path, full);
    cli_msg("networking needs %s: %s (or run the guest through lightvmd)", path,
            strerror(errno));
    return CLI_EXIT_ERROR;
}

int cmd_net(int argc, char **argv)
{
    return cli_exec_net(argc, argv);
}

/* Reached only if a guest asks for a NIC without --net having been
 * forwarded (cmd_run forwards every --net run it does itself). */
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
                       "the guest needs network device %s: attach it with "
                       "--net [BRIDGE]",
                       want->name);
}

void dev_net_release(struct guest *g)
{
    (void)g; /* nothing was attached */
}

/* A cold qemu guest's NIC: as above, `run --net` goes to lightvm-net
 * before it could get here. */
int run_qemu_nic(const struct guest_net_spec *ns, struct qemu_vm_config *cfg,
                 struct run_qemu_nic *n, struct lvm_err *err)
{
    (void)ns;
    (void)cfg;
    n->tap_fd = -1;
    return lvm_err_set(err, 0, "network devices need lightvm-net");
}

void run_qemu_nic_release(struct run_qemu_nic *n)
{
    (void)n;
}
