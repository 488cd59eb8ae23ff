/*
 * netsubnet.c: a free subnet for a new bridge given none (netsubnet.h).
 */
#include "toolstack/netsubnet.h"
#include "toolstack/netaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* Networks that exist in a configuration but maybe not yet as bridges
 * (lightvmd's operator networks, made when first used). */
static struct {
    uint32_t net;
    unsigned prefix;
} reserved[NETSUBNET_RESERVED_MAX];
static unsigned nreserved;

void netsubnet_reserve(uint32_t net, unsigned prefix)
{
    if (nreserved < NETSUBNET_RESERVED_MAX) {
        reserved[nreserved].net = net;
        reserved[nreserved].prefix = prefix;
        nreserved++;
    }
}

void netsubnet_note(uint32_t net, unsigned prefix, void *used)
{
    struct netsubnet_used *u = used;
    if (u->n == NETSUBNET_USED_MAX) {
        u->overflow = 1;
        return;
    }
    u->net[u->n] = net;
    u->prefix[u->n] = prefix;
    u->n++;
}

/* Does (a)/(pa) share an address with (b)/(pb)? (network order) */
static int overlaps(uint32_t a, unsigned pa, uint32_t b, unsigned pb)
{
    uint32_t m = netaddr_mask(pa < pb ? pa : pb);
    return (a & m) == (b & m);
}

int netsubnet_pick(const char *name, const struct netsubnet_used *u,
                   uint32_t *addr, unsigned *prefix)
{
    if (u->overflow)
        return -1;
    /* FNV-1a: the same name starts at the same subnet on every host. */
    uint32_t h = 2166136261u;
    for (const char *p = name; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    unsigned span = NETSUBNET_LAST - NETSUBNET_FIRST + 1;
    for (unsigned i = 0; i < span; i++) {
        unsigned second = NETSUBNET_FIRST + (h + i) % span;
        uint32_t net = htonl(10u << 24 | second << 16);
        int used = 0;
        for (unsigned j = 0; j < u->n && !used; j++)
            used = overlaps(net, NETSUBNET_PREFIX, u->net[j], u->prefix[j]);
        if (!used) {
            *addr = htonl(ntohl(net) | 1);
            *prefix = NETSUBNET_PREFIX;
            return 0;
        }
    }
    return -1;
}

int netsubnet_bridge_ensure(struct netdev *nd, const char *name,
                            struct netdev_bridge *out, struct lvm_err *err)
{
    /* One lock for every lightvm process, whatever its run directory or
     * network namespace, on a file only root can open: any process may
     * open the namespace's own nsfs file and flock it, and a user who
     * held that lock would stop lightvmd for everyone. */
    int fd =
        open(NETSUBNET_LOCK, O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return lvm_err_set(err, errno, "open %s", NETSUBNET_LOCK);
    if (flock(fd, LOCK_EX) < 0) {
        int e = errno;
        close(fd);
        return lvm_err_set(err, e, "lock %s", NETSUBNET_LOCK);
    }
    struct netsubnet_used *u = calloc(1, sizeof *u);
    int r = -1;
    if (!u) {
        lvm_err_set(err, ENOMEM, "subnet for bridge %s", name);
        goto out;
    }
    if (netdev_ip4_nets(nd, netsubnet_note, u, err) < 0)
        goto out;
    for (unsigned i = 0; i < nreserved; i++)
        netsubnet_note(reserved[i].net, reserved[i].prefix, u);
    uint32_t addr = 0;
    unsigned prefix = 0;
    /* None free: fine for a bridge that has its address already;
     * netdev_bridge_ensure() refuses to address one with 0. */
    if (netsubnet_pick(name, u, &addr, &prefix) < 0) {
        struct netdev_link l;
        struct lvm_err e2;
        addr = 0;
        /* Not made at all, rather than made without an address. */
        if (netdev_link_get(nd, 0, name, &l, &e2) < 0 && e2.code == ENODEV) {
            lvm_err_set(err, EADDRNOTAVAIL,
                        "bridge %s needs a subnet and none of "
                        "10.%d.0.0/16 to 10.%d.0.0/16 is free; give it one "
                        "(subnet=CIDR)",
                        name, NETSUBNET_FIRST, NETSUBNET_LAST);
            goto out;
        }
    }
    r = netdev_bridge_ensure(nd, name, addr, prefix, 0, out, err);
out:
    free(u);
    flock(fd, LOCK_UN);
    close(fd);
    return r;
}
