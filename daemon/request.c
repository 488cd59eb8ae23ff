/*
 * request.c: parse and validate lightvmd requests (see request.h).
 *
 * Every field is checked for its type and range, unknown operations and
 * fields are refused by name, and strings are bounded, so what reaches
 * the daemon's logic is always well-formed. jansson reads the JSON
 * (duplicate keys rejected, no trailing data).
 */
#include "daemon/request.h"
#include "toolstack/guest_policy.h"
#include "toolstack/guest_name.h"
#include "toolstack/netaddr.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static const char *const op_names[] = {
    [OP_VERSION] = "version", [OP_CREATE] = "create",
    [OP_DESTROY] = "destroy", [OP_LIST] = "list",
    [OP_INFO] = "info",       [OP_PAUSE] = "pause",
    [OP_UNPAUSE] = "unpause", [OP_POWEROFF] = "poweroff",
    [OP_SUSPEND] = "suspend", [OP_RESUME] = "resume",
    [OP_WAIT] = "wait",       [OP_POOL] = "pool",
    [OP_SAVE] = "save",       [OP_RESTORE] = "restore",
    [OP_QUOTA] = "quota",     [OP_CLONE] = "clone",
    [OP_MIGRATE] = "migrate", [OP_MIGRATE_IN] = "migrate-in",
    [OP_KILL] = "kill",       [OP_RECIPE] = "recipe",
    [OP_EXEC] = "exec",
};

#define NOPS (sizeof op_names / sizeof op_names[0])

const char *request_op_name(enum request_op op)
{
    return (unsigned)op < NOPS ? op_names[op] : "?";
}

/* Fields each operation accepts, besides "op" and "tag". */
static const char *const target_fields[] = {"id", NULL};
static const char *const create_fields[] = {
    "image",         "name",        "mem",     "mem_limit", "cpus",
    "args",          "env",         "block",   "monitor",   "console",
    "console_limit", "watchdog_ms", "net",     "argv0",     "ports",
    "auto_remove",   "restart",     "volumes", NULL};
/* restore: create's fields and the state file */
static const char *const restore_fields[] = {
    "image",         "name",        "mem",     "mem_limit", "cpus",
    "args",          "env",         "block",   "monitor",   "console",
    "console_limit", "watchdog_ms", "net",     "argv0",     "ports",
    "path",          "auto_remove", "restart", "volumes",   NULL};
static const char *const save_fields[] = {"id", "path", "force",
                                          "leave_running", NULL};
/* clone: a guest ("id") or a state file ("path"); "name" their stem */
static const char *const clone_fields[] = {"id", "path", "count", "name", NULL};
static const char *const kill_fields[] = {"id", "signal", NULL};
/* migrate: the guest; the TCP destination's secret (docs/migration.md) */
static const char *const migrate_fields[] = {"id", "token", NULL};
static const char *const list_fields[] = {"offset", "limit", "stats", NULL};
static const char *const no_fields[] = {NULL};

static const char *const *fields_of(enum request_op op)
{
    switch (op) {
    case OP_CREATE: return create_fields;
    case OP_RESTORE: return restore_fields;
    case OP_SAVE: return save_fields;
    case OP_CLONE: return clone_fields;
    case OP_KILL: return kill_fields;
    case OP_MIGRATE: return migrate_fields;
    case OP_LIST: return list_fields;
    case OP_VERSION:
    case OP_POOL:
    case OP_QUOTA:
    case OP_MIGRATE_IN: return no_fields;
    default: return target_fields;
    }
}

/* A client's string, safe to echo in a one-line message: at most 60
 * characters, control characters and quotes replaced. */
/* (s), cut to 60 bytes, with control characters as '?' and, unless
 * (quotes), quotes too (the callers quote it in '...'). */
