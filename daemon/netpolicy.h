/*
 * netpolicy.h: who may configure networks and publish ports through
 * lightvmd (docs/security.md, "The API: networks and ports").
 *
 * Root and the admin group may ask for anything; a member of the API
 * group gets the operator's networks (config.h) and may publish only the
 * operator's host ports and addresses. Pure decisions on a parsed
 * request and the configuration, plus picking a free port in a range, so
 * it is unit-tested without a daemon. A refusal is one line naming the
 * field and why, with err->code EPERM.
 */
#ifndef LVM_DAEMON_NETPOLICY_H
#define LVM_DAEMON_NETPOLICY_H

#include "daemon/config.h"
#include "daemon/creds.h"
#include "toolstack/dev_net.h"

#include <stdint.h>

/* 1 if client (cr) may configure networks: root, or a member of the
 * admin group (primary or supplementary, as its socket says). */
int netpolicy_admin(const struct daemon_config *c, const struct creds *cr);

/* Resolve the request's "net" (ns) for a client ((admin) from above): a
 * request that names no bridge gets the default network; a member may
 * name only one of the operator's networks and change nothing about it.
 * (ns) then names the bridge and its subnet, with the network's NAT. */
int netpolicy_net(const struct daemon_config *c, int admin,
                  struct guest_net_spec *ns, struct lvm_err *err);

/* May the client publish host port (port) (0: one picked for it) on host
 * address (addr) ("" is 127.0.0.1) for forward (spec), as the client
 * wrote it for messages? */
int netpolicy_port(const struct daemon_config *c, int admin, const char *spec,
                   const char *addr, unsigned port, struct lvm_err *err);

/* A host port free on (addr) now, within the ranges members may publish
 * (the kernel's pick when it falls inside them, else a search from a
 * random point). The port is not held: QEMU binds it later, as it does a
 * port the kernel picked. */
int netpolicy_pick_port(const struct daemon_config *c, const char *addr,
                        uint16_t *port, struct lvm_err *err);

#endif
