/*
 * netguard.c: the anti-spoofing filter and the NAT chain, as nf_tables
 * objects built with libnftnl and sent in netlink batches (see
 * netguard.h).
 */
#include "toolstack/netguard.h"
#include "toolstack/netaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter_bridge.h>
#include <linux/netfilter_ipv4.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* nftables' data types, for `nft list` to print the sets legibly. */
#define TYPE_IPADDR 7
#define TYPE_ETHERADDR 9
#define TYPE_IFINDEX 20
#define CONCAT(a, b) ((a) << 6 | (b))

/* Sets. Keys are concatenations with each part padded to 4 bytes, as
 * nf_tables lays them out in its registers. */
#define SET_PORT "guest_port" /* ifindex: every guest tap */
#define SET_MAC "guest_mac"   /* ifindex . MAC */
#define SET_IP "guest_ip"     /* ifindex . IPv4 */
#define SET_DHCP "dhcp_port"  /* ifindex: guests held to their MAC only */
#define SET_FWD "fwd_port"    /* ifindex: forwarding NICs, any IPv4 source */
#define KEY_PORT 4
#define KEY_MAC 12
#define KEY_IP 8
#define CHAIN "guests"        /* what enters the bridge from a guest */
#define CHAIN_OUT "to_guests" /* what the bridge sends to a guest */

/* ---- Batches ------------------------------------------------------------- */

struct batch {
    struct netdev *nd;
    struct mnl_nlmsg_batch *b;
    struct nlmsghdr *last; /* the last message: it carries NLM_F_ACK */
};

static void batch_begin(struct batch *bt, struct netdev *nd)
{
    bt->nd = nd;
    bt->b = mnl_nlmsg_batch_start(netdev_buf(nd), NETDEV_BUF_SIZE);
    nftnl_batch_begin(mnl_nlmsg_batch_current(bt->b), netdev_seq(nd));
    mnl_nlmsg_batch_next(bt->b);
    bt->last = NULL;
}

static struct nlmsghdr *batch_msg(struct batch *bt, uint16_t type,
                                  uint16_t family, uint16_t flags)
{
    struct nlmsghdr *nlh =
        nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(bt->b), type, family,
                              flags, netdev_seq(bt->nd));
    bt->last = nlh;
    return nlh;
}

static void batch_next(struct batch *bt)
{
    mnl_nlmsg_batch_next(bt->b);
}

/*
 * Send the batch and wait for its outcome: the kernel applies all of it
 * or none, reports an error for each failing message and acknowledges
 * the last one. Returns 0 or the first negative errno.
 */
static int batch_commit(struct batch *bt, struct lvm_err *err)
{
    unsigned portid;
    struct mnl_socket *nl = netdev_nf_socket(bt->nd, &portid, err);
    if (!nl) {
        mnl_nlmsg_batch_stop(bt->b);
        return -EIO;
    }
    if (!bt->last) {
        mnl_nlmsg_batch_stop(bt->b);
        return 0;
    }
    bt->last->nlmsg_flags |= NLM_F_ACK;
    uint32_t last_seq = bt->last->nlmsg_seq;
    nftnl_batch_end(mnl_nlmsg_batch_current(bt->b), netdev_seq(bt->nd));
    mnl_nlmsg_batch_next(bt->b);
    ssize_t n = mnl_socket_sendto(nl, mnl_nlmsg_batch_head(bt->b),
                                  mnl_nlmsg_batch_size(bt->b));
    mnl_nlmsg_batch_stop(bt->b);
    if (n < 0)
        return -errno;
    int first = 0;
    char rbuf[8192];
    for (;;) {
        n = mnl_socket_recvfrom(nl, rbuf, sizeof rbuf);
        if (n < 0)
            return -errno;
        size_t len = (size_t)n;
        for (struct nlmsghdr *h = (struct nlmsghdr *)rbuf;
             mnl_nlmsg_ok(h, (int)len); h = mnl_nlmsg_next(h, (int *)&len)) {
            if (h->nlmsg_type != NLMSG_ERROR)
                continue;
            const struct nlmsgerr *e = mnl_nlmsg_get_payload(h);
            if (e->error && !first)
                first = e->error;
            if (h->nlmsg_seq == last_seq)
                return first;
        }
    }
}

/* A single request (not a batch) with a reply callback; 0 or -errno. */
static int request(struct netdev *nd, struct nlmsghdr *nlh, mnl_cb_t cb,
                   void *data, struct lvm_err *err)
{
    unsigned portid;
    struct mnl_socket *nl = netdev_nf_socket(nd, &portid, err);
    if (!nl)
        return -EIO;
    uint32_t seq = nlh->nlmsg_seq;
    nlh->nlmsg_flags |= NLM_F_ACK;
    if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
        return -errno;
    char rbuf[NETDEV_BUF_SIZE];
    for (;;) {
        ssize_t n = mnl_socket_recvfrom(nl, rbuf, sizeof rbuf);
        if (n < 0)
            return -errno;
        int r = mnl_cb_run(rbuf, (size_t)n, seq, portid, cb, data);
        if (r < 0)
            return -errno;
        if (r == MNL_CB_STOP)
            return 0;
    }
}

