/*
 * config.c: config.json to struct oci_config (config.h), with jansson.
 * Every rejection names the field, as runc's validation does.
 */
#include "oci/errf.h"
#include "oci/config.h"
#include "oci/hooks.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An array of strings into a NULL-terminated copy. */
static int strings(json_t *a, const char *what, char ***out, int *count,
                   char *err, size_t errlen)
{
    if (!json_is_array(a))
        return oci_errf(err, errlen,
                        "config.json: %s must be an array of strings", what);
    size_t n = json_array_size(a);
    char **v = calloc(n + 1, sizeof *v);
    if (!v)
        return oci_errf(err, errlen, "out of memory");
    *out = v;
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(a, i));
        if (!s)
            return oci_errf(err, errlen,
                            "config.json: %s[%zu] must be a string", what, i);
        if (!(v[i] = strdup(s)))
            return oci_errf(err, errlen, "out of memory");
        *count = (int)i + 1;
    }
    return 0;
}

/* A string member, optional unless (need); copied into *out. */
static int string(json_t *o, const char *key, const char *what, int need,
                  char **out, char *err, size_t errlen)
{
    json_t *v = json_object_get(o, key);
    if (!v) {
        if (need)
            return oci_errf(err, errlen, "config.json: %s is missing", what);
        return 0;
    }
    if (!json_is_string(v))
        return oci_errf(err, errlen, "config.json: %s must be a string", what);
    *out = strdup(json_string_value(v));
    return *out ? 0 : oci_errf(err, errlen, "out of memory");
}

static int parse_process(json_t *p, struct oci_config *c, char *err,
                         size_t errlen)
{
    if (!json_is_object(p))
        return oci_errf(err, errlen, "config.json: process is missing");
    json_t *args = json_object_get(p, "args");
    if (!args || (json_is_array(args) && json_array_size(args) == 0))
        return oci_errf(err, errlen,
                        "config.json: process.args must not be "
                        "empty");
    if (strings(args, "process.args", &c->argv, &c->argc, err, errlen) < 0)
        return -1;
    if (c->argv[0][0] == 0)
        return oci_errf(err, errlen, "config.json: process.args[0] is empty");
    json_t *env = json_object_get(p, "env");
    if (env && strings(env, "process.env", &c->env, &c->envc, err, errlen) < 0)
        return -1;
    for (int i = 0; i < c->envc; i++)
        if (!strchr(c->env[i], '='))
            return oci_errf(
                err, errlen,
                "config.json: process.env[%d] \"%s\" is not KEY=VALUE", i,
                c->env[i]);
    if (string(p, "cwd", "process.cwd", 0, &c->cwd, err, errlen) < 0)
        return -1;
    if (c->cwd && c->cwd[0] != '/')
        return oci_errf(
            err, errlen,
            "config.json: process.cwd \"%s\" is not an absolute path", c->cwd);
    json_t *t = json_object_get(p, "terminal");
    if (t && !json_is_boolean(t))
        return oci_errf(err, errlen,
                        "config.json: process.terminal must be a "
                        "boolean");
    c->terminal = json_is_true(t);
    return 0;
}

static int parse_resources(json_t *r, struct oci_config *c, char *err,
                           size_t errlen)
{
    if (!r)
        return 0;
    if (!json_is_object(r))
        return oci_errf(err, errlen,
                        "config.json: linux.resources must be an "
                        "object");
    json_t *mem = json_object_get(json_object_get(r, "memory"), "limit");
    if (mem && !json_is_null(mem)) {
        if (!json_is_integer(mem))
            return oci_errf(err, errlen,
                            "config.json: linux.resources.memory."
                            "limit must be an integer");
        json_int_t v = json_integer_value(mem);
        if (v < -1 || v == 0)
            return oci_errf(err, errlen,
                            "config.json: linux.resources.memory.limit %lld is "
                            "not a number of bytes",
                            (long long)v);
        c->memory_limit = v > 0 ? (uint64_t)v : 0; /* -1: unlimited */
    }
    json_t *cpu = json_object_get(r, "cpu");
    json_t *quota = json_object_get(cpu, "quota"),
           *period = json_object_get(cpu, "period");
    if (json_is_integer(quota) && json_integer_value(quota) > 0) {
        json_int_t per =
            json_is_integer(period) ? json_integer_value(period) : 100000;
        if (per <= 0)
            return oci_errf(err, errlen,
                            "config.json: linux.resources.cpu."
                            "period must be positive");
        c->cpus = (double)json_integer_value(quota) / (double)per;
    }
    return 0;
}

