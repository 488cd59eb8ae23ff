/*
 * config.c: read lightvmd's configuration file (see config.h and
 * docs/daemon.md).
 *
 * The file is the operator's; it is still parsed as carefully as a
 * request (a typo must not widen a policy): every field is checked for
 * its type and range, unknown fields are refused, and every message is
 * one line naming the line and column (bad JSON) or the field (a bad
 * value), with the offending text made printable.
 */
#include "daemon/config.h"
#include "toolstack/netaddr.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void config_defaults(struct daemon_config *c)
{
    memset(c, 0, sizeof *c);
    c->admin_gid = (gid_t)-1;
    c->nnets = 1;
    snprintf(c->nets[0].bridge, sizeof c->nets[0].bridge, "lvm0");
    netaddr_parse_cidr("10.213.0.1/16", &c->nets[0].addr, &c->nets[0].prefix,
                       NULL);
    c->nranges = 1;
    c->ranges[0] = (struct config_port_range){1024, 65535};
    c->naddrs = 1;
    netaddr_parse_ip4("127.0.0.1", &c->addrs[0]);
    for (unsigned k = 0; k < QUOTA_KINDS; k++) {
        c->quotas.members.v[k] = QUOTA_UNSET;
        c->quotas.root.v[k] = QUOTA_UNLIMITED;
    }
}

/* (s), cut and with anything unprintable shown as '?': messages are one
 * line whatever the file holds. */
const char *config_show(const char *s, char buf[48])
{
    size_t i = 0;
    for (; i < 47 && s[i]; i++)
        buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
    buf[i] = 0;
    return buf;
}

/* Parse state: the file's name for messages and the error. */
struct ctx {
    const char *name;
    struct lvm_err *err;
};

/* "NAME: field F: message" (returns -1). */
static int bad(const struct ctx *x, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int bad(const struct ctx *x, const char *field, const char *fmt, ...)
{
    char msg[LVM_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return lvm_err_set(x->err, 0, "%s: field %s: %s", x->name, field, msg);
}

/* Refuse any key of (o) not in (known) (NULL-terminated). */
static int only(const struct ctx *x, const char *where, json_t *o,
                const char *const *known)
{
    const char *k;
    json_t *v;
    json_object_foreach (o, k, v) {
        int ok = 0;
        for (const char *const *p = known; *p && !ok; p++)
            ok = !strcmp(k, *p);
        if (!ok) {
            char b[48], f[128];
            snprintf(f, sizeof f, "%s%s%s", where, *where ? "." : "",
                     config_show(k, b));
            return bad(x, f, "unknown field");
        }
    }
    return 0;
}

/* A bridge name the kernel would take (dev_valid_name()). */
static int bridge_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= IF_NAMESIZE || !strcmp(s, ".") || !strcmp(s, ".."))
        return 0;
    for (; *s; s++)
        if (*s == '/' || *s == ':' || (unsigned char)*s <= ' ' || *s == 0x7f)
            return 0;
    return 1;
}

static int overlaps(const struct config_network *a,
                    const struct config_network *b)
{
    unsigned p = a->prefix < b->prefix ? a->prefix : b->prefix;
    uint32_t m = netaddr_mask(p);
    return (a->addr & m) == (b->addr & m);
}

