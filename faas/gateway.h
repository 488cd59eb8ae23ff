/*
 * gateway.h: `lightvm fn serve`: the function service's HTTP/1.1 gateway.
 * POST /fn/NAME runs NAME's handler(body) in a fresh guest and answers
 * with its result; see docs/faas.md for the protocol and the limits.
 */
#ifndef LVM_FAAS_GATEWAY_H
#define LVM_FAAS_GATEWAY_H
#include "faas/invoke.h"

struct gw_opts {
    const char *listen; /* ADDR:PORT */
    const char *dir;    /* the function store */
    struct fn_limits lim;
    unsigned max_running;    /* guests at once */
    unsigned queue_max;      /* invocations waiting for one; 503 beyond */
    unsigned pool;           /* prepared shells kept */
    uint64_t body_max;       /* bytes of a request body; 413 beyond */
    unsigned max_conns;      /* open connections; more are closed at once */
    unsigned max_per_client; /* invocations in flight per client address;
                                   429 beyond; 0: no limit */
    unsigned max_conns_per_client; /* open connections per client address;
                                      429 and closed beyond; 0: no limit */
    uint64_t header_timeout_ms;    /* a request head, from its first byte */
    uint64_t body_timeout_ms;      /* its body, from the end of the head */
    uint64_t keepalive_timeout_ms; /* idle between requests */
    uint64_t send_timeout_ms;      /* between two writes of an answer */
    enum fn_runner_kind runner;    /* guests; or a baseline to compare with */
};

/* Serve until SIGINT or SIGTERM; returns the exit status. */
int fn_serve(const struct gw_opts *o);

#endif
