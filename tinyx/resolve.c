/*
 * resolve.c: turn `tinyx build` arguments into decisions: the program and
 * the packages of the app, its command line, its user, its health check
 * and the kernel the image will boot.
 */
#include "tinyx/build.h"
#include "toolstack/guest_policy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const bindirs[] = {"/usr/sbin",       "/usr/bin",
                                      "/sbin",           "/bin",
                                      "/usr/local/sbin", "/usr/local/bin"};

/* (name) in $PATH or the usual bin directories, as an absolute path. */
static int find_program(const char *name, char *out, size_t len)
{
    const char *env = getenv("PATH");
    char path[4096];
    snprintf(path, sizeof path, "%s", env ? env : "");
    for (char *save, *d = strtok_r(path, ":", &save); d;
         d = strtok_r(NULL, ":", &save)) {
        if (d[0] != '/')
            continue;
        snprintf(out, len, "%s/%s", d, name);
        if (access(out, X_OK) == 0)
            return 0;
    }
    for (size_t i = 0; i < sizeof bindirs / sizeof *bindirs; i++) {
        snprintf(out, len, "%s/%s", bindirs[i], name);
        if (access(out, X_OK) == 0)
            return 0;
    }
    return -1;
}

/* A package dpkg knows about but that is not installed. */
static int known_not_installed(const struct dpkg_db *db, const char *name)
{
    for (size_t i = 0; i < db->n; i++)
        if (!strcmp(db->pkgs[i].name, name) && !db->pkgs[i].installed)
            return 1;
    return 0;
}

static int is_bin(const char *path)
{
    for (size_t i = 0; i < sizeof bindirs / sizeof *bindirs; i++) {
        size_t l = strlen(bindirs[i]);
        if (!strncmp(path, bindirs[i], l) && path[l] == '/' &&
            !strchr(path + l + 1, '/'))
            return 1;
    }
    return 0;
}

/* The main program of package (p): the profile's, one named like the
 * package, or its only program. */
static int package_program(struct tinyx_ctx *c, struct dpkg_pkg *p,
                           struct lvm_err *err)
{
    if (c->prof && !strcmp(c->prof->name, p->name)) {
        snprintf(c->program, sizeof c->program, "%s", c->prof->program);
        return 0;
    }
    char list[512] = "";
    unsigned nprog = 0;
    const char *only = NULL;
    for (size_t i = 0; i < p->nfiles; i++) {
        const char *f = p->files[i];
        struct stat st;
        if (!is_bin(f) || stat(f, &st) < 0 || !S_ISREG(st.st_mode) ||
            !(st.st_mode & 0111))
            continue;
        const char *base = strrchr(f, '/') + 1;
        if (!strcmp(base, p->name)) {
            snprintf(c->program, sizeof c->program, "%s", f);
            return 0;
        }
        nprog++;
        only = f;
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, "%s%s", l ? ", " : "", base);
    }
    if (nprog == 1) {
        snprintf(c->program, sizeof c->program, "%s", only);
        return 0;
    }
    if (c->o->cmd)
        return 1; /* the command names the program */
    if (nprog == 0)
        return lvm_err_set(err, ENOENT,
                           "package '%s' has no program to run (give one "
                           "with --cmd)",
                           p->name);
    return lvm_err_invalid(err,
                           "package '%s' has several programs (%s): say which "
                           "with --cmd",
                           p->name, list);
}

static int add_app_pkg(struct tinyx_ctx *c, struct dpkg_pkg *p)
{
    for (unsigned i = 0; i < c->napp; i++)
        if (c->app_pkgs[i] == p)
            return 0;
    if (c->napp == TINYX_MAX_APP_PKGS)
        return -1;
    c->app_pkgs[c->napp++] = p;
    return 0;
}

/* The program and root package(s) of the app. */
static int resolve_app(struct tinyx_ctx *c, struct lvm_err *err)
{
    const char *app = c->o->app;
    struct dpkg_pkg *p;
    if (!app || !*app)
        return lvm_err_invalid(err, "no application given");
    c->prof = tinyx_profile_find(app);
    if (strchr(app, '/')) {
        if (app[0] == '/') {
            snprintf(c->program, sizeof c->program, "%s", app);
        } else {
            char cwd[PATH_MAX];
            if (!getcwd(cwd, sizeof cwd))
                return lvm_err_set(err, errno, "getcwd");
            snprintf(c->program, sizeof c->program, "%s/%s", cwd, app);
        }
    } else if ((p = dpkg_find(&c->db, app))) {
        int r = package_program(c, p, err);
        if (r < 0)
            return -1;
        if (add_app_pkg(c, p) < 0)
            return lvm_err_set(err, E2BIG, "too many packages");
    } else if (find_program(app, c->program, sizeof c->program) == 0) {
        /* a command, e.g. "sh" */
    } else if (known_not_installed(&c->db, app)) {
        return lvm_err_set(err, ENOENT,
                           "package '%s' is not installed (apt-get install "
                           "%s)",
                           app, app);
    } else {
        return lvm_err_plain(err, ENOENT,
                             "'%s' is neither an installed Debian package nor "
                             "a program in PATH",
                             app);
    }
    const char *base = strrchr(app, '/');
    snprintf(c->name, sizeof c->name, "%s", base ? base + 1 : app);
    if (c->program[0]) {
        struct stat st;
        if (stat(c->program, &st) < 0)
            return lvm_err_set(err, errno, "%s", c->program);
        if (!S_ISREG(st.st_mode) || !elf_is_elf(c->program))
            return lvm_err_set(err, ENOEXEC, "%s is not an ELF executable",
                               c->program);
        if (!c->prof)
            c->prof = tinyx_profile_find(c->program);
    }
    return 0;
}

