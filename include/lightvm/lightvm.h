/*
 * lightvm.h: liblightvm, the client library of lightvmd.
 *
 * lightvmd keeps a pool of prepared shells and creates guests in them; this
 * library talks to it over its unix socket (SOCK_SEQPACKET, one JSON
 * message per request and per reply; docs/api.md). The lightvm command is
 * its first user. A connection is not thread-safe; use one per thread.
 *
 *     struct lightvm_error e;
 *     struct lightvm *c = lightvm_connect(NULL, &e);
 *     struct lightvm_create_opts o = {.image = "hello.elf"};
 *     struct lightvm_guest g;
 *     if (!c || lightvm_create(c, &o, &g, &e) < 0)
 *         fprintf(stderr, "%s\n", e.message);
 */
#ifndef LIGHTVM_LIGHTVM_H
#define LIGHTVM_LIGHTVM_H

#include <stddef.h>
#include <stdint.h>

#define LIGHTVM_SOCKET_DEFAULT "/run/lightvm/lightvmd.sock"

struct lightvm;

struct lightvm_error {
    char code[32];     /* "not_found", "bad_request", ... (docs/api.md) */
    char message[512]; /* one line */
};

struct lightvm_block {
    const char *name; /* the device's name in the guest's manifest */
    const char *path; /* host file or block device */
    int readonly;
};

/* A volume of a Tinyx guest (qemu): a file holding a filesystem, mounted
 * in the guest. */
struct lightvm_volume {
    const char *path;   /* host file or block device (ext4 or erofs) */
    const char *target; /* where the guest mounts it */
    int readonly;
};

/* A guest's NICs (docs/network.md); all optional but (enabled). */
struct lightvm_net {
    int enabled;        /* attach the NICs its manifest declares */
    const char *bridge; /* NULL: lvm0, made on first use */
    const char *subnet; /* a new bridge's address, "10.213.0.1/16" */
    const char *ip;     /* this address for its first NIC; NULL: leased */
    int nat;            /* masquerade the subnet to the host's uplink */
    int dhcp;           /* no static address: the guest asks by DHCP */
    int no_filter;      /* let it send from any MAC or address */
    /* NICs named on their own: "NAME=BRIDGE[,forward][,nat][,subnet=CIDR]
     * [,ip=ADDRESS]" (docs/api.md says who may set what) */
    const char *const *nics;
    int nnics;
};

struct lightvm_create_opts {
    const char *image;       /* path of the guest ELF, as lightvmd sees it */
    const char *argv0;       /* the guest's argv[0]; NULL: the image path */
    const char *name;        /* NULL: derived from the image and the id */
    uint64_t mem;            /* bytes of RAM; 0: the monitor's default */
    uint64_t mem_limit;      /* host memory limit; 0: the monitor's rule */
    double cpus;             /* CPU quota; 0: none */
    const char *const *args; /* argv[1..] of the guest */
    int nargs;
    const char *const *env; /* KEY=VALUE */
    int nenv;
    const struct lightvm_block *blocks;
    int nblocks;
    const char *monitor;    /* NULL: "proc"; "qemu" for a Tinyx image */
    int console_fd;         /* an fd to pass as the console, or -1: log file */
    uint64_t console_limit; /* bytes, for a console file; 0: default */
    uint32_t watchdog_ms;   /* 0: no watchdog */
    int auto_remove;        /* destroyed by lightvmd once it exits */
    const char *restart;    /* NULL or "no", "on-failure[:N]", "always" */
    struct lightvm_net net;
    const char *const *ports; /* qemu: "[ADDR:]HOST:GUEST" forwards (HOST 0
                                 picks a free port) */
    int nports;
    const struct lightvm_volume *volumes; /* qemu */
    int nvolumes;
};

/* A host TCP port forwarded to a qemu guest's port. */
struct lightvm_port {
    char host_addr[16];
    int host, guest;
};
#define LIGHTVM_MAX_PORTS 16

struct lightvm_exit {
    char kind[16];     /* exited, aborted, policy, crashed, oom, timeout,
                       killed, watchdog, unknown */
    int status;        /* exit status or signal */
    int code;          /* what `lightvm run` would exit with */
    char message[320]; /* "killed: forbidden system call openat (257)" */
};