static const char *shown(const char *s, char buf[72], int quotes)
{
    size_t i = 0;
    for (; i < 60 && s[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[i] = c < 0x20 || c == 0x7f || (!quotes && (c == '\'' || c == '"'))
                     ? '?'
                     : (char)c;
    }
    if (i == 60 && s[i])
        buf[i++] = '.', buf[i++] = '.', buf[i++] = '.';
    buf[i] = 0;
    return buf;
}

static const char *printable(const char *s, char buf[72])
{
    return shown(s, buf, 0);
}

#define BAD(code_, ...)                                                        \
    do {                                                                       \
        *code = code_;                                                         \
        return lvm_err_invalid(err, __VA_ARGS__);                              \
    } while (0)

static int get_string(json_t *o, const char *key, char *out, size_t max,
                      int required, const char **code, struct lvm_err *err)
{
    json_t *v = json_object_get(o, key);
    if (!v) {
        if (required)
            BAD("bad_request", "missing field '%s'", key);
        return 0;
    }
    if (!json_is_string(v))
        BAD("bad_request", "field '%s' must be a string", key);
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    if (n == 0 || n >= max)
        BAD("bad_request", "field '%s' must be 1 to %zu characters", key,
            max - 1);
    if (memchr(s, 0, n))
        BAD("bad_request", "field '%s' contains a NUL character", key);
    memcpy(out, s, n + 1);
    return 1;
}

/* A guest's name: shown on terminals, addressed as OWNER/NAME, so held
 * to one rule (toolstack/guest_name.h) whatever is wrong with it. */
static int get_name(json_t *o, struct request *r, const char **code,
                    struct lvm_err *err)
{
    json_t *v = json_object_get(o, "name");
    if (!v)
        return 0;
    if (!json_is_string(v) || json_string_length(v) > GUEST_NAME_MAX ||
        strlen(json_string_value(v)) != json_string_length(v) ||
        !guest_name_valid(json_string_value(v)))
        BAD("bad_request", "field 'name' must be %s", GUEST_NAME_RULE);
    memcpy(r->name, json_string_value(v), json_string_length(v) + 1);
    return 1;
}

static int get_uint(json_t *o, const char *key, uint64_t max, uint64_t *out,
                    const char **code, struct lvm_err *err)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        (uint64_t)json_integer_value(v) > max)
        BAD("bad_request", "field '%s' must be an integer from 0 to %llu", key,
            (unsigned long long)max);
    *out = (uint64_t)json_integer_value(v);
    return 1;
}

static int get_strings(json_t *o, const char *key, char **out, int max, int *n,
                       const char **code, struct lvm_err *err)
{
    json_t *a = json_object_get(o, key);
    if (!a)
        return 0;
    if (!json_is_array(a))
        BAD("bad_request", "field '%s' must be an array of strings", key);
    if (json_array_size(a) > (size_t)max)
        BAD("bad_request", "field '%s' has more than %d entries", key, max);
    size_t i;
    json_t *v;
    json_array_foreach (a, i, v) {
        if (!json_is_string(v))
            BAD("bad_request", "field '%s' must be an array of strings", key);
        size_t len = json_string_length(v);
        if (memchr(json_string_value(v), 0, len))
            BAD("bad_request", "field '%s' contains a NUL character", key);
        out[*n] = strdup(json_string_value(v));
        if (!out[*n])
            BAD("failed", "out of memory");
        (*n)++;
    }
    return 1;
}

static int parse_blocks(json_t *o, struct request *r, const char **code,
                        struct lvm_err *err)
{
    json_t *a = json_object_get(o, "block");
    if (!a)
        return 0;
    if (!json_is_array(a) || json_array_size(a) > GUEST_MAX_BLOCKS)
        BAD("bad_request",
            "field 'block' must be an array of at most %d "
            "objects",
            GUEST_MAX_BLOCKS);
    size_t i;
    json_t *b;
    json_array_foreach (a, i, b) {
        if (!json_is_object(b))
            BAD("bad_request", "field 'block' must hold objects");
        const char *k;
        json_t *v;
        json_object_foreach (b, k, v) {
            char pb[72];
            if (strcmp(k, "name") && strcmp(k, "path") && strcmp(k, "readonly"))
                BAD("unknown_field", "unknown field '%s' in a block device",
                    printable(k, pb));
        }
        struct guest_block *gb = &r->blocks[r->nblocks];
        gb->fd = -1;
        if (get_string(b, "name", gb->name, sizeof gb->name, 1, code, err) <
                0 ||
            get_string(b, "path", gb->path, sizeof gb->path, 1, code, err) < 0)
            return -1;
        json_t *ro = json_object_get(b, "readonly");
        if (ro && !json_is_boolean(ro))
            BAD("bad_request", "field 'readonly' must be true or false");
        gb->readonly = ro && json_is_true(ro);
        for (unsigned j = 0; j < r->nblocks; j++) {
            char pb[72];
            if (strcmp(r->blocks[j].name, gb->name) == 0)
                BAD("bad_request", "block device '%s' given twice",
                    printable(gb->name, pb));
        }
        r->nblocks++;
    }
    return 0;
}

