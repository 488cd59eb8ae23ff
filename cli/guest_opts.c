/*
 * guest_opts.c: parse the options that describe a guest (guest_opts.h).
 */
#include "cli/guest_opts.h"
#include "cli/cli.h"
#include "monitors/qemu/qemu.h"
#include "toolstack/layout.h"
#include "toolstack/netaddr.h"

#include <errno.h>
#include <lightvm/lightvm.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_block(const char *arg, struct guest_block *b)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof b->name)
        return -1;
    memset(b, 0, sizeof *b);
    b->fd = -1;
    memcpy(b->name, arg, (size_t)(eq - arg));
    snprintf(b->path, sizeof b->path, "%s", eq + 1);
    size_t n = strlen(b->path);
    if (n > 3 && strcmp(b->path + n - 3, ":ro") == 0) {
        b->path[n - 3] = 0;
        b->readonly = 1;
    }
    return b->path[0] ? 0 : -1;
}

/* The --net options, numbered from --net (0). */
static int parse_net(int which, const char *arg, struct guest_net_spec *n)
{
    struct lvm_err err;
    n->enabled = 1;
    switch (which) {
    case 0: /* --net[=BRIDGE] */
        if (arg && (!*arg || strlen(arg) >= sizeof n->bridge ||
                    strchr(arg, '/') || strchr(arg, ' '))) {
            cli_msg("--net: '%s' is not a bridge name (1 to %zu characters)",
                    arg, sizeof n->bridge - 1);
            return -1;
        }
        if (arg)
            snprintf(n->bridge, sizeof n->bridge, "%s", arg);
        break;
    case 1:
        if (netaddr_parse_cidr(arg, &n->bridge_addr, &n->prefix, &err) < 0) {
            cli_msg("--net-subnet: %s", err.msg);
            return -1;
        }
        break;
    case 2: n->nat = 1; break;
    case 3: n->dhcp = 1; break;
    case 4:
        if (netaddr_parse_ip4(arg, &n->want_addr) < 0) {
            cli_msg("--ip: '%s' is not an IPv4 address", arg);
            return -1;
        }
        break;
    case 5: n->no_filter = 1; break;
    }
    if (n->dhcp && n->want_addr) {
        cli_msg("--ip and --net-dhcp exclude each other");
        return -1;
    }
    return 0;
}

int guest_opt(int c, const char *arg, struct guest_opts *o)
{
    char *end;
    switch (c) {
    case 'm':
        if (layout_parse_size(arg, &o->mem) < 0) {
            cli_msg("--mem: '%s' is not a size (e.g. 64M)", arg);
            return -1;
        }
        return 1;
    case GO_MEM_LIMIT:
        if (layout_parse_size(arg, &o->mem_limit) < 0 || o->mem_limit == 0) {
            cli_msg("--mem-limit: '%s' is not a size (e.g. 64M)", arg);
            return -1;
        }
        return 1;
    case GO_CPU:
        errno = 0;
        o->cpus = strtod(arg, &end);
        if (errno || *end || !(o->cpus > 0) || o->cpus > GUEST_CPUS_MAX) {
            cli_msg("--cpu-quota: '%s' is not a number of CPUs (e.g. 0.5)",
                    arg);
            return -1;
        }
        return 1;
    case GO_CONSOLE_LIMIT:
        if (layout_parse_size(arg, &o->console_limit) < 0 ||
            o->console_limit == 0 ||
            o->console_limit > GUEST_CONSOLE_LIMIT_MAX) {
            cli_msg("--console-limit: '%s' is not a size up to 1G", arg);
            return -1;
        }
        return 1;
    case GO_WATCHDOG: {
        errno = 0;
        long v = strtol(arg, &end, 10);
        if (errno || *end || v <= 0 || v > 86400000) {
            cli_msg("--watchdog: '%s' is not a number of milliseconds", arg);
            return -1;
        }
        o->watchdog_ms = (uint32_t)v;
        return 1;
    }
    case 'n': {
        struct lvm_err err;
        if (guest_name_check(arg, &err) < 0) {
            cli_msg("--%s", err.msg);
            return -1;
        }
        o->name = arg;
        return 1;
    }
    case 'e':
        if (!strchr(arg, '=') || arg[0] == '=') {
            cli_msg("--env: '%s' is not KEY=VALUE", arg);
            return -1;
        }
        if (o->nenv == GUEST_OPTS_MAX_ENV) {
            cli_msg("--env: at most %d variables", GUEST_OPTS_MAX_ENV);
            return -1;
        }
        o->env[o->nenv++] = (char *)arg;
        return 1;
    case 'b':
        if (o->nblocks == GUEST_MAX_BLOCKS) {
            cli_msg("--block: at most %d block devices", GUEST_MAX_BLOCKS);
            return -1;
        }
        if (parse_block(arg, &o->blocks[o->nblocks]) < 0) {
            cli_msg("--block: '%s' is not NAME=FILE[:ro] (NAME up to 15 "
                    "characters)",
                    arg);
            return -1;
        }
        o->nblocks++;
        return 1;
    case GO_MONITOR: o->monitor = arg; return 1;
    case GO_NET:
    case GO_NET_SUBNET:
    case GO_NET_NAT:
    case GO_NET_DHCP:
    case GO_NET_IP:
    case GO_NET_NO_FILTER:
        return parse_net(c - GO_NET, arg, &o->net) < 0 ? -1 : 1;
    default: return 0;
    }
}

