/*
 * invoke.h: one invocation of a function in a fresh guest. A runner holds
 * what every invocation shares (the host, the Lua guest's image loaded
 * once, a pool of prepared shells: the prepare phase done ahead of time,
 * as lightvmd's pool does) and the limits; a call is one guest from
 * start to result.
 *
 * The guest gets the function and the request body as a tar on its
 * read-only "files" block device (a memfd) and writes its answer to its
 * "result" block device (another memfd); see faas/guest/fn_guest.c.
 */
#ifndef LVM_FAAS_INVOKE_H
#define LVM_FAAS_INVOKE_H
#include "toolstack/error.h"
#include "toolstack/host.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct guest;
struct image;
struct monitor_ops;

struct fn_limits {
    uint64_t ram;        /* guest RAM, bytes (-m) */
    uint64_t timeout_ms; /* wall-clock time from start to result */
    uint64_t cpu_ms;     /* CPU time of the guest */
    uint64_t result_max; /* bytes of a result */
};

/* What runs a function: a fresh guest (the service), or, to compare
 * against in bench/faas.sh, a lua5.4 process or a crun container with
 * lua5.4 per invocation (faas/baseline.c), behind the same gateway. */
enum fn_runner_kind { FN_RUN_GUEST, FN_RUN_PROCESS, FN_RUN_CRUN };

struct fn_runner {
    enum fn_runner_kind kind;
    char bundle[256]; /* FN_RUN_CRUN: the OCI bundle made at start */
    struct lvm_host host;
    const struct monitor_ops *mon;
    struct image *img;
    struct fn_limits lim;
    /* Shells prepared by a thread of their own (the prepare phase off the
     * gateway's loop, as lightvmd's pool thread does); taken under lock. */
    unsigned pool_target; /* prepared shells to keep */
    unsigned npool;
    struct guest **pool;
    pthread_t pool_thread;
    pthread_mutex_t lock;
    pthread_cond_t want; /* the pool is below its target, or stop */
    int have_thread, stop;
    uint64_t seq; /* names guests: fn-NAME-SEQ */
};

/* Why a call ended without its function's answer. */
enum fn_cause {
    FN_OK = 0,
    FN_SYNTAX,   /* the source does not compile */
    FN_RUNTIME,  /* error() or a Lua runtime error */
    FN_MEMORY,   /* out of memory: Lua's heap limit or the guest's */
    FN_STACK,    /* endless recursion: Lua's stack limit, or the heap's */
    FN_CPU,      /* CPU-time limit */
    FN_TIMEOUT,  /* wall-clock limit */
    FN_CRASH,    /* the guest died without an answer */
    FN_RESULT,   /* the answer is bigger than the limit */
    FN_INTERNAL, /* the gateway could not start the guest */
    FN_ABANDONED /* its client went away: killed, nobody to answer */
};

/* The cause as the JSON error body names it. */
const char *fn_cause_name(enum fn_cause c);

struct fn_call {
    struct guest *g;
    int pidfd;    /* the guest's, or the baseline's process */
    int pid;      /* a baseline's process (its guest: g->sb.pid) */
    char cid[48]; /* FN_RUN_CRUN: the container's id */
    int files_fd, result_fd, console_fd, timer_fd;
    uint64_t start_ns;
    clockid_t cpu_clock;
    enum fn_cause killed; /* FN_CPU, FN_TIMEOUT, FN_ABANDONED once killed */
};

struct fn_outcome {
    enum fn_cause cause;
    char *data; /* the answer (cause FN_OK) or the error message; malloc'd */
    size_t len;
};

int fn_runner_init(struct fn_runner *r, enum fn_runner_kind kind,
                   const char *guest_elf, const struct fn_limits *lim,
                   unsigned pool, struct lvm_err *err);
/* Fill the pool, then start its thread. */
int fn_runner_start_pool(struct fn_runner *r, struct lvm_err *err);
void fn_runner_fini(struct fn_runner *r);
/* The Lua guest's image: $LIGHTVM_FN_GUEST, else lightvm-fn-guest.elf
 * next to this program or in ../lib/lightvm/. */
int fn_find_guest(char *path, size_t len, struct lvm_err *err);

/* Start (name)'s (src) on (body) in a fresh guest. On success the caller
 * polls c->pidfd (the guest ended) and c->timer_fd (a limit to check:
 * fn_call_timer). */
int fn_call_start(struct fn_runner *r, struct fn_call *c, const char *name,
                  const char *src, size_t srclen, const char *body,
                  size_t bodylen, struct lvm_err *err);
/* The timer fired: kill the guest if it is past a limit (returns 1),
 * else re-arm the timer (0). */
int fn_call_timer(struct fn_runner *r, struct fn_call *c);
/* The guest ended: reap it, read its answer, release everything. */
void fn_call_finish(struct fn_runner *r, struct fn_call *c,
                    struct fn_outcome *out);
/* Kill the guest of a call nobody waits for any more, now: its pidfd
 * then says it ended, and fn_call_finish releases it as usual. */
void fn_call_kill(struct fn_runner *r, struct fn_call *c);
/* Kill and release a call nobody waits for any more. */
void fn_call_abort(struct fn_runner *r, struct fn_call *c);

/* faas/baseline.c: the comparison runners. */
int fn_baseline_init(struct fn_runner *r, struct lvm_err *err);
void fn_baseline_fini(struct fn_runner *r);
/* Spawn the process; c's fds are made. Sets c->pid and c->pidfd. */
int fn_baseline_spawn(struct fn_runner *r, struct fn_call *c, int src_fd,
                      int body_fd, struct lvm_err *err);
/* Kill it (and its container). */
void fn_baseline_kill(struct fn_runner *r, struct fn_call *c);
/* Reap it: 0 if it exited with status 0, else -1 with (why) saying how. */
int fn_baseline_reap(struct fn_runner *r, struct fn_call *c, char *why,
                     size_t len);

#endif
