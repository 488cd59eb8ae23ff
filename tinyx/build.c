/*
 * build.c: `tinyx build`, step by step (see docs/tinyx.md): resolve,
 * collect, stage, pack, report. Everything is written into a hidden
 * temporary directory next to the output and renamed into place only when
 * complete, so a failed build leaves nothing that looks like an image.
 */
#include "tinyx/build.h"
#include "tinyx/progress.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void say(const struct tinyx_ctx *c, const char *fmt, const char *arg)
{
    char text[PATH_MAX + 128];
    snprintf(text, sizeof text, fmt, arg);
    progress_say(c->o->progress, "tinyx", "%s", text);
}

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* Remove a tree we created (never follows symlinks out of it). */
static void rm_tree(const char *path)
{
    nftw(path, rm_entry, 32, FTW_DEPTH | FTW_PHYS);
}

/* Split (out) into its directory and base name; strips trailing '/'. */
static int split_out(const char *out, char *parent, char *base, size_t len,
                     struct lvm_err *err)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", out);
    size_t l = strlen(buf);
    while (l > 1 && buf[l - 1] == '/')
        buf[--l] = 0;
    char *slash = strrchr(buf, '/');
    if (slash) {
        snprintf(base, len, "%s", slash + 1);
        if (slash == buf)
            snprintf(parent, len, "/");
        else {
            *slash = 0;
            snprintf(parent, len, "%s", buf);
        }
    } else {
        snprintf(parent, len, ".");
        snprintf(base, len, "%s", buf);
    }
    if (!base[0] || !strcmp(base, ".") || !strcmp(base, ".."))
        return lvm_err_invalid(err, "-o %s: not a directory name", out);
    return 0;
}

static int check_out(const struct tinyx_build_opts *o, struct lvm_err *err)
{
    struct stat st;
    if (!o->out || !*o->out)
        return lvm_err_invalid(err, "no output directory (-o DIR)");
    if (lstat(o->out, &st) < 0)
        return errno == ENOENT || errno == ENOTDIR
                   ? 0
                   : lvm_err_set(err, errno, "output directory %s", o->out);
    if (!o->force)
        return lvm_err_set(err, EEXIST,
                           "output directory %s already exists (--force "
                           "replaces it)",
                           o->out);
    char m[PATH_MAX];
    snprintf(m, sizeof m, "%s/manifest.json", o->out);
    if (!S_ISDIR(st.st_mode) || access(m, F_OK) < 0)
        return lvm_err_set(err, EEXIST,
                           "%s exists and is not a Tinyx image: not "
                           "replacing it",
                           o->out);
    return 0;
}

/* Move the finished image (tmp) to (out), replacing an old image. */
static int install(const char *tmp, const char *parent, const char *base,
                   const char *out, int force, struct lvm_err *err)
{
    char old[PATH_MAX];
    snprintf(old, sizeof old, "%s/.%s.old-%d", parent, base, (int)getpid());
    int moved = 0;
    if (force && rename(out, old) == 0)
        moved = 1;
    if (rename(tmp, out) < 0) {
        int e = errno;
        if (moved)
            rename(old, out);
        return lvm_err_set(err, e, "rename %s to %s", tmp, out);
    }
    if (moved)
        rm_tree(old);
    return 0;
}

static void ctx_free(struct tinyx_ctx *c)
{
    fileset_free(&c->fs);
    dpkg_db_free(&c->db);
    ld_path_free(&c->ld);
    argv_free(&c->argv);
    argv_free(&c->health_argv);
    for (size_t i = 0; i < c->nmodules; i++)
        free(c->modules[i]);
    free(c->modules);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The steps between a ready context and a complete image in (tmp). */
static int make_image(struct tinyx_ctx *c, const char *tmp, struct lvm_err *err)
{
    say(c, "collecting the files of %s", c->name);
    if (tinyx_collect(c, err) < 0)
        return -1;
    fileset_sort(&c->fs);
    char root[PATH_MAX], initrd[64], initp[PATH_MAX + 64];
    snprintf(root, sizeof root, "%s/rootfs", tmp);
    if (mkdir(root, 0755) < 0)
        return lvm_err_set(err, errno, "create %s", root);
    say(c, "staging in %s", root);
    if (stage_tree(&c->fs, root, err) < 0)
        return lvm_err_wrap(err, "stage");
    snprintf(initrd, sizeof initrd, "initramfs%s", pack_suffix(c->pack.comp));
    snprintf(initp, sizeof initp, "%s/%s", tmp, initrd);
    say(c, "packing %s", initrd);
    if (pack_cpio(&c->fs, root, initp, &c->pack, &c->packed, err) < 0)
        return lvm_err_wrap(err, "pack");
    if (tinyx_closure_sizes(c, err) < 0)
        return -1;
    if (!c->o->keep_rootfs)
        rm_tree(root);
    c->seconds = now_s() - c->seconds;
    if (tinyx_write_report(c, tmp, err) < 0)
        return -1;
    /* the manifest last: it is what makes a directory an image */
    return tinyx_write_manifest(c, tmp, initrd, err);
}

int tinyx_build(const struct tinyx_build_opts *o, struct lvm_err *err)
{
    struct tinyx_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return lvm_err_set(err, ENOMEM, "tinyx build");
    c->o = o;
    c->seconds = now_s();
    int r = -1;
    char parent[PATH_MAX], base[256], tmp[PATH_MAX + 300] = "";
    if (check_out(o, err) < 0 ||
        split_out(o->out, parent, base, sizeof base, err) < 0)
        goto out;
    if (dpkg_db_load(&c->db, NULL, err) < 0 ||
        dpkg_index_owners(&c->db, err) < 0 || ld_path_load(&c->ld, err) < 0 ||
        fileset_init(&c->fs, err) < 0)
        goto out;
    say(c, "resolving %s", o->app);
    if (tinyx_resolve(c, err) < 0)
        goto out;
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp-XXXXXX", parent, base);
    if (!mkdtemp(tmp)) {
        lvm_err_set(err, errno, "cannot write output directory %s", o->out);
        tmp[0] = 0;
        goto out;
    }
    chmod(tmp, 0755);
    if (make_image(c, tmp, err) < 0 ||
        install(tmp, parent, base, o->out, o->force, err) < 0)
        goto out;
    tmp[0] = 0;
    if (o->progress)
        fprintf(o->progress,
                "tinyx: %s: %zu files, %.2f MiB; initramfs %.2f MiB (%s); "
                "kernel %s %s\n",
                o->out, c->fs.n, (double)c->image_bytes / 1048576.0,
                (double)c->packed.file_bytes / 1048576.0,
                pack_name(c->pack.comp), c->kernel.kind, c->kernel.version);
    r = 0;
out:
    if (tmp[0])
        rm_tree(tmp);
    ctx_free(c);
    free(c);
    return r;
}
