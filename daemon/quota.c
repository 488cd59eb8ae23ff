/*
 * quota.c: each user's usage against its quotas (quota.h). A hash of
 * per-user counters, found by uid: charging a create costs one lookup and
 * a comparison per quota, whatever the number of guests.
 */
#include "daemon/quota.h"
#include "daemon/server_guard.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUOTA_HASH 256u

struct quota_user {
    uid_t uid;
    uint64_t used[QUOTA_KINDS];
    struct quota_user *next;
};

static struct quota_user *user_of(struct daemon *d, uid_t uid, int make)
{
    if (!d->quota_users) {
        if (!make)
            return NULL;
        d->quota_users = calloc(QUOTA_HASH, sizeof *d->quota_users);
        if (!d->quota_users)
            return NULL;
    }
    struct quota_user **b = &d->quota_users[uid % QUOTA_HASH];
    for (struct quota_user *u = *b; u; u = u->next)
        if (u->uid == uid)
            return u;
    if (!make)
        return NULL;
    struct quota_user *u = calloc(1, sizeof *u);
    if (!u)
        return NULL;
    u->uid = uid;
    u->next = *b;
    *b = u;
    return u;
}

void quota_need(uint64_t ram, uint64_t mem_limit, double cpus,
                uint64_t console_log, unsigned nports,
                uint64_t need[QUOTA_KINDS])
{
    memset(need, 0, QUOTA_KINDS * sizeof need[0]);
    need[QUOTA_GUESTS] = 1;
    need[QUOTA_RAM] = ram;
    need[QUOTA_MEM_LIMIT] = mem_limit;
    /* No quota: it can still use a whole CPU (one vCPU, one thread). */
    need[QUOTA_CPUS] = cpus > 0 ? (uint64_t)(cpus * 1000 + 0.5) : 1000;
    need[QUOTA_CONSOLE] = console_log;
    need[QUOTA_CONSOLE_TOTAL] = console_log;
    need[QUOTA_PORTS] = nports;
}

/* A quantity of quota (k) as people read it. */
static const char *amount(enum quota_kind k, uint64_t v, char *buf, size_t len)
{
    if (v == QUOTA_UNLIMITED)
        snprintf(buf, len, "unlimited");
    else if (k == QUOTA_CPUS)
        snprintf(buf, len, "%.2f CPUs", v / 1000.0);
    else if (k == QUOTA_GUESTS || k == QUOTA_PORTS)
        snprintf(buf, len, "%llu", (unsigned long long)v);
    else if (v >= 1ull << 30)
        snprintf(buf, len, "%.1f GiB", v / (double)(1ull << 30));
    else
        snprintf(buf, len, "%.1f MiB", v / (double)(1ull << 20));
    return buf;
}

/* 0 if (u) may take (need) within (lim); else the refusal in (err). */
static int check(const struct quota_user *u, const struct quota_limits *lim,
                 const uint64_t need[QUOTA_KINDS], struct lvm_err *err)
{
    char a[32], b[32], c[32];
    /* The bound on one guest's console first: a large console_limit
     * also raises its default memory limit, and is the cause to name;
     * then the number of guests, which every create takes. */
    static const unsigned order[QUOTA_KINDS] = {
        QUOTA_CONSOLE,    QUOTA_GUESTS,        QUOTA_RAM,   QUOTA_MEM_LIMIT,
        QUOTA_CPUS,       QUOTA_CONSOLE_TOTAL, QUOTA_PORTS, QUOTA_TEMPLATES,
        QUOTA_CONNECTIONS}; /* a create asks no connections: never refused */
    for (unsigned i = 0; i < QUOTA_KINDS; i++) {
        unsigned k = order[i];
        uint64_t used = u ? u->used[k] : 0, l = lim->v[k];
        if (!need[k] || l == QUOTA_UNLIMITED)
            continue;
        if (k == QUOTA_CONSOLE) { /* a bound on one guest, not a sum */
            if (need[k] > l)
                return lvm_err_set(
                    err, EDQUOT,
                    "quota console exceeded: console_limit %s asked, "
                    "limit %s per guest",
                    amount(k, need[k], a, sizeof a), amount(k, l, b, sizeof b));
            continue;
        }
        if (used + need[k] > l)
            return lvm_err_set(err, EDQUOT,
                               "quota %s exceeded: %s in use + %s asked, "
                               "limit %s (see 'lightvm quota')",
                               quota_name(k), amount(k, used, a, sizeof a),
                               amount(k, need[k], b, sizeof b),
                               amount(k, l, c, sizeof c));
    }
    return 0;
}

/* (cr)'s counters, if it may take (need) within its quotas; else NULL
 * with the refusal in (err). */
