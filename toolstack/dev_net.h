/*
 * dev_net.h: the network devices (NICs) of proc and kvm guests: each NIC
 * of the manifest gets its host side from nic.h (tap on a lightvm bridge,
 * MAC, address, anti-spoofing filter), and here its device page entry,
 * guest fd and seccomp rule; and all of that is undone when the guest
 * goes.
 *
 * The tap's fd becomes the guest's NIC (its device handle): the guest
 * reads and writes frames on it itself, within its seccomp policy, so
 * frames never pass through the toolstack.
 */
#ifndef LVM_TS_DEV_NET_H
#define LVM_TS_DEV_NET_H

#include "toolstack/error.h"
#include "toolstack/nic.h"

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

/* nic_lease_dir() and nic_sweep(), by the names cli/cmd_net.c uses. */
int dev_net_lease_dir(const char *run_dir, const char *bridge, char *out,
                      size_t len, struct lvm_err *err);

int dev_net_sweep(struct netdev *nd, const char *run_dir, const char *bridge,
                  unsigned *leases, unsigned *elems, struct lvm_err *err);

#endif
