/*
 * netdev.c: bridge, taps and link statistics over rtnetlink with libmnl
 * (see netdev.h).
 *
 * Each request is built with libmnl's attribute helpers, sent with
 * NLM_F_ACK and answered by its reply (if any) and an acknowledgement, so
 * one exchange always ends the kernel's answer: nothing is left queued
 * on the socket for the next request to trip over.
 */
#include "toolstack/netdev.h"
#include "toolstack/netaddr.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IN6_ADDR_GEN_MODE_NONE
#define IN6_ADDR_GEN_MODE_NONE 1
#endif

struct netdev {
    struct mnl_socket *rt; /* NETLINK_ROUTE */
    unsigned rt_portid;
    struct mnl_socket *nf; /* NETLINK_NETFILTER, on first use */
    unsigned nf_portid;
    uint32_t seq;
    char buf[NETDEV_BUF_SIZE];
};

int netdev_open(struct netdev **out, struct lvm_err *err)
{
    struct netdev *nd = calloc(1, sizeof *nd);
    if (!nd)
        return lvm_err_set(err, ENOMEM, "allocate a netlink session");
    nd->rt = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
    if (!nd->rt || mnl_socket_bind(nd->rt, 0, MNL_SOCKET_AUTOPID) < 0) {
        int e = errno;
        netdev_close(nd);
        return lvm_err_set(err, e, "open a netlink (route) socket");
    }
    nd->rt_portid = mnl_socket_get_portid(nd->rt);
    /* Sequence numbers only need to differ between requests on a socket;
     * starting at the clock keeps two sessions' numbers apart in traces. */
    nd->seq = (uint32_t)time(NULL);
    *out = nd;
    return 0;
}

void netdev_close(struct netdev *nd)
{
    if (!nd)
        return;
    if (nd->rt)
        mnl_socket_close(nd->rt);
    if (nd->nf)
        mnl_socket_close(nd->nf);
    free(nd);
}

uint32_t netdev_seq(struct netdev *nd)
{
    return ++nd->seq;
}

char *netdev_buf(struct netdev *nd)
{
    return nd->buf;
}

struct mnl_socket *netdev_nf_socket(struct netdev *nd, unsigned *portid,
                                    struct lvm_err *err)
{
    if (!nd->nf) {
        nd->nf = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
        if (!nd->nf || mnl_socket_bind(nd->nf, 0, MNL_SOCKET_AUTOPID) < 0) {
            int e = errno;
            if (nd->nf)
                mnl_socket_close(nd->nf);
            nd->nf = NULL;
            lvm_err_set(err, e, "open a netlink (netfilter) socket");
            return NULL;
        }
        nd->nf_portid = mnl_socket_get_portid(nd->nf);
    }
    *portid = nd->nf_portid;
    return nd->nf;
}

/* Send (nlh) and run (cb) on each reply until the acknowledgement (or
 * the end of a dump). Returns 0 or a negative errno. */
static int talk(struct netdev *nd, struct nlmsghdr *nlh, mnl_cb_t cb,
                void *data)
{
    uint32_t seq = nlh->nlmsg_seq = netdev_seq(nd);
    nlh->nlmsg_flags |= NLM_F_ACK;
    if (mnl_socket_sendto(nd->rt, nlh, nlh->nlmsg_len) < 0)
        return -errno;
    char rbuf[NETDEV_BUF_SIZE];
    for (;;) {
        ssize_t n = mnl_socket_recvfrom(nd->rt, rbuf, sizeof rbuf);
        if (n < 0)
            return -errno;
        int r = mnl_cb_run(rbuf, (size_t)n, seq, nd->rt_portid, cb, data);
        if (r < 0)
            return -errno;
        if (r == MNL_CB_STOP)
            return 0;
    }
}

static struct nlmsghdr *new_msg(struct netdev *nd, uint16_t type,
                                uint16_t flags)
{
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(nd->buf);
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = NLM_F_REQUEST | flags;
    return nlh;
}

/* ---- Links ------------------------------------------------------------ */