struct lightvm_guest {
    char id[17];
    char name[64];
    char state[16]; /* starting, running, paused, dying, exited */
    char image[512];
    char monitor[16];
    char console[512]; /* console log path, if it has one */
    int pid;
    uint64_t mem;
    uint64_t mem_limit; /* its host memory limit (docs/cli.md) */
    double cpus;
    double created;   /* Unix time */
    double create_ms; /* daemon: request to guest started */
    int pooled;       /* created in a pre-made shell */
    int adopted;      /* found running by a restarted lightvmd */
    int suspended;    /* the guest acknowledged a suspend */
    uint64_t cpu_ns;  /* stats (when asked for) */
    uint64_t memory_bytes;
    uint64_t memory_limit;
    /* Its first NIC, if it has one ("" otherwise), and with stats its
     * counters as the guest sees them (rx: what it received). */
    char nic[16], ip[16], mac[18], bridge[16], tap[16];
    int prefix; /* of ip */
    uint64_t net_rx_packets, net_rx_bytes, net_tx_packets, net_tx_bytes;
    struct lightvm_exit exit; /* when state is "exited" */
    /* qemu guests */
    int ready;       /* the image's health check passed */
    double ready_ms; /* from the start to that (-1: not yet) */
    char accel[8];   /* "kvm" or "tcg" */
    int restored;    /* made by lightvm_restore */
    struct lightvm_port ports[LIGHTVM_MAX_PORTS];
    int nports;
    long owner;             /* the uid that created it; -1: not reported */
    char restart[24];       /* its restart policy ("no" if none) */
    unsigned restart_count; /* times the daemon restarted it */
};

/* Connect to lightvmd at (path) (NULL: $LIGHTVM_SOCKET, else
 * $LIGHTVM_RUN_DIR/lightvmd.sock, else the default). */
struct lightvm *lightvm_connect(const char *path, struct lightvm_error *e);
void lightvm_close(struct lightvm *c);

/* The connection's socket, to poll for the reply to a lightvm_send(). */
int lightvm_fd(const struct lightvm *c);

/* Send one raw JSON request (with an optional fd) and read its reply; the
 * reply is malloc'd. For scripts and tools; the calls below wrap it. */
int lightvm_call(struct lightvm *c, const char *request, int fd, char **reply,
                 struct lightvm_error *e);

int lightvm_create(struct lightvm *c, const struct lightvm_create_opts *o,
                   struct lightvm_guest *out, struct lightvm_error *e);

/* Save a guest's whole state to (path) (absolute, as lightvmd sees it;
 * written as the caller under a temporary name, renamed into place when
 * complete, never over an existing file unless (force)). The guest is
 * then destroyed, unless (leave_running). (o) and (out) may be NULL. */
struct lightvm_save_opts {
    int force;         /* replace an existing file */
    int leave_running; /* the guest goes on after the save */
};
struct lightvm_saved {
    uint64_t bytes; /* the state file's size */
    uint64_t pages; /* RAM pages in it (proc, kvm) */
    double save_ms; /* request to reply, in lightvmd */
};
int lightvm_save(struct lightvm *c, const char *id, const char *path,
                 const struct lightvm_save_opts *o, struct lightvm_saved *out,
                 struct lightvm_error *e);

/* A guest from a state file written by lightvm_save: (o) as for
 * lightvm_create, every field optional (o->image too): the state file
 * holds the guest's recipe, and what (o) sets is used instead. A proc or
 * kvm guest keeps its name, MAC and address; its monitor is the state
 * file's unless o->monitor says proc or kvm. */
int lightvm_restore(struct lightvm *c, const char *path,
                    const struct lightvm_create_opts *o,
                    struct lightvm_guest *out, struct lightvm_error *e);

/* Start (count) guests from one snapshot: of guest (id) taken now (it
 * goes on running), or of the state file (path) (the other NULL). They
 * share its memory copy-on-write; each has its own id, name (NAME-1,
 * NAME-2, ...: (name), else the original's), console, MAC and address.
 * (out) gets up to (max) of them and (*n) how many started; if fewer
 * than (count) did, (e) says why the next one did not (and 0 is returned
 * when at least one started). */
