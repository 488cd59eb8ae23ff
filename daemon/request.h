/*
 * request.h: lightvmd's API requests, parsed and validated from untrusted
 * JSON (docs/api.md). Pure: no daemon state, so it is unit-tested and
 * fuzzed on its own.
 */
#ifndef LVM_DAEMON_REQUEST_H
#define LVM_DAEMON_REQUEST_H

#include "toolstack/error.h"
#include "toolstack/guest.h"
#include "toolstack/qemu/qemu_volume.h"

#include <jansson.h>

struct snap_info;
struct snap_base;

#include <stddef.h>
#include <stdint.h>

#define REQUEST_MAX_BYTES 65536
#define REQUEST_MAX_ARGS 256
#define REQUEST_MAX_ENV 256
#define LIST_PAGE_MAX 200
#define REQUEST_MAX_PORTS 16 /* port forwards of a qemu guest */
#define REQUEST_PORT_LEN 48  /* "[ADDR:]HOST:GUEST" */

enum request_op {
    OP_VERSION,
    OP_CREATE,
    OP_DESTROY,
    OP_LIST,
    OP_INFO,
    OP_PAUSE,
    OP_UNPAUSE,
    OP_POWEROFF,
    OP_SUSPEND,
    OP_RESUME,
    OP_WAIT,
    OP_POOL,
    OP_SAVE,
    OP_RESTORE,
    OP_QUOTA,
    OP_CLONE,
    OP_MIGRATE,    /* this daemon's guest to another (fd: the connection) */
    OP_MIGRATE_IN, /* a guest from another daemon: the stream follows */
    OP_KILL,
    OP_RECIPE,
    OP_EXEC, /* a connection to a Tinyx guest's exec channel, as the fd */
};
#define OP_LAST OP_EXEC

/* What the daemon does when a guest exits (docker's --restart). */
enum restart_policy { RESTART_NO, RESTART_ON_FAILURE, RESTART_ALWAYS };

struct request {
    enum request_op op;
    int64_t tag; /* echoed in the reply */
    int has_tag;
    /* For ops on a guest: an id, a unique id prefix, a name of the
     * client's own guests, or UID/NAME. */
    char target[GUEST_ID_LEN + 80];
    int signal;      /* kill: the signal to send (default SIGKILL) */
    char token[257]; /* migrate: the TCP destination's secret, or "" */
    /* create, and restore */
    char image[PATH_MAX];
    char argv0[256]; /* the guest's argv[0]; "": the image's path */
    char name[64];
    uint64_t mem, mem_limit, console_limit;
    double cpus;
    char monitor[16];
    int console_fd; /* 1: the request carries the console as an fd */
    uint32_t watchdog_ms;
    int auto_remove; /* destroyed as soon as it exits (run -d --rm) */
    enum restart_policy restart;
    unsigned restart_max; /* on-failure:N; 0: no limit */
    /* Set by the daemon for a guest it restarts (vm_restart.c), never by
     * a client: the restarts so far, and those in a row that ran less
     * than the reset time (its backoff). */
    unsigned restart_count, restart_streak;
    int argc, envc;
    char *argv[REQUEST_MAX_ARGS];
    char *envp[REQUEST_MAX_ENV];
    unsigned nblocks;
    struct guest_block blocks[GUEST_MAX_BLOCKS];
    unsigned nvolumes; /* qemu: files mounted in the guest */
    struct qemu_volume volumes[QEMU_MAX_VOLUMES];
    struct guest_net_spec net; /* "net": NICs (run_dir, nd, taps unset) */
    unsigned nports; /* qemu: host port forwards, as the client wrote them */
    char ports[REQUEST_MAX_PORTS][REQUEST_PORT_LEN];
    /* save, restore, clone: the state file (absolute) */
    char path[PATH_MAX];
    /* save: replace an existing file; keep the guest running after */
    int force, leave_running;
    /* clone: how many guests */
    unsigned count;
    /* create, restore: the request's own fields (a reference), kept as
     * the guest's recipe: a saved guest's state file carries it, so that
     * a restore recreates its devices. */
    json_t *json;
    /* Set by the daemon, never by a client: a restore or clone continues
     * from (resume), a state (state) of whose RAM ram_fd is the memfd
     * (both owned by whoever set them). */
    const struct guest_resume *resume;
    const struct snap_info *state;
    int state_fd; /* with state, during the monitor's create: the state
                     file it was read from, open (restore.c closes it) */
    struct snap_base *base; /* resume's RAM, shared by the guests of it */
    /* list */
    uint32_t offset, limit;
    int stats;
};

/* Parse (len) bytes at (buf). On error, (code) is the API error code and
 * (err) the message; (req) then holds at least the tag, if one was read. */
int request_parse(const char *buf, size_t len, struct request *req,
                  const char **code, struct lvm_err *err);

void request_free(struct request *req);

/* "no", "always", "on-failure" or "on-failure:N" (N 1 to 1000000): 0,
 * or -1 if (s) is none of them. */
int request_restart_parse(const char *s, enum restart_policy *p, unsigned *max);
/* The policy as request_restart_parse takes it, in (buf). */
const char *request_restart_str(enum restart_policy p, unsigned max, char *buf,
                                size_t len);

const char *request_op_name(enum request_op op);

#endif