static int link_attr(const struct nlattr *a, void *data)
{
    struct netdev_link *l = data;
    switch (mnl_attr_get_type(a)) {
    case IFLA_IFNAME:
        if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
            snprintf(l->name, sizeof l->name, "%s", mnl_attr_get_str(a));
        break;
    case IFLA_MASTER:
        if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
            l->master = (int)mnl_attr_get_u32(a);
        break;
    case IFLA_MTU:
        if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
            l->mtu = mnl_attr_get_u32(a);
        break;
    case IFLA_ADDRESS:
        if (mnl_attr_get_payload_len(a) == 6)
            memcpy(l->mac, mnl_attr_get_payload(a), 6);
        break;
    case IFLA_LINKINFO: {
        const struct nlattr *in;
        mnl_attr_for_each_nested(in, a)
        {
            if (mnl_attr_get_type(in) == IFLA_INFO_KIND &&
                mnl_attr_validate(in, MNL_TYPE_STRING) == 0)
                snprintf(l->kind, sizeof l->kind, "%.*s",
                         (int)mnl_attr_get_payload_len(in),
                         (const char *)mnl_attr_get_payload(in));
        }
        break;
    }
    }
    return MNL_CB_OK;
}

static void parse_link(const struct nlmsghdr *nlh, struct netdev_link *l)
{
    const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
    memset(l, 0, sizeof *l);
    l->ifindex = ifm->ifi_index;
    l->flags = ifm->ifi_flags;
    mnl_attr_parse(nlh, sizeof *ifm, link_attr, l);
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
    if (nlh->nlmsg_type == RTM_NEWLINK)
        parse_link(nlh, data);
    return MNL_CB_OK;
}

int netdev_link_get(struct netdev *nd, int ifindex, const char *name,
                    struct netdev_link *out, struct lvm_err *err)
{
    struct nlmsghdr *nlh = new_msg(nd, RTM_GETLINK, 0);
    struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof *ifm);
    ifm->ifi_family = AF_UNSPEC;
    ifm->ifi_index = ifindex > 0 ? ifindex : 0;
    if (ifindex <= 0)
        mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
    /* Statistics are not wanted here: skip them. */
    mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
    memset(out, 0, sizeof *out);
    int r = talk(nd, nlh, link_cb, out);
    if (r == -ENODEV || (r == 0 && out->ifindex == 0))
        return lvm_err_set(err, ENODEV, "no network device %s",
                           ifindex > 0 ? "with that index" : name);
    if (r < 0)
        return lvm_err_set(err, -r, "look up network device %s",
                           ifindex > 0 ? "by index" : name);
    return 0;
}

int netdev_link_delete(struct netdev *nd, int ifindex, struct lvm_err *err)
{
    struct nlmsghdr *nlh = new_msg(nd, RTM_DELLINK, 0);
    struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof *ifm);
    ifm->ifi_family = AF_UNSPEC;
    ifm->ifi_index = ifindex;
    int r = talk(nd, nlh, NULL, NULL);
    if (r < 0 && r != -ENODEV)
        return lvm_err_set(err, -r, "delete network device %d", ifindex);
    return 0;
}

struct each_ctx {
    int (*fn)(const struct netdev_link *l, void *ctx);
    void *ctx;
    int stop;
};

static int each_cb(const struct nlmsghdr *nlh, void *data)
{
    struct each_ctx *e = data;
    if (nlh->nlmsg_type != RTM_NEWLINK || e->stop)
        return MNL_CB_OK;
    struct netdev_link l;
    parse_link(nlh, &l);
    e->stop = e->fn(&l, e->ctx);
    return MNL_CB_OK;
}

int netdev_link_each(struct netdev *nd,
                     int (*fn)(const struct netdev_link *l, void *ctx),
                     void *ctx, struct lvm_err *err)
{
    struct nlmsghdr *nlh = new_msg(nd, RTM_GETLINK, NLM_F_DUMP);
    struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof *ifm);
    ifm->ifi_family = AF_UNSPEC;
    mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
    struct each_ctx e = {fn, ctx, 0};
    int r = talk(nd, nlh, each_cb, &e);
    if (r < 0)
        return lvm_err_set(err, -r, "list network devices");
    return 0;
}

static int stats_attr(const struct nlattr *a, void *data)
{
    if (mnl_attr_get_type(a) == IFLA_STATS64 &&
        mnl_attr_get_payload_len(a) >= sizeof(struct rtnl_link_stats64)) {
        struct rtnl_link_stats64 s;
        memcpy(&s, mnl_attr_get_payload(a), sizeof s);
        struct netdev_stats *o = data;
        o->rx_packets = s.rx_packets;
        o->tx_packets = s.tx_packets;
        o->rx_bytes = s.rx_bytes;
        o->tx_bytes = s.tx_bytes;
        o->rx_dropped = s.rx_dropped;
        o->tx_dropped = s.tx_dropped;
        o->rx_errors = s.rx_errors;
        o->tx_errors = s.tx_errors;
    }
    return MNL_CB_OK;
}

