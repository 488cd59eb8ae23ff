/*
 * vm_net.c: guests' NICs in the daemon, for every monitor (the host side
 * is toolstack/nic.c; see docs/network.md).
 *
 * The daemon keeps one netlink session for its main thread (the pool
 * thread has its own) and remembers each bridge it has made sure of, so a
 * create with a NIC costs a tap (or none, when a network class of the
 * pool had one ready), a lease and a filter entry, never a bridge lookup.
 * Each guest's NICs are recorded in its config.json, so a restarted
 * daemon releases an adopted guest's lease and filter entry when it goes.
 */
#include "daemon/daemon.h"
#include "toolstack/netaddr.h"
#include "toolstack/netguard.h"
#include "toolstack/netsubnet.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int session(struct daemon *d, struct lvm_err *err)
{
    return d->nd || netdev_open(&d->nd, err) == 0 ? 0 : -1;
}

/* The cached bridge named (name), or NULL. */
static struct daemon_bridge *cached(struct daemon *d, const char *name)
{
    for (unsigned i = 0; i < d->nbridges; i++)
        if (!strcmp(d->bridges[i].br.name, name))
            return &d->bridges[i];
    return NULL;
}

void vm_net_forget_bridge(struct daemon *d, const char *name)
{
    struct daemon_bridge *b = cached(d, name[0] ? name : NETDEV_BRIDGE_DEFAULT);
    if (b)
        *b = d->bridges[--d->nbridges];
}

int vm_net_spec(struct daemon *d, const struct request *r,
                struct guest_net_spec *ns, struct lvm_err *err)
{
    *ns = r->net;
    if (!ns->enabled)
        return 0;
    ns->run_dir = d->run_dir;
    if (session(d, err) < 0)
        return -1;
    ns->nd = d->nd;
    const char *name = ns->bridge[0] ? ns->bridge : NETDEV_BRIDGE_DEFAULT;
    struct daemon_bridge *b = cached(d, name);
    if (b && ns->bridge_addr &&
        (b->br.addr != ns->bridge_addr || b->br.prefix != ns->prefix))
        return lvm_err_set(err, EEXIST, "bridge %s exists with another subnet",
                           name);
    if (!b) {
        if (d->nbridges == DAEMON_MAX_BRIDGES)
            return lvm_err_set(err, ENOSPC, "at most %d bridges",
                               DAEMON_MAX_BRIDGES);
        uint32_t addr = ns->bridge_addr;
        unsigned prefix = ns->prefix;
        struct daemon_bridge nb = {0};
        if (!addr && strcmp(name, NETDEV_BRIDGE_DEFAULT) != 0) {
            /* Another bridge given no subnet: a free one (netsubnet.h). */
            if (netsubnet_bridge_ensure(d->nd, name, &nb.br, err) < 0)
                return -1;
        } else {
            if (!addr && netaddr_parse_cidr(NETDEV_SUBNET_DEFAULT, &addr,
                                            &prefix, err) < 0)
                return -1;
            if (netdev_bridge_ensure(d->nd, name, addr, prefix,
                                     ns->bridge_addr != 0, &nb.br, err) < 0)
                return -1;
        }
        d->bridges[d->nbridges++] = nb;
        b = &d->bridges[d->nbridges - 1];
    }
    if (ns->nat && !b->nat) {
        if (netnat_enable(d->nd, b->br.name, b->br.addr, b->br.prefix, err) < 0)
            return -1;
        b->nat = 1;
    }
    if (!ns->no_filter && !b->guarded) {
        if (netguard_ensure(d->nd, err) < 0)
            return -1;
        b->guarded = 1;
    }
    ns->ready = &b->br;
    return 0;
}

int vm_net_poolable(const struct request *r)
{
    /* Pooled taps are ports of the default bridge with its own subnet
     * (which the policy may have spelt out: vm_policy.c). */
    uint32_t addr;
    unsigned prefix;
    if (!r->net.enabled ||
        (r->net.bridge[0] && strcmp(r->net.bridge, NETDEV_BRIDGE_DEFAULT)))
        return 0;
    return !r->net.bridge_addr ||
           (netaddr_parse_cidr(NETDEV_SUBNET_DEFAULT, &addr, &prefix, NULL) ==
                0 &&
            addr == r->net.bridge_addr && prefix == r->net.prefix);
}

json_t *vm_net_json(struct daemon *d, const struct guest_net *gn, int stats)
{
    json_t *a = json_array();
    for (unsigned i = 0; gn && i < gn->n; i++) {
        const struct guest_nic *n = &gn->nic[i];
        char ip[16], mac[18];
        json_t *o = json_pack(
            "{s:s, s:s, s:s, s:s, s:o}", "dev", n->dev, "mac",
            netaddr_mac_str(n->mac, mac), "bridge", n->bridge, "tap", n->tap,
            "ip",
            n->addr ? json_string(netaddr_ip4_str(n->addr, ip)) : json_null());
        if (o && n->addr)
            json_object_set_new(o, "prefix",
                                json_integer(__builtin_popcount(n->netmask)));
        struct netdev_stats st;
        struct lvm_err err;
        if (o && stats && session(d, &err) == 0 &&
            nic_stats(d->nd, n, &st, &err) == 0)
            json_object_set_new(
                o, "counters",
                json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "rx_packets",
                          (json_int_t)st.rx_packets, "rx_bytes",
                          (json_int_t)st.rx_bytes, "tx_packets",
                          (json_int_t)st.tx_packets, "tx_bytes",
                          (json_int_t)st.tx_bytes, "rx_dropped",
                          (json_int_t)st.rx_dropped, "tx_dropped",
                          (json_int_t)st.tx_dropped));
        if (o)
            json_array_append_new(a, o);
    }
    return a;
}

