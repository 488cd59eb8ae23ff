/*
 * kernel.h: the kernel a Tinyx image boots. Either a tiny kernel built
 * from Debian's linux-source (tinyconfig + the platform options + what the
 * app needs), cached by the hash of that configuration, or Debian's stock
 * cloud kernel with its virtio modules carried in the image. What an image
 * records of its kernel (struct tinyx_kernel) is part of the image format,
 * toolstack/qemu/tinyx_manifest.h.
 */
#ifndef TINYX_KERNEL_H
#define TINYX_KERNEL_H

#include "toolstack/error.h"
#include "toolstack/qemu/tinyx_manifest.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>

#define KERNEL_CACHE_DEFAULT "/var/cache/lightvm/kernels"

/* One option of a configuration fragment. */
struct kconfig_opt {
    char name[64];  /* "CONFIG_NET" */
    char value[64]; /* "y", "n", a number or a quoted string */
};

#define KCONFIG_MAX 512

struct kconfig {
    struct kconfig_opt opt[KCONFIG_MAX];
    unsigned n;
};

/* Parse Kconfig fragment text ("CONFIG_X=y", "# CONFIG_X is not set",
 * comments) into (k), later lines overriding earlier ones. Safe on any
 * input (fuzzed). */
int kconfig_parse(struct kconfig *k, const char *text, size_t len,
                  struct lvm_err *err);

/* The platform options every Tinyx kernel gets; (why) of option i. */
void kconfig_platform(struct kconfig *k);
const char *kconfig_platform_why(const char *name);

/* Set (name) to (value) in (k), replacing or appending. */
int kconfig_set(struct kconfig *k, const char *name, const char *value);

/* Canonical text of (k), sorted by name: what the cache key hashes. The
 * caller frees it. */
char *kconfig_text(const struct kconfig *k);

/* The cache key of (k): sha256 of the build recipe version and its text. */
void kconfig_key(const struct kconfig *k, char key[KERNEL_KEY_LEN + 1]);

/* The cache directory ($LIGHTVM_KERNEL_CACHE or the default). */
const char *kernel_cache_dir(char *buf, size_t len);

/* A cached tiny kernel for (k): 0 and (out) filled, or -1 if none. */
int kernel_cached(const struct kconfig *k, struct tinyx_kernel *out);

/* Debian's cloud kernel: $LIGHTVM_STOCK_KERNEL or the newest
 * /boot/vmlinuz-*-cloud-amd64 with its /lib/modules directory. */
int kernel_stock(struct tinyx_kernel *out, struct lvm_err *err);

/* Describe a kernel given by path: a cached tiny one (by its directory's
 * meta.json) or a /boot/vmlinuz-VERSION. */
int kernel_from_path(const char *path, struct tinyx_kernel *out,
                     struct lvm_err *err);

/* Modules a stock kernel needs for the platform (virtio-mmio, virtio-net),
 * dependencies first, as host paths; the caller frees each and the array. */
int kernel_stock_modules(const struct tinyx_kernel *k, char ***mods, size_t *n,
                         struct lvm_err *err);

/* The same for the modules named (names) ("virtio_blk", "overlay"), each
 * after its dependencies, no module twice. */
int kernel_stock_module_list(const struct tinyx_kernel *k,
                             const char *const *names, size_t nnames,
                             char ***mods, size_t *n, struct lvm_err *err);

struct kernel_build_opts {
    const struct kconfig *config; /* platform + app options */
    unsigned jobs;                /* make -j; 0: 2 */
    int force;                    /* rebuild even if cached */
    FILE *progress;               /* one line per step, or NULL */
};

/* Build the tiny kernel for o->config (or find it in the cache). */
int kernel_build(const struct kernel_build_opts *o, struct tinyx_kernel *out,
                 struct lvm_err *err);

/* Run (argv) with output appended to (log_fd), in (dir) if not NULL; 0 if
 * it exited 0. */
int kernel_run(char *const argv[], const char *dir, int log_fd,
               struct lvm_err *err);

#endif