static int stats_cb(const struct nlmsghdr *nlh, void *data)
{
    if (nlh->nlmsg_type == RTM_NEWLINK)
        mnl_attr_parse(nlh, sizeof(struct ifinfomsg), stats_attr, data);
    return MNL_CB_OK;
}

int netdev_link_stats(struct netdev *nd, int ifindex, struct netdev_stats *out,
                      struct lvm_err *err)
{
    struct nlmsghdr *nlh = new_msg(nd, RTM_GETLINK, 0);
    struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof *ifm);
    ifm->ifi_family = AF_UNSPEC;
    ifm->ifi_index = ifindex;
    memset(out, 0, sizeof *out);
    int r = talk(nd, nlh, stats_cb, out);
    if (r < 0)
        return lvm_err_set(err, -r, "read the counters of network device %d",
                           ifindex);
    return 0;
}

/* ---- The bridge ---------------------------------------------------------- */

static int bridge_create(struct netdev *nd, const char *name)
{
    struct nlmsghdr *nlh = new_msg(nd, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
    struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof *ifm);
    ifm->ifi_family = AF_UNSPEC;
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
    uint8_t mac[6];
    netaddr_bridge_mac(name, mac);
    mnl_attr_put(nlh, IFLA_ADDRESS, sizeof mac, mac);
    struct nlattr *info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
    mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
    struct nlattr *data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
    /* No spanning tree, no forwarding delay: a new port (a guest) passes
     * frames at once. */
    mnl_attr_put_u32(nlh, IFLA_BR_STP_STATE, 0);
    mnl_attr_put_u32(nlh, IFLA_BR_FORWARD_DELAY, 0);
    mnl_attr_nest_end(nlh, data);
    mnl_attr_nest_end(nlh, info);
    return talk(nd, nlh, NULL, NULL);
}

/*
 * Give link (ifindex) no IPv6 address of its own, and make it a port of
 * (master) if > 0; while it is down, before it gets a link-local address
 * (the kernel applies IFLA_AF_SPEC after link flags, and not at all when
 * creating a link). Guests are IPv4 only: without this every guest would
 * read and drop the host's router solicitations, MLD reports and DAD.
 */
static int setup_link(struct netdev *nd, int ifindex, int master)
{
    int r = -EAFNOSUPPORT;
    for (int with_v6 = 1; with_v6 >= 0 && r == -EAFNOSUPPORT; with_v6--) {
        if (!with_v6 && master <= 0)
            return 0; /* a kernel without IPv6: nothing to do */
        struct nlmsghdr *nlh = new_msg(nd, RTM_NEWLINK, 0);
        struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof *ifm);
        ifm->ifi_family = AF_UNSPEC;
        ifm->ifi_index = ifindex;
        if (master > 0)
            mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t)master);
        if (with_v6) {
            struct nlattr *af = mnl_attr_nest_start(nlh, IFLA_AF_SPEC);
            struct nlattr *v6 = mnl_attr_nest_start(nlh, AF_INET6);
            mnl_attr_put_u8(nlh, IFLA_INET6_ADDR_GEN_MODE,
                            IN6_ADDR_GEN_MODE_NONE);
            mnl_attr_nest_end(nlh, v6);
            mnl_attr_nest_end(nlh, af);
        }
        r = talk(nd, nlh, NULL, NULL);
    }
    return r;
}

static int link_up(struct netdev *nd, int ifindex)
{
    struct nlmsghdr *nlh = new_msg(nd, RTM_NEWLINK, 0);
    struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof *ifm);
    ifm->ifi_family = AF_UNSPEC;
    ifm->ifi_index = ifindex;
    ifm->ifi_flags = IFF_UP;
    ifm->ifi_change = IFF_UP;
    return talk(nd, nlh, NULL, NULL);
}

struct addr_find {
    int ifindex;
    uint32_t addr;
    unsigned prefix;
};

static int addr_attr(const struct nlattr *a, void *data)
{
    uint32_t *v = data;
    if (mnl_attr_get_type(a) == IFA_LOCAL && mnl_attr_get_payload_len(a) == 4)
        memcpy(v, mnl_attr_get_payload(a), 4);
    return MNL_CB_OK;
}

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
    struct addr_find *f = data;
    const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
    if (nlh->nlmsg_type != RTM_NEWADDR || ifa->ifa_family != AF_INET ||
        (int)ifa->ifa_index != f->ifindex || f->addr)
        return MNL_CB_OK;
    uint32_t v = 0;
    mnl_attr_parse(nlh, sizeof *ifa, addr_attr, &v);
    if (v) {
        f->addr = v;
        f->prefix = ifa->ifa_prefixlen;
    }
    return MNL_CB_OK;
}

