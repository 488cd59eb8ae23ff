/*
 * nic.h: the host side of a guest's NIC, whatever runs the guest: a tap
 * on a lightvm bridge (made now, or one made ahead of time), a MAC, an
 * address lease and the anti-spoofing filter entry; and their release.
 *
 * The one module every monitor uses. proc and kvm guests get the tap's
 * fd in their shell's plan (dev_net.c adds the device page entry and the
 * seccomp rule); qemu guests hand it to QEMU as a virtio-net device with
 * the same MAC (qemu_nic.c), so the filter entry made here matches what
 * the guest sends.
 */
#ifndef LVM_TS_NIC_H
#define LVM_TS_NIC_H

#include "toolstack/error.h"
#include "toolstack/netdev.h"

#include <lightvm/abi.h>
#include <limits.h>
#include <net/if.h>
#include <stdint.h>

#define GUEST_MAX_NICS 4

/* One NIC named on its own (--net NAME=BRIDGE[,OPTIONS]): where it goes
 * and how it is filtered. NICs not named so follow the guest_net_spec. */
struct guest_nic_spec {
    char dev[LVM_DEVNAME_MAX + 1]; /* its name in the manifest, e.g. up0 */
    char bridge[IF_NAMESIZE];      /* "": the spec's bridge */
    uint32_t bridge_addr;          /* a new bridge's address, or 0 */
    unsigned prefix;
    uint32_t want_addr; /* this address, or 0: leased */
    /* Forwarding mode: the guest may send IPv4 from any source address
     * on this NIC (it forwards others' packets), still only from its own
     * MAC, and ARP still only for its own address (netguard.h). */
    int forward;
    /* Masquerade its bridge's subnet to the uplink (",nat"; for a member,
     * the operator's network decides). Not the primary's --net-nat: NAT
     * on one network must not follow a NIC onto another. */
    int nat;
};

/* How a guest's NICs are attached (part of struct guest_spec). */
struct guest_net_spec {
    int enabled;              /* attach the guest's NICs (--net) */
    char bridge[IF_NAMESIZE]; /* "": NETDEV_BRIDGE_DEFAULT */
    uint32_t bridge_addr;     /* for a new bridge, network order; 0: the */
    unsigned prefix;          /*   default NETDEV_SUBNET_DEFAULT */
    int dhcp;                 /* guests get their address by DHCP */
    int nat;                  /* masquerade the subnet to the uplink */
    uint32_t want_addr;       /* this address for the first NIC, or 0 */
    uint8_t want_mac[6];      /* this MAC for the first NIC (a restored
                                 guest keeps its own), if have_mac */
    int have_mac;
    int no_filter;       /* no anti-spoofing filter (see netguard.h) */
    const char *run_dir; /* leases live under it (set by guest_start) */
    struct netdev *nd;   /* a netlink session to borrow, or NULL */
    /* The bridge, already made sure of (with NAT and the filter table, as
     * asked) by the caller, e.g. a daemon at start; NULL: done here. */
    const struct netdev_bridge *ready;
    struct netdev_tap *taps; /* taps made ahead of time, or NULL: each */
    unsigned ntaps;          /*   is used (and its fd given away) in turn */
    struct guest_nic_spec nics[GUEST_MAX_NICS]; /* NICs named on their own */
    unsigned nnics;
};

/* The entry of (ns) for NIC (dev), or NULL. */
const struct guest_nic_spec *nic_spec_find(const struct guest_net_spec *ns,
                                           const char *dev);

/* Parse one NIC's "NAME=BRIDGE[,forward][,nat][,subnet=CIDR][,ip=ADDR]" into
 * (out); a one-line reason in (err) if it is not that. */
int nic_spec_parse(const char *arg, struct guest_nic_spec *out,
                   struct lvm_err *err);

/* One attached NIC. */
struct guest_nic {
    char dev[LVM_DEVNAME_MAX]; /* its name in the guest, e.g. net0 */
    char bridge[IF_NAMESIZE];
    int bridge_ifindex;
    char tap[IF_NAMESIZE];
    int tap_ifindex;
    uint8_t mac[6];
    uint32_t addr, netmask, gateway; /* network order; addr 0: DHCP */
    int leased, guarded;
    int forward;              /* guarded in forwarding mode */
    char lease_dir[PATH_MAX]; /* its bridge's; "": the guest_net's */
};

/* A guest's NICs: what must be released when it goes. */
struct guest_net {
    unsigned n;
    struct guest_nic nic[GUEST_MAX_NICS];
    struct netdev *nd; /* borrowed from the first spec, or NULL */
    char lease_dir[PATH_MAX];
};

/* Attach the host side of NIC number (gn->n) of guest (guest_id), called
 * (dev) in the guest, as (ns) says: the bridge (unless ns->ready), the
 * tap (ns->taps[n] if there is one, which is taken), a port of the
 * bridge, its MAC, its lease (unless DHCP), its filter entry (unless
 * ns->no_filter). On success (*tap_fd) is the tap's fd, the caller's to
 * give to the guest and close: the tap lives as long as the last fd on
 * it. On failure no fd is left open, and what was made is recorded in
 * (gn) for nic_release(). */
int nic_attach(struct guest_net *gn, const struct guest_net_spec *ns,
               const char *guest_id, const char *dev, int *tap_fd,
               struct lvm_err *err);

/* Undo what nic_attach() made for every NIC of (gn), owned by guest
 * (guest_id): filter entry, lease, host neighbour entry, the tap if it
 * still exists. Safe to call more than once. */
void nic_release(struct guest_net *gn, const char *guest_id);

/* Counters of (nic) as the guest sees them: rx is what the guest
 * received (the tap's tx), tx what it sent. (nd) may be NULL. */
int nic_stats(struct netdev *nd, const struct guest_nic *nic,
              struct netdev_stats *out, struct lvm_err *err);

/* The lease directory of (bridge) in this network namespace. */
int nic_lease_dir(const char *run_dir, const char *bridge, char *out,
                  size_t len, struct lvm_err *err);

/* Remove what guests that died without their toolstack left behind:
 * stale leases of (bridge) and filter elements of taps that are gone. */
int nic_sweep(struct netdev *nd, const char *run_dir, const char *bridge,
              unsigned *leases, unsigned *elems, struct lvm_err *err);

#endif
