/*
 * guest_opts.c: parse the options that describe a guest, and say which
 * monitor and which engine each applies to (guest_opts.h).
 */
#include "cli/guest_opts.h"
#include "cli/cli.h"
#include "toolstack/qemu/qemu.h"
#include "toolstack/guest_name.h"
#include "toolstack/layout.h"
#include "toolstack/monitor.h"
#include "toolstack/guest_policy.h"
#include "toolstack/netaddr.h"

#include <errno.h>
#include <fcntl.h>
#include <lightvm/lightvm.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Where a flag applies: per monitor, in the lightvm process alone (cold)
 * or through lightvmd. docs/cli.md has this table for users. */
enum {
    PC = 1 << 0, /* proc, cold */
    PD = 1 << 1, /* proc, through lightvmd */
    KC = 1 << 2,
    KD = 1 << 3,
    QC = 1 << 4,
    QD = 1 << 5,
    UNIK = PC | PD | KC | KD,
    ALL = UNIK | QC | QD,
};

static const struct rule {
    int opt;
    const char *flag;
    unsigned where;
    const char *why; /* for a monitor it does not apply to, or NULL */
} rules[] = {
    {'m', "--mem", ALL, NULL},
    /* A cold QEMU runs in no cgroup of ours, and copies its console. */
    {GO_MEM_LIMIT, "--mem-limit", UNIK | QD, NULL},
    {GO_CPU, "--cpu-quota", ALL, NULL},
    {GO_CONSOLE_LIMIT, "--console-limit", UNIK | QD, NULL},
    {'n', "--name", ALL, NULL},
    {'e', "--env", ALL, NULL},
    {'b', "--block", UNIK, NULL},
    {'v', "--volume", QC | QD,
     "a unikernel guest's block devices are --block NAME=FILE"},
    {GO_MONITOR, "--monitor", ALL, NULL},
    {GO_WATCHDOG, "--watchdog", PD | KD, NULL},
    /* Bridge NICs, for every monitor (toolstack/nic.c); the Tinyx init
     * has no DHCP client. */
    {GO_NET, "--net", ALL, NULL},
    {GO_NET_SUBNET, "--net-subnet", ALL, NULL},
    {GO_NET_NAT, "--net-nat", ALL, NULL},
    {GO_NET_DHCP, "--net-dhcp", UNIK, "the Tinyx init has no DHCP client"},
    {GO_NET_IP, "--ip", ALL, NULL}, /* qemu cold: with --tap, the tap's */
    {GO_NET_NO_FILTER, "--net-no-filter", ALL, NULL},
    {'p', "--publish", QC | QD,
     "its guests get addresses of their own with --net"},
    {'w', "--wait-ready", QC | QD, "it has no health check"},
    {GO_ACCEL, "--accel", QC, NULL},
    {GO_KERNEL, "--kernel", QC, NULL},
    {GO_TAP, "--tap", QC, NULL},
    {GO_TAP_FD, "--tap-fd", QC, NULL},
    {GO_NO_NET, "--no-net", QC, NULL},
    {GO_GATEWAY, "--gateway", QC, NULL},
    {GO_DNS, "--dns", QC, NULL},
    {GO_MAC, "--mac", QC, NULL},
    /* The daemon restarts guests: nothing is left to when lightvm exits. */
    {GO_RESTART, "--restart", PD | KD | QD, NULL},
};

#define NRULES (sizeof rules / sizeof rules[0])
_Static_assert(NRULES <= 64, "guest_opts.seen has a bit per rule");

static void mark_seen(int c, struct guest_opts *o)
{
    for (size_t i = 0; i < NRULES; i++)
        if (rules[i].opt == c)
            o->seen |= 1ull << i;
}