/* The command's argv[0] as an absolute host path. */
static int resolve_command(struct tinyx_ctx *c, struct lvm_err *err)
{
    const char *cmd = c->o->cmd;
    if (!cmd && c->prof &&
        (!strcmp(c->program, c->prof->program) || !c->program[0]))
        cmd = c->prof->cmd;
    if (cmd) {
        if (argsplit(cmd, &c->argv, err) < 0)
            return -1;
    } else {
        c->argv.v[0] = strdup(c->program);
        if (!c->argv.v[0])
            return lvm_err_set(err, ENOMEM, "command");
        c->argv.n = 1;
    }
    char *a0 = c->argv.v[0];
    if (!strchr(a0, '/')) {
        char path[PATH_MAX];
        if (find_program(a0, path, sizeof path) < 0)
            return lvm_err_set(err, ENOENT,
                               "--cmd: program '%s' not found in "
                               "PATH",
                               a0);
        char *n = strdup(path);
        if (!n)
            return lvm_err_set(err, ENOMEM, "command");
        free(a0);
        c->argv.v[0] = n;
    } else if (a0[0] != '/') {
        return lvm_err_invalid(err,
                               "--cmd: '%s' must be a name or an "
                               "absolute path",
                               a0);
    }
    for (int i = 0; i < c->argv.n; i++)
        if (strchr(c->argv.v[i], '\n'))
            return lvm_err_invalid(err, "--cmd: newlines are not allowed");
    if (access(c->argv.v[0], X_OK) < 0)
        return lvm_err_set(err, errno, "--cmd: %s", c->argv.v[0]);
    if (!c->program[0])
        snprintf(c->program, sizeof c->program, "%s", c->argv.v[0]);
    return 0;
}

static int resolve_pkgs(struct tinyx_ctx *c, struct lvm_err *err)
{
    for (unsigned i = 0; i < c->o->npkgs; i++) {
        const char *name = c->o->pkgs[i];
        struct dpkg_pkg *p = dpkg_find(&c->db, name);
        if (!p)
            return lvm_err_set(err, ENOENT,
                               known_not_installed(&c->db, name)
                                   ? "--pkg: package '%s' is not installed"
                                   : "--pkg: no package '%s' is installed",
                               name);
        if (add_app_pkg(c, p) < 0)
            return lvm_err_set(err, E2BIG, "too many packages");
    }
    /* the owners of the program and the command */
    const char *paths[] = {c->program, c->argv.v[0]};
    for (size_t i = 0; i < 2; i++) {
        struct dpkg_pkg *p = dpkg_owner(&c->db, paths[i]);
        if (!p) {
            /* through a symlink (/usr/bin/sh -> dash): the target's */
            char real[PATH_MAX];
            if (realpath(paths[i], real))
                p = dpkg_owner(&c->db, real);
        }
        if (p && add_app_pkg(c, p) < 0)
            return lvm_err_set(err, E2BIG, "too many packages");
    }
    /* and the packages built from the same source that they depend on
     * (nginx-common for nginx, redis-tools for redis-server) */
    dpkg_unmark(&c->db);
    unsigned roots = c->napp;
    for (unsigned i = 0; i < roots; i++)
        c->app_pkgs[i]->mark = 1;
    dpkg_closure(&c->db);
    for (size_t i = 0; i < c->db.n; i++) {
        struct dpkg_pkg *p = &c->db.pkgs[i];
        if (!p->mark)
            continue;
        for (unsigned j = 0; j < roots; j++)
            if (!strcmp(p->source, c->app_pkgs[j]->source) &&
                add_app_pkg(c, p) < 0)
                return lvm_err_set(err, E2BIG, "too many packages");
    }
    dpkg_unmark(&c->db);
    return 0;
}

static int lookup_user(const char *name, struct tinyx_user *u,
                       struct lvm_err *err)
{
    if (accounts_user(name, u) < 0)
        return lvm_err_set(err, ENOENT, "user '%s' does not exist on this host",
                           name);
    return 0;
}