/* "volumes": [{"path", "target", "readonly"}] (qemu guests). */
static int parse_volumes(json_t *o, struct request *r, const char **code,
                         struct lvm_err *err)
{
    json_t *a = json_object_get(o, "volumes");
    if (!a)
        return 0;
    if (!json_is_array(a) || json_array_size(a) > QEMU_MAX_VOLUMES)
        BAD("bad_request",
            "field 'volumes' must be an array of at most %d objects",
            QEMU_MAX_VOLUMES);
    size_t i;
    json_t *b;
    json_array_foreach (a, i, b) {
        if (!json_is_object(b))
            BAD("bad_request", "field 'volumes' must hold objects");
        const char *k;
        json_t *v;
        json_object_foreach (b, k, v) {
            char pb[72];
            if (strcmp(k, "path") && strcmp(k, "target") &&
                strcmp(k, "readonly"))
                BAD("unknown_field", "unknown field '%s' in a volume",
                    printable(k, pb));
        }
        struct qemu_volume *qv = &r->volumes[r->nvolumes];
        if (get_string(b, "path", qv->path, sizeof qv->path, 1, code, err) <
                0 ||
            get_string(b, "target", qv->target, sizeof qv->target, 1, code,
                       err) < 0)
            return -1;
        if (qv->path[0] != '/')
            BAD("bad_request", "a volume's 'path' must be an absolute path");
        if (qemu_volume_target_ok(qv->target, err) < 0) {
            *code = "invalid";
            return -1;
        }
        json_t *ro = json_object_get(b, "readonly");
        if (ro && !json_is_boolean(ro))
            BAD("bad_request", "field 'readonly' must be true or false");
        qv->readonly = ro && json_is_true(ro);
        for (unsigned j = 0; j < r->nvolumes; j++)
            if (!strcmp(r->volumes[j].target, qv->target))
                BAD("bad_request", "two volumes on %.64s", qv->target);
        r->nvolumes++;
    }
    return 0;
}

/* "net.nics": NICs named on their own, as `--net=NAME=BRIDGE[,...]`. */
static int parse_nics(json_t *a, struct guest_net_spec *ns, const char **code,
                      struct lvm_err *err)
{
    if (!json_is_array(a) || json_array_size(a) > GUEST_MAX_NICS)
        BAD("bad_request",
            "field 'net.nics' must be an array of at most %d "
            "strings",
            GUEST_MAX_NICS);
    size_t i;
    json_t *v;
    json_array_foreach (a, i, v) {
        const char *s = json_string_value(v);
        size_t n = s ? strlen(s) : 0;
        /* Printable, so the parser's message may quote it. */
        int ok = s && n > 0 && n < 96;
        for (size_t j = 0; ok && j < n; j++)
            ok = s[j] > 0x20 && s[j] < 0x7f;
        if (!ok)
            BAD("bad_request",
                "field 'net.nics[%zu]' is not NAME=BRIDGE[,forward]"
                "[,subnet=CIDR][,ip=ADDRESS]",
                i);
        struct guest_nic_spec *one = &ns->nics[ns->nnics];
        if (nic_spec_parse(s, one, err) < 0) {
            char m[sizeof err->msg];
            snprintf(m, sizeof m, "%s", err->msg);
            BAD("bad_request", "net.nics[%zu]: %s", i, m);
        }
        if (nic_spec_find(ns, one->dev))
            BAD("bad_request", "net.nics[%zu]: NIC %s named twice", i,
                one->dev);
        ns->nnics++;
    }
    return 0;
}