/* ---- Rule building ------------------------------------------------------- */

static int add_expr(struct nftnl_rule *r, struct nftnl_expr *e)
{
    if (!e)
        return -1;
    nftnl_rule_add_expr(r, e);
    return 0;
}

static struct nftnl_expr *meta(uint32_t key, uint32_t dreg)
{
    struct nftnl_expr *e = nftnl_expr_alloc("meta");
    if (e) {
        nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
        nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
    }
    return e;
}

static struct nftnl_expr *payload(uint32_t base, uint32_t off, uint32_t len,
                                  uint32_t dreg)
{
    struct nftnl_expr *e = nftnl_expr_alloc("payload");
    if (e) {
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
    }
    return e;
}

static struct nftnl_expr *cmp(uint32_t op, const void *data, uint32_t len)
{
    struct nftnl_expr *e = nftnl_expr_alloc("cmp");
    if (e) {
        nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
        nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
    }
    return e;
}

static struct nftnl_expr *lookup(const char *set, uint32_t set_id, int invert)
{
    struct nftnl_expr *e = nftnl_expr_alloc("lookup");
    if (e) {
        nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
        nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
        nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, set_id);
        if (invert)
            nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
    }
    return e;
}

static struct nftnl_expr *verdict(int v)
{
    struct nftnl_expr *e = nftnl_expr_alloc("immediate");
    if (e) {
        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)v);
    }
    return e;
}

/* Set ids tie the rules' lookups to the sets made in the same batch. */
enum { ID_PORT = 1, ID_MAC, ID_IP, ID_DHCP, ID_FWD };

static int put_set(struct batch *bt, const char *name, uint32_t id,
                   uint32_t key_len, uint32_t key_type)
{
    struct nftnl_set *s = nftnl_set_alloc();
    if (!s)
        return -1;
    nftnl_set_set_str(s, NFTNL_SET_TABLE, NETGUARD_TABLE);
    nftnl_set_set_str(s, NFTNL_SET_NAME, name);
    nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_BRIDGE);
    nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, key_len);
    nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, key_type);
    nftnl_set_set_u32(s, NFTNL_SET_ID, id);
    nftnl_set_set_u32(s, NFTNL_SET_FLAGS, 0);
    /* Tell nft the keys are in host byte order (an ifindex), for listing. */
    struct nftnl_udata_buf *ud = nftnl_udata_buf_alloc(64);
    if (ud) {
        nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_KEYBYTEORDER, 1);
        nftnl_set_set_data(s, NFTNL_SET_USERDATA, nftnl_udata_buf_data(ud),
                           nftnl_udata_buf_len(ud));
        nftnl_udata_buf_free(ud);
    }
    struct nlmsghdr *nlh = batch_msg(bt, NFT_MSG_NEWSET, NFPROTO_BRIDGE,
                                     NLM_F_CREATE | NLM_F_EXCL);
    nftnl_set_nlmsg_build_payload(nlh, s);
    nftnl_set_free(s);
    batch_next(bt);
    return 0;
}

/* One rule of (chain) from (n) expressions, appended or, without
 * NLM_F_APPEND in (flags), prepended. */
static int put_rule_flags(struct batch *bt, const char *chain,
                          struct nftnl_expr **ex, int n, uint16_t flags)
{
    struct nftnl_rule *r = nftnl_rule_alloc();
    int bad = !r;
    for (int i = 0; i < n; i++) {
        if (bad || add_expr(r, ex[i]) < 0) {
            bad = 1;
            if (ex[i])
                nftnl_expr_free(ex[i]);
        }
    }
    if (bad) {
        if (r)
            nftnl_rule_free(r);
        return -1;
    }
    nftnl_rule_set_str(r, NFTNL_RULE_TABLE, NETGUARD_TABLE);
    nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
    nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_BRIDGE);
    struct nlmsghdr *nlh =
        batch_msg(bt, NFT_MSG_NEWRULE, NFPROTO_BRIDGE, flags);
    nftnl_rule_nlmsg_build_payload(nlh, r);
    nftnl_rule_free(r);
    batch_next(bt);
    return 0;
}

static int put_rule(struct batch *bt, const char *chain, struct nftnl_expr **ex,
                    int n)
{
    return put_rule_flags(bt, chain, ex, n, NLM_F_CREATE | NLM_F_APPEND);
}

