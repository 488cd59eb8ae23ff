/*
 * netdev.h: host network devices for guests, over netlink (libmnl): the
 * lightvm bridge, one tap per guest NIC, link statistics.
 *
 * No shell commands and no global state: a struct netdev is one netlink
 * session (a daemon keeps one; `lightvm run` opens one per guest), and
 * everything acts on the caller's network namespace. Taps are not
 * persistent: the kernel removes a tap when its last fd is closed, so a
 * tap whose guest is gone disappears whatever happened to the toolstack.
 *
 * Taps can be made ahead of time (a daemon's pool of shells):
 * netdev_tap_create() + netdev_tap_attach() in the prepare phase; the
 * guest's MAC and address are bound later (dev_net.c, netguard.h).
 */
#ifndef LVM_TS_NETDEV_H
#define LVM_TS_NETDEV_H

#include "toolstack/error.h"

#include <net/if.h>
#include <stdint.h>

#define NETDEV_BRIDGE_DEFAULT "lvm0"
#define NETDEV_TAP_PREFIX "lvt" /* taps are lvt<12 hex digits> */

struct netdev;

/* Open a netlink session in the caller's network namespace. */
int netdev_open(struct netdev **out, struct lvm_err *err);
void netdev_close(struct netdev *nd);

/* ---- Links ------------------------------------------------------------ */

struct netdev_link {
    int ifindex;
    char name[IF_NAMESIZE];
    char kind[16];  /* "bridge", "tun", "veth", ... ("" if none) */
    int master;     /* ifindex of the bridge it is a port of, or 0 */
    unsigned flags; /* IFF_UP, ... */
    uint8_t mac[6];
    unsigned mtu;
};

/* Look up a link by (ifindex) if > 0, else by (name). Returns 0, or -1
 * with err->code ENODEV if there is none. */
int netdev_link_get(struct netdev *nd, int ifindex, const char *name,
                    struct netdev_link *out, struct lvm_err *err);

/* Delete link (ifindex); 0 also if it was already gone. */
int netdev_link_delete(struct netdev *nd, int ifindex, struct lvm_err *err);

/* Call (fn) for every link of the namespace; a non-zero return skips the
 * rest. (fn) must not use (nd): the dump is still being read. */
int netdev_link_each(struct netdev *nd,
                     int (*fn)(const struct netdev_link *l, void *ctx),
                     void *ctx, struct lvm_err *err);

/* Packet and byte counters of a link, as the kernel keeps them. */
struct netdev_stats {
    uint64_t rx_packets, tx_packets, rx_bytes, tx_bytes;
    uint64_t rx_dropped, tx_dropped, rx_errors, tx_errors;
};
int netdev_link_stats(struct netdev *nd, int ifindex, struct netdev_stats *out,
                      struct lvm_err *err);

/* ---- The bridge ---------------------------------------------------------- */

#define NETDEV_SUBNET_DEFAULT "10.213.0.1/16"

struct netdev_bridge {
    char name[IF_NAMESIZE];
    int ifindex;
    uint32_t addr;   /* its IPv4 address (the guests' gateway), network order */
    unsigned prefix; /* the guests' subnet */
    int created;     /* made by this call */
    int foreign;     /* not made by lightvm: used as it is (see below) */
};

/*
 * Make sure bridge (name) exists and is up: created on first use with a
 * fixed MAC, STP off, forwarding at once, and the address (addr)/(prefix)
 * (network byte order). An existing bridge keeps its own address, which
 * (*out) reports; an error if (addr) was given explicitly and differs
 * ((explicit_addr) non-zero). A lightvm bridge (its MAC is the one
 * lightvm gives it) that lost its address or is down is repaired; a
 * bridge lightvm did not make (out->foreign) is never changed: it is an
 * error if it has no IPv4 address or is down.
 */
int netdev_bridge_ensure(struct netdev *nd, const char *name, uint32_t addr,
                         unsigned prefix, int explicit_addr,
                         struct netdev_bridge *out, struct lvm_err *err);

/* Call (fn) for every IPv4 network this namespace uses: each address's
 * subnet (any interface) and each route of any table but the local
 * one, default routes aside. (net) is in network order. */
int netdev_ip4_nets(struct netdev *nd,
                    void (*fn)(uint32_t net, unsigned prefix, void *ctx),
                    void *ctx, struct lvm_err *err);

/* Remove bridge (name) (its ports are detached by the kernel). */
int netdev_bridge_delete(struct netdev *nd, const char *name,
                         struct lvm_err *err);

/* Forget the bridge's neighbour (ARP) entry for (addr), if any. */
void netdev_neigh_forget(struct netdev *nd, int bridge_ifindex, uint32_t addr);

/* ---- Taps ---------------------------------------------------------------- */

struct netdev_tap {
    int fd; /* the guest's NIC: non-blocking, one frame per read/write */
    int ifindex;
    int master; /* the bridge it is a port of (netdev_tap_attach), or 0 */
    char name[IF_NAMESIZE];
};

/* The tap name for guest (id)'s NIC (nic): "lvt" + 12 hex digits. */
void netdev_tap_name(const char *id, unsigned nic, char name[IF_NAMESIZE]);

/* Create tap (name) (TUNSETIFF, IFF_TAP | IFF_NO_PI): not persistent, so
 * it lives exactly as long as its fd (and every copy of it). */
int netdev_tap_create(struct netdev *nd, const char *name, struct netdev_tap *t,
                      struct lvm_err *err);

/* Make (t) a port of bridge (bridge_ifindex) and bring it up, with no
 * IPv6 address of its own (the host never talks on a tap). */
int netdev_tap_attach(struct netdev *nd, struct netdev_tap *t,
                      int bridge_ifindex, struct lvm_err *err);

/* Delete the tap (even while a guest holds its fd) and close our fd. */
void netdev_tap_destroy(struct netdev *nd, struct netdev_tap *t);

/* ---- For netguard.c: the netfilter session ------------------------------ */

struct mnl_socket;
/* The NETLINK_NETFILTER socket (opened on first use) and its port id;
 * NULL on error. */
struct mnl_socket *netdev_nf_socket(struct netdev *nd, unsigned *portid,
                                    struct lvm_err *err);

/* A fresh netlink sequence number. */
uint32_t netdev_seq(struct netdev *nd);

/* A buffer of NETDEV_BUF_SIZE bytes for building or receiving messages. */
#define NETDEV_BUF_SIZE 32768
char *netdev_buf(struct netdev *nd);

/* Write (value) to (path) under /proc/sys/ of this namespace. */
int netdev_sysctl(const char *path, const char *value, struct lvm_err *err);

#endif
