/*
 * config.h: lightvmd's configuration file (docs/daemon.md), the
 * operator's policy for API clients: which networks members may attach
 * to, which host ports and addresses they may publish, which group is
 * trusted like root for network configuration, and every user's quotas.
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

/* Quotas (docs/security.md, "Quotas"): what one user's guests, and the
 * daemon on its behalf, may hold at once. Counts, bytes, and CPUs in
 * thousandths. */
enum quota_kind {
    QUOTA_GUESTS,        /* guests, running or exited, until destroyed */
    QUOTA_RAM,           /* guest RAM, summed */
    QUOTA_MEM_LIMIT,     /* memory limits (cgroup memory.max), summed */
    QUOTA_CPUS,          /* CPU quotas, summed; a guest without one: 1 */
    QUOTA_CONSOLE,       /* one guest's console_limit (not summed) */
    QUOTA_CONSOLE_TOTAL, /* log bytes its guests may hold in the run dir */
    QUOTA_PORTS,         /* host ports published (qemu forwards) */
    QUOTA_TEMPLATES,     /* image templates the daemon holds for it */
    QUOTA_CONNECTIONS,   /* API connections at once (server_guard.c) */
    QUOTA_KINDS
};
#define QUOTA_UNLIMITED UINT64_MAX
#define QUOTA_UNSET (UINT64_MAX - 1) /* not set here: the next level's */
#define CONFIG_MAX_QUOTA_ENTRIES 64

struct quota_limits {
    uint64_t v[QUOTA_KINDS];
};

/* Quotas of the users, or the members of the group, called (name). */
struct config_quota_entry {
    char name[64];
    int group;
    uint32_t id; /* uid or gid, resolved by config_load */
    struct quota_limits q;
};

struct config_quotas {
    /* Every member's; fields left QUOTA_UNSET get the host's defaults
     * (quota_host_defaults) when the file is loaded. */
    struct quota_limits members;
    /* Root's: unlimited unless the file says otherwise. */
    struct quota_limits root;
    unsigned n;
    struct config_quota_entry e[CONFIG_MAX_QUOTA_ENTRIES];
};

/* lightvmd's own settings, each also a command-line option, which wins
 * (config_service.c): "" and 0 are "not in the file". */
enum config_conn {
    CONFIG_CONN_MAX,      /* --max-connections */
    CONFIG_CONN_PER_USER, /* --max-connections-per-user */
    CONFIG_CONN_ROOT,     /* --max-connections-root */
    CONFIG_CONN_IDLE,     /* --idle-timeout (seconds; 0: never) */
    CONFIG_CONN_KINDS
};
struct config_service {
    char api_group[64]; /* --group */
    char pool[256];     /* --pool, checked by the daemon (pool_parse) */
    double pool_rate;   /* --pool-rate */
    unsigned conn[CONFIG_CONN_KINDS];
    int conn_set[CONFIG_CONN_KINDS];
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
    struct config_quotas quotas;
    struct config_service svc;
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

/* ---- quotas (config_quota.c) ---- */
struct json_t;
struct creds;

/* The quota's name, as in the file and the API ("ram"). */
const char *quota_name(enum quota_kind k);

/* Parse the "quotas" section (o) of file (name) into (q). */
int config_quotas_parse(struct json_t *o, const char *name,
                        struct config_quotas *q, struct lvm_err *err);

/* Set (q)'s unset fields to the defaults of a host with (mem_total)
 * bytes of RAM and (ncpus) CPUs (docs/daemon.md, "quotas"). */
void quota_host_defaults(struct quota_limits *q, uint64_t mem_total,
                         unsigned ncpus);

/* Client (cr)'s quotas: root's for uid 0; else, field by field, its
 * user entry's, else the largest of its groups' entries', else the
 * members'. (q->members has its defaults already.) */
void quota_limits_for(const struct config_quotas *q, const struct creds *cr,
                      struct quota_limits *out);

/* ---- lightvmd's own settings (config_service.c) ---- */

/* Whether (key) is one of the top-level fields config_service_parse
 * takes. */
int config_service_key(const char *key);

/* Parse the top-level field (key) = (v) of file (name) into (svc). */
int config_service_parse(const char *key, struct json_t *v, const char *name,
                         struct config_service *svc, struct lvm_err *err);

/* (s) cut to 47 characters and made printable, for one-line messages. */
const char *config_show(const char *s, char buf[48]);

#endif
