/*
 * serve.h: `lightvm serve`, just-in-time service instantiation. A listening
 * TCP socket on the host; a client's connection makes (or finds) a guest
 * through lightvmd and is spliced to the guest's own address and port; a
 * guest without connections for the idle timeout is destroyed.
 *
 * One thread (serve_loop.c) owns every socket and the tables of guests and
 * connections; lightvmd's calls, which block, run in a few worker threads
 * (serve_work.c) so that a guest being made never holds up the accept loop;
 * destroys have threads of their own, so that they never hold up a create.
 */
#ifndef LVM_CLI_SERVE_H
#define LVM_CLI_SERVE_H

#include <lightvm/lightvm.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>

enum serve_mode {
    SERVE_SHARED,      /* guests kept warm, shared by clients */
    SERVE_PER_CLIENT,  /* one guest per client address */
    SERVE_PER_REQUEST, /* one guest per connection, gone when it closes */
};

enum serve_full {
    SERVE_FULL_QUEUE,  /* hold the connection until a guest slot frees */
    SERVE_FULL_REFUSE, /* close it at once */
    SERVE_FULL_REUSE,  /* hand it to the least busy existing guest */
};

struct serve_cfg {
    struct sockaddr_in listen;
    uint16_t guest_port;
    enum serve_mode mode;
    enum serve_full when_full;
    unsigned max_guests;
    unsigned conns_per_guest; /* shared mode: before another guest is made */
    unsigned queue_max;       /* connections held at most (queue) */
    uint64_t idle_ns;         /* a guest without connections this long goes */
    uint64_t boot_ns;         /* a guest must answer within this */
    unsigned workers;
    unsigned spare; /* guests made ahead, for clients to come */
    int quiet;
    const char *snapshot;          /* clone this state file instead */
    struct lightvm_create_opts co; /* the create request for each guest */
};

/* Parsers for the command line (serve_opts.c); each says what is wrong in
 * one line and returns -1. */
int serve_parse_listen(const char *arg, struct sockaddr_in *out);
int serve_parse_port(const char *flag, const char *arg, uint16_t *out);
/* "2", "2s", "500ms", "1.5s", "1m": up to a day; 0 allowed if (zero). */
int serve_parse_duration(const char *flag, const char *arg, int zero,
                         uint64_t *ns);
int serve_parse_full(const char *arg, enum serve_full *out);

/* ---- Worker threads: lightvmd's calls (serve_work.c) ---- */

enum serve_op { SERVE_OP_CREATE, SERVE_OP_DESTROY };

struct serve_job {
    enum serve_op op;
    void *guest; /* the loop's guest record, opaque to the workers */
    char id[17]; /* create: the guest made; destroy: the one to go */
    char ip[16]; /* create: its first NIC's address */
    int ok;      /* the call succeeded */
    char err[512];
    struct serve_job *next;
};

/* Destroys run on threads of their own, never on a create's: a client
 * waits for a create, nobody for a destroy. lightvmd answers a destroy
 * once the guest's process is gone, which is mostly the kernel tearing it
 * down (about 20 ms of CPU on a quiet host, more under load) while
 * lightvmd's loop serves others. One at a time, at a client every 10 ms
 * they piled up (and held --max-guests slots); all at once, their
 * teardown competed with creation for the CPU. So: up to
 * SERVE_DESTROYERS at once while no create is in flight, one while any
 * is: destroys keep up on a host with CPU to spare, and yield to
 * creation on one without. */
#define SERVE_DESTROYERS 4

struct serve_work {
    pthread_mutex_t mu;
    pthread_cond_t cv;                    /* a create, or stop */
    pthread_cond_t dcv;                   /* a destroy, or stop */
    struct serve_job *todo, *todo_tail;   /* creates */
    struct serve_job *dtodo, *dtodo_tail; /* destroys */
    unsigned creating;                    /* creates in flight */
    unsigned destroying;                  /* destroys in flight */
    struct serve_job *done;
    int efd; /* eventfd: done jobs are waiting */
    int stop;
    unsigned n, nd;
    pthread_t th[16];
    pthread_t dth[SERVE_DESTROYERS];
    const struct serve_cfg *cfg;
};

/* Start cfg->workers create threads, each with its own connection to
 * lightvmd (made here, so that a daemon that is not there is said at
 * once), and SERVE_DESTROYERS destroy threads (connected at their first
 * destroy). */
int serve_work_start(struct serve_work *w, const struct serve_cfg *cfg);
void serve_work_push(struct serve_work *w, struct serve_job *j);
/* The finished jobs, oldest first (the caller frees them). */
struct serve_job *serve_work_take(struct serve_work *w);
void serve_work_stop(struct serve_work *w);

/* ---- The loop (serve_loop.c) ---- */

/* Serve until SIGINT or SIGTERM, then destroy every guest made. 0, or -1
 * (said why) if it could not start. */
int serve_run(const struct serve_cfg *cfg, int listen_fd);

#endif
