/*
 * vm_conf.c: config.json to the Tinyx init's configuration (vm_conf.h).
 * The init mounts the root image (a read-only erofs disk found by its
 * serial) under an overlay whose upper layer is a tmpfs in guest RAM,
 * switches into it, copies the file binds in, makes the bundle's tmpfs
 * mounts and runs process as its user (docs/tinyx.md lists the keys).
 */
#include "oci/errf.h"
#include "oci/vm_conf.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A value the init's one-line format can carry: no newline; (space)
 * says whether it may hold spaces (the last word of a line may). */
static int line_safe(const char *s, int space)
{
    return !strchr(s, '\n') && !strchr(s, '\r') && (space || !strchr(s, ' '));
}

/* Mounts that are the guest's own, at the places runc's configs put
 * them: the guest's kernel makes its /proc, /sys and /dev itself. */
static int guest_own(const char *type, const char *dest)
{
    static const struct {
        const char *type, *dest;
    } own[] = {
        {"proc", "/proc"},
        {"sysfs", "/sys"},
        {"cgroup", "/sys/fs/cgroup"},
        {"cgroup2", "/sys/fs/cgroup"},
        {"mqueue", "/dev/mqueue"},
        {"tmpfs", "/dev"},
    };
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
        if (!strcmp(type, own[i].type) && !strcmp(dest, own[i].dest))
            return 1;
    return 0;
}

/* The options array as the init's comma list. */
static int options(json_t *m, char *out, size_t len)
{
    out[0] = 0;
    json_t *o = json_object_get(m, "options");
    if (o && !json_is_array(o))
        return -1;
    size_t i, used = 0;
    json_t *v;
    json_array_foreach (o, i, v) {
        const char *s = json_string_value(v);
        if (!s || !line_safe(s, 0) || strchr(s, ','))
            return -1;
        int n = snprintf(out + used, len - used, "%s%s", used ? "," : "", s);
        if (n < 0 || (size_t)n >= len - used)
            return -1;
        used += (size_t)n;
    }
    return 0;
}

static int is_bind(json_t *m, const char *type)
{
    if (!strcmp(type, "bind"))
        return 1;
    json_t *o = json_object_get(m, "options");
    size_t i;
    json_t *v;
    json_array_foreach (o, i, v) {
        const char *s = json_string_value(v);
        if (s && (!strcmp(s, "bind") || !strcmp(s, "rbind")))
            return 1;
    }
    return 0;
}

/* One entry of "mounts": a line for after the root switch, a file to
 * copy, or nothing (the guest's own). */
static int map_mount(json_t *m, size_t i, FILE *f, struct oci_vm_conf *out,
                     int *nmounts, char *err, size_t errlen)
{
    const char *dest = json_string_value(json_object_get(m, "destination"));
    const char *type = json_string_value(json_object_get(m, "type"));
    const char *src = json_string_value(json_object_get(m, "source"));
    if (!dest || dest[0] != '/' || !line_safe(dest, 0))
        return oci_errf(err, errlen,
                        "config.json: mounts[%zu].destination must be an "
                        "absolute path without spaces",
                        i);
    if (!type)
        type = "";
    if (guest_own(type, dest))
        return 0;
    char opts[1024];
    if (options(m, opts, sizeof opts) < 0)
        return oci_errf(err, errlen,
                        "config.json: mounts[%zu] (%s): bad options", i, dest);
    if (++*nmounts > OCI_VM_MAX_MOUNTS - 4) /* the root's 3, remount */
        return oci_errf(err, errlen,
                        "config.json: more than %d mounts (a VM container's "
                        "limit)",
                        OCI_VM_MAX_MOUNTS - 4);
    if (!strcmp(dest, "/dev/shm")) {
        /* podman binds a host directory there; a guest has its own. */
        fprintf(f, "mount tmpfs /dev/shm tmpfs nosuid,nodev,mode=1777\n");
        return 0;
    }
    if (is_bind(m, type)) {
        if (!src || !line_safe(src, 0))
            return oci_errf(err, errlen,
                            "config.json: mounts[%zu] (%s): bind mount "
                            "without a usable source",
                            i, dest);
        if (out->nfiles >= OCI_VM_MAX_FILES)
            return oci_errf(err, errlen,
                            "mount %s: more than %d file bind mounts", dest,
                            OCI_VM_MAX_FILES);
        struct oci_vm_file *fl = &out->files[out->nfiles];
        fl->source = strdup(src);
        fl->destination = strdup(dest);
        if (!fl->source || !fl->destination)
            return oci_errf(err, errlen, "out of memory");
        fprintf(f, "copy /files/%d %s\n", out->nfiles, dest);
        out->nfiles++;
        return 0;
    }
    if (!strcmp(type, "tmpfs") || !strcmp(type, "devpts")) {
        fprintf(f, "mount %s %s %s%s%s\n", type, dest, type, opts[0] ? " " : "",
                opts);
        return 0;
    }
    return oci_errf(err, errlen,
                    "mount %s: type \"%s\" is not supported in a VM container "
                    "(tmpfs, devpts and file binds are)",
                    dest, type);
}

