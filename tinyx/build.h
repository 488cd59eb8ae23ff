/*
 * build.h: the state of one `tinyx build`, shared by its steps:
 * resolve.c (what to run, as whom, with which kernel), collect.c (which
 * files and why), report.c (what went in and the sizes), build.c (the
 * order of the steps and the output directory).
 */
#ifndef TINYX_BUILD_H
#define TINYX_BUILD_H

#include "tinyx/accounts.h"
#include "tinyx/argsplit.h"
#include "tinyx/dpkg.h"
#include "tinyx/elfdeps.h"
#include "tinyx/fileset.h"
#include "tinyx/profile.h"
#include "tinyx/stage.h"
#include "tinyx/tinyx.h"

#define TINYX_MAX_APP_PKGS 64
#define TINYX_NCAT 16

struct tinyx_ctx {
    const struct tinyx_build_opts *o;
    struct dpkg_db db;
    struct ld_path ld;
    struct fileset fs;
    const struct tinyx_profile *prof;
    char name[64];          /* the image's name */
    char program[PATH_MAX]; /* the app's main program (host path) */
    struct dpkg_pkg *app_pkgs[TINYX_MAX_APP_PKGS]; /* whose files go in */
    unsigned napp;
    struct argv_list argv; /* the command */
    struct tinyx_user user;
    enum tinyx_health_type health;
    unsigned health_port;
    struct argv_list health_argv;
    struct tinyx_kernel kernel;
    char **modules; /* stock kernel: modules to load, in order */
    size_t nmodules;
    struct pack_opts pack;
    uint64_t mem;
    /* statistics for the report */
    unsigned dropped_files[TINYX_NCAT];
    uint64_t dropped_bytes[TINYX_NCAT];
    unsigned missing;     /* listed by a package, absent on the host */
    uint64_t image_bytes; /* regular files in the image */
    struct pack_result packed;
    unsigned closure_pkgs, base_pkgs;
    uint64_t closure_bytes, base_bytes;
    double seconds;
};

/* resolve.c */
int tinyx_resolve(struct tinyx_ctx *c, struct lvm_err *err);

/* collect.c */
int tinyx_collect(struct tinyx_ctx *c, struct lvm_err *err);
int tinyx_closure_sizes(struct tinyx_ctx *c, struct lvm_err *err);

/* report.c: report.txt, report.json and manifest.json in (dir) */
int tinyx_write_report(struct tinyx_ctx *c, const char *dir,
                       struct lvm_err *err);
int tinyx_write_manifest(struct tinyx_ctx *c, const char *dir,
                         const char *initramfs, struct lvm_err *err);

#endif