static int seen(const struct guest_opts *o, int c)
{
    for (size_t i = 0; i < NRULES; i++)
        if (rules[i].opt == c)
            return (o->seen >> i) & 1;
    return 0;
}

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
static int parse_net(int which, const char *arg, struct guest_net_spec *n,
                     unsigned *prefix)
{
    struct lvm_err err;
    n->enabled = 1;
    switch (which) {
    case 0: /* --net[=BRIDGE], or --net=NAME=BRIDGE[,OPTIONS] for one NIC */
        if (arg && strchr(arg, '=')) {
            if (n->nnics == GUEST_MAX_NICS) {
                cli_msg("--net: at most %d NICs", GUEST_MAX_NICS);
                return -1;
            }
            struct guest_nic_spec *one = &n->nics[n->nnics];
            if (nic_spec_parse(arg, one, &err) < 0) {
                cli_msg("--net: %s", err.msg);
                return -1;
            }
            if (nic_spec_find(n, one->dev)) {
                cli_msg("--net: NIC %s named twice", one->dev);
                return -1;
            }
            n->nnics++;
            break;
        }
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
    case 4: { /* ADDR, or ADDR/PREFIX for a qemu guest's --tap */
        char a[20];
        const char *slash = strchr(arg, '/');
        size_t len = slash ? (size_t)(slash - arg) : strlen(arg);
        char *end = NULL;
        unsigned long p = slash ? strtoul(slash + 1, &end, 10) : 0;
        if (len >= sizeof a || (slash && (*end || p < 1 || p > 32))) {
            cli_msg("--ip: '%s' is not an IPv4 address", arg);
            return -1;
        }
        memcpy(a, arg, len);
        a[len] = 0;
        if (netaddr_parse_ip4(a, &n->want_addr) < 0) {
            cli_msg("--ip: '%s' is not an IPv4 address", arg);
            return -1;
        }
        *prefix = (unsigned)p;
        break;
    }
    case 5: n->no_filter = 1; break;
    }
    if (n->dhcp && n->want_addr) {
        cli_msg("--ip and --net-dhcp exclude each other");
        return -1;
    }
    return 0;
}

static int parse_qemu(int c, const char *arg, struct guest_opts *o)
{
    char *end;
    switch (c) {
    case 'p': {
        struct qemu_fwd f;
        if (o->nports == GUEST_OPTS_MAX_PORTS || qemu_fwd_parse(arg, &f) < 0) {
            cli_msg("--publish: '%s' is not [ADDR:]HOSTPORT:GUESTPORT (at "
                    "most %d)",
                    arg, GUEST_OPTS_MAX_PORTS);
            return -1;
        }
        o->ports[o->nports++] = arg;
        return 1;
    }
    case 'w':
        o->wait_ready = 1;
        o->ready_timeout = 120;
        if (arg) {
            errno = 0;
            o->ready_timeout = strtod(arg, &end);
            if (errno || *end || !(o->ready_timeout > 0) ||
                o->ready_timeout > 1e7) {
                cli_msg("--wait-ready: '%s' is not a number of seconds", arg);
                return -1;
            }
        }
        return 1;
    case GO_ACCEL:
        if (!strcmp(arg, "kvm"))
            o->accel = QEMU_ACCEL_KVM;
        else if (!strcmp(arg, "tcg"))
            o->accel = QEMU_ACCEL_TCG;
        else if (!strcmp(arg, "auto"))
            o->accel = QEMU_ACCEL_AUTO;
        else {
            cli_msg("--accel: '%s': use auto, kvm or tcg", arg);
            return -1;
        }
        return 1;
    case GO_KERNEL: o->kernel = arg; return 1;
    case GO_TAP:
        if (!*arg || strlen(arg) >= 16 || strchr(arg, '/')) {
            cli_msg("--tap: '%s' is not an interface name", arg);
            return -1;
        }
        o->tap = arg;
        return 1;
    case GO_TAP_FD: {
        long fd = strtol(arg, &end, 10);
        if (!*arg || *end || fd < 0 || fd > INT_MAX ||
            fcntl((int)fd, F_GETFD) < 0) {
            cli_msg("--tap-fd: '%s' is not an open file descriptor", arg);
            return -1;
        }
        o->tap_fd = (int)fd;
        return 1;
    }
    case GO_NO_NET: o->no_net = 1; return 1;
    case GO_GATEWAY:
    case GO_DNS:
    case GO_MAC: {
        const char *name = c == GO_GATEWAY ? "--gateway"
                           : c == GO_DNS   ? "--dns"
                                           : "--mac";
        if (!*arg || strlen(arg) >= 16 + (c == GO_MAC) * 2 ||
            strchr(arg, ' ')) {
            cli_msg("%s: '%s' is not an address", name, arg);
            return -1;
        }
        *(c == GO_GATEWAY ? &o->gateway
          : c == GO_DNS   ? &o->dns
                          : &o->mac) = arg;
        return 1;
    }
    default: return 0;
    }
}

