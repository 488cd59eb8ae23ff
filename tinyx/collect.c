/*
 * collect.c: decide which files go into the image and why: the app's
 * packages minus the blacklist, the configuration this host made for
 * them, the ELF closure (interpreters and DT_NEEDED libraries of every
 * program and library in the image), kernel modules and generated files.
 */
#include "tinyx/blacklist.h"
#include "tinyx/build.h"

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uint64_t size_of(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 && S_ISREG(st.st_mode) ? (uint64_t)st.st_size
                                                        : 0;
}

/* -1 (said why, in err) if file (path) of package (pkg) is there but
 * cannot be read by this build: (st) is its lstat, if that worked. (A
 * directory is made afresh in the image: its files are what count.) */
static int unreadable(const char *path, struct stat *st, const char *pkg,
                      struct lvm_err *err)
{
    int e = errno;
    int ok = lstat(path, st) == 0;
    if (ok && S_ISREG(st->st_mode) && access(path, R_OK) < 0)
        e = errno, ok = 0;
    if (ok)
        return 0;
    return lvm_err_set(err, e,
                       "cannot read %s (a file of package %s; build as root, "
                       "or make it readable)",
                       path, pkg);
}

static int add_package_files(struct tinyx_ctx *c, struct dpkg_pkg *p,
                             struct lvm_err *err)
{
    char why[300];
    snprintf(why, sizeof why, "file of package %s", p->name);
    for (size_t i = 0; i < p->nfiles; i++) {
        const char *f = p->files[i];
        int cat = blacklist_match(f);
        if (cat >= 0) {
            c->dropped_files[cat]++;
            c->dropped_bytes[cat] += size_of(f);
            continue;
        }
        struct stat st;
        if (lstat(f, &st) < 0 && (errno == ENOENT || errno == ENOTDIR)) {
            c->missing++; /* a conffile the admin deleted, a diversion */
            continue;
        }
        /* One the builder may not read (redis's 0640 redis.conf in a
         * 0750 directory, when not root) would leave the image broken. */
        if (unreadable(f, &st, p->name, err))
            return -1;
        if (fileset_add_host(&c->fs, f, why, err) < 0)
            return -1;
    }
    return 0;
}

/* Entries of /etc directories of the app's packages that no package owns:
 * what the maintainer scripts or the admin made (nginx's sites-enabled). */
static int add_host_config(struct tinyx_ctx *c, const char *dir,
                           const char *pkg, int depth, struct lvm_err *err)
{
    DIR *d = opendir(dir);
    if (!d && (errno == EACCES || errno == EPERM))
        return lvm_err_set(err, errno,
                           "cannot read %s (configuration of package %s; "
                           "build as root, or make it readable)",
                           dir, pkg);
    if (!d || depth > 8) {
        if (d)
            closedir(d);
        return 0;
    }
    struct dirent *e;
    int r = 0;
    while (r == 0 && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char path[PATH_MAX], why[PATH_MAX + 64];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(path, &st) < 0 || blacklist_match(path) >= 0)
            continue;
        if (!dpkg_owner(&c->db, path) && unreadable(path, &st, pkg, err) < 0) {
            r = -1;
            break;
        }
        if (!dpkg_owner(&c->db, path)) {
            snprintf(why, sizeof why, "configuration made on this host for %s",
                     pkg);
            if (S_ISDIR(st.st_mode))
                r = fileset_add_copy(&c->fs, path, path, why, err);
            else
                r = fileset_add_host(&c->fs, path, why, err);
        } else if (S_ISDIR(st.st_mode)) {
            r = add_host_config(c, path, pkg, depth + 1, err);
        }
    }
    closedir(d);
    return r;
}

static int add_config(struct tinyx_ctx *c, struct lvm_err *err)
{
    for (unsigned i = 0; i < c->napp; i++) {
        struct dpkg_pkg *p = c->app_pkgs[i];
        for (size_t j = 0; j < p->nfiles; j++) {
            const char *f = p->files[j];
            struct stat st;
            if (strncmp(f, "/etc/", 5) || strchr(f + 5, '/') ||
                blacklist_match(f) >= 0 || lstat(f, &st) < 0 ||
                !S_ISDIR(st.st_mode))
                continue; /* only the app's top-level /etc directories */
            if (add_host_config(c, f, p->name, 0, err) < 0)
                return -1;
        }
    }
    return 0;
}

static void owner_ids(const char *user, const char *group, uid_t *uid,
                      gid_t *gid)
{
    struct tinyx_user u;
    *uid = accounts_user(user, &u) == 0 ? u.uid : 0;
    if (accounts_group(group, gid) < 0)
        *gid = 0;
}