/* "net": true, or an object: {"bridge", "subnet", "ip", "nat", "dhcp",
 * "filter", "nics"}, each optional (the defaults of `lightvm run --net`). */
static int parse_net(json_t *o, struct request *r, const char **code,
                     struct lvm_err *err)
{
    json_t *n = json_object_get(o, "net");
    if (!n || json_is_false(n))
        return 0;
    struct guest_net_spec *ns = &r->net;
    ns->enabled = 1;
    if (json_is_true(n))
        return 0;
    if (!json_is_object(n))
        BAD("bad_request", "field 'net' must be true or an object");
    const char *k;
    json_t *v;
    json_object_foreach (n, k, v) {
        char pb[72];
        if (strcmp(k, "bridge") && strcmp(k, "subnet") && strcmp(k, "ip") &&
            strcmp(k, "nat") && strcmp(k, "dhcp") && strcmp(k, "filter") &&
            strcmp(k, "nics"))
            BAD("unknown_field", "unknown field '%s' in 'net'",
                printable(k, pb));
        if (!strcmp(k, "nics")) {
            if (parse_nics(v, ns, code, err) < 0)
                return -1;
        } else if (!strcmp(k, "nat") || !strcmp(k, "dhcp") ||
                   !strcmp(k, "filter")) {
            if (!json_is_boolean(v))
                BAD("bad_request", "field 'net.%s' must be true or false", k);
        } else if (!json_is_string(v)) {
            BAD("bad_request", "field 'net.%s' must be a string", k);
        }
    }
    char s[64], pb[72];
    if (get_string(n, "bridge", ns->bridge, sizeof ns->bridge, 0, code, err) <
        0)
        return lvm_err_wrap(err, "net");
    if (ns->bridge[0] && (strchr(ns->bridge, '/') || strchr(ns->bridge, ' ')))
        BAD("bad_request", "'%s' is not a bridge name",
            printable(ns->bridge, pb));
    s[0] = 0;
    if (get_string(n, "subnet", s, sizeof s, 0, code, err) < 0)
        return lvm_err_wrap(err, "net");
    /* Our own message: the parser's would echo the client's bytes. */
    if (s[0] && netaddr_parse_cidr(s, &ns->bridge_addr, &ns->prefix, err) < 0)
        BAD("bad_request", "net.subnet: '%s' is not ADDRESS/PREFIX",
            printable(s, pb));
    s[0] = 0;
    if (get_string(n, "ip", s, sizeof s, 0, code, err) < 0)
        return lvm_err_wrap(err, "net");
    if (s[0] && netaddr_parse_ip4(s, &ns->want_addr) < 0)
        BAD("bad_request", "net.ip: '%s' is not an IPv4 address",
            printable(s, pb));
    ns->nat = json_is_true(json_object_get(n, "nat"));
    ns->dhcp = json_is_true(json_object_get(n, "dhcp"));
    ns->no_filter = json_is_false(json_object_get(n, "filter"));
    if (ns->dhcp && ns->want_addr)
        BAD("bad_request", "net.ip and net.dhcp exclude each other");
    return 0;
}

/* Port forwards: strings, checked for their form by the qemu monitor. */
static int parse_ports(json_t *o, struct request *r, const char **code,
                       struct lvm_err *err)
{
    json_t *a = json_object_get(o, "ports");
    if (!a)
        return 0;
    if (!json_is_array(a) || json_array_size(a) > REQUEST_MAX_PORTS)
        BAD("bad_request",
            "field 'ports' must be an array of at most %d strings",
            REQUEST_MAX_PORTS);
    size_t i;
    json_t *v;
    json_array_foreach (a, i, v) {
        if (!json_is_string(v) || json_string_length(v) == 0 ||
            json_string_length(v) >= REQUEST_PORT_LEN ||
            strlen(json_string_value(v)) != json_string_length(v))
            BAD("bad_request",
                "field 'ports' must hold strings of 1 to %d characters",
                REQUEST_PORT_LEN - 1);
        memcpy(r->ports[r->nports++], json_string_value(v),
               json_string_length(v) + 1);
    }
    return 0;
}