#define RULE(bt, ...)                                                          \
    put_rule(bt, CHAIN, (struct nftnl_expr *[]){__VA_ARGS__},                  \
             (int)(sizeof((struct nftnl_expr *[]){__VA_ARGS__}) /              \
                   sizeof(struct nftnl_expr *)))
#define RULE_OUT(bt, ...)                                                      \
    put_rule(bt, CHAIN_OUT, (struct nftnl_expr *[]){__VA_ARGS__},              \
             (int)(sizeof((struct nftnl_expr *[]){__VA_ARGS__}) /              \
                   sizeof(struct nftnl_expr *)))

/*
 * A forwarding NIC: IPv4 from any source address, as long as the frame
 * carries the NIC's own MAC. The rule checks the MAC itself, so it is
 * right wherever it stands in the chain (a table made before it existed
 * gets it prepended). ARP is not widened: the ARP rule still holds a
 * forwarding guest to its own address.
 */
static int put_rule_forward(struct batch *bt, int append)
{
    const uint16_t ip = htons(0x0800);
    struct nftnl_expr *ex[] = {
        payload(NFT_PAYLOAD_LL_HEADER, 12, 2, NFT_REG_1),
        cmp(NFT_CMP_EQ, &ip, 2),
        meta(NFT_META_IIF, NFT_REG_1),
        payload(NFT_PAYLOAD_LL_HEADER, 6, 6, NFT_REG32_01),
        lookup(SET_MAC, ID_MAC, 0),
        meta(NFT_META_IIF, NFT_REG_1),
        lookup(SET_FWD, ID_FWD, 0),
        verdict(NF_ACCEPT)};
    int n = (int)(sizeof ex / sizeof ex[0]);
    return put_rule_flags(bt, CHAIN, ex, n,
                          append ? NLM_F_CREATE | NLM_F_APPEND : NLM_F_CREATE);
}

/* Registers: the ifindex goes in the first 32-bit register of NFT_REG_1,
 * the second part of a concatenation in the next one (NFT_REG32_01). */
static int put_rules(struct batch *bt)
{
    const uint16_t ip = htons(0x0800), arp = htons(0x0806);
    /* ARP for IPv4 over Ethernet: htype 1, ptype 0x0800, hlen 6, plen 4. */
    const uint8_t arp_eth_ip[6] = {0, 1, 8, 0, 6, 4};

    /* Not from a guest: not ours to judge. */
    if (RULE(bt, meta(NFT_META_IIF, NFT_REG_1), lookup(SET_PORT, ID_PORT, 1),
             verdict(NFT_RETURN)) < 0)
        return -1;
    /* From a guest, with a MAC that is not its own. */
    if (RULE(bt, meta(NFT_META_IIF, NFT_REG_1),
             payload(NFT_PAYLOAD_LL_HEADER, 6, 6, NFT_REG32_01),
             lookup(SET_MAC, ID_MAC, 1), verdict(NF_DROP)) < 0)
        return -1;
    /* A DHCP guest: its MAC is all that is known. */
    if (RULE(bt, meta(NFT_META_IIF, NFT_REG_1), lookup(SET_DHCP, ID_DHCP, 0),
             verdict(NF_ACCEPT)) < 0)
        return -1;
    /* IPv4 from its own address. */
    if (RULE(bt, payload(NFT_PAYLOAD_LL_HEADER, 12, 2, NFT_REG_1),
             cmp(NFT_CMP_EQ, &ip, 2), meta(NFT_META_IIF, NFT_REG_1),
             payload(NFT_PAYLOAD_NETWORK_HEADER, 12, 4, NFT_REG32_01),
             lookup(SET_IP, ID_IP, 0), verdict(NF_ACCEPT)) < 0)
        return -1;
    /* ARP claiming its own address and MAC. */
    if (RULE(bt, payload(NFT_PAYLOAD_LL_HEADER, 12, 2, NFT_REG_1),
             cmp(NFT_CMP_EQ, &arp, 2),
             payload(NFT_PAYLOAD_NETWORK_HEADER, 0, 6, NFT_REG_1),
             cmp(NFT_CMP_EQ, arp_eth_ip, 6), meta(NFT_META_IIF, NFT_REG_1),
             payload(NFT_PAYLOAD_NETWORK_HEADER, 14, 4, NFT_REG32_01),
             lookup(SET_IP, ID_IP, 0), meta(NFT_META_IIF, NFT_REG_1),
             payload(NFT_PAYLOAD_NETWORK_HEADER, 8, 6, NFT_REG32_01),
             lookup(SET_MAC, ID_MAC, 0), verdict(NF_ACCEPT)) < 0)
        return -1;
    if (put_rule_forward(bt, 1) < 0)
        return -1;
    /* Anything else from a guest: IPv6, VLAN tags, other EtherTypes. */
    return RULE(bt, verdict(NF_DROP));
}