static int parse_linux(json_t *l, struct oci_config *c, char *err,
                       size_t errlen)
{
    if (!l)
        return 0;
    if (!json_is_object(l))
        return oci_errf(err, errlen, "config.json: linux must be an object");
    if (parse_resources(json_object_get(l, "resources"), c, err, errlen) < 0 ||
        string(l, "cgroupsPath", "linux.cgroupsPath", 0, &c->cgroups_path, err,
               errlen) < 0)
        return -1;
    json_t *ns = json_object_get(l, "namespaces");
    if (ns && !json_is_array(ns))
        return oci_errf(err, errlen,
                        "config.json: linux.namespaces must be an "
                        "array");
    size_t i;
    json_t *n;
    json_array_foreach (ns, i, n) {
        const char *type = json_string_value(json_object_get(n, "type"));
        if (!type)
            return oci_errf(
                err, errlen,
                "config.json: linux.namespaces[%zu].type is missing", i);
        if (strcmp(type, "network") == 0 &&
            string(n, "path", "linux.namespaces[].path", 0, &c->netns_path, err,
                   errlen) < 0)
            return -1;
    }
    return 0;
}

static int parse_annotations(json_t *a, struct oci_config *c, char *err,
                             size_t errlen)
{
    if (a && !json_is_object(a))
        return oci_errf(err, errlen,
                        "config.json: annotations must be an object");
    const char *key;
    json_t *v;
    json_object_foreach (a, key, v) {
        if (!json_is_string(v))
            return oci_errf(err, errlen,
                            "config.json: annotation \"%s\" must be a string",
                            key);
    }
    const char *mon =
        json_string_value(json_object_get(a, OCI_MONITOR_ANNOTATION));
    c->monitor = strdup(mon ? mon : "proc");
    c->monitor_given = mon != NULL;
    if (a)
        c->annotations = json_dumps(a, JSON_COMPACT);
    else
        c->annotations = strdup("{}");
    if (!c->monitor || !c->annotations)
        return oci_errf(err, errlen, "out of memory");
    if (strcmp(c->monitor, "proc") && strcmp(c->monitor, "kvm") &&
        strcmp(c->monitor, "qemu"))
        return oci_errf(err, errlen,
                        "config.json: annotation " OCI_MONITOR_ANNOTATION
                        " \"%s\": lightvm-runtime runs proc or kvm guests, "
                        "or qemu VMs",
                        c->monitor);
    return 0;
}

int oci_config_parse(const char *text, size_t len, struct oci_config *c,
                     char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    json_error_t je;
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!o)
        return oci_errf(err, errlen, "config.json: line %d: %s", je.line,
                        je.text);
    int r = -1;
    if (!json_is_object(o)) {
        oci_errf(err, errlen, "config.json: not a JSON object");
        goto out;
    }
    if (string(o, "ociVersion", "ociVersion", 1, &c->oci_version, err, errlen) <
        0)
        goto out;
    json_t *root = json_object_get(o, "root");
    if (!json_is_object(root)) {
        oci_errf(err, errlen, "config.json: root is missing");
        goto out;
    }
    if (string(root, "path", "root.path", 1, &c->root_path, err, errlen) < 0)
        goto out;
    if (!c->root_path[0]) {
        oci_errf(err, errlen, "config.json: root.path is empty");
        goto out;
    }
    c->root_readonly = json_is_true(json_object_get(root, "readonly"));
    json_t *hooks = json_object_get(o, "hooks");
    if (hooks && !(c->hooks = json_dumps(hooks, JSON_COMPACT))) {
        oci_errf(err, errlen, "config.json: hooks must be an object");
        goto out;
    }
    if (oci_hooks_check(c->hooks, err, errlen) < 0)
        goto out;
    if (parse_process(json_object_get(o, "process"), c, err, errlen) < 0 ||
        parse_linux(json_object_get(o, "linux"), c, err, errlen) < 0 ||
        parse_annotations(json_object_get(o, "annotations"), c, err, errlen) <
            0)
        goto out;
    r = 0;
out:
    json_decref(o);
    return r;
}