void guest_opts_net(const struct guest_opts *o, struct lightvm_net *n,
                    struct guest_opts_net_buf *buf)
{
    const struct guest_net_spec *s = &o->net;
    memset(n, 0, sizeof *n);
    n->enabled = s->enabled;
    if (!s->enabled)
        return;
    n->bridge = s->bridge[0] ? s->bridge : NULL;
    if (s->bridge_addr) {
        char a[16];
        snprintf(buf->subnet, sizeof buf->subnet, "%s/%u",
                 netaddr_ip4_str(s->bridge_addr, a), s->prefix);
        n->subnet = buf->subnet;
    }
    if (s->want_addr)
        n->ip = netaddr_ip4_str(s->want_addr, buf->ip);
    n->nat = s->nat;
    n->dhcp = s->dhcp;
    n->no_filter = s->no_filter;
}

int guest_opts_rest(int argc, char **argv, struct guest_opts *o)
{
    if (optind >= argc)
        return -1;
    o->argc = argc - optind;
    o->argv = argv + optind;
    if (o->argc > 1 && strcmp(o->argv[1], "--") == 0) {
        memmove(&o->argv[1], &o->argv[2],
                sizeof(char *) * (size_t)(o->argc - 2));
        o->argc--;
    }
    return 0;
}

int create_qemu_opt(int c, const char *arg, struct guest_opts *o)
{
    if (c != 'p')
        return 0;
    struct qemu_fwd f;
    if (o->nports == GUEST_OPTS_MAX_PORTS || qemu_fwd_parse(arg, &f) < 0) {
        cli_msg("--publish: '%s' is not [ADDR:]HOSTPORT:GUESTPORT (at most "
                "%d)",
                arg, GUEST_OPTS_MAX_PORTS);
        return -1;
    }
    o->ports[o->nports++] = arg;
    return 1;
}

void guest_opts_request(const struct guest_opts *o, const char *image,
                        struct guest_paths *p, struct lightvm_create_opts *co)
{
    for (unsigned i = 0; i < o->nblocks; i++) {
        if (!realpath(o->blocks[i].path, p->blocks[i]))
            snprintf(p->blocks[i], sizeof p->blocks[i], "%s",
                     o->blocks[i].path);
        p->list[i] = (struct lightvm_block){o->blocks[i].name, p->blocks[i],
                                            o->blocks[i].readonly};
    }
    *co = (struct lightvm_create_opts){
        .image = image,
        .name = o->name,
        .mem = o->mem,
        .mem_limit = o->mem_limit,
        .cpus = o->cpus,
        .env = (const char *const *)o->env,
        .nenv = o->nenv,
        .blocks = p->list,
        .nblocks = (int)o->nblocks,
        .monitor = o->monitor,
        .console_fd = -1,
        .console_limit = o->console_limit,
        .watchdog_ms = o->watchdog_ms,
        .ports = o->ports,
        .nports = o->nports,
    };
    guest_opts_net(o, &co->net, &p->net);
}