/*
 * What the bridge floods to guests: an ARP request reaches only the guest
 * whose address it asks for. A bridge floods every broadcast to every
 * port, so without this each new guest (the host asks for its MAC, it
 * announces itself) would wake every other guest: the cost of creating a
 * guest would grow with the number running.
 */
static int put_rules_out(struct batch *bt)
{
    const uint16_t arp = htons(0x0806), request = htons(1);
    /* Not to a guest, or to a DHCP guest (its address is not known). */
    if (RULE_OUT(bt, meta(NFT_META_OIF, NFT_REG_1),
                 lookup(SET_PORT, ID_PORT, 1), verdict(NFT_RETURN)) < 0 ||
        RULE_OUT(bt, meta(NFT_META_OIF, NFT_REG_1),
                 lookup(SET_DHCP, ID_DHCP, 0), verdict(NFT_RETURN)) < 0)
        return -1;
    /* An ARP request for an address that is not this guest's. */
    return RULE_OUT(bt, payload(NFT_PAYLOAD_LL_HEADER, 12, 2, NFT_REG_1),
                    cmp(NFT_CMP_EQ, &arp, 2),
                    payload(NFT_PAYLOAD_NETWORK_HEADER, 6, 2, NFT_REG_1),
                    cmp(NFT_CMP_EQ, &request, 2), meta(NFT_META_OIF, NFT_REG_1),
                    payload(NFT_PAYLOAD_NETWORK_HEADER, 24, 4, NFT_REG32_01),
                    lookup(SET_IP, ID_IP, 1), verdict(NF_DROP));
}

/* ---- The guard table ----------------------------------------------------- */

static int table_exists(struct netdev *nd, uint16_t family, const char *name,
                        struct lvm_err *err)
{
    struct nftnl_table *t = nftnl_table_alloc();
    if (!t)
        return -ENOMEM;
    nftnl_table_set_str(t, NFTNL_TABLE_NAME, name);
    struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(
        netdev_buf(nd), NFT_MSG_GETTABLE, family, 0, netdev_seq(nd));
    nftnl_table_nlmsg_build_payload(nlh, t);
    nftnl_table_free(t);
    int r = request(nd, nlh, NULL, NULL, err);
    return r == 0 ? 1 : r == -ENOENT ? 0 : r;
}

static int put_table(struct batch *bt, uint16_t family, const char *name)
{
    struct nftnl_table *t = nftnl_table_alloc();
    if (!t)
        return -1;
    nftnl_table_set_str(t, NFTNL_TABLE_NAME, name);
    nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, family);
    struct nlmsghdr *nlh =
        batch_msg(bt, NFT_MSG_NEWTABLE, family, NLM_F_CREATE | NLM_F_EXCL);
    nftnl_table_nlmsg_build_payload(nlh, t);
    nftnl_table_free(t);
    batch_next(bt);
    return 0;
}

static int put_base_chain(struct batch *bt, uint16_t family, const char *table,
                          const char *name, const char *type, uint32_t hook,
                          int32_t prio)
{
    struct nftnl_chain *c = nftnl_chain_alloc();
    if (!c)
        return -1;
    nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, table);
    nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
    nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, type);
    nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, family);
    nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, hook);
    nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, prio);
    nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
    struct nlmsghdr *nlh =
        batch_msg(bt, NFT_MSG_NEWCHAIN, family, NLM_F_CREATE | NLM_F_EXCL);
    nftnl_chain_nlmsg_build_payload(nlh, c);
    nftnl_chain_free(c);
    batch_next(bt);
    return 0;
}

/* 1 if the guard table has set (name), 0 if not, or -errno. */
static int set_exists(struct netdev *nd, const char *name, struct lvm_err *err)
{
    struct nftnl_set *st = nftnl_set_alloc();
    if (!st)
        return -ENOMEM;
    nftnl_set_set_str(st, NFTNL_SET_TABLE, NETGUARD_TABLE);
    nftnl_set_set_str(st, NFTNL_SET_NAME, name);
    struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(
        netdev_buf(nd), NFT_MSG_GETSET, NFPROTO_BRIDGE, 0, netdev_seq(nd));
    nftnl_set_nlmsg_build_payload(nlh, st);
    nftnl_set_free(st);
    int r = request(nd, nlh, NULL, NULL, err);
    return r == 0 ? 1 : r == -ENOENT ? 0 : r;
}

/* A table made by a lightvm without forwarding NICs: add their set and
 * rule (one transaction; EEXIST means another toolstack just did). */