/* The resources the init knows (tinyx/init/init_conf.c). */
static int rlimit_known(const char *type)
{
    static const char *const names[] = {
        "AS",      "CORE",     "CPU",        "DATA",   "FSIZE", "LOCKS",
        "MEMLOCK", "MSGQUEUE", "NICE",       "NOFILE", "NPROC", "RSS",
        "RTPRIO",  "RTTIME",   "SIGPENDING", "STACK"};
    if (strncmp(type, "RLIMIT_", 7))
        return 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(type + 7, names[i]))
            return 1;
    return 0;
}

static int map_process(json_t *p, FILE *f, char *err, size_t errlen)
{
    static const struct {
        const char *key, *what;
        size_t max;
    } limits[] = {
        {"args", "process.args", OCI_VM_MAX_ARGS},
        {"env", "process.env", OCI_VM_MAX_ENV},
        {"rlimits", "process.rlimits", OCI_VM_MAX_RLIMITS},
    };
    for (size_t l = 0; l < sizeof limits / sizeof limits[0]; l++)
        if (json_array_size(json_object_get(p, limits[l].key)) > limits[l].max)
            return oci_errf(err, errlen,
                            "config.json: %s has more than %zu entries (a VM "
                            "container's limit)",
                            limits[l].what, limits[l].max);
    if (json_array_size(json_object_get(json_object_get(p, "user"),
                                        "additionalGids")) > OCI_VM_MAX_GROUPS)
        return oci_errf(err, errlen,
                        "config.json: process.user.additionalGids has more "
                        "than %d entries (a VM container's limit)",
                        OCI_VM_MAX_GROUPS);
    json_t *args = json_object_get(p, "args");
    size_t i;
    json_t *v;
    json_array_foreach (args, i, v) {
        const char *s = json_string_value(v);
        if (!s || !line_safe(s, 1))
            return oci_errf(err, errlen,
                            "config.json: process.args[%zu] holds a newline "
                            "(not supported in a VM container)",
                            i);
        fprintf(f, "arg %s\n", s);
    }
    json_array_foreach (json_object_get(p, "env"), i, v) {
        const char *s = json_string_value(v);
        if (!s || !line_safe(s, 1))
            return oci_errf(err, errlen,
                            "config.json: process.env[%zu] holds a newline "
                            "(not supported in a VM container)",
                            i);
        fprintf(f, "env %s\n", s);
    }
    const char *cwd = json_string_value(json_object_get(p, "cwd"));
    if (cwd) {
        if (!line_safe(cwd, 1))
            return oci_errf(err, errlen, "config.json: process.cwd: a newline");
        fprintf(f, "cwd %s\n", cwd);
    }
    json_t *u = json_object_get(p, "user");
    json_t *uid = json_object_get(u, "uid"), *gid = json_object_get(u, "gid");
    if ((uid && !json_is_integer(uid)) || (gid && !json_is_integer(gid)) ||
        json_integer_value(uid) < 0 || json_integer_value(gid) < 0)
        return oci_errf(err, errlen,
                        "config.json: process.user uid and gid must be "
                        "numbers");
    fprintf(f, "uid %lld\ngid %lld\n", (long long)json_integer_value(uid),
            (long long)json_integer_value(gid));
    json_t *groups = json_object_get(u, "additionalGids");
    if (json_array_size(groups)) {
        fprintf(f, "groups ");
        json_array_foreach (groups, i, v) {
            if (!json_is_integer(v) || json_integer_value(v) < 0)
                return oci_errf(err, errlen,
                                "config.json: process.user.additionalGids[%zu] "
                                "must be a number",
                                i);
            fprintf(f, "%s%lld", i ? "," : "",
                    (long long)json_integer_value(v));
        }
        fprintf(f, "\n");
    }
    json_array_foreach (json_object_get(p, "rlimits"), i, v) {
        const char *type = json_string_value(json_object_get(v, "type"));
        json_t *soft = json_object_get(v, "soft"),
               *hard = json_object_get(v, "hard");
        if (!type || !line_safe(type, 0) || !json_is_integer(soft) ||
            !json_is_integer(hard))
            return oci_errf(err, errlen,
                            "config.json: process.rlimits[%zu] needs type, "
                            "soft and hard",
                            i);
        if (!rlimit_known(type))
            return oci_errf(err, errlen,
                            "config.json: process.rlimits[%zu]: unknown type "
                            "\"%s\"",
                            i, type);
        if ((unsigned long long)json_integer_value(soft) >
            (unsigned long long)json_integer_value(hard))
            return oci_errf(
                err, errlen,
                "config.json: process.rlimits[%zu] (%s): soft above "
                "hard",
                i, type);
        /* JSON numbers above 2^63 (RLIM_INFINITY) arrive negative. */
        fprintf(f, "rlimit %s %llu %llu\n", type,
                (unsigned long long)json_integer_value(soft),
                (unsigned long long)json_integer_value(hard));
    }
    return 0;
}

