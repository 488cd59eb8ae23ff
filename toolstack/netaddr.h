/*
 * netaddr.h: guest network addresses without a central store: MACs
 * derived from guest ids, and IPv4 leases as one file per address.
 *
 * A lease is the file <lease dir>/<a.b.c.d>, created atomically with its
 * content (the owner: guest id, tap name and ifindex) by linking a
 * finished file into place, which fails if the address is taken. Nothing
 * lists or scans the directory when a guest is created: an address is
 * picked by hashing the guest id into the subnet and probing from there.
 * A lease whose tap no longer exists (its guest died with the toolstack)
 * is stale: it is reclaimed when its address is needed, or by a sweep.
 */
#ifndef LVM_TS_NETADDR_H
#define LVM_TS_NETADDR_H

#include "toolstack/error.h"

#include <limits.h>
#include <net/if.h>
#include <stddef.h>
#include <stdint.h>

#define NETADDR_ID_MAX 40

/* ---- MACs and text ----------------------------------------------------- */

/* The MAC of NIC (nic) of guest (id): locally administered, unicast, 46
 * bits of an FNV-1a hash of the id and the NIC number. */
void netaddr_guest_mac(const char *id, unsigned nic, uint8_t mac[6]);

/* A fixed MAC for bridge (name), so the bridge's address does not change
 * as ports come and go (the kernel's default follows the lowest port). */
void netaddr_bridge_mac(const char *name, uint8_t mac[6]);

/* "a.b.c.d" <-> an address in network byte order. */
int netaddr_parse_ip4(const char *s, uint32_t *addr);
const char *netaddr_ip4_str(uint32_t addr, char buf[16]);
const char *netaddr_mac_str(const uint8_t mac[6], char buf[18]);

/* "a.b.c.d/n" with 8 <= n <= 30: an address and its prefix length. */
int netaddr_parse_cidr(const char *s, uint32_t *addr, unsigned *prefix,
                       struct lvm_err *err);

/* The netmask of (prefix), network byte order. */
uint32_t netaddr_mask(unsigned prefix);

/* ---- Leases ------------------------------------------------------------- */

struct lease_owner {
    char guest_id[NETADDR_ID_MAX + 1];
    char tap[IF_NAMESIZE];
    int ifindex;
};

/* Parse a lease file's text; 0 or -1 if it is not one. */
int lease_parse(const char *text, size_t len, struct lease_owner *o);

/* Format (o) as a lease file's text; returns its length. */
size_t lease_format(const struct lease_owner *o, char *buf, size_t len);

struct lease_dir {
    int fd; /* the directory, also the lock for reclaiming */
    char path[PATH_MAX];
};

/* Open (creating) the lease directory (dir). */
int lease_dir_open(struct lease_dir *d, const char *dir, struct lvm_err *err);
void lease_dir_close(struct lease_dir *d);

/* Whether the owner of a lease still exists: 1 yes, 0 no, < 0 unknown
 * (treated as yes). A NULL function: every owner exists. */
typedef int (*lease_alive_fn)(const struct lease_owner *o, void *ctx);

struct lease_subnet {
    uint32_t net;      /* network address, network byte order */
    unsigned prefix;   /* 8..30 */
    uint32_t reserved; /* the bridge's own address, never leased */
};

/*
 * Lease an address of (sn) to (o): (want) if non-zero, else any, the
 * search starting at a hash of the owner's guest id. Stale leases are
 * reclaimed only when no free address is found otherwise. (*out) gets the
 * address (network byte order).
 */
int lease_acquire(struct lease_dir *d, const struct lease_subnet *sn,
                  uint32_t want, const struct lease_owner *o,
                  lease_alive_fn alive, void *ctx, uint32_t *out,
                  struct lvm_err *err);

/* Give back (addr) if (guest_id) holds it; 0 also if it was not held. */
int lease_release(struct lease_dir *d, uint32_t addr, const char *guest_id,
                  struct lvm_err *err);

/* Read the lease of (addr): 0, or -1 with errno ENOENT if there is none. */
int lease_read(struct lease_dir *d, uint32_t addr, struct lease_owner *o);

/* Remove every stale lease; (*removed) counts them. */
int lease_sweep(struct lease_dir *d, lease_alive_fn alive, void *ctx,
                unsigned *removed, struct lvm_err *err);

#endif