static int upgrade_forward(struct netdev *nd, struct lvm_err *err)
{
    int r = set_exists(nd, SET_FWD, err);
    if (r == 1)
        return 0;
    if (r < 0)
        return lvm_err_set(err, -r, "look for nftables set %s", SET_FWD);
    struct batch bt;
    batch_begin(&bt, nd);
    if (put_set(&bt, SET_FWD, ID_FWD, KEY_PORT, TYPE_IFINDEX) < 0 ||
        put_rule_forward(&bt, 0) < 0) {
        mnl_nlmsg_batch_stop(bt.b);
        return lvm_err_set(err, ENOMEM, "build the forwarding rule");
    }
    r = batch_commit(&bt, err);
    if (r < 0 && r != -EEXIST)
        return lvm_err_set(err, -r,
                           "add forwarding to nftables table bridge %s",
                           NETGUARD_TABLE);
    return 0;
}

int netguard_ensure(struct netdev *nd, struct lvm_err *err)
{
    int r = table_exists(nd, NFPROTO_BRIDGE, NETGUARD_TABLE, err);
    if (r == 1)
        return upgrade_forward(nd, err);
    if (r < 0)
        return lvm_err_set(err, -r, "look for nftables table bridge %s",
                           NETGUARD_TABLE);
    struct batch bt;
    batch_begin(&bt, nd);
    if (put_table(&bt, NFPROTO_BRIDGE, NETGUARD_TABLE) < 0 ||
        put_set(&bt, SET_PORT, ID_PORT, KEY_PORT, TYPE_IFINDEX) < 0 ||
        put_set(&bt, SET_MAC, ID_MAC, KEY_MAC,
                CONCAT(TYPE_IFINDEX, TYPE_ETHERADDR)) < 0 ||
        put_set(&bt, SET_IP, ID_IP, KEY_IP, CONCAT(TYPE_IFINDEX, TYPE_IPADDR)) <
            0 ||
        put_set(&bt, SET_DHCP, ID_DHCP, KEY_PORT, TYPE_IFINDEX) < 0 ||
        put_set(&bt, SET_FWD, ID_FWD, KEY_PORT, TYPE_IFINDEX) < 0 ||
        /* Before the bridge's own filter priority: nothing else sees a
         * spoofed frame first. */
        put_base_chain(&bt, NFPROTO_BRIDGE, NETGUARD_TABLE, CHAIN, "filter",
                       NF_BR_PRE_ROUTING, NF_BR_PRI_FILTER_BRIDGED - 1) < 0 ||
        put_base_chain(&bt, NFPROTO_BRIDGE, NETGUARD_TABLE, CHAIN_OUT, "filter",
                       NF_BR_POST_ROUTING, NF_BR_PRI_FILTER_BRIDGED - 1) < 0 ||
        put_rules(&bt) < 0 || put_rules_out(&bt) < 0) {
        mnl_nlmsg_batch_stop(bt.b);
        return lvm_err_set(err, ENOMEM, "build the nftables guard table");
    }
    r = batch_commit(&bt, err);
    if (r == -EEXIST) /* another toolstack made it meanwhile */
        return 0;
    if (r < 0)
        return lvm_err_set(err, -r, "create nftables table bridge %s",
                           NETGUARD_TABLE);
    return 0;
}

/* ---- Elements ------------------------------------------------------------ */

struct elem {
    const char *set;
    uint8_t key[KEY_MAC];
    uint32_t len;
};

static void put_elem(struct batch *bt, uint16_t type, uint16_t flags,
                     const struct elem *el)
{
    struct nftnl_set *s = nftnl_set_alloc();
    struct nftnl_set_elem *e = nftnl_set_elem_alloc();
    if (!s || !e) {
        if (s)
            nftnl_set_free(s);
        if (e)
            nftnl_set_elem_free(e);
        return;
    }
    nftnl_set_set_str(s, NFTNL_SET_TABLE, NETGUARD_TABLE);
    nftnl_set_set_str(s, NFTNL_SET_NAME, el->set);
    nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_BRIDGE);
    nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, el->key, el->len);
    nftnl_set_elem_add(s, e);
    struct nlmsghdr *nlh = batch_msg(bt, type, NFPROTO_BRIDGE, flags);
    nftnl_set_elems_nlmsg_build_payload(nlh, s);
    nftnl_set_free(s);
    batch_next(bt);
}

/* The elements describing tap (ifindex) with (mac) and (addr). */
static int guest_elems(int ifindex, const uint8_t mac[6], uint32_t addr,
                       struct elem el[3])
{
    uint32_t idx = (uint32_t)ifindex; /* host byte order, like meta iif */
    memset(el, 0, 3 * sizeof *el);
    el[0].set = SET_PORT;
    memcpy(el[0].key, &idx, 4);
    el[0].len = KEY_PORT;
    el[1].set = SET_MAC;
    memcpy(el[1].key, &idx, 4);
    memcpy(el[1].key + 4, mac, 6);
    el[1].len = KEY_MAC;
    el[2].len = addr ? KEY_IP : KEY_PORT;
    el[2].set = addr ? SET_IP : SET_DHCP;
    memcpy(el[2].key, &idx, 4);
    if (addr)
        memcpy(el[2].key + 4, &addr, 4);
    return 3;
}