/* The first IPv4 address of (ifindex). */
static int addr_get(struct netdev *nd, int ifindex, uint32_t *addr,
                    unsigned *prefix)
{
    struct nlmsghdr *nlh = new_msg(nd, RTM_GETADDR, NLM_F_DUMP);
    struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof *ifa);
    ifa->ifa_family = AF_INET;
    ifa->ifa_index = (unsigned)ifindex; /* a hint; addr_cb filters too */
    struct addr_find f = {ifindex, 0, 0};
    int r = talk(nd, nlh, addr_cb, &f);
    *addr = f.addr;
    *prefix = f.prefix;
    return r;
}

static int addr_add(struct netdev *nd, int ifindex, uint32_t addr,
                    unsigned prefix)
{
    struct nlmsghdr *nlh = new_msg(nd, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
    struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof *ifa);
    ifa->ifa_family = AF_INET;
    ifa->ifa_prefixlen = (uint8_t)prefix;
    ifa->ifa_scope = RT_SCOPE_UNIVERSE;
    ifa->ifa_index = (unsigned)ifindex;
    mnl_attr_put_u32(nlh, IFA_LOCAL, addr);
    mnl_attr_put_u32(nlh, IFA_ADDRESS, addr);
    uint32_t bcast = addr | ~netaddr_mask(prefix);
    mnl_attr_put_u32(nlh, IFA_BROADCAST, bcast);
    return talk(nd, nlh, NULL, NULL);
}

int netdev_bridge_ensure(struct netdev *nd, const char *name, uint32_t addr,
                         unsigned prefix, int explicit_addr,
                         struct netdev_bridge *out, struct lvm_err *err)
{
    memset(out, 0, sizeof *out);
    /* Letters, digits, '-', '_' and '.', as ip-link users write them:
     * the kernel takes nearly any byte, but the name also names the
     * lease directory and shows up in every listing. */
    int ok =
        *name && strlen(name) < IF_NAMESIZE && name[0] != '.' && name[0] != '-';
    for (const char *p = name; ok && *p; p++)
        ok = isalnum((unsigned char)*p) || *p == '-' || *p == '_' || *p == '.';
    if (!ok)
        return lvm_err_invalid(err,
                               "bad bridge name '%s' (up to %d letters, "
                               "digits, '-', '_' and '.')",
                               name, IF_NAMESIZE - 1);
    snprintf(out->name, sizeof out->name, "%s", name);
    struct netdev_link l;
    struct lvm_err e2;
    if (netdev_link_get(nd, 0, name, &l, &e2) < 0) {
        if (e2.code != ENODEV) {
            *err = e2;
            return -1;
        }
        int r = bridge_create(nd, name);
        if (r < 0 && r != -EEXIST) /* EEXIST: another toolstack won */
            return lvm_err_set(err, -r, "create bridge %s", name);
        out->created = r == 0;
        if (netdev_link_get(nd, 0, name, &l, err) < 0)
            return -1;
        if (out->created && (r = setup_link(nd, l.ifindex, 0)) < 0)
            return lvm_err_set(err, -r, "set up bridge %s", name);
    }
    if (strcmp(l.kind, "bridge") != 0)
        return lvm_err_set(
            err, EEXIST, "network device %s exists and is not a bridge", name);
    out->ifindex = l.ifindex;
    /* Someone else's bridge (a host's br0, a container engine's) is
     * theirs to configure: giving it an address would route the host's
     * traffic for that subnet to guests, and bringing it up would join
     * whatever its ports are. */
    uint8_t ours[6];
    netaddr_bridge_mac(name, ours);
    out->foreign = memcmp(l.mac, ours, sizeof ours) != 0;
    uint32_t have = 0;
    unsigned have_prefix = 0;
    int r = addr_get(nd, l.ifindex, &have, &have_prefix);
    if (r < 0)
        return lvm_err_set(err, -r, "read the address of bridge %s", name);
    if (!have && out->foreign)
        return lvm_err_set(err, EADDRNOTAVAIL,
                           "bridge %s was not made by lightvm and has no "
                           "IPv4 address; lightvm does not configure other "
                           "bridges",
                           name);
    if (!(l.flags & IFF_UP) && out->foreign)
        return lvm_err_set(err, ENETDOWN,
                           "bridge %s was not made by lightvm and is down; "
                           "lightvm does not bring other bridges up",
                           name);
    if (!have && !addr)
        return lvm_err_set(err, EADDRNOTAVAIL,
                           "bridge %s needs a subnet and none of "
                           "10.214.0.0/16 to 10.255.0.0/16 is free; give "
                           "it one (subnet=CIDR)",
                           name);
    if (!have) {
        r = addr_add(nd, l.ifindex, addr, prefix);
        if (r < 0 && r != -EEXIST)
            return lvm_err_set(err, -r, "give bridge %s its address", name);
        r = addr_get(nd, l.ifindex, &have, &have_prefix);
        if (r < 0 || !have)
            return lvm_err_set(err, r < 0 ? -r : EADDRNOTAVAIL,
                               "read the address of bridge %s", name);
    } else if (explicit_addr && (have != addr || have_prefix != prefix)) {
        char a[16], b[16];
        return lvm_err_set(err, EEXIST,
                           "bridge %s already has address %s/%u, not %s/%u",
                           name, netaddr_ip4_str(have, a), have_prefix,
                           netaddr_ip4_str(addr, b), prefix);
    }
    if (have_prefix < 8 || have_prefix > 30) {
        char a[16];
        return lvm_err_invalid(err,
                               "bridge %s has address %s/%u: guests need a "
                               "prefix of 8 to 30",
                               name, netaddr_ip4_str(have, a), have_prefix);
    }
    out->addr = have;
    out->prefix = have_prefix;
    if (!(l.flags & IFF_UP) && (r = link_up(nd, l.ifindex)) < 0)
        return lvm_err_set(err, -r, "bring bridge %s up", name);
    return 0;
}