static int add_profile(struct tinyx_ctx *c, struct lvm_err *err)
{
    char why[128];
    if (!c->prof)
        return 0;
    snprintf(why, sizeof why, "made by %s's maintainer scripts", c->prof->name);
    for (size_t i = 0; i < 4 && c->prof->paths[i]; i++) {
        struct stat st;
        if (lstat(c->prof->paths[i], &st) == 0 &&
            fileset_add_copy(&c->fs, c->prof->paths[i], c->prof->paths[i], why,
                             err) < 0)
            return -1;
    }
    for (size_t i = 0; i < 4 && c->prof->dirs[i].path; i++) {
        const struct tinyx_profile_dir *d = &c->prof->dirs[i];
        if (fileset_add_dir(&c->fs, d->path, d->mode, why, err) < 0)
            return -1;
        struct fs_entry *e = fileset_get(&c->fs, d->path);
        owner_ids(d->user, d->group, &e->uid, &e->gid);
        e->mode = d->mode;
    }
    return 0;
}

static int add_files(struct tinyx_ctx *c, struct lvm_err *err)
{
    for (unsigned i = 0; i < c->o->nfiles; i++) {
        char src[PATH_MAX];
        snprintf(src, sizeof src, "%s", c->o->files[i]);
        char *colon = strchr(src, ':');
        const char *dst = src;
        if (colon) {
            *colon = 0;
            dst = colon + 1;
        }
        struct stat st;
        if (!src[0] || lstat(src, &st) < 0)
            return lvm_err_set(err, src[0] ? errno : EINVAL, "--file %s",
                               c->o->files[i]);
        if (dst[0] != '/')
            return lvm_err_invalid(err,
                                   "--file %s: the destination must "
                                   "be an absolute path",
                                   c->o->files[i]);
        if (fileset_add_copy(&c->fs, src, dst, "--file", err) < 0)
            return -1;
    }
    return 0;
}

/* "#!/bin/sh -e" -> "/bin/sh", or "" if (path) is not a script. */
static void script_interp(const char *path, char *out, size_t len)
{
    out[0] = 0;
    FILE *f = fopen(path, "re");
    if (!f)
        return;
    char line[256];
    if (fgets(line, sizeof line, f) && line[0] == '#' && line[1] == '!') {
        char *s = line + 2 + strspn(line + 2, " \t");
        s[strcspn(s, " \t\n")] = 0;
        if (s[0] == '/')
            snprintf(out, len, "%s", s);
    }
    fclose(f);
}

/* Interpreters and libraries of every ELF file in the image, until no new
 * file comes in (entries added here are visited in turn). */
static int elf_closure(struct tinyx_ctx *c, struct lvm_err *err)
{
    for (size_t i = 0; i < c->fs.n; i++) {
        struct fs_entry *e = &c->fs.e[i];
        if (e->kind != FS_FILE || !e->src)
            continue;
        char src[PATH_MAX], why[PATH_MAX + 64], interp[PATH_MAX];
        snprintf(src, sizeof src, "%s", e->src);
        if (!elf_is_elf(src)) {
            if (!(e->mode & 0111))
                continue;
            script_interp(src, interp, sizeof interp);
            snprintf(why, sizeof why, "interpreter of script %s", e->path);
            if (interp[0] && fileset_add_host(&c->fs, interp, why, err) < 0)
                return -1;
            continue;
        }
        struct elf_info info;
        if (elf_inspect(src, &info, err) < 0)
            return -1;
        int r = 0;
        if (info.interp[0]) {
            snprintf(why, sizeof why, "interpreter of %s", src);
            r = fileset_add_host(&c->fs, info.interp, why, err);
        }
        for (unsigned j = 0; r == 0 && j < info.nneeded; j++) {
            char lib[PATH_MAX];
            if (ld_resolve(&c->ld, src, &info, info.needed[j], lib,
                           sizeof lib) < 0) {
                r = lvm_err_set(err, ENOENT,
                                "%s needs %s, which is not in "
                                "the library path",
                                src, info.needed[j]);
                break;
            }
            snprintf(why, sizeof why, "needed by %s", src);
            r = fileset_add_host(&c->fs, lib, why, err);
        }
        elf_info_free(&info);
        if (r < 0)
            return -1;
    }
    return 0;
}

/* System accounts of the host (uid/gid < 1000, and nobody): the app's
 * user and those its configuration names (nginx's www-data). */
