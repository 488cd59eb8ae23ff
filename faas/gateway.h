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
    unsigned max_running;       /* guests at once */
    unsigned queue_max;         /* invocations waiting for one; 503 beyond */
    unsigned pool;              /* prepared shells kept */
    uint64_t body_max;          /* bytes of a request body; 413 beyond */
    unsigned max_conns;         /* open connections; more are closed at once */
    enum fn_runner_kind runner; /* guests; or a baseline to compare with */
};

/* Serve until SIGINT or SIGTERM; returns the exit status. */
int fn_serve(const struct gw_opts *o);

#endif
