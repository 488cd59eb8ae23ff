/*
 * config_quota.c: the "quotas" section of lightvmd's configuration file
 * (docs/daemon.md), the members' defaults derived from the host, and
 * which quotas apply to a client. Pure, like the rest of the file's
 * parsing: unit-tested (tests/unit/test_quota.c) and fuzzed
 * (tests/fuzz/fuzz_config.c).
 */
#include "daemon/config.h"
#include "daemon/creds.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum unit { COUNT, BYTES, CPUS };

static const struct {
    const char *name;
    enum unit unit;
} kinds[QUOTA_KINDS] = {
    [QUOTA_GUESTS] = {"guests", COUNT},
    [QUOTA_RAM] = {"ram", BYTES},
    [QUOTA_MEM_LIMIT] = {"memory_limit", BYTES},
    [QUOTA_CPUS] = {"cpus", CPUS},
    [QUOTA_CONSOLE] = {"console", BYTES},
    [QUOTA_CONSOLE_TOTAL] = {"console_total", BYTES},
    [QUOTA_PORTS] = {"ports", COUNT},
    [QUOTA_TEMPLATES] = {"templates", BYTES},
    [QUOTA_CONNECTIONS] = {"connections", COUNT},
};

/* Bounds on what a file may say: far beyond any host, well inside
 * uint64_t sums. */
#define MAX_COUNT 1000000000ull
#define MAX_BYTES (1ull << 50)
#define MAX_CPUS 1000000.0

const char *quota_name(enum quota_kind k)
{
    return (unsigned)k < QUOTA_KINDS ? kinds[k].name : "?";
}

/* "NAME: field F: message" (returns -1). */
static int bad(struct lvm_err *err, const char *name, const char *field,
               const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int bad(struct lvm_err *err, const char *name, const char *field,
               const char *fmt, ...)
{
    char msg[LVM_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return lvm_err_set(err, 0, "%s: field %s: %s", name, field, msg);
}

/* "512M", "2G", "65536": bytes, binary multiples. */
static int parse_size(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > MAX_BYTES)
            return -1;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (p == s)
        return -1;
    static const char units[] = "KMGT";
    const char *u = *p ? strchr(units, *p) : NULL;
    if (u) {
        for (long i = 0; i <= u - units; i++)
            v = v > MAX_BYTES ? v : v << 10;
        p++;
    }
    if (*p || v > MAX_BYTES)
        return -1;
    *out = v;
    return 0;
}

static int parse_value(json_t *v, enum quota_kind k, const char *name,
                       const char *field, uint64_t *out, struct lvm_err *err)
{
    char b[48];
    const char *s = json_string_value(v);
    if (s && !strcmp(s, "unlimited")) {
        *out = QUOTA_UNLIMITED;
        return 0;
    }
    switch (kinds[k].unit) {
    case COUNT:
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            (uint64_t)json_integer_value(v) > MAX_COUNT)
            return bad(err, name, field,
                       "must be a count, 0 to %llu, or \"unlimited\"",
                       MAX_COUNT);
        *out = (uint64_t)json_integer_value(v);
        return 0;
    case BYTES:
        if (json_is_integer(v) && json_integer_value(v) >= 0 &&
            (uint64_t)json_integer_value(v) <= MAX_BYTES) {
            *out = (uint64_t)json_integer_value(v);
            return 0;
        }
        if (s && parse_size(s, out) == 0)
            return 0;
        if (s)
            return bad(err, name, field,
                       "'%s' is not a size (bytes, or N with K, M, G or T), "
                       "or \"unlimited\"",
                       config_show(s, b));
        return bad(err, name, field,
                   "must be a size (bytes, or a string \"512M\"), or "
                   "\"unlimited\"");
    case CPUS: {
        double c = json_number_value(v);
        if (!json_is_number(v) || !(c >= 0 && c <= MAX_CPUS))
            return bad(err, name, field,
                       "must be a number of CPUs, 0 to %.0f, or \"unlimited\"",
                       MAX_CPUS);
        *out = (uint64_t)llround(c * 1000);
        return 0;
    }
    }
    return -1;
}

/* One set of quotas {"guests": 4, "ram": "1G", ...} at (where); the
 * fields it names overwrite (q)'s. */
static int parse_entry(json_t *o, const char *name, const char *where,
                       struct quota_limits *q, struct lvm_err *err)
{
    char f[160], b[48];
    if (!json_is_object(o))
        return bad(err, name, where,
                   "must be an object of quotas {\"guests\": N, ...}");
    const char *key;
    json_t *v;
    json_object_foreach (o, key, v) {
        unsigned k = 0;
        while (k < QUOTA_KINDS && strcmp(kinds[k].name, key))
            k++;
        snprintf(f, sizeof f, "%s.%s", where, config_show(key, b));
        if (k == QUOTA_KINDS)
            return bad(err, name, f,
                       "unknown quota (known: guests, ram, "
                       "memory_limit, cpus, console, "
                       "console_total, ports, templates)");
        if (parse_value(v, (enum quota_kind)k, name, f, &q->v[k], err) < 0)
            return -1;
    }
    return 0;
}

/* A user or group name as the system's databases take it. */
static int account_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= sizeof((struct config_quota_entry *)0)->name)
        return 0;
    for (; *s; s++)
        if (*s == ':' || *s == '/' || (unsigned char)*s <= ' ' || *s == 0x7f)
            return 0;
    return 1;
}