/* Add (n) elements in one transaction: they appear together (the port
 * element too, so until then the tap's frames are not a guest's). */
static int add_elems(struct netdev *nd, const struct elem *el, int n,
                     struct lvm_err *err)
{
    struct batch bt;
    batch_begin(&bt, nd);
    for (int i = 0; i < n; i++)
        put_elem(&bt, NFT_MSG_NEWSETELEM, NLM_F_CREATE, &el[i]);
    return batch_commit(&bt, err);
}

int netguard_allow(struct netdev *nd, int ifindex, const uint8_t mac[6],
                   uint32_t addr, struct lvm_err *err)
{
    struct elem el[3];
    int n = guest_elems(ifindex, mac, addr, el);
    int r = add_elems(nd, el, n, err);
    if (r < 0)
        return lvm_err_set(err, -r,
                           "allow the guest's addresses in nftables table "
                           "bridge %s",
                           NETGUARD_TABLE);
    return 0;
}

int netguard_revoke(struct netdev *nd, int ifindex, const uint8_t mac[6],
                    uint32_t addr, struct lvm_err *err)
{
    struct elem el[3];
    int n = guest_elems(ifindex, mac, addr, el);
    struct batch bt;
    batch_begin(&bt, nd);
    for (int i = 0; i < n; i++)
        put_elem(&bt, NFT_MSG_DELSETELEM, 0, &el[i]);
    int r = batch_commit(&bt, err);
    if (r != -ENOENT)
        goto done;
    /* Some were already gone (a sweep ran): remove the rest one by one. */
    r = 0;
    for (int i = 0; i < n && r == 0; i++) {
        batch_begin(&bt, nd);
        put_elem(&bt, NFT_MSG_DELSETELEM, 0, &el[i]);
        r = batch_commit(&bt, err);
        if (r == -ENOENT)
            r = 0;
    }
done:
    if (r < 0)
        return lvm_err_set(err, -r,
                           "remove a guest from nftables table "
                           "bridge %s",
                           NETGUARD_TABLE);
    return 0;
}

/* The port element of (ifindex) in the forwarding set. */
static void fwd_elem(int ifindex, struct elem *el)
{
    uint32_t idx = (uint32_t)ifindex;
    memset(el, 0, sizeof *el);
    el->set = SET_FWD;
    memcpy(el->key, &idx, 4);
    el->len = KEY_PORT;
}

int netguard_allow_forward(struct netdev *nd, int ifindex, const uint8_t mac[6],
                           uint32_t addr, struct lvm_err *err)
{
    struct elem el[4];
    int n = guest_elems(ifindex, mac, addr, el);
    fwd_elem(ifindex, &el[n++]);
    int r = add_elems(nd, el, n, err);
    if (r < 0)
        return lvm_err_set(err, -r,
                           "allow a forwarding guest in nftables table "
                           "bridge %s",
                           NETGUARD_TABLE);
    return 0;
}

int netguard_revoke_forward(struct netdev *nd, int ifindex, struct lvm_err *err)
{
    struct elem el;
    fwd_elem(ifindex, &el);
    struct batch bt;
    batch_begin(&bt, nd);
    put_elem(&bt, NFT_MSG_DELSETELEM, 0, &el);
    int r = batch_commit(&bt, err);
    if (r < 0 && r != -ENOENT)
        return lvm_err_set(err, -r, "remove a forwarding guest from %s",
                           SET_FWD);
    return 0;
}

/* ---- Sweep --------------------------------------------------------------- */

struct sweep_ctx {
    struct nftnl_set *s;
};

static int elems_cb(const struct nlmsghdr *nlh, void *data)
{
    struct sweep_ctx *c = data;
    nftnl_set_elems_nlmsg_parse(nlh, c->s);
    return MNL_CB_OK;
}

