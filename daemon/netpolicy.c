/*
 * netpolicy.c: who may configure networks and publish ports (see
 * netpolicy.h).
 *
 * Each field a member may not set is refused on its own, by name, rather
 * than silently replaced by the operator's value: a client that asked for
 * NAT and got none would be debugging the wrong thing. Fields that ask
 * for what the member gets anyway (the network's own subnet, NAT on a NAT
 * network) are accepted.
 */
#include "daemon/netpolicy.h"
#include "toolstack/netaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#define ONLY "only root or the admin group may"

int netpolicy_admin(const struct daemon_config *c, const struct creds *cr)
{
    if (cr->uid == 0)
        return 1;
    if (c->admin_gid == (gid_t)-1)
        return 0;
    if (cr->gid == c->admin_gid)
        return 1;
    for (int i = 0; i < cr->ngroups && i < CREDS_MAX_GROUPS; i++)
        if (cr->groups[i] == c->admin_gid)
            return 1;
    return 0;
}

/* (s) for a one-line message: a client's bytes, cut, '?' for anything
 * unprintable. */
static const char *show(const char *s, char buf[24])
{
    size_t i = 0;
    for (; i < 23 && s[i]; i++)
        buf[i] = (unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f
                     ? '?'
                     : s[i];
    buf[i] = 0;
    return buf;
}

static const struct config_network *find_net(const struct daemon_config *c,
                                             const char *bridge)
{
    for (unsigned i = 0; i < c->nnets; i++)
        if (!strcmp(c->nets[i].bridge, bridge))
            return &c->nets[i];
    return NULL;
}

/* The networks members may use, "lvm0, lvmt1", for messages. */
static const char *net_list(const struct daemon_config *c, char *buf,
                            size_t len)
{
    size_t n = 0;
    buf[0] = 0;
    for (unsigned i = 0; i < c->nnets && n < len; i++)
        n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? ", " : "",
                              c->nets[i].bridge);
    return buf;
}

static int deny(struct lvm_err *err, const char *field, const char *why)
{
    return lvm_err_set(err, EPERM, "field %s: %s", field, why);
}

/* NICs named on their own: each onto a network members may use, with its
 * subnet and a leased address; forwarding mode is root's and the admin
 * group's (a forwarding guest may send with any source address). An
 * admin's NIC on an operator's network gets its subnet unless it names
 * one. */
static int policy_nics(const struct daemon_config *c, int admin,
                       struct guest_net_spec *ns, struct lvm_err *err)
{
    char msg[256], b[24], l[128];
    for (unsigned i = 0; i < ns->nnics && i < GUEST_MAX_NICS; i++) {
        struct guest_nic_spec *one = &ns->nics[i];
        const struct config_network *net = find_net(c, one->bridge);
        if (admin) {
            if (net && !one->bridge_addr) {
                one->bridge_addr = net->addr;
                one->prefix = net->prefix;
            }
            if (net)
                one->nat |= net->nat;
            continue;
        }
        if (!net) {
            snprintf(msg, sizeof msg,
                     "'%s' is not a network members may use (%s); " ONLY
                     " use other bridges",
                     show(one->bridge, b), net_list(c, l, sizeof l));
            return deny(err, "net.nics", msg);
        }
        if (one->bridge_addr &&
            (one->bridge_addr != net->addr || one->prefix != net->prefix)) {
            snprintf(msg, sizeof msg, ONLY " choose a subnet (%s has %s/%u)",
                     net->bridge, netaddr_ip4_str(net->addr, b), net->prefix);
            return deny(err, "net.nics", msg);
        }
        if (one->want_addr)
            return deny(err, "net.nics",
                        ONLY " choose a guest's address (members get a "
                             "leased one)");
        if (one->forward)
            return deny(err, "net.nics",
                        ONLY " put a NIC in forwarding mode (it may send "
                             "from any IPv4 address)");
        if (one->nat && !net->nat)
            return deny(err, "net.nics", ONLY " change NAT");
        one->bridge_addr = net->addr;
        one->prefix = net->prefix;
        one->nat = net->nat; /* the operator's, whatever the primary's */
    }
    return 0;
}

int netpolicy_net(const struct daemon_config *c, int admin,
                  struct guest_net_spec *ns, struct lvm_err *err)
{
    if (!ns->enabled)
        return 0;
    if (ns->nnics && policy_nics(c, admin, ns, err) < 0)
        return -1;
    const struct config_network *net = NULL;
    if (ns->bridge[0])
        net = find_net(c, ns->bridge);
    else if (c->nnets && !(admin && ns->bridge_addr))
        net = &c->nets[c->default_net]; /* an admin's subnet: lvm0's */
    if (admin) {
        /* Anything goes; an operator's network keeps its subnet and NAT
         * unless the request says otherwise. */
        if (net && !ns->bridge[0])
            snprintf(ns->bridge, sizeof ns->bridge, "%s", net->bridge);
        if (net && !ns->bridge_addr) {
            ns->bridge_addr = net->addr;
            ns->prefix = net->prefix;
        }
        if (net)
            ns->nat |= net->nat;
        return 0;
    }
    char msg[256], b[24], l[128];
    if (!c->nnets)
        return deny(err, "net",
                    ONLY " attach guests to a network here (the "
                         "operator's config lists none for members)");
    if (!net) {
        snprintf(msg, sizeof msg,
                 "'%s' is not a network members may use (%s); " ONLY
                 " use other bridges",
                 show(ns->bridge, b), net_list(c, l, sizeof l));
        return deny(err, "net.bridge", msg);
    }
    if (ns->bridge_addr &&
        (ns->bridge_addr != net->addr || ns->prefix != net->prefix)) {
        snprintf(msg, sizeof msg, ONLY " choose a subnet (%s has %s/%u)",
                 net->bridge, netaddr_ip4_str(net->addr, b), net->prefix);
        return deny(err, "net.subnet", msg);
    }
    if (ns->want_addr)
        return deny(err, "net.ip",
                    ONLY " choose a guest's address (members get a leased "
                         "one)");
    if (ns->nat && !net->nat)
        return deny(err, "net.nat", ONLY " change NAT");
    if (ns->dhcp)
        return deny(err, "net.dhcp",
                    ONLY " use DHCP (the filter cannot hold a DHCP guest to "
                         "an address)");
    if (ns->no_filter)
        return deny(err, "net.filter",
                    ONLY " turn off the anti-spoofing filter");
    snprintf(ns->bridge, sizeof ns->bridge, "%s", net->bridge);
    ns->bridge_addr = net->addr;
    ns->prefix = net->prefix;
    ns->nat = net->nat;
    return 0;
}