json_t *vm_net_record(const struct guest_net *gn)
{
    if (!gn || gn->n == 0)
        return NULL;
    json_t *a = json_array();
    for (unsigned i = 0; i < gn->n; i++) {
        const struct guest_nic *n = &gn->nic[i];
        char mac[18];
        json_array_append_new(
            a,
            json_pack("{s:s, s:s, s:i, s:s, s:i, s:s, s:I, s:I, s:I, s:b, "
                      "s:b, s:b, s:s}",
                      "dev", n->dev, "bridge", n->bridge, "bridge_ifindex",
                      n->bridge_ifindex, "tap", n->tap, "tap_ifindex",
                      n->tap_ifindex, "mac", netaddr_mac_str(n->mac, mac),
                      "addr", (json_int_t)n->addr, "netmask",
                      (json_int_t)n->netmask, "gateway", (json_int_t)n->gateway,
                      "leased", n->leased, "guarded", n->guarded, "forward",
                      n->forward, "lease_dir", n->lease_dir));
    }
    return json_pack("{s:s, s:o}", "lease_dir", gn->lease_dir, "nics", a);
}

static int parse_mac(const char *s, uint8_t mac[6])
{
    unsigned v[6];
    if (!s || sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x", &v[0], &v[1], &v[2], &v[3],
                     &v[4], &v[5]) != 6)
        return -1;
    for (int i = 0; i < 6; i++)
        mac[i] = (uint8_t)v[i];
    return 0;
}

struct guest_net *vm_net_adopt(struct daemon *d, json_t *rec)
{
    json_t *nics = json_object_get(rec, "nics");
    const char *dir = json_string_value(json_object_get(rec, "lease_dir"));
    if (!json_is_array(nics) || !dir)
        return NULL;
    struct guest_net *gn = calloc(1, sizeof *gn);
    if (!gn)
        return NULL;
    snprintf(gn->lease_dir, sizeof gn->lease_dir, "%s", dir);
    size_t i;
    json_t *o;
    json_array_foreach (nics, i, o) {
        if (gn->n == GUEST_MAX_NICS)
            break;
        struct guest_nic *n = &gn->nic[gn->n];
        const char *dev = json_string_value(json_object_get(o, "dev"));
        const char *br = json_string_value(json_object_get(o, "bridge"));
        const char *tap = json_string_value(json_object_get(o, "tap"));
        if (!dev || !br || !tap ||
            parse_mac(json_string_value(json_object_get(o, "mac")), n->mac) < 0)
            continue;
        snprintf(n->dev, sizeof n->dev, "%s", dev);
        snprintf(n->bridge, sizeof n->bridge, "%s", br);
        snprintf(n->tap, sizeof n->tap, "%s", tap);
        n->bridge_ifindex =
            (int)json_integer_value(json_object_get(o, "bridge_ifindex"));
        n->tap_ifindex =
            (int)json_integer_value(json_object_get(o, "tap_ifindex"));
        n->addr = (uint32_t)json_integer_value(json_object_get(o, "addr"));
        n->netmask =
            (uint32_t)json_integer_value(json_object_get(o, "netmask"));
        n->gateway =
            (uint32_t)json_integer_value(json_object_get(o, "gateway"));
        n->leased = json_is_true(json_object_get(o, "leased"));
        n->guarded = json_is_true(json_object_get(o, "guarded"));
        n->forward = json_is_true(json_object_get(o, "forward"));
        const char *ld = json_string_value(json_object_get(o, "lease_dir"));
        if (ld) /* NICs on other bridges lease elsewhere */
            snprintf(n->lease_dir, sizeof n->lease_dir, "%s", ld);
        gn->n++;
    }
    struct lvm_err err;
    gn->nd = session(d, &err) == 0 ? d->nd : NULL;
    return gn;
}

void vm_net_sweep(struct daemon *d)
{
    /* Only a bridge that exists: a daemon that never ran a network guest
     * must not create one at start. */
    struct lvm_err err;
    char eb[512];
    struct netdev_link l;
    if (session(d, &err) < 0 ||
        netdev_link_get(d->nd, 0, NETDEV_BRIDGE_DEFAULT, &l, &err) < 0)
        return;
    unsigned leases, elems;
    if (nic_sweep(d->nd, d->run_dir, NETDEV_BRIDGE_DEFAULT, &leases, &elems,
                  &err) < 0)
        daemon_log("network sweep: %s", lvm_err_str(&err, eb, sizeof eb));
    else if (leases || elems)
        daemon_log("network sweep: %u stale leases, %u filter entries removed",
                   leases, elems);
}

void vm_net_close(struct daemon *d)
{
    if (d->nd)
        netdev_close(d->nd);
    d->nd = NULL;
}
