/*
 * netguard.h: what a guest may send onto a lightvm bridge, enforced by
 * nftables in the bridge family (built with libnftnl, no nft commands).
 *
 * One table per network namespace, `bridge lightvm`, filters every frame
 * that enters a bridge from a guest's tap (prerouting, before the bridge
 * forwards it or the host receives it). A frame from a guest port passes
 * only if its source MAC is the guest's, and it is IPv4 from the guest's
 * address or ARP (Ethernet/IPv4) whose sender MAC and address are the
 * guest's. Everything else from a guest port is dropped: other MACs,
 * other addresses, IPv6, VLAN tags, any other EtherType. A guest using
 * DHCP is held to its MAC only. Frames from other ports are untouched.
 *
 * A second chain, on what the bridge sends to guest ports, lets an ARP
 * request reach only the guest it asks for, so a new guest does not wake
 * every other one.
 *
 * The rules never change; guests come and go as elements of four sets
 * keyed by the tap's ifindex (which the kernel does not reuse), so
 * adding a guest is one small transaction whatever the number of guests.
 */
#ifndef LVM_TS_NETGUARD_H
#define LVM_TS_NETGUARD_H

#include "toolstack/error.h"
#include "toolstack/netdev.h"

#include <stdint.h>

#define NETGUARD_TABLE "lightvm"
#define NETGUARD_NAT_TABLE "lightvm_nat"

/* Create the table, its sets and rules if the namespace has none. */
int netguard_ensure(struct netdev *nd, struct lvm_err *err);

/* Let tap (ifindex) send from (mac) and, unless (addr) is 0 (DHCP),
 * IPv4 address (addr) (network byte order). */
int netguard_allow(struct netdev *nd, int ifindex, const uint8_t mac[6],
                   uint32_t addr, struct lvm_err *err);

/* netguard_allow(), and forwarding mode for tap (ifindex): IPv4 frames
 * from any source address pass, if their source MAC is (mac). What does
 * not change: frames with another MAC are dropped, ARP must claim (addr)
 * and (mac), anything not IPv4 or ARP is dropped, and ARP requests reach
 * the tap only for (addr). So a forwarding guest can pass on others'
 * packets but never make the bridge learn a MAC that is not its own, nor
 * answer for another guest's address. */
int netguard_allow_forward(struct netdev *nd, int ifindex, const uint8_t mac[6],
                           uint32_t addr, struct lvm_err *err);

/* Take tap (ifindex) out of forwarding mode (netguard_revoke() removes
 * the rest); 0 also if it was not in it. */
int netguard_revoke_forward(struct netdev *nd, int ifindex,
                            struct lvm_err *err);

/* Undo netguard_allow(); 0 also if nothing was there. */
int netguard_revoke(struct netdev *nd, int ifindex, const uint8_t mac[6],
                    uint32_t addr, struct lvm_err *err);

/* Remove the elements of taps that no longer exist; (*removed) counts
 * them. */
int netguard_sweep(struct netdev *nd, unsigned *removed, struct lvm_err *err);

/* Remove the whole table (every guest becomes unfiltered). */
int netguard_remove(struct netdev *nd, struct lvm_err *err);

/*
 * NAT to the uplink: masquerade IPv4 from (net)/(prefix) leaving by any
 * interface other than (bridge), and turn on IPv4 forwarding in this
 * namespace. One base chain per bridge in table `ip lightvm_nat`.
 */
int netnat_enable(struct netdev *nd, const char *bridge, uint32_t net,
                  unsigned prefix, struct lvm_err *err);
int netnat_disable(struct netdev *nd, const char *bridge, struct lvm_err *err);

#endif
