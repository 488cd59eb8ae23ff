/*
 * cmd_net.c: lightvm net up|down|sweep|ls -- the host side of guest
 * networking, by hand: make or remove a bridge, clean up after guests
 * whose toolstack died, list the guests' taps with their counters.
 */
#include "cli/cli.h"
#include "cli/daemon_cmds.h"
#include "toolstack/dev_net.h"
#include "toolstack/host.h"
#include "toolstack/netaddr.h"
#include "toolstack/netdev.h"
#include "toolstack/netguard.h"
#include "toolstack/netsubnet.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* This build does networking itself (see cli/static_net.c). */
const int cli_has_net = 1;

int cli_exec_net(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return CLI_EXIT_ERROR; /* never called when cli_has_net */
}

static const char usage[] =
    "Usage: lightvm net COMMAND [OPTIONS] [BRIDGE]\n"
    "\n"
    "Manage the host side of guest networking in the current network\n"
    "namespace. BRIDGE defaults to lvm0. `lightvm run --net` does `up` by\n"
    "itself; these commands are for preparing, inspecting and cleaning.\n"
    "\n"
    "Commands:\n"
    "  up [BRIDGE]     create the bridge and the guest filter if missing\n"
    "      --subnet CIDR   the bridge's address (default: 10.213.0.1/16\n"
    "                      for lvm0, a free /16 of 10.214-10.255 for others)\n"
    "      --nat           masquerade the subnet to the host's uplink\n"
    "  down [BRIDGE]   remove the bridge, its NAT chain and its leases\n"
    "      --all           also remove the guest filter (every bridge's)\n"
    "  sweep [BRIDGE]  remove what guests that died with their toolstack\n"
    "                  left: stale address leases and filter entries\n"
    "  ls [BRIDGE]     list the bridge's ports: guest, address, counters\n"
    "                  (as the guest sees them: rx is what it received)\n"
    "      --json          a JSON array of the ports\n";

struct net_opts {
    const char *bridge;
    uint32_t addr;
    unsigned prefix;
    int explicit_addr, nat, all, json;
};

static int parse(int argc, char **argv, struct net_opts *o)
{
    static const struct option opts[] = {
        {"subnet", required_argument, NULL, 's'},
        {"nat", no_argument, NULL, 'n'},
        {"all", no_argument, NULL, 'a'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0}};
    struct lvm_err err;
    int c;
    o->bridge = NETDEV_BRIDGE_DEFAULT;
    if (netaddr_parse_cidr(NETDEV_SUBNET_DEFAULT, &o->addr, &o->prefix, &err) <
        0)
        return -1;
    while ((c = cli_getopt(argc, argv, "h", opts)) != -1) {
        switch (c) {
        case 's':
            if (netaddr_parse_cidr(optarg, &o->addr, &o->prefix, &err) < 0) {
                cli_msg("--subnet: %s", err.msg);
                return -1;
            }
            o->explicit_addr = 1;
            break;
        case 'n': o->nat = 1; break;
        case 'a': o->all = 1; break;
        case 'j': o->json = 1; break;
        case 'h': fputs(usage, stdout); exit(0);
        default: return -1; /* cli_getopt said why */
        }
    }
    if (optind < argc)
        o->bridge = argv[optind++];
    if (optind < argc) {
        cli_msg("net: unexpected argument '%s'", argv[optind]);
        return -1;
    }
    if (!*o->bridge || strlen(o->bridge) >= IF_NAMESIZE) {
        cli_msg("net: bad bridge name '%s'", o->bridge);
        return -1;
    }
    return 0;
}

static int net_up(struct netdev *nd, const struct net_opts *o,
                  struct lvm_err *err)
{
    struct netdev_bridge br;
    /* A bridge other than lvm0 given no subnet gets a free one. */
    int pick = !o->explicit_addr && strcmp(o->bridge, NETDEV_BRIDGE_DEFAULT);
    if ((pick ? netsubnet_bridge_ensure(nd, o->bridge, &br, err)
              : netdev_bridge_ensure(nd, o->bridge, o->addr, o->prefix,
                                     o->explicit_addr, &br, err)) < 0 ||
        netguard_ensure(nd, err) < 0)
        return -1;
    if (o->nat && netnat_enable(nd, br.name, br.addr, br.prefix, err) < 0)
        return -1;
    char a[16];
    printf("%s %s/%u%s%s\n", br.name, netaddr_ip4_str(br.addr, a), br.prefix,
           br.created ? " (created)" : "", o->nat ? " nat" : "");
    return 0;
}

static int net_down(struct netdev *nd, const struct lvm_host *h,
                    const struct net_opts *o, struct lvm_err *err)
{
    struct lvm_err ignore;
    netnat_disable(nd, o->bridge, &ignore);
    if (netdev_bridge_delete(nd, o->bridge, err) < 0 && err->code != ENODEV)
        return -1;
    char dir[PATH_MAX];
    if (dev_net_lease_dir(h->run_dir, o->bridge, dir, sizeof dir, err) < 0)
        return -1;
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)))
            if (e->d_name[0] != '.' || strncmp(e->d_name, ".tmp.", 5) == 0)
                unlinkat(dirfd(d), e->d_name, 0);
        closedir(d);
        rmdir(dir);
    }
    if (o->all)
        return netguard_remove(nd, err);
    unsigned removed;
    return netguard_sweep(nd, &removed, err);
}

static int net_sweep(struct netdev *nd, const struct lvm_host *h,
                     const struct net_opts *o, struct lvm_err *err)
{
    unsigned leases, elems;
    if (dev_net_sweep(nd, h->run_dir, o->bridge, &leases, &elems, err) < 0)
        return -1;
    printf("removed %u stale lease%s and %u filter entr%s\n", leases,
           leases == 1 ? "" : "s", elems, elems == 1 ? "y" : "ies");
    return 0;
}

