/*
 * dev_net.h: a guest's network devices (NICs): attach each NIC of the
 * manifest to a tap on a lightvm bridge, give it a MAC, an address and
 * the anti-spoofing filter, write it into the device page; and undo all
 * of that when the guest goes.
 *
 * The tap's fd becomes the guest's NIC (its device handle): the guest
 * reads and writes frames on it itself, within its seccomp policy, so
 * frames never pass through the toolstack.
 */
#ifndef LVM_TS_DEV_NET_H
#define LVM_TS_DEV_NET_H

#include "toolstack/error.h"
#include "toolstack/netdev.h"

#include <lightvm/abi.h>
#include <limits.h>
#include <net/if.h>
#include <stdint.h>

#define GUEST_MAX_NICS 4

/* How a guest's NICs are attached (part of struct guest_spec). */
struct guest_net_spec {
    int enabled;              /* attach the guest's NICs (--net) */
    char bridge[IF_NAMESIZE]; /* "": NETDEV_BRIDGE_DEFAULT */
    uint32_t bridge_addr;     /* for a new bridge, network order; 0: the */
    unsigned prefix;          /*   default NETDEV_SUBNET_DEFAULT */
    int dhcp;                 /* guests get their address by DHCP */
    int nat;                  /* masquerade the subnet to the uplink */
    uint32_t want_addr;       /* this address for the first NIC, or 0 */
    int no_filter;            /* no anti-spoofing filter (see netguard.h) */
    const char *run_dir;      /* leases live under it (set by guest_start) */
    struct netdev *nd;        /* a netlink session to borrow, or NULL */
    /* The bridge, already made sure of (with NAT and the filter table, as
     * asked) by the caller, e.g. a daemon at start; NULL: done here. */
    const struct netdev_bridge *ready;
    struct netdev_tap *taps; /* taps made ahead of time, or NULL: each */
    unsigned ntaps;          /*   is used (and its fd given away) in turn */
};

/* One attached NIC. */
struct guest_nic {
    char dev[LVM_DEVNAME_MAX]; /* manifest name, e.g. net0 */
    char bridge[IF_NAMESIZE];
    int bridge_ifindex;
    char tap[IF_NAMESIZE];
    int tap_ifindex;
    uint8_t mac[6];
    uint32_t addr, netmask, gateway; /* network order; addr 0: DHCP */
    int leased, guarded;
};

struct guest_net {
    unsigned n;
    struct guest_nic nic[GUEST_MAX_NICS];
    struct netdev *nd; /* borrowed from the spec, or NULL */
    char lease_dir[PATH_MAX];
};

struct guest;
struct guest_spec;
struct attach;
struct lvm_manifest_device;

/* Attach NIC (want) of guest (g) as guest fd (guest_fd) raising event
 * channel (evtchn). */
int dev_net_attach(struct guest *g, const struct guest_spec *spec,
                   const struct lvm_manifest_device *want, int guest_fd,
                   unsigned evtchn, struct attach *a, struct lvm_err *err);

/* Undo everything dev_net_attach() did for (g): filter, lease, neighbour
 * entry, tap (if it still exists). Safe to call more than once. */
void dev_net_release(struct guest *g);

/* Counters of NIC (nic) as the guest sees them: rx is what the guest
 * received (the tap's tx), tx what it sent. */
int dev_net_stats(const struct guest *g, unsigned nic, struct netdev_stats *out,
                  struct lvm_err *err);

/* The lease directory of (bridge) in this network namespace. */
int dev_net_lease_dir(const char *run_dir, const char *bridge, char *out,
                      size_t len, struct lvm_err *err);

/* Remove what guests that died without their toolstack left behind:
 * stale leases of (bridge) and filter elements of taps that are gone. */
int dev_net_sweep(struct netdev *nd, const char *run_dir, const char *bridge,
                  unsigned *leases, unsigned *elems, struct lvm_err *err);

#endif
