/*
 * report.c: what went into an image and why (report.txt for people,
 * report.json for scripts), and the manifest the monitor boots it from.
 */
#include "tinyx/blacklist.h"
#include "tinyx/build.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *kind_name(enum fs_kind k)
{
    return k == FS_FILE      ? "file"
           : k == FS_DIR     ? "dir"
           : k == FS_SYMLINK ? "symlink"
                             : "device";
}

static double mib(uint64_t b)
{
    return (double)b / (1024.0 * 1024.0);
}

static json_t *argv_json(const struct argv_list *a)
{
    json_t *arr = json_array();
    for (int i = 0; arr && i < a->n; i++)
        json_array_append_new(arr, json_string(a->v[i]));
    return arr;
}

static json_t *sizes_json(const struct tinyx_ctx *c)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "files_bytes",
                     (json_int_t)c->image_bytes, "cpio_bytes",
                     (json_int_t)c->packed.cpio_bytes, "initramfs_bytes",
                     (json_int_t)c->packed.file_bytes, "entries",
                     (json_int_t)c->packed.entries, "closure_packages",
                     (json_int_t)c->closure_pkgs, "closure_bytes",
                     (json_int_t)c->closure_bytes, "minbase_packages",
                     (json_int_t)c->base_pkgs, "minbase_bytes",
                     (json_int_t)c->base_bytes);
}

static int write_json(json_t *j, const char *dir, const char *name,
                      struct lvm_err *err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int r = j ? json_dump_file(j, path, JSON_INDENT(2) | JSON_SORT_KEYS) : -1;
    json_decref(j);
    if (r < 0)
        return lvm_err_set(err, errno ? errno : ENOMEM, "write %s", path);
    return 0;
}

static int write_text(const struct tinyx_ctx *c, const char *dir,
                      struct lvm_err *err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/report.txt", dir);
    FILE *f = fopen(path, "we");
    if (!f)
        return lvm_err_set(err, errno, "write %s", path);
    fprintf(f, "Tinyx image %s\n\n", c->name);
    fprintf(f, "command:  ");
    for (int i = 0; i < c->argv.n; i++)
        fprintf(f, "%s%s", i ? " " : "", c->argv.v[i]);
    fprintf(f, "\nuser:     %s (uid %u)\n", c->user.name,
            (unsigned)c->user.uid);
    fprintf(f, "packages: ");
    for (unsigned i = 0; i < c->napp; i++)
        fprintf(f, "%s%s", i ? ", " : "", c->app_pkgs[i]->name);
    fprintf(f, "\nkernel:   %s %s (%s)\n", c->kernel.kind, c->kernel.version,
            c->kernel.path);
    if (c->health == TINYX_HEALTH_TCP)
        fprintf(f, "health:   TCP port %u\n", c->health_port);
    else if (c->health == TINYX_HEALTH_CMD)
        fprintf(f, "health:   command %s\n", c->health_argv.v[0]);
    fprintf(f, "\nSizes\n");
    fprintf(f, "  %-52s %10.2f MiB\n", "files in the image",
            mib(c->image_bytes));
    fprintf(f, "  %-52s %10.2f MiB\n", "initramfs, cpio uncompressed",
            mib(c->packed.cpio_bytes));
    char what[80];
    snprintf(what, sizeof what, "initramfs, %s (what boots)",
             pack_name(c->pack.comp));
    fprintf(f, "  %-52s %10.2f MiB\n", what, mib(c->packed.file_bytes));
    snprintf(what, sizeof what, "package closure (Depends, %u packages)",
             c->closure_pkgs);
    fprintf(f, "  %-52s %10.2f MiB\n", what, mib(c->closure_bytes));
    snprintf(what, sizeof what, "closure + Essential/required (%u packages)",
             c->base_pkgs);
    fprintf(f, "  %-52s %10.2f MiB\n", what, mib(c->base_bytes));
    if (c->packed.file_bytes)
        fprintf(f, "  image is %.1f%% of the closure, %.1f%% compressed\n",
                c->closure_bytes
                    ? 100.0 * (double)c->image_bytes / (double)c->closure_bytes
                    : 0.0,
                c->closure_bytes ? 100.0 * (double)c->packed.file_bytes /
                                       (double)c->closure_bytes
                                 : 0.0);
    size_t ncat;
    const struct blacklist_cat *cats = blacklist_categories(&ncat);
    fprintf(f, "\nLeft out by the blacklist (files of the app's packages)\n");
    for (size_t i = 0; i < ncat; i++)
        if (c->dropped_files[i])
            fprintf(f, "  %-18s %5u files %10.1f KiB  %s\n", cats[i].name,
                    c->dropped_files[i], (double)c->dropped_bytes[i] / 1024.0,
                    cats[i].why);
    if (c->missing)
        fprintf(f, "  (%u listed files are absent on this host)\n", c->missing);
    fprintf(f, "\nFiles (%zu entries)\n", c->fs.n);
    fprintf(f, "  %10s  %-7s %-44s %-20s %s\n", "bytes", "type", "path",
            "package", "why");
    for (size_t i = 0; i < c->fs.n; i++) {
        const struct fs_entry *e = &c->fs.e[i];
        fprintf(f, "  %10lld  %-7s %-44s %-20s %s\n",
                e->kind == FS_FILE ? (long long)e->size : 0LL,
                kind_name(e->kind), e->path, e->pkg ? e->pkg : "-", e->reason);
    }
    if (fclose(f) != 0)
        return lvm_err_set(err, errno, "write %s", path);
    return 0;
}