struct ip4_nets {
    void (*fn)(uint32_t net, unsigned prefix, void *ctx);
    void *ctx;
};

static int nets_addr_cb(const struct nlmsghdr *nlh, void *data)
{
    struct ip4_nets *w = data;
    const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
    if (nlh->nlmsg_type != RTM_NEWADDR || ifa->ifa_family != AF_INET)
        return MNL_CB_OK;
    uint32_t v = 0;
    mnl_attr_parse(nlh, sizeof *ifa, addr_attr, &v);
    if (v)
        w->fn(v & netaddr_mask(ifa->ifa_prefixlen), ifa->ifa_prefixlen, w->ctx);
    return MNL_CB_OK;
}

static int route_dst_attr(const struct nlattr *a, void *data)
{
    uint32_t *v = data;
    if (mnl_attr_get_type(a) == RTA_DST && mnl_attr_get_payload_len(a) == 4)
        memcpy(v, mnl_attr_get_payload(a), 4);
    return MNL_CB_OK;
}

static int nets_route_cb(const struct nlmsghdr *nlh, void *data)
{
    struct ip4_nets *w = data;
    const struct rtmsg *rt = mnl_nlmsg_get_payload(nlh);
    /* The default route covers everything and takes nothing from a
     * subnet of its own; the local table is the addresses again. Every
     * other table counts: a VPN's or a policy route's subnet (wg-quick
     * puts its routes in a table of their own) is in use too. */
    if (nlh->nlmsg_type != RTM_NEWROUTE || rt->rtm_family != AF_INET ||
        rt->rtm_table == RT_TABLE_LOCAL || rt->rtm_dst_len == 0)
        return MNL_CB_OK;
    uint32_t v = 0;
    mnl_attr_parse(nlh, sizeof *rt, route_dst_attr, &v);
    w->fn(v & netaddr_mask(rt->rtm_dst_len), rt->rtm_dst_len, w->ctx);
    return MNL_CB_OK;
}

int netdev_ip4_nets(struct netdev *nd,
                    void (*fn)(uint32_t net, unsigned prefix, void *ctx),
                    void *ctx, struct lvm_err *err)
{
    struct ip4_nets w = {fn, ctx};
    struct nlmsghdr *nlh = new_msg(nd, RTM_GETADDR, NLM_F_DUMP);
    struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof *ifa);
    ifa->ifa_family = AF_INET;
    int r = talk(nd, nlh, nets_addr_cb, &w);
    if (r < 0)
        return lvm_err_set(err, -r, "list the host's IPv4 addresses");
    nlh = new_msg(nd, RTM_GETROUTE, NLM_F_DUMP);
    struct rtmsg *rt = mnl_nlmsg_put_extra_header(nlh, sizeof *rt);
    rt->rtm_family = AF_INET;
    r = talk(nd, nlh, nets_route_cb, &w);
    if (r < 0)
        return lvm_err_set(err, -r, "list the host's IPv4 routes");
    return 0;
}