static int add_accounts(struct tinyx_ctx *c, struct lvm_err *err)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    FILE *in = fopen("/etc/passwd", "re");
    if (!out || !in) {
        if (out)
            fclose(out);
        free(text);
        if (in)
            fclose(in);
        return lvm_err_set(err, errno, "read /etc/passwd");
    }
    struct passwd *pw;
    while ((pw = fgetpwent(in)))
        if (pw->pw_uid < 1000 || pw->pw_uid == 65534)
            fprintf(out, "%s:x:%u:%u:%s:%s:%s\n", pw->pw_name,
                    (unsigned)pw->pw_uid, (unsigned)pw->pw_gid, pw->pw_gecos,
                    pw->pw_dir, pw->pw_shell);
    fclose(in);
    fclose(out);
    int r = fileset_add_data(&c->fs, "/etc/passwd", text, len, 0644, 0, 0,
                             "system accounts of the host", err);
    free(text);
    if (r < 0)
        return -1;
    text = NULL;
    out = open_memstream(&text, &len);
    in = fopen("/etc/group", "re");
    if (!out || !in) {
        if (out)
            fclose(out);
        free(text);
        if (in)
            fclose(in);
        return lvm_err_set(err, errno, "read /etc/group");
    }
    struct group *gr;
    while ((gr = fgetgrent(in)))
        if (gr->gr_gid < 1000 || gr->gr_gid == 65534) {
            fprintf(out, "%s:x:%u:", gr->gr_name, (unsigned)gr->gr_gid);
            for (char **m = gr->gr_mem; *m; m++)
                fprintf(out, "%s%s", m == gr->gr_mem ? "" : ",", *m);
            fputc('\n', out);
        }
    fclose(in);
    fclose(out);
    r = fileset_add_data(&c->fs, "/etc/group", text, len, 0644, 0, 0,
                         "system groups of the host", err);
    free(text);
    return r;
}

static int add_init_conf(struct tinyx_ctx *c, struct lvm_err *err)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return lvm_err_set(err, errno, "init.conf");
    fprintf(f, "# written by lightvm tinyx build; read by /init\n");
    fprintf(f, "hostname %s\n", c->name);
    fprintf(f, "user %s\nuid %u\ngid %u\n", c->user.name, (unsigned)c->user.uid,
            (unsigned)c->user.gid);
    if (c->user.ngroups > 0) {
        fprintf(f, "groups ");
        for (int i = 0; i < c->user.ngroups; i++)
            fprintf(f, "%s%u", i ? "," : "", (unsigned)c->user.groups[i]);
        fputc('\n', f);
    }
    fprintf(f, "home %s\n", c->user.home);
    struct fs_entry *home = fileset_get(&c->fs, c->user.home);
    fprintf(f, "cwd %s\n", home && home->kind == FS_DIR ? c->user.home : "/");
    for (int i = 0; i < c->argv.n; i++)
        fprintf(f, "arg %s\n", c->argv.v[i]);
    for (unsigned i = 0; i < c->o->nenv; i++) /* one line each */
        fprintf(f, "env %s\n", c->o->env[i]);
    for (size_t i = 0; i < c->nmodules; i++)
        fprintf(f, "module %s\n", c->modules[i]);
    if (c->health == TINYX_HEALTH_TCP)
        fprintf(f, "health-tcp %u\n", c->health_port);
    for (int i = 0; c->health == TINYX_HEALTH_CMD && i < c->health_argv.n; i++)
        fprintf(f, "health-arg %s\n", c->health_argv.v[i]);
    fclose(f);
    int r = fileset_add_data(&c->fs, "/etc/tinyx/init.conf", text, len, 0644, 0,
                             0, "the init's configuration", err);
    free(text);
    return r;
}

/* The init binary: next to lightvm, or $LIGHTVM_TINYX_INIT. */
static int find_init(char *out, size_t len, struct lvm_err *err)
{
    const char *env = getenv("LIGHTVM_TINYX_INIT");
    if (env && *env) {
        snprintf(out, len, "%s", env);
        return access(out, R_OK) == 0
                   ? 0
                   : lvm_err_set(err, errno, "LIGHTVM_TINYX_INIT=%s", env);
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n < 0)
        return lvm_err_set(err, errno, "find the running program");
    exe[n] = 0;
    *strrchr(exe, '/') = 0;
    const char *cand[] = {"%s/lightvm-tinyx-init",
                          "%s/../lib/lightvm/lightvm-tinyx-init"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(out, len, cand[i], exe);
        if (access(out, R_OK) == 0)
            return 0;
    }
    return lvm_err_set(err, ENOENT,
                       "lightvm-tinyx-init not found next to "
                       "%s (set LIGHTVM_TINYX_INIT)",
                       exe);
}

static int add_generated(struct tinyx_ctx *c, struct lvm_err *err)
{
    char init[PATH_MAX];
    if (find_init(init, sizeof init, err) < 0 ||
        fileset_add_copy(&c->fs, init, "/init", "the Tinyx init", err) < 0)
        return -1;
    struct fs_entry *e = fileset_get(&c->fs, "/init");
    e->uid = e->gid = 0;
    e->mode = 0755;
    static const struct {
        const char *path;
        mode_t mode;
    } dirs[] = {{"/dev", 0755},  {"/proc", 0555}, {"/sys", 0555},
                {"/tmp", 01777}, {"/run", 0755},  {"/root", 0700},
                {"/etc", 0755}};
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++)
        if (fileset_add_dir(&c->fs, dirs[i].path, dirs[i].mode,
                            "mount point or runtime directory", err) < 0)
            return -1;
    /* the kernel opens /dev/console for the init before devtmpfs exists */
    if (fileset_add_chardev(&c->fs, "/dev/console", 0600, 5, 1,
                            "the init's first console", err) < 0)
        return -1;
    return add_accounts(c, err) < 0 ? -1 : add_init_conf(c, err);
}

