/*
 * server_guard.h: what keeps API group members from starving lightvmd's
 * API (server_guard.c): connection caps, the idle timeout, accept errors.
 */
#ifndef LVM_SERVER_GUARD_H
#define LVM_SERVER_GUARD_H

#include "daemon/daemon.h"

/* Replies queued to all of one member's connections, at most: past it, the
 * connection whose reply overflows is dropped. */
#define GUARD_USER_OUTQ_MAX_BYTES (16u << 20)

/* Requests of one member read per batch of events: members take turns by
 * uid, not by connection, so many connections buy no more of the daemon. */
#define GUARD_TURNS_PER_BATCH 4

/* Fill in the caps no option gave, from RLIMIT_NOFILE (call after raising
 * it), and open the spare fd. */
int guard_init(struct daemon *d, struct lvm_err *err);
/* The accepted connection (fd) from (uid): its uid's entry if the caps
 * admit it; else NULL, with (fd) answered with a one-line error and closed. */
struct conn_user *guard_admit(struct daemon *d, int fd, const struct creds *cr);
/* (uid)'s connections now, and the most it may have: the daemon's cap,
 * or its quota "connections" where lower (root: the root cap). */
unsigned guard_user_conns(const struct daemon *d, uid_t uid);
uint64_t guard_user_cap(const struct daemon *d, uid_t uid);
/* A connection of (u) is closed. */
void guard_release(struct daemon *d, struct conn_user *u);
/* accept4 on the listen fd failed with (err): 1 to accept again at once,
 * 0 to wait for epoll (or the next tick, if it stopped listening). */
int guard_accept_failed(struct daemon *d, int err);
/* Every tick: listen again after a pause, log refusals not yet logged,
 * close idle connections (once a second). */
void guard_tick(struct daemon *d);
/* After a batch of events: every member's turns start again. */
void guard_batch_done(struct daemon *d);
void guard_close(struct daemon *d);

/* server.c: close (c) (with (code) and (msg), a last error reply sent if it
 * fits, when not NULL). */
void server_client_close(struct daemon *d, struct client *c, const char *code,
                         const char *msg);
uint64_t server_now_ns(void);

#endif