/* --mem SIZE: a size the guest can have at all (its monitor's range is
 * checked once the monitor is known). */
static int parse_mem(const char *arg, uint64_t *mem)
{
    if (layout_parse_size(arg, mem) < 0) {
        cli_msg("--mem: '%s' is not a size (e.g. 64M)", arg);
        return -1;
    }
    if (*mem == 0) {
        cli_msg("--mem: 0 is no memory (give a size, e.g. 64M)");
        return -1;
    }
    /* "-m 16" meant 16M: a bare number is bytes, and no guest fits in
     * less than a MiB. */
    if (arg[strspn(arg, "0123456789")] == 0 && *mem < (1u << 20)) {
        cli_msg("--mem: '%s' is %s bytes (a size without K, M or G is in "
                "bytes): did you mean '%sM'?",
                arg, arg, arg);
        return -1;
    }
    return 0;
}

int guest_opt(int c, const char *arg, struct guest_opts *o)
{
    char *end;
    const char *flag = c == GO_CPUS ? "--cpus" : "--cpu-quota";
    if (c == GO_CPUS)
        c = GO_CPU; /* the same flag, by another name */
    mark_seen(c, o);
    if (c == 'p' || c == 'w' || (c >= GO_ACCEL && c <= GO_MAC))
        return parse_qemu(c, arg, o);
    switch (c) {
    case 'm': return parse_mem(arg, &o->mem) < 0 ? -1 : 1;
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
            cli_msg("%s: '%s' is not a number of CPUs above 0 and up to %d "
                    "(e.g. 0.5)",
                    flag, arg, GUEST_CPUS_MAX);
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
    case GO_RESTART: { /* the daemon's rule (request_restart_parse) */
        const char *n = arg + 11;
        int ok = !strcmp(arg, "no") || !strcmp(arg, "always") ||
                 !strcmp(arg, "on-failure") ||
                 (!strncmp(arg, "on-failure:", 11) && *n && *n != '0' &&
                  strlen(n) <= 7 && strspn(n, "0123456789") == strlen(n) &&
                  strtol(n, NULL, 10) <= 1000000);
        if (!ok) {
            cli_msg("--restart: '%s' is not no, on-failure, on-failure:N "
                    "(N retries, 1 to 1000000) or always",
                    arg);
            return -1;
        }
        o->restart = arg;
        return 1;
    }
    case 'n': { /* the daemon's rule, checked early */
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
    case 'v': {
        if (o->nvolumes == QEMU_MAX_VOLUMES) {
            cli_msg("--volume: at most %d volumes", QEMU_MAX_VOLUMES);
            return -1;
        }
        struct lvm_err err;
        struct qemu_volume *v = &o->volumes[o->nvolumes];
        if (qemu_volume_parse(arg, v, &err) < 0) {
            cli_msg("--volume: %s", err.msg);
            return -1;
        }
        /* By its absolute path, as lightvmd needs it; there, or said now. */
        char abs[PATH_MAX];
        if (!realpath(v->path, abs)) {
            cli_msg("--volume: %s: %s", v->path, strerror(errno));
            return -1;
        }
        snprintf(v->path, sizeof v->path, "%s", abs);
        for (unsigned i = 0; i < o->nvolumes; i++)
            if (!strcmp(o->volumes[i].target, o->volumes[o->nvolumes].target)) {
                cli_msg("--volume: two volumes on %s", o->volumes[i].target);
                return -1;
            }
        o->nvolumes++;
        return 1;
    }
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
    case GO_MONITOR:
        o->monitor = arg;
        o->monitor_given = 1;
        return 1;
    case GO_NET:
    case GO_NET_SUBNET:
    case GO_NET_NAT:
    case GO_NET_DHCP:
    case GO_NET_IP:
    case GO_NET_NO_FILTER:
        if (c == GO_NET_IP)
            o->ip_arg = arg;
        if (c == GO_NET && arg && strchr(arg, '=') &&
            o->net.nnics < GUEST_MAX_NICS)
            o->nic_args[o->net.nnics] = arg; /* for a lightvmd request */
        return parse_net(c - GO_NET, arg, &o->net, &o->ip_prefix) < 0 ? -1 : 1;
    default: return 0;
    }
}

/* NAME=VALUE with NAME a NIC name's characters: [a-z][a-z0-9_]*. */
static int nic_assignment(const char *w)
{
    const char *eq = strchr(w, '=');
    if (!eq || eq == w || w[0] < 'a' || w[0] > 'z')
        return 0;
    for (const char *p = w; p < eq; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '_'))
            return 0;
    return 1;
}