struct ls_ctx {
    int bridge;
    struct netdev_link *ports;
    size_t n;
};

/* The lease held through tap (ifindex), if any (a scan: ls only). */
static uint32_t lease_of(struct lease_dir *ld, int ifindex, char *guest,
                         size_t len)
{
    int fd = ld->fd >= 0 ? openat(ld->fd, ".", O_RDONLY | O_DIRECTORY) : -1;
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
    uint32_t found = 0;
    struct dirent *e;
    while (!found && (e = readdir(d))) {
        uint32_t addr;
        struct lease_owner o;
        if (netaddr_parse_ip4(e->d_name, &addr) == 0 &&
            lease_read(ld, addr, &o) == 0 && o.ifindex == ifindex) {
            found = addr;
            snprintf(guest, len, "%s", o.guest_id);
        }
    }
    closedir(d);
    return found;
}

/* Collect the bridge's ports (no other request may run inside a dump). */
static int ls_collect(const struct netdev_link *l, void *ctx)
{
    struct ls_ctx *c = ctx;
    if (l->master != c->bridge)
        return 0;
    struct netdev_link *p = realloc(c->ports, (c->n + 1) * sizeof *p);
    if (!p)
        return 1;
    c->ports = p;
    c->ports[c->n++] = *l;
    return 0;
}

static int net_ls(struct netdev *nd, const struct lvm_host *h,
                  const struct net_opts *o, struct lvm_err *err)
{
    struct netdev_link br;
    if (netdev_link_get(nd, 0, o->bridge, &br, err) < 0)
        return -1;
    struct ls_ctx c = {br.ifindex, NULL, 0};
    struct lease_dir ld = {.fd = -1};
    char dir[PATH_MAX];
    struct lvm_err ignore;
    if (dev_net_lease_dir(h->run_dir, o->bridge, dir, sizeof dir, err) < 0)
        return -1;
    if (access(dir, F_OK) == 0)
        lease_dir_open(&ld, dir, &ignore);
    int r = netdev_link_each(nd, ls_collect, &c, err);
    json_t *out = o->json ? json_array() : NULL;
    if (r == 0 && !out)
        printf("%-16s %-7s %-17s %-15s %10s %12s %10s %12s\n", "PORT",
               "IFINDEX", "GUEST", "ADDRESS", "RX_PKTS", "RX_BYTES", "TX_PKTS",
               "TX_BYTES");
    for (size_t i = 0; r == 0 && i < c.n; i++) {
        const struct netdev_link *l = &c.ports[i];
        struct netdev_stats st;
        if (netdev_link_stats(nd, l->ifindex, &st, &ignore) < 0)
            memset(&st, 0, sizeof st);
        char guest[NETADDR_ID_MAX + 1] = "-", a[16] = "-";
        uint32_t addr = lease_of(&ld, l->ifindex, guest, sizeof guest);
        if (addr)
            netaddr_ip4_str(addr, a);
        /* A tap's tx is what its guest received. */
        if (out) {
            json_array_append_new(
                out, json_pack("{s:s, s:i, s:s?, s:s?, s:I, s:I, s:I, s:I}",
                               "port", l->name, "ifindex", l->ifindex, "guest",
                               addr ? guest : NULL, "ip", addr ? a : NULL,
                               "rx_packets", (json_int_t)st.tx_packets,
                               "rx_bytes", (json_int_t)st.tx_bytes,
                               "tx_packets", (json_int_t)st.rx_packets,
                               "tx_bytes", (json_int_t)st.rx_bytes));
            continue;
        }
        printf("%-16s %-7d %-17s %-15s %10llu %12llu %10llu %12llu\n", l->name,
               l->ifindex, guest, a, (unsigned long long)st.tx_packets,
               (unsigned long long)st.tx_bytes,
               (unsigned long long)st.rx_packets,
               (unsigned long long)st.rx_bytes);
    }
    if (out && r == 0)
        cli_print_json(out);
    else
        json_decref(out);
    free(c.ports);
    lease_dir_close(&ld);
    return r;
}

int cmd_net(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "-h") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EXIT_USAGE : 0;
    }
    const char *sub = argv[1];
    struct net_opts o;
    memset(&o, 0, sizeof o);
    if (parse(argc - 1, argv + 1, &o) < 0)
        return CLI_EXIT_USAGE;
    struct lvm_err err;
    struct lvm_host h;
    struct netdev *nd = NULL;
    int r = -1;
    if (host_init(&h, &err) < 0) {
        cli_error(&err);
        return CLI_EXIT_ERROR;
    }
    if (netdev_open(&nd, &err) < 0)
        goto out;
    if (strcmp(sub, "up") == 0)
        r = net_up(nd, &o, &err);
    else if (strcmp(sub, "down") == 0)
        r = net_down(nd, &h, &o, &err);
    else if (strcmp(sub, "sweep") == 0)
        r = net_sweep(nd, &h, &o, &err);
    else if (strcmp(sub, "ls") == 0)
        r = net_ls(nd, &h, &o, &err);
    else {
        cli_msg("net: unknown command '%s' (see 'lightvm net --help')", sub);
        netdev_close(nd);
        host_fini(&h);
        return CLI_EXIT_USAGE;
    }
out:
    if (r < 0)
        cli_error(&err);
    netdev_close(nd);
    host_fini(&h);
    return r < 0 ? CLI_EXIT_ERROR : 0;
}