int tinyx_collect(struct tinyx_ctx *c, struct lvm_err *err)
{
    char why[PATH_MAX + 32];
    snprintf(why, sizeof why, "the app");
    if (fileset_add_host(&c->fs, c->program, why, err) < 0)
        return -1;
    if (strcmp(c->argv.v[0], c->program) &&
        fileset_add_host(&c->fs, c->argv.v[0], "the command", err) < 0)
        return -1;
    for (unsigned i = 0; i < c->napp; i++)
        if (add_package_files(c, c->app_pkgs[i], err) < 0)
            return -1;
    if (add_config(c, err) < 0 || add_profile(c, err) < 0)
        return -1;
    /* the app's user's home, as a directory (not its contents) */
    struct stat st;
    if (c->user.uid != 0 && lstat(c->user.home, &st) == 0 &&
        S_ISDIR(st.st_mode) &&
        fileset_add_host(&c->fs, c->user.home, "home of the app's user", err) <
            0)
        return -1;
    if (add_files(c, err) < 0)
        return -1;
    snprintf(why, sizeof why, "module for kernel %s", c->kernel.version);
    for (size_t i = 0; i < c->nmodules; i++)
        if (fileset_add_host(&c->fs, c->modules[i], why, err) < 0)
            return -1;
    if (c->health == TINYX_HEALTH_CMD &&
        fileset_add_host(&c->fs, c->health_argv.v[0], "the health check", err) <
            0)
        return -1;
    if (elf_closure(c, err) < 0 || add_generated(c, err) < 0)
        return -1;
    for (size_t i = 0; i < c->fs.n; i++) {
        struct fs_entry *e = &c->fs.e[i];
        const char *host = e->src ? e->src : NULL;
        char canon[PATH_MAX];
        if (e->kind == FS_SYMLINK) {
            /* /lib -> usr/lib is the directory /usr/lib to dpkg: only a
             * symlink that dpkg lists as one has an owner */
            dpkg_canonical(&c->db, e->path, canon, sizeof canon);
            struct stat ls;
            if (lstat(canon, &ls) == 0 && S_ISLNK(ls.st_mode))
                host = e->path;
        }
        struct dpkg_pkg *p = host ? dpkg_owner(&c->db, host) : NULL;
        e->pkg = p ? p->name : NULL;
        if (e->kind == FS_FILE)
            c->image_bytes += (uint64_t)e->size;
    }
    return 0;
}

/* Bytes of regular files the marked packages list. */
static uint64_t listed_bytes(struct tinyx_ctx *c, unsigned *npkgs,
                             struct lvm_err *err)
{
    uint64_t bytes = 0;
    *npkgs = 0;
    for (size_t i = 0; i < c->db.n; i++) {
        struct dpkg_pkg *p = &c->db.pkgs[i];
        if (!p->mark)
            continue;
        (*npkgs)++;
        for (size_t j = 0; j < p->nfiles; j++)
            bytes += size_of(p->files[j]);
    }
    return bytes;
}

int tinyx_closure_sizes(struct tinyx_ctx *c, struct lvm_err *err)
{
    dpkg_unmark(&c->db);
    for (unsigned i = 0; i < c->napp; i++)
        c->app_pkgs[i]->mark = 1;
    for (size_t i = 0; i < c->fs.n; i++) {
        struct dpkg_pkg *p =
            c->fs.e[i].pkg ? dpkg_find(&c->db, c->fs.e[i].pkg) : NULL;
        /* kernel modules belong to the platform, not to the app */
        if (p && c->fs.e[i].kind == FS_FILE &&
            strncmp(c->fs.e[i].path, "/lib/modules/", 13) &&
            strncmp(c->fs.e[i].path, "/usr/lib/modules/", 17))
            p->mark = 1;
    }
    dpkg_closure(&c->db);
    c->closure_bytes = listed_bytes(c, &c->closure_pkgs, err);
    /* what a distribution would add: a debootstrap minbase */
    for (size_t i = 0; i < c->db.n; i++)
        if (c->db.pkgs[i].installed &&
            (c->db.pkgs[i].essential || c->db.pkgs[i].required))
            c->db.pkgs[i].mark = 1;
    dpkg_closure(&c->db);
    c->base_bytes = listed_bytes(c, &c->base_pkgs, err);
    dpkg_unmark(&c->db);
    return 0;
}
