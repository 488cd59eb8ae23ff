/*
 * config.h: lightvmd's configuration file (docs/daemon.md), the
 * operator's policy for API clients: which networks members may attach
 * to, which host ports and addresses they may publish, and which group is
 * trusted like root for network configuration.
 *
 * The format is JSON (jansson) with whole-line # comments, one object
 * whose sections grow with the daemon; unknown fields are refused, so a
 * typo is never a silently ignored rule. Parsing is pure (no daemon
 * state, no files): it is unit-tested and fuzzed on its own.
 */
#ifndef LVM_DAEMON_CONFIG_H
#define LVM_DAEMON_CONFIG_H

#include "toolstack/error.h"

#include <net/if.h>
#include <stdint.h>
#include <sys/types.h>

#define CONFIG_PATH_DEFAULT "/etc/lightvm/lightvmd.conf"
#define CONFIG_MAX_BYTES (1 << 20)
#define CONFIG_MAX_NETWORKS 16
#define CONFIG_MAX_RANGES 16
#define CONFIG_MAX_ADDRS 16

/* A network members may attach to: a bridge and its address/prefix. */
struct config_network {
    char bridge[IF_NAMESIZE];
    uint32_t addr;   /* the bridge's address, network order */
    unsigned prefix; /* the guests' subnet */
    int nat;         /* masquerade the subnet to the uplink */
};

struct config_port_range {
    uint16_t lo, hi; /* inclusive */
};

struct daemon_config {
    char path[256];       /* where it was read from; "" for the built-in one */
    char admin_group[64]; /* "": none */
    gid_t admin_gid;      /* resolved by config_load; (gid_t)-1: none */
    unsigned nnets;       /* 0: members get no NICs */
    unsigned default_net; /* members' (and everyone's) default */
    struct config_network nets[CONFIG_MAX_NETWORKS];
    /* Host ports members may publish for qemu guests, on these host
     * addresses (network order). */
    unsigned nranges;
    struct config_port_range ranges[CONFIG_MAX_RANGES];
    unsigned naddrs;
    uint32_t addrs[CONFIG_MAX_ADDRS];
    int privileged; /* ranges may go below 1024 */
};

/* The built-in policy, used when there is no file: members get lvm0
 * (10.213.0.1/16, no NAT) and ports 1024-65535 on 127.0.0.1; no admin
 * group. */
void config_defaults(struct daemon_config *c);

/* Parse (len) bytes of a file named (name) into (c) (defaults first, then
 * what the file says). On error (err) is one line: "NAME:LINE:COL: ..."
 * for bad JSON, "NAME: field F: ..." for a bad value. */
int config_parse(const char *buf, size_t len, const char *name,
                 struct daemon_config *c, struct lvm_err *err);

/* Read and parse (path), and resolve the admin group. (path) NULL: the
 * default path if the file exists, else the built-in policy. The file
 * must belong to root and not be writable by others when the daemon runs
 * as root: whoever may write it may grant themselves anything. */
int config_load(const char *path, struct daemon_config *c, struct lvm_err *err);

#endif