static int sweep_set(struct netdev *nd, const char *set, unsigned *removed,
                     struct lvm_err *err)
{
    struct sweep_ctx c = {nftnl_set_alloc()};
    if (!c.s)
        return lvm_err_set(err, ENOMEM, "allocate a set");
    nftnl_set_set_str(c.s, NFTNL_SET_TABLE, NETGUARD_TABLE);
    nftnl_set_set_str(c.s, NFTNL_SET_NAME, set);
    nftnl_set_set_u32(c.s, NFTNL_SET_FAMILY, NFPROTO_BRIDGE);
    struct nlmsghdr *nlh =
        nftnl_nlmsg_build_hdr(netdev_buf(nd), NFT_MSG_GETSETELEM,
                              NFPROTO_BRIDGE, NLM_F_DUMP, netdev_seq(nd));
    nftnl_set_elems_nlmsg_build_payload(nlh, c.s);
    int r = request(nd, nlh, elems_cb, &c, err);
    if (r == -ENOENT) { /* a table made before the set existed (fwd_port):
                           nothing in it to sweep */
        nftnl_set_free(c.s);
        return 0;
    }
    if (r < 0) {
        nftnl_set_free(c.s);
        return lvm_err_set(err, -r, "list nftables set %s", set);
    }
    /* Collect the stale keys first: the buffer is shared with batches. */
    struct elem *stale = NULL;
    size_t nstale = 0;
    struct nftnl_set_elems_iter *it = nftnl_set_elems_iter_create(c.s);
    struct nftnl_set_elem *e;
    while (it && (e = nftnl_set_elems_iter_next(it))) {
        uint32_t len = 0;
        const void *key = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);
        if (!key || len < 4 || len > KEY_MAC)
            continue;
        uint32_t idx;
        memcpy(&idx, key, 4);
        struct netdev_link l;
        struct lvm_err ignore;
        if (netdev_link_get(nd, (int)idx, NULL, &l, &ignore) == 0 ||
            ignore.code != ENODEV)
            continue;
        struct elem *ns = realloc(stale, (nstale + 1) * sizeof *ns);
        if (!ns)
            break;
        stale = ns;
        memset(&stale[nstale], 0, sizeof *stale);
        stale[nstale].set = set;
        memcpy(stale[nstale].key, key, len);
        stale[nstale].len = len;
        nstale++;
    }
    if (it)
        nftnl_set_elems_iter_destroy(it);
    nftnl_set_free(c.s);
    r = 0;
    for (size_t i = 0; i < nstale; i++) {
        struct batch bt;
        batch_begin(&bt, nd);
        put_elem(&bt, NFT_MSG_DELSETELEM, 0, &stale[i]);
        int rr = batch_commit(&bt, err);
        if (rr == 0)
            (*removed)++;
        else if (rr != -ENOENT && !r)
            r = rr;
    }
    free(stale);
    if (r < 0)
        return lvm_err_set(err, -r, "remove stale elements of %s", set);
    return 0;
}

int netguard_sweep(struct netdev *nd, unsigned *removed, struct lvm_err *err)
{
    *removed = 0;
    int r = table_exists(nd, NFPROTO_BRIDGE, NETGUARD_TABLE, err);
    if (r <= 0)
        return r < 0 ? lvm_err_set(err, -r, "look for nftables table") : 0;
    const char *sets[] = {SET_PORT, SET_MAC, SET_IP, SET_DHCP, SET_FWD};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        if (sweep_set(nd, sets[i], removed, err) < 0)
            return -1;
    return 0;
}

static int delete_table(struct netdev *nd, uint16_t family, const char *name,
                        struct lvm_err *err)
{
    struct nftnl_table *t = nftnl_table_alloc();
    if (!t)
        return lvm_err_set(err, ENOMEM, "allocate a table");
    nftnl_table_set_str(t, NFTNL_TABLE_NAME, name);
    nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, family);
    struct batch bt;
    batch_begin(&bt, nd);
    struct nlmsghdr *nlh = batch_msg(&bt, NFT_MSG_DELTABLE, family, 0);
    nftnl_table_nlmsg_build_payload(nlh, t);
    nftnl_table_free(t);
    batch_next(&bt);
    int r = batch_commit(&bt, err);
    if (r < 0 && r != -ENOENT)
        return lvm_err_set(err, -r, "delete nftables table %s", name);
    return 0;
}

int netguard_remove(struct netdev *nd, struct lvm_err *err)
{
    return delete_table(nd, NFPROTO_BRIDGE, NETGUARD_TABLE, err);
}

/* ---- NAT ----------------------------------------------------------------- */

static void nat_chain_name(const char *bridge, char name[32])
{
    snprintf(name, 32, "post-%s", bridge);
}