int oci_config_load(const char *path, struct oci_config *c, char *err,
                    size_t errlen)
{
    memset(c, 0, sizeof *c);
    FILE *f = fopen(path, "re");
    if (!f)
        return oci_errf(err, errlen, "open %s: %s", path, strerror(errno));
    char *buf = NULL;
    size_t cap = 0, len = 0;
    for (;;) {
        if (len == cap) {
            if (cap >= (16u << 20)) {
                fclose(f);
                free(buf);
                return oci_errf(err, errlen, "%s: larger than 16 MiB", path);
            }
            cap = cap ? cap * 2 : 65536;
            char *nb = realloc(buf, cap);
            if (!nb) {
                fclose(f);
                free(buf);
                return oci_errf(err, errlen, "out of memory");
            }
            buf = nb;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    fclose(f);
    int r = oci_config_parse(buf, len, c, err, errlen);
    free(buf);
    return r;
}

static void free_strings(char **v)
{
    for (char **p = v; p && *p; p++)
        free(*p);
    free(v);
}

void oci_config_free(struct oci_config *c)
{
    free(c->oci_version);
    free(c->root_path);
    free_strings(c->argv);
    free_strings(c->env);
    free(c->cwd);
    free(c->cgroups_path);
    free(c->netns_path);
    free(c->monitor);
    free(c->annotations);
    free(c->hooks);
    memset(c, 0, sizeof *c);
}

/* systemd's slice name to its path: "a-b.slice" is "a.slice/a-b.slice". */
static int slice_path(const char *slice, char *out, size_t len)
{
    size_t sl = strlen(slice);
    if (sl < 6 || strcmp(slice + sl - 6, ".slice") != 0 || strchr(slice, '/'))
        return -1;
    out[0] = 0;
    if (strcmp(slice, "-.slice") == 0)
        return 0;
    size_t at = 0;
    for (const char *d = slice; (d = strchr(d, '-')) != NULL; d++) {
        if (d == slice || d[1] == '-' || d[1] == '.')
            return -1;
        int n = snprintf(out + at, len - at, "%.*s.slice/", (int)(d - slice),
                         slice);
        if (n < 0 || (size_t)n >= len - at)
            return -1;
        at += (size_t)n;
    }
    int n = snprintf(out + at, len - at, "%s", slice);
    return n < 0 || (size_t)n >= len - at ? -1 : 0;
}

int oci_cgroup_path(const char *path, int systemd, const char *id, char *parent,
                    size_t plen, char *name, size_t nlen, char *err,
                    size_t errlen)
{
    if (!path || !*path) {
        /* runc's defaults: system.slice:runc:ID, or /ID. */
        snprintf(parent, plen, "%s", systemd ? "system.slice" : "");
        snprintf(name, nlen, systemd ? "lightvm-%s.scope" : "%s", id);
        return 0;
    }
    if (systemd) {
        const char *c1 = strchr(path, ':');
        const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c1 || !c2 || strchr(c2 + 1, ':'))
            return oci_errf(err, errlen,
                            "cgroupsPath \"%s\" is not slice:prefix:name "
                            "(--systemd-cgroup)",
                            path);
        char slice[256];
        snprintf(slice, sizeof slice, "%.*s", (int)(c1 - path), path);
        if (!slice[0])
            snprintf(slice, sizeof slice, "system.slice");
        if (slice_path(slice, parent, plen) < 0)
            return oci_errf(err, errlen, "cgroupsPath \"%s\": bad slice \"%s\"",
                            path, slice);
        const char *leaf = c2 + 1;
        size_t pl = (size_t)(c2 - c1 - 1);
        if (memchr(c1 + 1, '/', pl) || strchr(leaf, '/'))
            return oci_errf(err, errlen,
                            "cgroupsPath \"%s\": a '/' in its prefix or name",
                            path);
        size_t ll = strlen(leaf);
        if (ll > 6 && strcmp(leaf + ll - 6, ".slice") == 0)
            snprintf(name, nlen, "%s", leaf);
        else if (pl)
            snprintf(name, nlen, "%.*s-%s.scope", (int)pl, c1 + 1, leaf);
        else
            snprintf(name, nlen, "%s.scope", leaf);
    } else {
        /* Absolute or relative, it is taken from the cgroup root. */
        const char *p = path;
        while (*p == '/')
            p++;
        const char *slash = strrchr(p, '/');
        if (slash) {
            snprintf(parent, plen, "%.*s", (int)(slash - p), p);
            snprintf(name, nlen, "%s", slash + 1);
        } else {
            snprintf(parent, plen, "%s", "."); /* the root itself */
            snprintf(name, nlen, "%s", p);
        }
    }
    if (!name[0] || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
        strstr(parent, "..") || strlen(name) >= nlen - 1)
        return oci_errf(err, errlen, "cgroupsPath \"%s\" names no cgroup",
                        path);
    return 0;
}
