/*
 * quota.h: per-user accounting against the operator's quotas (config.h,
 * docs/security.md "Quotas"). One counter set per user, updated when a
 * guest is charged (before anything of it is made), when it exits (what
 * only a running guest holds) and when it is forgotten (the rest): no
 * step walks the guests.
 */
#ifndef LVM_DAEMON_QUOTA_H
#define LVM_DAEMON_QUOTA_H

#include "daemon/daemon.h"

#include <jansson.h>

/* What a running guest holds and gives back when it exits; the rest
 * (its record, its logs in the run directory) until it is destroyed. */
#define QUOTA_RUNNING                                                          \
    ((1u << QUOTA_RAM) | (1u << QUOTA_MEM_LIMIT) | (1u << QUOTA_CPUS) |        \
     (1u << QUOTA_PORTS))
#define QUOTA_ALL ((1u << QUOTA_KINDS) - 1)

/* What a guest with these properties costs: (console_log) the bytes its
 * logs may take in the run directory (0: its console is the client's). */
void quota_need(uint64_t ram, uint64_t mem_limit, double cpus,
                uint64_t console_log, unsigned nports,
                uint64_t need[QUOTA_KINDS]);

/* Charge client (cr) for guest (v) needing (need): 0, or -1 with
 * err->code EDQUOT and a line naming the quota, the usage and the limit,
 * and nothing charged. What is charged is recorded in v->quota. */
int quota_charge(struct daemon *d, const struct creds *cr, struct vm *v,
                 const uint64_t need[QUOTA_KINDS], struct lvm_err *err);

/* Give back what (v) holds of the quotas in (mask) (bits of enum
 * quota_kind); each only once. */
void quota_release(struct daemon *d, struct vm *v, unsigned mask);

/* Take (n) of quota (k) for client (cr) outside a guest (an image
 * template): as quota_charge(); quota_give() returns it. */
int quota_take(struct daemon *d, const struct creds *cr, enum quota_kind k,
               uint64_t n, struct lvm_err *err);
void quota_give(struct daemon *d, uid_t uid, enum quota_kind k, uint64_t n);

/* (v)'s charges for its config.json, and back after a daemon restart
 * (charged whatever the limits: the guest exists). */
json_t *quota_record(const struct vm *v);
void quota_recover(struct daemon *d, struct vm *v, json_t *rec);

/* Client (cr)'s usage and limits, for the API's "quota". */
json_t *quota_json(struct daemon *d, const struct creds *cr);

void quota_free_all(struct daemon *d);

#endif