static int all_digits(const char *w)
{
    if (!*w)
        return 0;
    for (; *w; w++)
        if (*w < '0' || *w > '9')
            return 0;
    return 1;
}

const char *guest_opt_value(int c, int argc, char **argv)
{
    if (optarg || optind >= argc || (c != GO_NET && c != 'w'))
        return optarg;
    const char *next = argv[optind];
    struct stat st;
    if (stat(next, &st) == 0) /* an image or file of that name: not ours */
        return NULL;
    if ((c == GO_NET && nic_assignment(next)) ||
        (c == 'w' && all_digits(next) && optind + 1 < argc)) {
        optind++;
        return next;
    }
    return NULL;
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
    n->nics = o->nic_args;
    n->nnics = (int)s->nnics;
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

void guest_opts_init(struct guest_opts *o)
{
    memset(o, 0, sizeof *o);
    o->tap_fd = -1;
}

/* 1 if (path) is a Tinyx image directory (one with a manifest). */
static int is_tinyx(const char *path, int *is_dir)
{
    struct stat st;
    char m[PATH_MAX + 16];
    *is_dir = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
    snprintf(m, sizeof m, "%s/manifest.json", path);
    return *is_dir && access(m, F_OK) == 0;
}

int guest_opts_is_tinyx(const char *path)
{
    int dir;
    return is_tinyx(path, &dir);
}

int guest_opts_resolve(struct guest_opts *o, const char *fallback)
{
    const char *image = o->argv[0];
    int dir, tinyx = is_tinyx(image, &dir);
    if (!o->monitor_given) {
        o->monitor = tinyx ? "qemu" : fallback;
        return 0;
    }
    const char *m = o->monitor;
    if (!strcmp(m, "auto")) {
        o->asked_auto = 1;
        if (tinyx) /* an ELF's auto is the toolstack's (or lightvmd's) */
            o->monitor = "qemu";
        return 0;
    }
    if (strcmp(m, "proc") && strcmp(m, "kvm") && strcmp(m, "qemu")) {
        cli_msg("--monitor: unknown monitor '%s' (available: %s, auto)", m,
                monitor_names());
        return -1;
    }
    if (!strcmp(m, "qemu") && !dir && access(image, F_OK) == 0) {
        cli_msg("%s is not a Tinyx image directory (the qemu monitor boots "
                "what 'lightvm tinyx build' makes)",
                image);
        return -1;
    }
    if (strcmp(m, "qemu") && tinyx) {
        cli_msg("%s is a Tinyx image directory: run it with --monitor qemu "
                "(or auto)",
                image);
        return -1;
    }
    return 0;
}

int guest_opts_check(struct guest_opts *o, int daemon, const char *hint)
{
    int qemu = !strcmp(o->monitor, "qemu");
    /* auto for an ELF: what both proc and kvm take. */
    unsigned here = qemu                         ? (daemon ? QD : QC)
                    : !strcmp(o->monitor, "kvm") ? (daemon ? KD : KC)
                    : !strcmp(o->monitor, "proc")
                        ? (daemon ? PD : PC)
                        : (daemon ? PD | KD : PC | KC);
    /* The same monitor(s), either engine: daemon bits are the odd ones. */
    unsigned any = daemon ? here | here >> 1 : here | here << 1;
    const char *mon = o->asked_auto && !qemu ? "proc and kvm" : o->monitor;
    const char *s = o->asked_auto && !qemu ? "s" : "";
    /* RAM within a unikernel monitor's range, said the same way cold and
     * through lightvmd (qemu's depends on the image's kernel: its run and
     * create check it). */
    uint64_t ram;
    struct lvm_err err;
    if (!qemu && o->mem &&
        guest_ram_pick(guest_mon_of(strcmp(o->monitor, "kvm") ? "proc" : "kvm"),
                       GUEST_KERNEL_TINY, o->mem, 0, &ram, &err) < 0) {
        cli_msg("--%s", err.msg);
        return -1;
    }
    /* qemu's least RAM depends on the image's kernel (run and create check
     * it); its most does not, and is said here rather than by the API. */
    unsigned qmon = guest_mon_of("qemu");
    if (qemu && o->mem > guest_ram_range(qmon, GUEST_KERNEL_TINY).max &&
        guest_ram_pick(qmon, GUEST_KERNEL_TINY, o->mem, 0, &ram, &err) < 0) {
        cli_msg("--%s", err.msg);
        return -1;
    }
    for (size_t i = 0; i < NRULES; i++) {
        const struct rule *r = &rules[i];
        if (!((o->seen >> i) & 1) || (r->where & here) == here)
            continue;
        if (!(r->where & any)) {
            if (r->why)
                cli_msg("%s is not supported for the %s monitor%s (%s)",
                        r->flag, mon, s, r->why);
            else
                cli_msg("%s is not supported for the %s monitor%s", r->flag,
                        mon, s);
        } else if (!daemon) {
            cli_msg("%s needs lightvmd for the %s monitor%s (start it with "
                    "'lightvmd &')",
                    r->flag, mon, s);
        } else {
            cli_msg("%s is not supported through lightvmd%s", r->flag,
                    hint ? hint : "");
        }
        return -1;
    }
    if (o->wait_ready && !o->run) {
        cli_msg("--wait-ready is an option of run ('lightvm list --json' "
                "says when a guest is ready)");
        return -1;
    }
    int bridge = seen(o, GO_NET) || seen(o, GO_NET_SUBNET) ||
                 seen(o, GO_NET_NAT) || seen(o, GO_NET_DHCP) ||
                 seen(o, GO_NET_NO_FILTER);
    int tap = o->tap || o->tap_fd >= 0;
    if (tap && (bridge || o->no_net)) {
        cli_msg("%s and %s exclude each other", o->tap ? "--tap" : "--tap-fd",
                bridge ? "the bridge (--net)" : "--no-net");
        return -1;
    }
    if (o->ip_prefix && !tap) {
        cli_msg("--ip: '%s': the bridge's subnet sets the prefix (a /PREFIX "
                "goes with --tap)",
                o->ip_arg);
        return -1;
    }
    if (qemu && !daemon && tap)
        memset(&o->net, 0, sizeof o->net); /* --ip is the tap's */
    return 0;
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
    for (unsigned i = 0; i < o->nvolumes; i++) {
        if (!realpath(o->volumes[i].path, p->volumes[i]))
            snprintf(p->volumes[i], sizeof p->volumes[i], "%s",
                     o->volumes[i].path);
        p->vlist[i] = (struct lightvm_volume){
            p->volumes[i], o->volumes[i].target, o->volumes[i].readonly};
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
        .restart = o->restart,
        .ports = o->ports,
        .nports = o->nports,
        .volumes = p->vlist,
        .nvolumes = (int)o->nvolumes,
    };
    guest_opts_net(o, &co->net, &p->net);
}
