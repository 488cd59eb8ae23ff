/*
 * tinyx_manifest.c: read an image directory's manifest.json (written by
 * tinyx_build, see docs/tinyx.md for the format) with jansson.
 */
#include "toolstack/qemu/tinyx_manifest.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int get_str(json_t *o, const char *key, char *out, size_t len,
                   int required, struct lvm_err *err)
{
    json_t *v = json_object_get(o, key);
    if (!v && !required) {
        out[0] = 0;
        return 0;
    }
    if (!json_is_string(v) || json_string_length(v) >= len ||
        strlen(json_string_value(v)) != json_string_length(v))
        return lvm_err_invalid(err,
                               "manifest: \"%s\" must be a string "
                               "(under %zu bytes)",
                               key, len);
    snprintf(out, len, "%s", json_string_value(v));
    return 0;
}

int tinyx_manifest_parse(const char *text, size_t len, const char *dir,
                         struct tinyx_manifest *m, struct lvm_err *err)
{
    memset(m, 0, sizeof *m);
    snprintf(m->dir, sizeof m->dir, "%s", dir);
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return lvm_err_invalid(err, "manifest: line %d: %s", je.line, je.text);
    int r = -1;
    char format[64], initrd[256], kind[16];
    json_t *k, *h, *ports, *mem;
    if (!json_is_object(root)) {
        lvm_err_invalid(err, "manifest: not a JSON object");
        goto out;
    }
    if (get_str(root, "format", format, sizeof format, 1, err) < 0)
        goto out;
    if (strcmp(format, TINYX_FORMAT)) {
        lvm_err_invalid(err, "manifest: format '%s', expected '%s'", format,
                        TINYX_FORMAT);
        goto out;
    }
    if (get_str(root, "name", m->name, sizeof m->name, 1, err) < 0 ||
        get_str(root, "initramfs", initrd, sizeof initrd, 1, err) < 0)
        goto out;
    /* the initramfs is a file inside the image directory, nothing else */
    if (!initrd[0] || strchr(initrd, '/') || !strcmp(initrd, "..")) {
        lvm_err_invalid(err, "manifest: bad initramfs name '%s'", initrd);
        goto out;
    }
    snprintf(m->initramfs, sizeof m->initramfs, "%s/%s", dir, initrd);
    k = json_object_get(root, "kernel");
    if (!json_is_object(k)) {
        lvm_err_invalid(err, "manifest: no \"kernel\" object");
        goto out;
    }
    if (get_str(k, "kind", kind, sizeof kind, 1, err) < 0 ||
        get_str(k, "path", m->kernel.path, sizeof m->kernel.path, 1, err) < 0 ||
        get_str(k, "version", m->kernel.version, sizeof m->kernel.version, 0,
                err) < 0)
        goto out;
    if (strcmp(kind, "tiny") && strcmp(kind, "stock")) {
        lvm_err_invalid(err, "manifest: kernel kind '%s'", kind);
        goto out;
    }
    snprintf(m->kernel.kind, sizeof m->kernel.kind, "%s", kind);
    m->kernel.acpi = json_is_true(json_object_get(k, "acpi"));
    h = json_object_get(root, "health");
    if (json_is_object(h)) {
        const char *t = json_string_value(json_object_get(h, "type"));
        json_int_t port = json_integer_value(json_object_get(h, "port"));
        if (t && !strcmp(t, "tcp")) {
            if (port < 1 || port > 65535) {
                lvm_err_invalid(err, "manifest: bad health port");
                goto out;
            }
            m->health = TINYX_HEALTH_TCP;
            m->health_port = (unsigned)port;
        } else if (t && !strcmp(t, "cmd")) {
            m->health = TINYX_HEALTH_CMD;
        }
    }
    ports = json_object_get(root, "ports");
    if (json_is_array(ports)) {
        size_t i;
        json_t *p;
        json_array_foreach (ports, i, p) {
            json_int_t v = json_integer_value(p);
            if (!json_is_integer(p) || v < 1 || v > 65535 ||
                m->nports == TINYX_MAX_PORTS) {
                lvm_err_invalid(err, "manifest: bad \"ports\"");
                goto out;
            }
            m->ports[m->nports++] = (unsigned)v;
        }
    }
    json_t *feat = json_object_get(root, "init_features");
    if (json_is_array(feat)) {
        size_t i;
        json_t *f;
        json_array_foreach (feat, i, f) {
            const char *fs = json_string_value(f);
            if (fs && !strcmp(fs, "config"))
                m->init_config = 1;
            else if (fs && !strcmp(fs, "exec"))
                m->init_exec = 1;
        }
    }
    mem = json_object_get(root, "memory_bytes");
    if (json_is_integer(mem) && json_integer_value(mem) > 0)
        m->mem = (uint64_t)json_integer_value(mem);
    r = 0;
out:
    json_decref(root);
    return r;
}

int tinyx_manifest_load(const char *dir, struct tinyx_manifest *m,
                        struct lvm_err *err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    FILE *f = fopen(path, "re");
    if (!f)
        return lvm_err_set(err, errno, "%s is not a Tinyx image (%s)", dir,
                           path);
    char *buf = malloc(1 << 20);
    size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    if (!buf)
        return lvm_err_set(err, ENOMEM, "read %s", path);
    int r = tinyx_manifest_parse(buf, n, dir, m, err);
    free(buf);
    if (r < 0)
        return lvm_err_wrap(err, "%s", path);
    if (access(m->initramfs, R_OK) < 0)
        return lvm_err_set(err, errno, "image %s: initramfs %s", dir,
                           m->initramfs);
    if (access(m->kernel.path, R_OK) < 0)
        return lvm_err_set(err, errno,
                           "image %s: kernel %s is missing (rebuild the "
                           "image, or the kernel with 'lightvm tinyx "
                           "kernel')",
                           dir, m->kernel.path);
    return 0;
}