/* A state file: an absolute path (the daemon's working directory means
 * nothing to a client). */
static int parse_path(json_t *o, struct request *r, const char **code,
                      struct lvm_err *err)
{
    if (get_string(o, "path", r->path, sizeof r->path, 1, code, err) < 0)
        return -1;
    if (r->path[0] != '/')
        BAD("bad_request", "field 'path' must be an absolute path");
    return 0;
}

static int get_bool(json_t *o, const char *key, int *out, const char **code,
                    struct lvm_err *err)
{
    json_t *v = json_object_get(o, key);
    if (v && !json_is_boolean(v))
        BAD("bad_request", "field '%s' must be true or false", key);
    *out = v && json_is_true(v);
    return 0;
}

#define CLONE_MAX 1000 /* guests one clone request starts */

static int parse_clone(json_t *o, struct request *r, const char **code,
                       struct lvm_err *err)
{
    uint64_t count = 1;
    if (get_string(o, "id", r->target, sizeof r->target, 0, code, err) < 0 ||
        get_uint(o, "count", CLONE_MAX, &count, code, err) < 0 ||
        get_name(o, r, code, err) < 0)
        return -1;
    if (json_object_get(o, "path") && parse_path(o, r, code, err) < 0)
        return -1;
    if (!r->target[0] == !r->path[0])
        BAD("bad_request", "clone takes a guest ('id') or a state file "
                           "('path'), one of them");
    if (count == 0)
        BAD("bad_request", "field 'count' must be 1..%d", CLONE_MAX);
    r->count = (unsigned)count;
    return 0;
}

static int parse_create(json_t *o, struct request *r, const char **code,
                        struct lvm_err *err)
{
    /* A restore may take its image from the state file's recipe. */
    if (get_string(o, "image", r->image, sizeof r->image, r->op == OP_CREATE,
                   code, err) < 0 ||
        get_string(o, "argv0", r->argv0, sizeof r->argv0, 0, code, err) < 0 ||
        get_name(o, r, code, err) < 0 ||
        get_string(o, "monitor", r->monitor, sizeof r->monitor, 0, code, err) <
            0)
        return -1;
    /* Caps: a host limit past RAM plus a generous 1 GiB of kernel memory
     * and console buys nothing but room to hurt the host. */
    /* The largest any monitor takes; each checks its own range. */
    if (get_uint(o, "mem", GUEST_RAM_ANY_MAX, &r->mem, code, err) < 0 ||
        get_uint(o, "mem_limit", 2 * GUEST_RAM_ANY_MAX, &r->mem_limit, code,
                 err) < 0 ||
        get_uint(o, "console_limit", 1ull << 30, &r->console_limit, code, err) <
            0)
        return -1;
    uint64_t wd = 0;
    if (get_uint(o, "watchdog_ms", 86400000, &wd, code, err) < 0)
        return -1;
    r->watchdog_ms = (uint32_t)wd;
    if (get_bool(o, "auto_remove", &r->auto_remove, code, err) < 0)
        return -1;
    json_t *rs = json_object_get(o, "restart");
    if (rs && (!json_is_string(rs) ||
               request_restart_parse(json_string_value(rs), &r->restart,
                                     &r->restart_max) < 0))
        BAD("bad_request", "field 'restart' must be \"no\", \"always\", "
                           "\"on-failure\" or \"on-failure:N\" (N retries, "
                           "1 to 1000000)");
    if (r->auto_remove && r->restart != RESTART_NO) /* as docker says */
        BAD("invalid", "fields 'auto_remove' and 'restart' conflict: a guest "
                       "removed when it exits cannot be restarted");
    json_t *cpus = json_object_get(o, "cpus");
    if (cpus) {
        if (!json_is_number(cpus) || !(json_number_value(cpus) >= 0) ||
            json_number_value(cpus) > 1024)
            BAD("bad_request", "field 'cpus' must be a number from 0 to 1024");
        r->cpus = json_number_value(cpus);
    }
    json_t *console = json_object_get(o, "console");
    if (console) {
        if (!json_is_string(console) ||
            (strcmp(json_string_value(console), "log") &&
             strcmp(json_string_value(console), "fd")))
            BAD("bad_request", "field 'console' must be \"log\" or \"fd\"");
        r->console_fd = strcmp(json_string_value(console), "fd") == 0;
    }
    if (get_strings(o, "args", r->argv, REQUEST_MAX_ARGS - 1, &r->argc, code,
                    err) < 0 ||
        get_strings(o, "env", r->envp, REQUEST_MAX_ENV, &r->envc, code, err) <
            0)
        return -1;
    char pb[72];
    for (int i = 0; i < r->envc; i++)
        if (!strchr(r->envp[i], '=') || r->envp[i][0] == '=')
            BAD("bad_request", "environment entry '%s' is not KEY=VALUE",
                printable(r->envp[i], pb));
    if (parse_net(o, r, code, err) < 0 || parse_ports(o, r, code, err) < 0)
        return -1;
    if (parse_volumes(o, r, code, err) < 0)
        return -1;
    return parse_blocks(o, r, code, err);
}