int netnat_enable(struct netdev *nd, const char *bridge, uint32_t net,
                  unsigned prefix, struct lvm_err *err)
{
    char chain[32];
    nat_chain_name(bridge, chain);
    int have = table_exists(nd, NFPROTO_IPV4, NETGUARD_NAT_TABLE, err);
    if (have < 0)
        return lvm_err_set(err, -have, "look for nftables table ip %s",
                           NETGUARD_NAT_TABLE);
    uint32_t mask = netaddr_mask(prefix), subnet = net & mask, zero = 0;
    char ifname[IF_NAMESIZE] = {0};
    snprintf(ifname, sizeof ifname, "%s", bridge);

    struct batch bt;
    batch_begin(&bt, nd);
    int bad =
        (!have && put_table(&bt, NFPROTO_IPV4, NETGUARD_NAT_TABLE) < 0) ||
        put_base_chain(&bt, NFPROTO_IPV4, NETGUARD_NAT_TABLE, chain, "nat",
                       NF_INET_POST_ROUTING, NF_IP_PRI_NAT_SRC) < 0;
    struct nftnl_rule *r = bad ? NULL : nftnl_rule_alloc();
    struct nftnl_expr *bw = nftnl_expr_alloc("bitwise");
    struct nftnl_expr *masq = nftnl_expr_alloc("masq");
    if (!r || !bw || !masq) {
        if (r)
            nftnl_rule_free(r);
        if (bw)
            nftnl_expr_free(bw);
        if (masq)
            nftnl_expr_free(masq);
        mnl_nlmsg_batch_stop(bt.b);
        return lvm_err_set(err, ENOMEM, "build the NAT rule");
    }
    /* ip saddr & mask == subnet, oifname != bridge: masquerade. */
    nftnl_expr_set_u32(bw, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
    nftnl_expr_set_u32(bw, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
    nftnl_expr_set_u32(bw, NFTNL_EXPR_BITWISE_LEN, 4);
    nftnl_expr_set(bw, NFTNL_EXPR_BITWISE_MASK, &mask, 4);
    nftnl_expr_set(bw, NFTNL_EXPR_BITWISE_XOR, &zero, 4);
    struct nftnl_expr *ex[] = {
        payload(NFT_PAYLOAD_NETWORK_HEADER, 12, 4, NFT_REG_1),
        bw,
        cmp(NFT_CMP_EQ, &subnet, 4),
        meta(NFT_META_OIFNAME, NFT_REG_1),
        cmp(NFT_CMP_NEQ, ifname, IF_NAMESIZE),
        masq};
    for (size_t i = 0; i < sizeof ex / sizeof ex[0]; i++) {
        if (!ex[i])
            bad = 1;
        else
            nftnl_rule_add_expr(r, ex[i]);
    }
    nftnl_rule_set_str(r, NFTNL_RULE_TABLE, NETGUARD_NAT_TABLE);
    nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
    nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_IPV4);
    if (!bad) {
        struct nlmsghdr *nlh = batch_msg(&bt, NFT_MSG_NEWRULE, NFPROTO_IPV4,
                                         NLM_F_CREATE | NLM_F_APPEND);
        nftnl_rule_nlmsg_build_payload(nlh, r);
        batch_next(&bt);
    }
    nftnl_rule_free(r);
    if (bad) {
        mnl_nlmsg_batch_stop(bt.b);
        return lvm_err_set(err, ENOMEM, "build the NAT rule");
    }
    int rc = batch_commit(&bt, err);
    if (rc < 0 && rc != -EEXIST) /* EEXIST: NAT is on for this bridge */
        return lvm_err_set(err, -rc, "create the NAT chain for %s", bridge);
    /* Forwarding, for this namespace only. */
    return netdev_sysctl("net/ipv4/ip_forward", "1", err);
}

int netnat_disable(struct netdev *nd, const char *bridge, struct lvm_err *err)
{
    char chain[32];
    nat_chain_name(bridge, chain);
    struct nftnl_chain *c = nftnl_chain_alloc();
    if (!c)
        return lvm_err_set(err, ENOMEM, "allocate a chain");
    nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, NETGUARD_NAT_TABLE);
    nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, chain);
    nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_IPV4);
    struct batch bt;
    batch_begin(&bt, nd);
    /* A chain must be empty to go: flush its rules, then delete it. */
    struct nftnl_rule *r = nftnl_rule_alloc();
    if (r) {
        nftnl_rule_set_str(r, NFTNL_RULE_TABLE, NETGUARD_NAT_TABLE);
        nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
        nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_IPV4);
        struct nlmsghdr *nlh = batch_msg(&bt, NFT_MSG_DELRULE, NFPROTO_IPV4, 0);
        nftnl_rule_nlmsg_build_payload(nlh, r);
        nftnl_rule_free(r);
        batch_next(&bt);
    }
    struct nlmsghdr *nlh = batch_msg(&bt, NFT_MSG_DELCHAIN, NFPROTO_IPV4, 0);
    nftnl_chain_nlmsg_build_payload(nlh, c);
    nftnl_chain_free(c);
    batch_next(&bt);
    int rc = batch_commit(&bt, err);
    if (rc < 0 && rc != -ENOENT)
        return lvm_err_set(err, -rc, "remove the NAT chain for %s", bridge);
    return 0;
}