static int parse_network(const struct ctx *x, json_t *o, unsigned i,
                         struct daemon_config *c, int *is_default)
{
    static const char *const known[] = {"bridge", "subnet", "nat", "default",
                                        NULL};
    char where[32], f[64], b[48];
    snprintf(where, sizeof where, "networks[%u]", i);
    if (!json_is_object(o))
        return bad(x, where, "must be an object {\"bridge\", \"subnet\"}");
    if (only(x, where, o, known) < 0)
        return -1;
    struct config_network *n = &c->nets[i];
    const char *br = json_string_value(json_object_get(o, "bridge"));
    snprintf(f, sizeof f, "%s.bridge", where);
    if (!br)
        return bad(x, f, "required, a string");
    if (!bridge_name_ok(br))
        return bad(x, f,
                   "'%s' is not a network device name (1 to 15 "
                   "characters, no '/', ':' or spaces)",
                   config_show(br, b));
    snprintf(n->bridge, sizeof n->bridge, "%s", br);
    const char *sn = json_string_value(json_object_get(o, "subnet"));
    snprintf(f, sizeof f, "%s.subnet", where);
    if (!sn)
        return bad(x, f, "required, a string: the bridge's ADDRESS/PREFIX");
    struct lvm_err e;
    if (netaddr_parse_cidr(sn, &n->addr, &n->prefix, &e) < 0)
        return bad(x, f,
                   "'%s' is not the bridge's ADDRESS/PREFIX (prefix 8 "
                   "to 30, e.g. 10.213.0.1/16)",
                   config_show(sn, b));
    json_t *v = json_object_get(o, "nat");
    snprintf(f, sizeof f, "%s.nat", where);
    if (v && !json_is_boolean(v))
        return bad(x, f, "must be true or false");
    n->nat = json_is_true(v);
    v = json_object_get(o, "default");
    snprintf(f, sizeof f, "%s.default", where);
    if (v && !json_is_boolean(v))
        return bad(x, f, "must be true or false");
    *is_default = json_is_true(v);
    for (unsigned j = 0; j < i; j++) {
        char a1[16];
        const struct config_network *m = &c->nets[j];
        if (!strcmp(m->bridge, n->bridge))
            return bad(x, where, "bridge %s is also networks[%u]", n->bridge,
                       j);
        snprintf(f, sizeof f, "%s.subnet", where);
        if (overlaps(m, n))
            return bad(x, f, "%s/%u overlaps networks[%u] (%s %s/%u)",
                       netaddr_ip4_str(n->addr, b), n->prefix, j, m->bridge,
                       netaddr_ip4_str(m->addr, a1), m->prefix);
    }
    return 0;
}

static int parse_networks(const struct ctx *x, json_t *a,
                          struct daemon_config *c)
{
    if (!json_is_array(a) || json_array_size(a) > CONFIG_MAX_NETWORKS)
        return bad(x, "networks", "must be an array of at most %d networks",
                   CONFIG_MAX_NETWORKS);
    c->nnets = 0;
    c->default_net = 0;
    int have_default = 0;
    size_t i;
    json_t *o;
    json_array_foreach (a, i, o) {
        int is_default = 0;
        if (parse_network(x, o, (unsigned)i, c, &is_default) < 0)
            return -1;
        if (is_default && have_default) {
            char f[32];
            snprintf(f, sizeof f, "networks[%zu].default", i);
            return bad(x, f, "networks[%u] is the default already",
                       c->default_net);
        }
        if (is_default) {
            have_default = 1;
            c->default_net = (unsigned)i;
        }
        c->nnets++;
    }
    return 0;
}

/* Digits only (no sign, no spaces), as a port: the value, or -1; *end
 * is left after them. */
static long port_digits(const char *s, const char **end)
{
    long v = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9' && p - s < 6; p++)
        v = v * 10 + (*p - '0');
    *end = p;
    return p == s || (*p >= '0' && *p <= '9') ? -1 : v;
}

/* A port range: an integer N, or "N" or "LO-HI". */
static int parse_range(const struct ctx *x, json_t *v, const char *f,
                       struct config_port_range *r)
{
    long lo, hi;
    char b[48];
    if (json_is_integer(v)) {
        json_int_t n = json_integer_value(v);
        lo = hi = n < 0 || n > 65535 ? -1 : (long)n;
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v), *end;
        lo = hi = port_digits(s, &end);
        if (lo >= 0 && *end == '-')
            hi = port_digits(end + 1, &end);
        if (lo < 0 || hi < 0 || *end)
            return bad(x, f, "'%s' is not a port or LOW-HIGH",
                       config_show(s, b));
    } else {
        return bad(x, f, "must be a port number or a string \"LOW-HIGH\"");
    }
    if (lo < 1 || hi > 65535 || lo > hi)
        return bad(x, f, "ports are 1 to 65535, low to high");
    r->lo = (uint16_t)lo;
    r->hi = (uint16_t)hi;
    return 0;
}