/* kill: a guest and a signal (default SIGKILL). Not the ones that stop
 * or continue a process: pause and unpause own those (the freezer, QMP). */
static int parse_kill(json_t *o, struct request *r, const char **code,
                      struct lvm_err *err)
{
    uint64_t sig = SIGKILL;
    if (get_string(o, "id", r->target, sizeof r->target, 1, code, err) < 0 ||
        (json_object_get(o, "signal") &&
         get_uint(o, "signal", 31, &sig, code, err) < 0))
        return -1;
    if (sig == 0 || sig == SIGSTOP || sig == SIGCONT || sig == SIGTSTP ||
        sig == SIGTTIN || sig == SIGTTOU) {
        *code = "invalid";
        return lvm_err_invalid(err,
                               "signal %llu: not one kill sends (1 to 31, but "
                               "not the stop and continue signals: use pause "
                               "and unpause)",
                               (unsigned long long)sig);
    }
    r->signal = (int)sig;
    return 0;
}

int request_restart_parse(const char *s, enum restart_policy *p, unsigned *max)
{
    *max = 0;
    if (!strcmp(s, "no")) {
        *p = RESTART_NO;
        return 0;
    }
    if (!strcmp(s, "always")) {
        *p = RESTART_ALWAYS;
        return 0;
    }
    if (strncmp(s, "on-failure", 10))
        return -1;
    *p = RESTART_ON_FAILURE;
    if (!s[10])
        return 0;
    const char *n = s + 11;
    if (s[10] != ':' || !*n || strspn(n, "0123456789") != strlen(n) ||
        strlen(n) > 7 || *n == '0')
        return -1;
    long v = strtol(n, NULL, 10);
    if (v > 1000000)
        return -1;
    *max = (unsigned)v;
    return 0;
}

const char *request_restart_str(enum restart_policy p, unsigned max, char *buf,
                                size_t len)
{
    if (p == RESTART_ON_FAILURE && max)
        snprintf(buf, len, "on-failure:%u", max);
    else
        snprintf(buf, len, "%s",
                 p == RESTART_ALWAYS       ? "always"
                 : p == RESTART_ON_FAILURE ? "on-failure"
                                           : "no");
    return buf;
}