/* The package's own system user (redis for redis-server), or root. */
static int resolve_user(struct tinyx_ctx *c, struct lvm_err *err)
{
    const char *want = c->o->user;
    if (!want && c->prof && c->prof->user)
        want = c->prof->user;
    if (want)
        return lookup_user(want, &c->user, err);
    for (unsigned i = 0; i < c->napp; i++) {
        const char *cand[] = {c->app_pkgs[i]->source, c->app_pkgs[i]->name};
        for (size_t j = 0; j < 2; j++) {
            struct tinyx_user u;
            struct lvm_err ignore;
            if (lookup_user(cand[j], &u, &ignore) == 0 && u.uid > 0 &&
                u.uid < 1000) {
                c->user = u;
                return 0;
            }
        }
    }
    return lookup_user("root", &c->user, err);
}

static int resolve_health(struct tinyx_ctx *c, struct lvm_err *err)
{
    const char *h = c->o->health;
    if (!h) {
        c->health =
            c->prof && c->prof->port ? TINYX_HEALTH_TCP : TINYX_HEALTH_NONE;
        c->health_port = c->prof ? c->prof->port : 0;
        return 0;
    }
    if (!strcmp(h, "none")) {
        c->health = TINYX_HEALTH_NONE;
    } else if (!strncmp(h, "tcp:", 4)) {
        char *end;
        long port = strtol(h + 4, &end, 10);
        if (*end || port < 1 || port > 65535)
            return lvm_err_invalid(err, "--health: '%s' is not tcp:PORT", h);
        c->health = TINYX_HEALTH_TCP;
        c->health_port = (unsigned)port;
    } else if (!strncmp(h, "cmd:", 4)) {
        if (argsplit(h + 4, &c->health_argv, err) < 0)
            return lvm_err_wrap(err, "--health");
        if (c->health_argv.v[0][0] != '/')
            return lvm_err_invalid(err, "--health: give the command as "
                                        "an absolute path");
        c->health = TINYX_HEALTH_CMD;
    } else {
        return lvm_err_invalid(err,
                               "--health: '%s': use tcp:PORT, cmd:COMMAND or "
                               "none",
                               h);
    }
    return 0;
}

int tinyx_kconfig_for(const char *app, const char *app_config,
                      struct kconfig *k, struct lvm_err *err)
{
    kconfig_platform(k);
    const struct tinyx_profile *p = app ? tinyx_profile_find(app) : NULL;
    if (p && p->kconfig &&
        kconfig_parse(k, p->kconfig, strlen(p->kconfig), err) < 0)
        return -1;
    if (!app_config)
        return 0;
    FILE *f = fopen(app_config, "re");
    if (!f)
        return lvm_err_set(err, errno, "--app-config %s", app_config);
    char buf[65536];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    if (n == sizeof buf)
        return lvm_err_set(err, E2BIG, "--app-config %s: too large",
                           app_config);
    if (kconfig_parse(k, buf, n, err) < 0)
        return lvm_err_wrap(err, "--app-config %s", app_config);
    return 0;
}

static int resolve_kernel(struct tinyx_ctx *c, struct lvm_err *err)
{
    const char *want = c->o->kernel ? c->o->kernel : "auto";
    if (!strcmp(want, "stock"))
        return kernel_stock(&c->kernel, err);
    if (!strcmp(want, "auto") || !strcmp(want, "tiny")) {
        struct kconfig *k = malloc(sizeof *k);
        if (!k)
            return lvm_err_set(err, ENOMEM, "kernel configuration");
        int r = tinyx_kconfig_for(c->o->app, c->o->app_config, k, err);
        if (r == 0 && kernel_cached(k, &c->kernel) == 0) {
            free(k);
            return 0;
        }
        free(k);
        if (r < 0)
            return -1;
        if (!strcmp(want, "tiny"))
            return lvm_err_set(err, ENOENT,
                               "no tiny kernel built for this app's "
                               "configuration (run 'lightvm tinyx kernel%s%s' "
                               "first)",
                               c->o->app_config ? " --app-config " : "",
                               c->o->app_config ? c->o->app_config : "");
        return kernel_stock(&c->kernel, err);
    }
    if (access(want, R_OK) < 0)
        return lvm_err_set(err, errno, "kernel %s", want);
    return kernel_from_path(want, &c->kernel, err);
}

int tinyx_resolve(struct tinyx_ctx *c, struct lvm_err *err)
{
    if (resolve_app(c, err) < 0 || resolve_command(c, err) < 0 ||
        resolve_pkgs(c, err) < 0 || resolve_user(c, err) < 0 ||
        resolve_health(c, err) < 0 || resolve_kernel(c, err) < 0)
        return -1;
    if (!strcmp(c->kernel.kind, "stock") &&
        kernel_stock_modules(&c->kernel, &c->modules, &c->nmodules, err) < 0)
        return -1;
    const char *comp = c->o->compression ? c->o->compression : "zstd";
    if (pack_parse_compression(comp, &c->pack) < 0)
        return lvm_err_invalid(err,
                               "--compression: '%s': use zstd, gzip or none, "
                               "optionally :LEVEL",
                               comp);
    /* The RAM the image suggests: the policy's for its kernel. */
    c->mem =
        guest_ram_range(GUEST_MON_QEMU, guest_kernel_of(c->kernel.kind)).def;
    return 0;
}
