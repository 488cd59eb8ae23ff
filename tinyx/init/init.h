/*
 * init.h: the Tinyx guest init (PID 1 of a Tinyx image): its configuration
 * and the helpers its files share. Built static with musl; no libraries.
 */
#ifndef TINYX_INIT_H
#define TINYX_INIT_H

#include <poll.h>
#include <stddef.h>
#include <sys/types.h>

#define INIT_CONF "/etc/tinyx/init.conf"
#define INIT_MAX_ARGS 64
#define INIT_MAX_ENV 64
#define INIT_MAX_MODULES 32
#define INIT_MAX_DIRS 16
#define INIT_MAX_GROUPS 32
#define INIT_MAX_MOUNTS 32
#define INIT_MAX_COPIES 16
#define INIT_MAX_RLIMITS 16

struct init_dir {
    char *path;
    mode_t mode;
    uid_t uid;
    gid_t gid;
};

/* A "mount SOURCE TARGET FSTYPE [OPTIONS]" line. */
struct init_mount {
    char *source; /* "serial:NAME": the virtio disk with that serial */
    char *target;
    char *fstype;
    char *options; /* comma list: flags (ro, nosuid...) and fs data */
    int in_root;   /* after the "root" line: done inside the new root */
};

/* A "copy SRC DST" line: SRC in the initramfs, DST in the new root. */
struct init_copy {
    char *src;
    char *dst;
};

/* An "rlimit RESOURCE SOFT HARD" line ("nofile 1024 4096"). */
struct init_rlimit {
    int resource;
    unsigned long long soft, hard; /* ~0ull: unlimited */
};

#define INIT_MAX_NICS 3 /* after the first: lightvm's GUEST_MAX_NICS - 1 */

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
    struct init_mount mounts[INIT_MAX_MOUNTS];
    int nmounts;
    char *root; /* "root DIR": switch root to DIR (after the mounts
                   before this line), then the mounts after it */
    struct init_copy copies[INIT_MAX_COPIES];
    int ncopies;
    struct init_rlimit rlimits[INIT_MAX_RLIMITS];
    int nrlimits;
    int health_port;                      /* tcp check, 0 for none */
    char *health_argv[INIT_MAX_ARGS + 1]; /* command check, or empty */
    int health_argc;
    /* from the kernel command line */
    char ip[32];  /* tinyx.ip=ADDR/PREFIX */
    char gw[32];  /* tinyx.gw=ADDR */
    char dns[32]; /* tinyx.dns=ADDR */
    char ctl[32]; /* tinyx.ctl=ttyS1: the control channel's device */
    char mac[32]; /* tinyx.mac=MAC: the device tinyx.ip is for (else
                         the first ethernet device) */
    /* tinyx.nic=MAC,ADDR/PREFIX (repeated): more NICs, each found by MAC */
    char nics[INIT_MAX_NICS][48];
    int nnics;
    int quiet;        /* "quiet" on the command line */
    int runtime;      /* tinyx.cfg=1: the host sends settings on the control
                     channel (init_conf_runtime) */
    int runtime_args; /* the host's "arg" lines replaced the image's */
    int exec;         /* tinyx.exec=1: the host gave it an exec channel */
};

/* Read INIT_CONF and /proc/cmdline into (c); 0 or -1 with a message
 * printed. */
int init_conf_load(struct init_conf *c);

/* Read the host's settings for this run from the control channel (fd):
 * "key value" lines as in INIT_CONF, ended by "end", within (timeout_ms).
 * "arg" lines replace the image's command, "env" lines override the
 * image's variables of the same name. What came after "end" is copied to
 * (rest) (at most restcap bytes, *restlen set). 0, or -1 with a message
 * printed. */
int init_conf_runtime(struct init_conf *c, int fd, int timeout_ms, char *rest,
                      size_t *restlen, size_t restcap);
/* Parse (text), the lines of an init.conf, into (c) (which it points
 * into, and modifies); lines add to what (c) has. 0, or -1 with
 * "LINE: what" in (why). */
int init_conf_parse(struct init_conf *c, char *text, char *why, size_t len);

/* Parse a mount's comma-separated (options) into mount(2) flags and the
 * rest, the filesystem's data, into (data). 0, or -1 if too long. */
int init_mount_options(const char *options, unsigned long *flags, char *data,
                       size_t len);

/* Do the mounts before the "root" line, switch root into it (moving
 * /dev, /proc and /sys along), copy the "copy" files and do the mounts
 * after it; with no "root" line, all mounts in place. 0, or -1 with a
 * message in (why) naming the line that failed. */
int init_mount_all(const struct init_conf *c, char *why, size_t len);

/* Parse the kernel command line (cmdline) into the tinyx.* fields of (c). */
void init_conf_cmdline(struct init_conf *c, const char *cmdline);

/* Bring up lo and, if c->ip is set, the first ethernet device with that
 * address, c->gw as default route and c->dns in /etc/resolv.conf. */
int init_net_setup(const struct init_conf *c);

/* The guest's own address for health checks (host byte order), or
 * 127.0.0.1 when there is no network. */
unsigned init_net_self(const struct init_conf *c);

/* The app's environment: PATH, HOME, USER and the configured variables,
 * NULL-terminated, in (env) of (max) entries. */
void init_build_env(const struct init_conf *c, char **env, size_t max);

/* The exec channel (init_exec.c, include/lightvm/tinyx_exec.h). */
/* Open its port if the kernel has it yet: 0, or -1. */
int init_exec_open(void);
/* SIGIO: the host connected or went. */
void init_exec_sigio(void);
/* Fill (p) with what to poll (at most 4); hand the result back. */
int init_exec_pollfds(struct pollfd *p);
void init_exec_service(const struct init_conf *c, const struct pollfd *p,
                       int n);
/* A child was reaped: 1 if it was the exec'd command. */
int init_exec_reaped(pid_t pid, int status);

/* Print "tinyx-init: <fmt>" on the console. */
/* The entry of /sys/class/(cls) whose (attr) file reads (want) (up to a
 * newline; case-insensitively if (nocase)) into (entry); -1 if none. */
int init_sysfs_find(const char *cls, const char *attr, const char *want,
                    int nocase, char *entry, size_t len);

void init_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