static struct quota_user *admit(struct daemon *d, const struct creds *cr,
                                const uint64_t need[QUOTA_KINDS],
                                struct lvm_err *err)
{
    struct quota_limits lim;
    quota_limits_for(&d->cfg.quotas, cr, &lim);
    struct quota_user *u = user_of(d, cr->uid, 1);
    if (!u)
        return lvm_err_set(err, ENOMEM, "quota accounting"), NULL;
    return check(u, &lim, need, err) < 0 ? NULL : u;
}

int quota_charge(struct daemon *d, const struct creds *cr, struct vm *v,
                 const uint64_t need[QUOTA_KINDS], struct lvm_err *err)
{
    struct quota_user *u = admit(d, cr, need, err);
    if (!u)
        return -1;
    for (unsigned k = 0; k < QUOTA_KINDS; k++) {
        if (k == QUOTA_CONSOLE)
            continue; /* per guest: nothing held */
        u->used[k] += need[k];
        v->quota[k] += need[k];
    }
    return 0;
}

void quota_release(struct daemon *d, struct vm *v, unsigned mask)
{
    struct quota_user *u = user_of(d, v->owner, 0);
    for (unsigned k = 0; k < QUOTA_KINDS; k++) {
        if (!(mask & (1u << k)) || !v->quota[k])
            continue;
        if (u) /* a charge always made its user */
            u->used[k] -= v->quota[k] <= u->used[k] ? v->quota[k] : u->used[k];
        v->quota[k] = 0;
    }
}

int quota_take(struct daemon *d, const struct creds *cr, enum quota_kind k,
               uint64_t n, struct lvm_err *err)
{
    uint64_t need[QUOTA_KINDS] = {0};
    need[k] = n;
    struct quota_user *u = admit(d, cr, need, err);
    if (!u)
        return -1;
    u->used[k] += n;
    return 0;
}

void quota_give(struct daemon *d, uid_t uid, enum quota_kind k, uint64_t n)
{
    struct quota_user *u = user_of(d, uid, 0);
    if (u)
        u->used[k] -= n <= u->used[k] ? n : u->used[k];
}

json_t *quota_record(const struct vm *v)
{
    json_t *o = json_object();
    for (unsigned k = 0; k < QUOTA_KINDS; k++)
        if (v->quota[k])
            json_object_set_new(o, quota_name(k),
                                json_integer((json_int_t)v->quota[k]));
    return o;
}

void quota_recover(struct daemon *d, struct vm *v, json_t *rec)
{
    struct quota_user *u = user_of(d, v->owner, 1);
    if (!u || !json_is_object(rec))
        return; /* recorded by a daemon without quotas: not counted */
    for (unsigned k = 0; k < QUOTA_KINDS; k++) {
        json_int_t n = json_integer_value(json_object_get(rec, quota_name(k)));
        if (n <= 0 || k == QUOTA_CONSOLE ||
            (v->state == VM_EXITED && (QUOTA_RUNNING & (1u << k))))
            continue;
        v->quota[k] = (uint64_t)n;
        u->used[k] += (uint64_t)n;
    }
}

json_t *quota_json(struct daemon *d, const struct creds *cr)
{
    struct quota_limits lim;
    quota_limits_for(&d->cfg.quotas, cr, &lim);
    const struct quota_user *u = user_of(d, cr->uid, 0);
    json_t *o = json_object();
    /* Connections are the guard's: its count, and its cap where lower. */
    uint64_t cap = guard_user_cap(d, cr->uid);
    if (cap < lim.v[QUOTA_CONNECTIONS])
        lim.v[QUOTA_CONNECTIONS] = cap;
    for (unsigned k = 0; k < QUOTA_KINDS; k++) {
        uint64_t used = k == QUOTA_CONNECTIONS    ? guard_user_conns(d, cr->uid)
                        : u && k != QUOTA_CONSOLE ? u->used[k]
                                                  : 0;
        json_t *l = lim.v[k] == QUOTA_UNLIMITED ? json_null()
                    : k == QUOTA_CPUS           ? json_real(lim.v[k] / 1000.0)
                                      : json_integer((json_int_t)lim.v[k]);
        json_t *e = json_pack("{s:o}", "limit", l);
        if (k != QUOTA_CONSOLE) /* a bound on one guest: nothing is used */
            json_object_set_new(e, "used",
                                k == QUOTA_CPUS
                                    ? json_real(used / 1000.0)
                                    : json_integer((json_int_t)used));
        json_object_set_new(o, quota_name(k), e);
    }
    return o;
}

void quota_free_all(struct daemon *d)
{
    if (!d->quota_users)
        return;
    for (unsigned i = 0; i < QUOTA_HASH; i++)
        while (d->quota_users[i]) {
            struct quota_user *u = d->quota_users[i];
            d->quota_users[i] = u->next;
            free(u);
        }
    free(d->quota_users);
    d->quota_users = NULL;
}