static int in_ranges(const struct daemon_config *c, unsigned port)
{
    for (unsigned i = 0; i < c->nranges; i++)
        if (port >= c->ranges[i].lo && port <= c->ranges[i].hi)
            return 1;
    return 0;
}

/* The ranges, "20000-20999, 8080", for messages. */
static const char *range_list(const struct daemon_config *c, char *buf,
                              size_t len)
{
    size_t n = 0;
    buf[0] = 0;
    for (unsigned i = 0; i < c->nranges && n < len; i++) {
        const struct config_port_range *r = &c->ranges[i];
        n += r->lo == r->hi ? (size_t)snprintf(buf + n, len - n, "%s%u",
                                               i ? ", " : "", r->lo)
                            : (size_t)snprintf(buf + n, len - n, "%s%u-%u",
                                               i ? ", " : "", r->lo, r->hi);
    }
    return buf;
}

static const char *addr_list(const struct daemon_config *c, char *buf,
                             size_t len)
{
    size_t n = 0;
    buf[0] = 0;
    for (unsigned i = 0; i < c->naddrs && n < len; i++) {
        char a[16];
        n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? ", " : "",
                              netaddr_ip4_str(c->addrs[i], a));
    }
    return buf;
}

int netpolicy_port(const struct daemon_config *c, int admin, const char *spec,
                   const char *addr, unsigned port, struct lvm_err *err)
{
    if (admin)
        return 0;
    char msg[LVM_ERR_MSG_MAX - 32], b[24], l[200];
    uint32_t a;
    int ok = 0;
    if (netaddr_parse_ip4(*addr ? addr : "127.0.0.1", &a) == 0)
        for (unsigned i = 0; i < c->naddrs && !ok; i++)
            ok = c->addrs[i] == a;
    if (!c->nranges) {
        snprintf(msg, sizeof msg,
                 "'%s': " ONLY " publish host ports here (the operator's "
                 "config gives members none)",
                 show(spec, b));
        return deny(err, "ports", msg);
    }
    if (!ok) {
        snprintf(msg, sizeof msg,
                 "'%s': members may bind only %s; " ONLY
                 " bind other host addresses",
                 show(spec, b), addr_list(c, l, sizeof l));
        return deny(err, "ports", msg);
    }
    if (port && !in_ranges(c, port)) {
        snprintf(msg, sizeof msg,
                 "'%s': host port %u is outside the ports members may "
                 "publish (%s); " ONLY " publish others",
                 show(spec, b), port, range_list(c, l, sizeof l));
        return deny(err, "ports", msg);
    }
    return 0;
}

/* 1 if TCP port (port) on (sin) can be bound now (0: the kernel picks,
 * and *got says which). */
static int can_bind(struct sockaddr_in sin, uint16_t port, uint16_t *got)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return 0;
    sin.sin_port = htons(port);
    socklen_t len = sizeof sin;
    int ok = bind(s, (struct sockaddr *)&sin, sizeof sin) == 0 &&
             getsockname(s, (struct sockaddr *)&sin, &len) == 0;
    if (ok)
        *got = ntohs(sin.sin_port);
    close(s);
    return ok;
}

int netpolicy_pick_port(const struct daemon_config *c, const char *addr,
                        uint16_t *port, struct lvm_err *err)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    const char *a = *addr ? addr : "127.0.0.1";
    if (inet_pton(AF_INET, a, &sin.sin_addr) != 1)
        return lvm_err_invalid(err, "'%s' is not an IPv4 address", a);
    uint16_t got;
    if (can_bind(sin, 0, &got) && in_ranges(c, got)) {
        *port = got;
        return 0;
    }
    /* Every port of the ranges once, from a random one: a range narrower
     * than the kernel's own pick (its ephemeral ports) is searched. */
    unsigned total = 0;
    for (unsigned i = 0; i < c->nranges; i++)
        total += (unsigned)(c->ranges[i].hi - c->ranges[i].lo) + 1;
    unsigned start = 0;
    if (total && getrandom(&start, sizeof start, 0) != sizeof start)
        start = (unsigned)getpid();
    for (unsigned k = 0; k < total; k++) {
        unsigned idx = (start + k) % total, p = 0;
        for (unsigned i = 0; i < c->nranges; i++) {
            unsigned n = (unsigned)(c->ranges[i].hi - c->ranges[i].lo) + 1;
            if (idx < n) {
                p = c->ranges[i].lo + idx;
                break;
            }
            idx -= n;
        }
        if (can_bind(sin, (uint16_t)p, &got)) {
            *port = got;
            return 0;
        }
    }
    char l[200];
    return lvm_err_set(err, EADDRINUSE,
                       "no free host port on %s in the ports members may "
                       "publish (%s)",
                       a, range_list(c, l, sizeof l));
}