int request_parse(const char *buf, size_t len, struct request *r,
                  const char **code, struct lvm_err *err)
{
    memset(r, 0, sizeof *r);
    *code = NULL;
    if (len > REQUEST_MAX_BYTES)
        BAD("too_large", "request of %zu bytes is larger than %d", len,
            REQUEST_MAX_BYTES);
    json_error_t je;
    json_t *o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    char pb[72];
    if (!o) /* jansson quotes the input in its text: as it is, one line */
        BAD("bad_request", "malformed JSON at byte %d: %s", je.position,
            shown(je.text, pb, 1));
    int rc = -1;
    if (!json_is_object(o)) {
        *code = "bad_request";
        lvm_err_invalid(err, "a request is a JSON object");
        goto out;
    }
    json_t *tag = json_object_get(o, "tag");
    if (tag) {
        if (!json_is_integer(tag)) {
            *code = "bad_request";
            lvm_err_invalid(err, "field 'tag' must be an integer");
            goto out;
        }
        r->tag = json_integer_value(tag);
        r->has_tag = 1;
    }
    json_t *op = json_object_get(o, "op");
    if (!op || !json_is_string(op)) {
        *code = "bad_request";
        lvm_err_invalid(err, "missing field 'op' (a string)");
        goto out;
    }
    size_t i;
    for (i = 0; i < NOPS; i++)
        if (strcmp(json_string_value(op), op_names[i]) == 0)
            break;
    if (i == NOPS) {
        *code = "unknown_op";
        lvm_err_invalid(err, "unknown operation '%s'",
                        printable(json_string_value(op), pb));
        goto out;
    }
    r->op = (enum request_op)i;
    const char *const *allowed = fields_of(r->op);
    const char *k;
    json_t *v;
    json_object_foreach (o, k, v) {
        if (!strcmp(k, "op") || !strcmp(k, "tag"))
            continue;
        int ok = 0;
        for (size_t j = 0; allowed[j]; j++)
            ok |= !strcmp(k, allowed[j]);
        if (!ok) {
            *code = "unknown_field";
            lvm_err_invalid(err, "unknown field '%s' for %s", printable(k, pb),
                            op_names[r->op]);
            goto out;
        }
    }
    if (r->op == OP_CREATE || r->op == OP_RESTORE)
        r->json = json_incref(o);
    switch (r->op) {
    case OP_CREATE: rc = parse_create(o, r, code, err); break;
    case OP_RESTORE:
        rc =
            parse_create(o, r, code, err) < 0 || parse_path(o, r, code, err) < 0
                ? -1
                : 0;
        break;
    case OP_SAVE:
        rc = get_string(o, "id", r->target, sizeof r->target, 1, code, err) <
                         0 ||
                     parse_path(o, r, code, err) < 0 ||
                     get_bool(o, "force", &r->force, code, err) < 0 ||
                     get_bool(o, "leave_running", &r->leave_running, code,
                              err) < 0
                 ? -1
                 : 0;
        break;
    case OP_CLONE: rc = parse_clone(o, r, code, err); break;
    case OP_KILL: rc = parse_kill(o, r, code, err); break;
    case OP_MIGRATE:
        rc = get_string(o, "id", r->target, sizeof r->target, 1, code, err) <
                         0 ||
                     get_string(o, "token", r->token, sizeof r->token, 0, code,
                                err) < 0
                 ? -1
                 : 0;
        break;
    case OP_LIST: {
        uint64_t off = 0, lim = LIST_PAGE_MAX;
        if (get_uint(o, "offset", UINT32_MAX, &off, code, err) < 0 ||
            get_uint(o, "limit", LIST_PAGE_MAX, &lim, code, err) < 0)
            break;
        json_t *st = json_object_get(o, "stats");
        if (st && !json_is_boolean(st)) {
            *code = "bad_request";
            lvm_err_invalid(err, "field 'stats' must be true or false");
            break;
        }
        r->offset = (uint32_t)off;
        r->limit = lim ? (uint32_t)lim : LIST_PAGE_MAX;
        r->stats = st && json_is_true(st);
        rc = 0;
        break;
    }
    case OP_VERSION:
    case OP_POOL:
    case OP_QUOTA:
    case OP_MIGRATE_IN: rc = 0; break;
    default:
        rc = get_string(o, "id", r->target, sizeof r->target, 1, code, err) < 0
                 ? -1
                 : 0;
    }
out:
    json_decref(o);
    if (rc < 0)
        request_free(r);
    return rc;
}

void request_free(struct request *r)
{
    json_decref(r->json);
    r->json = NULL;
    for (int i = 0; i < r->argc; i++)
        free(r->argv[i]);
    for (int i = 0; i < r->envc; i++)
        free(r->envp[i]);
    r->argc = r->envc = 0;
}