/* "users" or "groups": {"NAME": {quotas}, ...}. */
static int parse_entries(json_t *o, const char *name, const char *section,
                         int group, struct config_quotas *q,
                         struct lvm_err *err)
{
    char where[160], b[48];
    snprintf(where, sizeof where, "quotas.%s", section);
    if (!json_is_object(o))
        return bad(err, name, where,
                   "must be an object {\"NAME\": {quotas}, ...}");
    const char *key;
    json_t *v;
    json_object_foreach (o, key, v) {
        snprintf(where, sizeof where, "quotas.%s.%s", section,
                 config_show(key, b));
        if (!account_name_ok(key))
            return bad(err, name, where, "'%s' is not a %s name",
                       config_show(key, b), group ? "group" : "user");
        if (q->n == CONFIG_MAX_QUOTA_ENTRIES)
            return bad(err, name, where,
                       "at most %d user and group entries in all",
                       CONFIG_MAX_QUOTA_ENTRIES);
        struct config_quota_entry *e = &q->e[q->n];
        memset(e, 0, sizeof *e);
        snprintf(e->name, sizeof e->name, "%s", key);
        e->group = group;
        for (unsigned k = 0; k < QUOTA_KINDS; k++)
            e->q.v[k] = QUOTA_UNSET;
        if (parse_entry(v, name, where, &e->q, err) < 0)
            return -1;
        q->n++;
    }
    return 0;
}

int config_quotas_parse(json_t *o, const char *name, struct config_quotas *q,
                        struct lvm_err *err)
{
    static const char *const known[] = {"members", "root", "users", "groups",
                                        NULL};
    if (!json_is_object(o))
        return bad(err, name, "quotas",
                   "must be an object {\"members\", \"root\", \"users\", "
                   "\"groups\"}");
    const char *key;
    json_t *v;
    json_object_foreach (o, key, v) {
        int ok = 0;
        for (const char *const *p = known; *p && !ok; p++)
            ok = !strcmp(key, *p);
        if (!ok) {
            char b[48], f[64];
            snprintf(f, sizeof f, "quotas.%s", config_show(key, b));
            return bad(err, name, f, "unknown field");
        }
    }
    if ((v = json_object_get(o, "members")) &&
        parse_entry(v, name, "quotas.members", &q->members, err) < 0)
        return -1;
    if ((v = json_object_get(o, "root")) &&
        parse_entry(v, name, "quotas.root", &q->root, err) < 0)
        return -1;
    if ((v = json_object_get(o, "users")) &&
        parse_entries(v, name, "users", 0, q, err) < 0)
        return -1;
    if ((v = json_object_get(o, "groups")) &&
        parse_entries(v, name, "groups", 1, q, err) < 0)
        return -1;
    return 0;
}

void quota_host_defaults(struct quota_limits *q, uint64_t mem_total,
                         unsigned ncpus)
{
    if (!mem_total) /* no /proc/meminfo: assume a small host */
        mem_total = 1ull << 30;
    if (!ncpus)
        ncpus = 1;
    const uint64_t def[QUOTA_KINDS] = {
        [QUOTA_GUESTS] = 64,
        /* Memory limits are what the kernel enforces: half the host's
         * RAM, so that one member cannot hold guests whose limits add up
         * past it; RAM alike (a guest's limit is at least its RAM). */
        [QUOTA_RAM] = mem_total / 2,
        [QUOTA_MEM_LIMIT] = mem_total / 2,
        /* Ceilings, not reservations: a guest without a quota counts
         * one CPU (its one vCPU), so 32 per host CPU. */
        [QUOTA_CPUS] = (uint64_t)ncpus * 32 * 1000,
        [QUOTA_CONSOLE] = 16ull << 20,
        /* Logs live in the run directory, a tmpfs: RAM. */
        [QUOTA_CONSOLE_TOTAL] = mem_total / 16,
        [QUOTA_PORTS] = 32,
        [QUOTA_TEMPLATES] = mem_total / 16,
        /* lightvmd's --max-connections-per-user applies anyway (it is
         * derived from the daemon's fd limit): this only lowers it. */
        [QUOTA_CONNECTIONS] = QUOTA_UNLIMITED,
    };
    for (unsigned k = 0; k < QUOTA_KINDS; k++)
        if (q->v[k] == QUOTA_UNSET)
            q->v[k] = def[k];
}

static int in_group(const struct creds *cr, uint32_t gid)
{
    if (cr->gid == gid)
        return 1;
    for (int i = 0; i < cr->ngroups; i++)
        if (cr->groups[i] == gid)
            return 1;
    return 0;
}

void quota_limits_for(const struct config_quotas *q, const struct creds *cr,
                      struct quota_limits *out)
{
    if (cr->uid == 0) {
        *out = q->root;
        return;
    }
    for (unsigned k = 0; k < QUOTA_KINDS; k++) {
        uint64_t user = QUOTA_UNSET, group = QUOTA_UNSET;
        for (unsigned i = 0; i < q->n; i++) {
            const struct config_quota_entry *e = &q->e[i];
            uint64_t v = e->q.v[k];
            if (v == QUOTA_UNSET)
                continue;
            if (!e->group && e->id == cr->uid)
                user = v;
            else if (e->group && in_group(cr, e->id) &&
                     (group == QUOTA_UNSET || v > group))
                group = v;
        }
        out->v[k] = user != QUOTA_UNSET    ? user
                    : group != QUOTA_UNSET ? group
                                           : q->members.v[k];
        if (out->v[k] == QUOTA_UNSET) /* defaults not applied: none */
            out->v[k] = QUOTA_UNLIMITED;
    }
}
