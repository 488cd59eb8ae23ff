/*
 * tinyx.h: Tinyx, a minimal Linux VM for one unmodified Debian
 * application: its files, dependencies and a tiny init packed as an
 * initramfs, booted by a tiny kernel (or Debian's). The library behind
 * `lightvm tinyx`. The image format it writes, and its reader, belong to
 * the qemu driver that runs images (toolstack/qemu/tinyx_manifest.h).
 */
#ifndef TINYX_TINYX_H
#define TINYX_TINYX_H

#include "tinyx/kernel.h"
#include "toolstack/error.h"
#include "toolstack/qemu/tinyx_manifest.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>

#define TINYX_MAX_PKGS 32
#define TINYX_MAX_FILES 64
#define TINYX_MAX_ENV 64

struct tinyx_build_opts {
    const char *app; /* a Debian package, a program in PATH or a path */
    const char *pkgs[TINYX_MAX_PKGS]; /* more packages whose files go in */
    unsigned npkgs;
    const char *files[TINYX_MAX_FILES]; /* "SRC[:DST]" host copies */
    unsigned nfiles;
    const char *cmd; /* the command line; NULL: the app's default */
    const char *env[TINYX_MAX_ENV]; /* "KEY=VALUE" for the command */
    unsigned nenv;
    const char *user;        /* NULL: the package's own user, else root */
    const char *health;      /* "tcp:PORT", "cmd:COMMAND", "none"; NULL:
                                the app's default */
    const char *kernel;      /* "auto" or NULL, "tiny", "stock", a path */
    const char *app_config;  /* file of extra kernel options */
    const char *compression; /* "zstd" (default), "gzip", "none", ":LEVEL" */
    const char *out;         /* the image directory to create */
    int force;               /* replace an existing image directory */
    int keep_rootfs;         /* keep the staging tree as DIR/rootfs */
    FILE *progress;          /* one line per step, or NULL */
};

/* Build the image (o->out) atomically: on failure nothing is left there
 * (an existing image is replaced only by a complete one). */
int tinyx_build(const struct tinyx_build_opts *o, struct lvm_err *err);

/* The kernel configuration for an image of (app): the platform options,
 * the app profile's and those in file (app_config) (may be NULL). */
int tinyx_kconfig_for(const char *app, const char *app_config,
                      struct kconfig *k, struct lvm_err *err);

#endif