static int parse_ports(const struct ctx *x, json_t *o, struct daemon_config *c)
{
    static const char *const known[] = {"ranges", "addresses", "privileged",
                                        NULL};
    if (!json_is_object(o))
        return bad(x, "ports", "must be an object {\"ranges\", \"addresses\"}");
    if (only(x, "ports", o, known) < 0)
        return -1;
    json_t *v = json_object_get(o, "privileged");
    if (v && !json_is_boolean(v))
        return bad(x, "ports.privileged", "must be true or false");
    c->privileged = json_is_true(v);
    json_t *a = json_object_get(o, "ranges");
    if (a) {
        if (!json_is_array(a) || json_array_size(a) > CONFIG_MAX_RANGES)
            return bad(x, "ports.ranges",
                       "must be an array of at most %d ranges",
                       CONFIG_MAX_RANGES);
        c->nranges = 0;
        size_t i;
        json_t *r;
        json_array_foreach (a, i, r) {
            char f[32];
            snprintf(f, sizeof f, "ports.ranges[%zu]", i);
            struct config_port_range *pr = &c->ranges[c->nranges];
            if (parse_range(x, r, f, pr) < 0)
                return -1;
            if (pr->lo < 1024 && !c->privileged)
                return bad(x, f,
                           "%u-%u reaches below 1024: privileged ports only "
                           "with \"privileged\": true",
                           pr->lo, pr->hi);
            c->nranges++;
        }
    }
    a = json_object_get(o, "addresses");
    if (a) {
        if (!json_is_array(a) || json_array_size(a) > CONFIG_MAX_ADDRS)
            return bad(x, "ports.addresses",
                       "must be an array of at most %d IPv4 addresses",
                       CONFIG_MAX_ADDRS);
        c->naddrs = 0;
        size_t i;
        json_t *s;
        json_array_foreach (a, i, s) {
            char f[32], b[48];
            snprintf(f, sizeof f, "ports.addresses[%zu]", i);
            const char *t = json_string_value(s);
            if (!t)
                return bad(x, f, "must be a string");
            if (netaddr_parse_ip4(t, &c->addrs[c->naddrs]) < 0)
                return bad(x, f, "'%s' is not an IPv4 address",
                           config_show(t, b));
            c->naddrs++;
        }
    }
    return 0;
}

static int parse_admin(const struct ctx *x, json_t *v, struct daemon_config *c)
{
    const char *s = json_string_value(v);
    char b[48];
    if (!s)
        return bad(x, "admin_group", "must be a group name");
    if (!*s || strlen(s) >= sizeof c->admin_group || strchr(s, ':') ||
        strchr(s, '\n'))
        return bad(x, "admin_group", "'%s' is not a group name",
                   config_show(s, b));
    snprintf(c->admin_group, sizeof c->admin_group, "%s", s);
    return 0;
}

/* A copy of (buf) with whole-line # comments blanked out: JSON has no
 * comments, and an operator's file wants them. Blanking (not removing)
 * keeps jansson's line and column numbers those of the file. A '#' line
 * cannot be inside a JSON string: strings do not span lines. */
static char *uncomment(const char *buf, size_t len)
{
    char *t = malloc(len + 1);
    if (!t)
        return NULL;
    memcpy(t, buf, len);
    t[len] = 0;
    int at_start = 1, in_comment = 0;
    for (size_t i = 0; i < len; i++) {
        if (t[i] == '\n') {
            at_start = 1;
            in_comment = 0;
            continue;
        }
        if (at_start && t[i] == '#')
            in_comment = 1;
        if (t[i] != ' ' && t[i] != '\t')
            at_start = 0;
        if (in_comment)
            t[i] = ' ';
    }
    return t;
}

