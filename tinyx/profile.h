/*
 * profile.h: what Tinyx knows about particular applications beyond what
 * the dpkg database says: how to run them in the foreground, which port
 * answers when they are ready, what they need from the kernel, and the
 * state directories their maintainer scripts create.
 */
#ifndef TINYX_PROFILE_H
#define TINYX_PROFILE_H

#include <sys/types.h>

struct tinyx_profile_dir {
    const char *path;
    mode_t mode;
    const char *user, *group;
};

struct tinyx_profile {
    const char *name;     /* package (or program) name */
    const char *program;  /* the main program */
    const char *cmd;      /* default command line (argsplit syntax) */
    const char *user;     /* NULL: derived from the package */
    unsigned port;        /* health check and published port, 0: none */
    const char *kconfig;  /* extra kernel options (fragment text) */
    const char *paths[4]; /* host paths the postinst creates */
    struct tinyx_profile_dir dirs[4];
    const char *mem; /* suggested guest RAM */
};

/* The profile of (name), or NULL. */
const struct tinyx_profile *tinyx_profile_find(const char *name);

#endif