int tinyx_write_report(struct tinyx_ctx *c, const char *dir,
                       struct lvm_err *err)
{
    if (write_text(c, dir, err) < 0)
        return -1;
    json_t *files = json_array();
    for (size_t i = 0; files && i < c->fs.n; i++) {
        const struct fs_entry *e = &c->fs.e[i];
        json_t *o = json_pack("{s:s, s:s, s:I, s:s}", "path", e->path, "type",
                              kind_name(e->kind), "bytes",
                              (json_int_t)(e->kind == FS_FILE ? e->size : 0),
                              "why", e->reason);
        if (o && e->pkg)
            json_object_set_new(o, "package", json_string(e->pkg));
        if (o && e->link)
            json_object_set_new(o, "target", json_string(e->link));
        json_array_append_new(files, o);
    }
    size_t ncat;
    const struct blacklist_cat *cats = blacklist_categories(&ncat);
    json_t *dropped = json_object();
    for (size_t i = 0; dropped && i < ncat; i++)
        json_object_set_new(dropped, cats[i].name,
                            json_pack("{s:I, s:I, s:s}", "files",
                                      (json_int_t)c->dropped_files[i], "bytes",
                                      (json_int_t)c->dropped_bytes[i], "why",
                                      cats[i].why));
    json_t *pkgs = json_array();
    for (unsigned i = 0; pkgs && i < c->napp; i++)
        json_array_append_new(pkgs, json_string(c->app_pkgs[i]->name));
    json_t *r = json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:I, s:f}", "name",
                          c->name, "packages", pkgs, "files", files,
                          "blacklisted", dropped, "sizes", sizes_json(c),
                          "command", argv_json(&c->argv), "missing",
                          (json_int_t)c->missing, "build_seconds", c->seconds);
    return write_json(r, dir, "report.json", err);
}

int tinyx_write_manifest(struct tinyx_ctx *c, const char *dir,
                         const char *initramfs, struct lvm_err *err)
{
    json_t *health;
    if (c->health == TINYX_HEALTH_TCP)
        health =
            json_pack("{s:s, s:i}", "type", "tcp", "port", (int)c->health_port);
    else if (c->health == TINYX_HEALTH_CMD)
        health = json_pack("{s:s, s:o}", "type", "cmd", "argv",
                           argv_json(&c->health_argv));
    else
        health = json_pack("{s:s}", "type", "none");
    json_t *ports = json_array();
    if (ports && c->health == TINYX_HEALTH_TCP)
        json_array_append_new(ports, json_integer(c->health_port));
    json_t *kernel = json_pack("{s:s, s:s, s:s, s:b}", "kind", c->kernel.kind,
                               "path", c->kernel.path, "version",
                               c->kernel.version, "acpi", c->kernel.acpi);
    if (kernel && c->kernel.key[0])
        json_object_set_new(kernel, "key", json_string(c->kernel.key));
    char when[32];
    time_t now = time(NULL);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    json_t *m = json_pack(
        "{s:s, s:s, s:o, s:s, s:s, s:o, s:o, s:o, s:I, s:o, s:s, s:s}",
        "format", TINYX_FORMAT, "name", c->name, "command", argv_json(&c->argv),
        "user", c->user.name, "initramfs", initramfs, "kernel", kernel,
        "health", health, "ports", ports, "memory_bytes", (json_int_t)c->mem,
        "sizes", sizes_json(c), "compression", pack_name(c->pack.comp),
        "built_at", when);
    /* What this builder's init does (tinyx/init/): a newer host may
     * offer these only to images that say so. */
    if (m)
        json_object_set_new(m, "init_features",
                            json_pack("[s, s]", "config", "exec"));
    return write_json(m, dir, "manifest.json", err);
}