int netdev_bridge_delete(struct netdev *nd, const char *name,
                         struct lvm_err *err)
{
    struct netdev_link l;
    if (netdev_link_get(nd, 0, name, &l, err) < 0)
        return -1;
    if (strcmp(l.kind, "bridge") != 0)
        return lvm_err_invalid(err, "%s is not a bridge", name);
    return netdev_link_delete(nd, l.ifindex, err);
}

void netdev_neigh_forget(struct netdev *nd, int bridge_ifindex, uint32_t addr)
{
    struct nlmsghdr *nlh = new_msg(nd, RTM_DELNEIGH, 0);
    struct ndmsg *nd_m = mnl_nlmsg_put_extra_header(nlh, sizeof *nd_m);
    nd_m->ndm_family = AF_INET;
    nd_m->ndm_ifindex = bridge_ifindex;
    mnl_attr_put_u32(nlh, NDA_DST, addr);
    talk(nd, nlh, NULL, NULL); /* ENOENT: there was none */
}

/* ---- Taps ---------------------------------------------------------------- */

void netdev_tap_name(const char *id, unsigned nic, char name[IF_NAMESIZE])
{
    /* 12 hex digits of the id: lvt + 12 = 15 characters, IFNAMSIZ - 1.
     * Other NICs: 10 digits, 'n' and the NIC number; the 'n' (not a hex
     * digit) keeps them apart from every guest's first NIC, whatever
     * its id's 12th digit is. */
    if (nic == 0)
        snprintf(name, IF_NAMESIZE, NETDEV_TAP_PREFIX "%.12s", id);
    else
        snprintf(name, IF_NAMESIZE, NETDEV_TAP_PREFIX "%.10sn%x", id, nic & 15);
}

int netdev_tap_create(struct netdev *nd, const char *name, struct netdev_tap *t,
                      struct lvm_err *err)
{
    memset(t, 0, sizeof *t);
    t->fd = -1;
    if (!*name || strlen(name) >= IF_NAMESIZE)
        return lvm_err_invalid(err, "bad tap name '%s'", name);
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return lvm_err_set(err, errno, "open /dev/net/tun");
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
    /* Ethernet frames, no packet-information header: one read or write
     * is exactly one frame. IFF_TUN_EXCL: never attach to an existing
     * device of the same name (another guest's). */
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_TUN_EXCL;
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        int e = errno;
        close(fd);
        return lvm_err_set(err, e, "create tap %s", name);
    }
    t->fd = fd;
    snprintf(t->name, sizeof t->name, "%s", ifr.ifr_name);
    struct netdev_link l;
    if (netdev_link_get(nd, 0, t->name, &l, err) < 0) {
        close(fd);
        t->fd = -1;
        return -1;
    }
    t->ifindex = l.ifindex;
    return 0;
}

int netdev_tap_attach(struct netdev *nd, struct netdev_tap *t,
                      int bridge_ifindex, struct lvm_err *err)
{
    int r = setup_link(nd, t->ifindex, bridge_ifindex);
    if (r == 0)
        r = link_up(nd, t->ifindex);
    if (r < 0)
        return lvm_err_set(err, -r, "attach tap %s to the bridge", t->name);
    t->master = bridge_ifindex;
    return 0;
}

void netdev_tap_destroy(struct netdev *nd, struct netdev_tap *t)
{
    struct lvm_err ignore;
    if (t->ifindex > 0 && nd) {
        struct netdev_link l;
        /* Only if the index still names our tap (it is gone already if
         * the guest has exited and ours was the last fd). */
        if (netdev_link_get(nd, t->ifindex, NULL, &l, &ignore) == 0 &&
            strcmp(l.name, t->name) == 0)
            netdev_link_delete(nd, t->ifindex, &ignore);
    }
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
    t->ifindex = 0;
}

int netdev_sysctl(const char *path, const char *value, struct lvm_err *err)
{
    char full[256];
    snprintf(full, sizeof full, "/proc/sys/%s", path);
    int fd = open(full, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return lvm_err_set(err, errno, "open %s", full);
    size_t n = strlen(value);
    ssize_t w = write(fd, value, n);
    int e = errno;
    close(fd);
    if (w != (ssize_t)n)
        return lvm_err_set(err, w < 0 ? e : EIO, "write %s", full);
    return 0;
}
