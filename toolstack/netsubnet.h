/*
 * netsubnet.h: a subnet for a new bridge that was given none. Not the
 * default bridge's 10.213.0.1/16 (two bridges with one subnet confuse
 * the host's routing), but the first /16 of 10.214.0.0 - 10.255.0.0 that
 * no address or route of the network namespace overlaps, probing from a
 * point hashed from the bridge's name (so a bridge made again gets the
 * same subnet if it is still free).
 */
#ifndef LVM_TS_NETSUBNET_H
#define LVM_TS_NETSUBNET_H

#include "toolstack/error.h"
#include "toolstack/netdev.h"

#include <stdint.h>

#define NETSUBNET_FIRST 214 /* 10.214.0.0/16 */
#define NETSUBNET_LAST 255  /* 10.255.0.0/16 */
#define NETSUBNET_PREFIX 16
#define NETSUBNET_USED_MAX 1024
#define NETSUBNET_RESERVED_MAX 64
/* Root's alone (/run is root's): see netsubnet_bridge_ensure(). */
#define NETSUBNET_LOCK "/run/lightvm-netsubnet.lock"

/* The networks in use (network order), as netdev_ip4_nets() lists them. */
struct netsubnet_used {
    unsigned n;
    int overflow; /* more than NETSUBNET_USED_MAX: nothing is free */
    uint32_t net[NETSUBNET_USED_MAX];
    unsigned prefix[NETSUBNET_USED_MAX];
};

/* Record one network in use (a netdev_ip4_nets() callback). */
void netsubnet_note(uint32_t net, unsigned prefix, void *used);

/* A network that is not to be picked though no bridge has it yet: an
 * operator network of lightvmd's configuration, made when first used.
 * Kept for the process's life (lightvmd reads its configuration once). */
void netsubnet_reserve(uint32_t net, unsigned prefix);

/* The bridge address (x.y.0.1) and prefix of the subnet for bridge
 * (name), free of every network in (u); -1 if none is. */
int netsubnet_pick(const char *name, const struct netsubnet_used *u,
                   uint32_t *addr, unsigned *prefix);

/*
 * netdev_bridge_ensure() for a bridge given no subnet: an existing one
 * keeps its address; a new one (or one of ours that lost its address)
 * gets netsubnet_pick()'s. The pick and the address assignment are one
 * step under an exclusive flock on NETSUBNET_LOCK, so lightvm processes
 * making bridges at the same time (a daemon and CLIs, whatever their run
 * directories) never pick the same subnet. Networks given to
 * netsubnet_reserve() are never picked either.
 */
int netsubnet_bridge_ensure(struct netdev *nd, const char *name,
                            struct netdev_bridge *out, struct lvm_err *err);

#endif
