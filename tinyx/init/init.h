/*
 * init.h: the Tinyx guest init (PID 1 of a Tinyx image): its configuration
 * and the helpers its files share. Built static with musl; no libraries.
 */
#ifndef TINYX_INIT_H
#define TINYX_INIT_H

#include <stddef.h>
#include <sys/types.h>

#define INIT_CONF "/etc/tinyx/init.conf"
#define INIT_MAX_ARGS 64
#define INIT_MAX_ENV 64
#define INIT_MAX_MODULES 32
#define INIT_MAX_DIRS 16
#define INIT_MAX_GROUPS 32

struct init_dir {
    char *path;
    mode_t mode;
    uid_t uid;
    gid_t gid;
};

/* What /etc/tinyx/init.conf (written by `lightvm tinyx build`) and the
 * kernel command line (written by the qemu monitor) ask for. */
struct init_conf {
    char *argv[INIT_MAX_ARGS + 1];
    int argc;
    char *env[INIT_MAX_ENV + 1];
    int envc;
    char *modules[INIT_MAX_MODULES];
    int nmodules;
    struct init_dir dirs[INIT_MAX_DIRS];
    int ndirs;
    uid_t uid;
    gid_t gid;
    gid_t groups[INIT_MAX_GROUPS];
    int ngroups;
    char *user; /* for messages and $USER */
    char *home;
    char *cwd;
    char *hostname;
    int health_port;                      /* tcp check, 0 for none */
    char *health_argv[INIT_MAX_ARGS + 1]; /* command check, or empty */
    int health_argc;
    /* from the kernel command line */
    char ip[32];  /* tinyx.ip=ADDR/PREFIX */
    char gw[32];  /* tinyx.gw=ADDR */
    char dns[32]; /* tinyx.dns=ADDR */
    char ctl[32]; /* tinyx.ctl=ttyS1: the control channel's device */
    int quiet;    /* "quiet" on the command line */
};

/* Read INIT_CONF and /proc/cmdline into (c); 0 or -1 with a message
 * printed. */
int init_conf_load(struct init_conf *c);

/* Parse the kernel command line (cmdline) into the tinyx.* fields of (c). */
void init_conf_cmdline(struct init_conf *c, const char *cmdline);

/* Bring up lo and, if c->ip is set, the first ethernet device with that
 * address, c->gw as default route and c->dns in /etc/resolv.conf. */
int init_net_setup(const struct init_conf *c);

/* The guest's own address for health checks (host byte order), or
 * 127.0.0.1 when there is no network. */
unsigned init_net_self(const struct init_conf *c);

/* Print "tinyx-init: <fmt>" on the console. */
void init_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
