/*
 * tinyx_manifest.h: the Tinyx image format, as the qemu driver runs it: an
 * image directory holds a kernel, an initramfs and manifest.json
 * (TINYX_FORMAT, described in docs/tinyx.md). The builder (tinyx/) writes
 * images in this format; nothing here knows how they are built.
 */
#ifndef LVM_TINYX_MANIFEST_H
#define LVM_TINYX_MANIFEST_H

#include "toolstack/error.h"

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#define TINYX_MAX_PORTS 16
#define TINYX_FORMAT "lightvm-tinyx-image/1"
#define KERNEL_KEY_LEN 64

struct tinyx_kernel {
    char kind[8];           /* "tiny" or "stock" */
    char path[PATH_MAX];    /* what QEMU boots: vmlinux (PVH) or vmlinuz */
    char bzimage[PATH_MAX]; /* tiny: the compressed image too */
    char version[96];       /* kernel release */
    char key[KERNEL_KEY_LEN + 1]; /* tiny: configuration hash */
    int acpi;                     /* the kernel has ACPI */
};

enum tinyx_health_type {
    TINYX_HEALTH_NONE,
    TINYX_HEALTH_TCP,
    TINYX_HEALTH_CMD
};

/* An image directory's manifest.json, as the monitor needs it. */
struct tinyx_manifest {
    char dir[PATH_MAX];
    char name[64];
    char initramfs[PATH_MAX]; /* absolute */
    struct tinyx_kernel kernel;
    enum tinyx_health_type health;
    unsigned health_port;
    unsigned ports[TINYX_MAX_PORTS]; /* TCP ports the app listens on */
    unsigned nports;
    uint64_t mem; /* suggested guest RAM, bytes */
    /* What its init can do beyond running the image's command
     * ("init_features"): take a command and environment at create time
     * ("config"), run commands for `lightvm exec` ("exec"). Images built
     * before these existed have neither. */
    int init_config, init_exec;
};

/* Parse manifest text (json, len) of the image in (dir). Safe on hostile
 * input (fuzzed). */
int tinyx_manifest_parse(const char *json, size_t len, const char *dir,
                         struct tinyx_manifest *m, struct lvm_err *err);

/* Load (dir)/manifest.json and check that its files exist. */
int tinyx_manifest_load(const char *dir, struct tinyx_manifest *m,
                        struct lvm_err *err);

#endif