int oci_vm_conf_build(const char *json, size_t len, struct oci_vm_conf *out,
                      char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    json_error_t je;
    json_t *o = json_loadb(json, len, 0, &je);
    if (!o)
        return oci_errf(err, errlen, "config.json: line %d: %s", je.line,
                        je.text);
    FILE *f = open_memstream(&out->init_conf, &out->len);
    int r = -1;
    if (!f) {
        oci_errf(err, errlen, "out of memory");
        goto out;
    }
    /* The root image, read-only, under a writable layer in guest RAM. */
    fprintf(f,
            "# written by lightvm-runtime: the container's root\n"
            "mount serial:" OCI_VM_ROOT_SERIAL " /lvm/lower erofs ro\n"
            "mount tmpfs /lvm/rw tmpfs mode=0755\n"
            "mount overlay /lvm/root overlay "
            "lowerdir=/lvm/lower,upperdir=/lvm/rw/upper,workdir=/lvm/rw/work\n"
            "root /lvm/root\n");
    json_t *mounts = json_object_get(o, "mounts");
    if (mounts && !json_is_array(mounts)) {
        oci_errf(err, errlen, "config.json: mounts must be an array");
        goto out;
    }
    size_t i;
    json_t *m;
    int nmounts = 0;
    json_array_foreach (mounts, i, m) {
        if (map_mount(m, i, f, out, &nmounts, err, errlen) < 0)
            goto out;
    }
    /* root.readonly: the layer stays for the copies, then all of / is
     * made read-only, as runc's readonly root keeps its mounts. */
    if (json_is_true(json_object_get(json_object_get(o, "root"), "readonly")))
        fprintf(f, "mount none / none remount,ro\n");
    if (map_process(json_object_get(o, "process"), f, err, errlen) < 0)
        goto out;
    const char *host = json_string_value(json_object_get(o, "hostname"));
    if (host && *host) {
        if (!line_safe(host, 0))
            goto bad_host;
        fprintf(f, "hostname %s\n", host);
    }
    r = 0;
    goto out;
bad_host:
    oci_errf(err, errlen, "config.json: hostname holds a space or newline");
out:
    if (f && fclose(f) != 0 && r == 0)
        r = oci_errf(err, errlen, "out of memory");
    json_decref(o);
    if (r < 0)
        oci_vm_conf_free(out);
    return r;
}

void oci_vm_conf_free(struct oci_vm_conf *c)
{
    free(c->init_conf);
    for (int i = 0; i < c->nfiles; i++) {
        free(c->files[i].source);
        free(c->files[i].destination);
    }
    memset(c, 0, sizeof *c);
}