int lightvm_clone(struct lightvm *c, const char *id, const char *path,
                  unsigned count, const char *name, struct lightvm_guest *out,
                  unsigned max, unsigned *n, struct lightvm_error *e);

/* Move guest (id) to another lightvmd while it runs (docs/migration.md).
 * (dest): "unix:PATH" or an absolute PATH (the other daemon's API
 * socket: the guest becomes yours there), or "tcp:HOST:PORT" (its
 * --migrate-listen port). This client connects to (dest) and hands the
 * connection to this daemon, which moves the guest over it: pre-copy over
 * TCP, the memory itself (a memfd) over a unix socket. Once the
 * destination runs it, the guest goes from here. If anything fails first,
 * it goes on here. (token): a TCP destination's secret (its
 * --migrate-token), or NULL. */
struct lightvm_migrated {
    char id[64];        /* its id at the destination */
    char name[64];      /* its name there */
    double ms;          /* the whole migration, in this daemon */
    double downtime_ms; /* from its stop here to the destination's "running" */
    uint64_t pages;     /* pages sent (or copied into the memfd) */
    uint64_t final_pages; /* of which while stopped */
    unsigned rounds;      /* pre-copy rounds */
    /* The downtime's parts: the last copy, the destination making the
     * guest, the commit. */
    double copy_ms, make_ms, commit_ms;
    char via[8];        /* "unix" or "tcp" */
    uint64_t parked_ns; /* when it stopped here (CLOCK_MONOTONIC) */
};
int lightvm_migrate(struct lightvm *c, const char *id, const char *dest,
                    const char *token, struct lightvm_migrated *out,
                    struct lightvm_error *e);

/* A connection to Tinyx guest (id)'s exec channel, in (*fd): speak
 * include/lightvm/tinyx_exec.h on it to run one command in the guest
 * (`lightvm exec`). The guest's owner or root only. */
int lightvm_exec_channel(struct lightvm *c, const char *id, int *fd,
                         struct lightvm_error *e);

/* Kill the guest (if running) and remove everything it had. */
int lightvm_destroy(struct lightvm *c, const char *id, struct lightvm_exit *out,
                    struct lightvm_error *e);

/* Freeze and thaw from outside (cgroup freezer; QMP stop and cont for a
 * qemu guest): works on any guest. */
int lightvm_pause(struct lightvm *c, const char *id, struct lightvm_error *e);
int lightvm_unpause(struct lightvm *c, const char *id, struct lightvm_error *e);

/* Requests through the guest's control device (the guest cooperates). */
int lightvm_poweroff(struct lightvm *c, const char *id,
                     struct lightvm_error *e);
int lightvm_suspend(struct lightvm *c, const char *id, struct lightvm_error *e);
int lightvm_resume(struct lightvm *c, const char *id, struct lightvm_error *e);

/* Block until the guest exits; (out) says how. */
int lightvm_wait(struct lightvm *c, const char *id, struct lightvm_exit *out,
                 struct lightvm_error *e);

/* Send a wait request without blocking; read its reply with
 * lightvm_wait_reply() once lightvm_fd() is readable. */
int lightvm_wait_send(struct lightvm *c, const char *id,
                      struct lightvm_error *e);
int lightvm_wait_reply(struct lightvm *c, struct lightvm_exit *out,
                       struct lightvm_error *e);

/* One guest, with its stats. */
int lightvm_info(struct lightvm *c, const char *id, struct lightvm_guest *out,
                 struct lightvm_error *e);

/* Every guest, in pages: (fn) is called for each; a non-zero return stops. */
int lightvm_list(struct lightvm *c, int with_stats,
                 int (*fn)(const struct lightvm_guest *g, void *arg), void *arg,
                 struct lightvm_error *e);

/* Fill (out) from a guest object as lightvmd sends it (JSON text, as
 * lightvm_call() returns inside its reply). -1 if (json) is not an object. */
int lightvm_guest_parse(const char *json, struct lightvm_guest *out);

#endif /* LIGHTVM_LIGHTVM_H */