int config_parse(const char *buf, size_t len, const char *name,
                 struct daemon_config *c, struct lvm_err *err)
{
    static const char *const known[] = {"admin_group", "networks",    "ports",
                                        "quotas",      "api_group",   "pool",
                                        "pool_rate",   "connections", NULL};
    struct ctx x = {name, err};
    config_defaults(c);
    snprintf(c->path, sizeof c->path, "%s", name);
    if (len > CONFIG_MAX_BYTES)
        return lvm_err_set(err, EFBIG, "%s: larger than %d bytes", name,
                           CONFIG_MAX_BYTES);
    char *text = uncomment(buf, len);
    if (!text)
        return lvm_err_set(err, ENOMEM, "%s: out of memory", name);
    json_error_t je;
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    free(text);
    if (!o) {
        /* jansson's text is its own, but may quote the file: cut and
         * made printable like the rest. */
        char b[48];
        return lvm_err_set(err, 0, "%s:%d:%d: %s", name, je.line, je.column,
                           config_show(je.text, b));
    }
    int rc = -1;
    if (!json_is_object(o)) {
        lvm_err_set(err, 0, "%s: must hold one JSON object", name);
        goto out;
    }
    if (only(&x, "", o, known) < 0)
        goto out;
    json_t *v;
    if ((v = json_object_get(o, "admin_group")) && parse_admin(&x, v, c) < 0)
        goto out;
    if ((v = json_object_get(o, "networks")) && parse_networks(&x, v, c) < 0)
        goto out;
    if ((v = json_object_get(o, "ports")) && parse_ports(&x, v, c) < 0)
        goto out;
    if ((v = json_object_get(o, "quotas")) &&
        config_quotas_parse(v, name, &c->quotas, err) < 0)
        goto out;
    const char *k;
    json_object_foreach (o, k, v)
        if (config_service_key(k) &&
            config_service_parse(k, v, name, &c->svc, err) < 0)
            goto out;
    rc = 0;
out:
    json_decref(o);
    return rc;
}

/* The host's RAM in bytes (/proc/meminfo's MemTotal), 0 if unknown. */
static uint64_t mem_total(void)
{
    FILE *f = fopen("/proc/meminfo", "re");
    unsigned long long kib = 0;
    char line[128];
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "MemTotal: %llu kB", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return (uint64_t)kib << 10;
}

/* After parsing: the members' quotas the file left unset come from the
 * host; user and group names become ids (a name that does not resolve
 * is an error, like a typo). */
static int finish_quotas(const char *path, struct config_quotas *q,
                         struct lvm_err *err)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    quota_host_defaults(&q->members, mem_total(), n > 0 ? (unsigned)n : 1);
    for (unsigned i = 0; i < q->n; i++) {
        struct config_quota_entry *e = &q->e[i];
        if (e->group) {
            struct group *gr = getgrnam(e->name);
            if (!gr)
                return lvm_err_set(err, 0,
                                   "%s: field quotas.groups: no group '%s'",
                                   path, e->name);
            e->id = gr->gr_gid;
        } else {
            struct passwd *pw = getpwnam(e->name);
            if (!pw)
                return lvm_err_set(err, 0,
                                   "%s: field quotas.users: no user '%s'", path,
                                   e->name);
            e->id = pw->pw_uid;
        }
    }
    return 0;
}

int config_load(const char *path, struct daemon_config *c, struct lvm_err *err)
{
    int named = path != NULL;
    if (!path)
        path = CONFIG_PATH_DEFAULT;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0 && errno == ENOENT && !named) {
        config_defaults(c);
        return finish_quotas(path, &c->quotas, err);
    }
    if (fd < 0)
        return lvm_err_set(err, errno, "%s", path);
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return lvm_err_set(err, 0, "%s: not a regular file", path);
    }
    if (geteuid() == 0 && (st.st_uid != 0 || (st.st_mode & 022))) {
        close(fd);
        return lvm_err_set(err, 0,
                           "%s: must belong to root and be writable by root "
                           "alone (it grants access)",
                           path);
    }
    if (st.st_size > CONFIG_MAX_BYTES) {
        close(fd);
        return lvm_err_set(err, EFBIG, "%s: larger than %d bytes", path,
                           CONFIG_MAX_BYTES);
    }
    char *buf = malloc((size_t)st.st_size + 1);
    size_t n = 0;
    ssize_t got = buf ? 1 : -1;
    while (got > 0 && n < (size_t)st.st_size) {
        got = read(fd, buf + n, (size_t)st.st_size - n);
        n += got > 0 ? (size_t)got : 0;
    }
    int e = buf ? errno : ENOMEM;
    close(fd);
    if (got < 0) {
        free(buf);
        return lvm_err_set(err, e, "read %s", path);
    }
    int rc = config_parse(buf, n, path, c, err);
    free(buf);
    if (rc < 0 || finish_quotas(path, &c->quotas, err) < 0)
        return -1;
    if (!c->admin_group[0])
        return 0;
    struct group *gr = getgrnam(c->admin_group);
    if (!gr)
        return lvm_err_set(err, 0, "%s: field admin_group: no group '%s'", path,
                           c->admin_group);
    c->admin_gid = gr->gr_gid;
    return 0;
}
