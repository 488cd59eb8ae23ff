/*
 * minimize.h: the LightVM paper's kernel search: drop candidate options
 * one at a time and keep each drop only if the app still boots and passes
 * its health check.
 */
#ifndef TINYX_MINIMIZE_H
#define TINYX_MINIMIZE_H

#include "tinyx/kernel.h"

struct minimize_opts {
    const struct kconfig *config; /* where to start */
    const char *image;            /* the image that must keep working */
    const char *candidates;       /* comma-separated, or NULL: defaults */
    struct kernel_build_opts build;
    int boot_timeout_ms; /* 0: 120 s (TCG is slow) */
};

/* Search; (out) is the smallest kernel found (also in the cache). */
int tinyx_minimize(const struct minimize_opts *o, struct tinyx_kernel *out,
                   struct lvm_err *err);

#endif
