/*
 * gateway.c: the function gateway's event loop, one thread on epoll:
 * connections (HTTP/1.1 with keep-alive, one request at a time each, the
 * next one read after the answer), guests (their pidfd says they ended)
 * and their limit timers. A reaper thread tears ended guests down and a
 * pool thread prepares shells, so neither slows the loop. At most
 * max_running guests run at once; more invocations wait in a bounded
 * FIFO, and past that bound the gateway
 * answers 503 at once (shedding load, as a gateway in front of a fixed
 * capacity should, rather than letting latency grow without end); one
 * client address gets 429 past its share (--max-per-client).
 *
 * Slow and idle clients are bounded in time, as nginx bounds them: the
 * request head must arrive within --header-timeout of its first byte (of
 * the accept, for a connection's first request), its body within
 * --body-timeout of the head, or the client gets 408 and is closed; an
 * idle keep-alive connection is closed after --keepalive-timeout. The
 * deadlines of one kind all have the same length, so each kind's list is
 * in deadline order with new ones appended: its head is the next to
 * expire, and epoll_wait waits for the earliest of the three heads.
 *
 * A client that hangs up (FIN or reset) while its invocation is queued or
 * running abandons it: it leaves the queue, or its guest is killed at
 * once and its slot freed (nginx treats a client's FIN so while it waits
 * for an upstream, and logs 499).
 */
#include "faas/gateway.h"
#include "faas/clients.h"
#include "faas/fn_store.h"
#include "faas/http.h"
#include "toolstack/guest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum tag_kind {
    TAG_LISTEN,
    TAG_SIGNAL,
    TAG_CONN,
    TAG_PID,
    TAG_TIMER,
    TAG_DONE
};

struct tag {
    enum tag_kind kind;
    void *owner;
};

struct inv;

/* What a connection waits for from its client, with a deadline. */
enum wait_kind {
    WAIT_NONE, /* nothing: an answer is being made or sent */
    WAIT_HEAD, /* a request head (or a first request) */
    WAIT_BODY, /* the rest of a body */
    WAIT_IDLE, /* a next request on a keep-alive connection */
    WAIT_SEND, /* room to send more of an answer: the client reads */
    WAIT_KINDS
};

struct conn {
    struct tag tag;
    int fd;
    char *in;
    size_t inlen, incap;
    char *out;
    size_t outlen, outoff;
    int busy;       /* a request is being answered: read no further */
    int keep_alive; /* of the request being answered */
    int close_after;
    int sent_continue;
    int eof;         /* the client sent everything it will */
    int processing;  /* conn_process is on the stack */
    struct inv *inv; /* the invocation answering it, if running/queued */
    uint32_t addr;   /* the client's IPv4 address, network order */
    unsigned nreq;   /* requests answered or being answered */
    int in_body;     /* the head is in; its body is not yet */
    enum wait_kind wait;
    uint64_t deadline_ms;       /* of (wait), CLOCK_MONOTONIC */
    struct conn *wprev, *wnext; /* the list of (wait) */
    struct conn *prev, *next;   /* all open connections */
    struct conn *next_dead;     /* freed after the event batch */
};

struct inv {
    struct tag pid_tag, timer_tag;
    struct fn_call call;
    struct conn *conn; /* NULL once the client went away */
    char name[FN_NAME_MAX + 1];
    char *src, *body;
    size_t srclen, bodylen;
    struct inv *next, *prev; /* the queue */
    uint32_t addr;           /* its client's, counted while in flight */
    int counted;
    int running, done;
    struct inv *rprev, *rnext; /* running invocations */
    struct inv *rq_next;       /* the reaper's queue, then the done list */
    struct fn_outcome out;     /* filled by the reaper */
    struct inv *next_dead;     /* freed after the event batch */
};

struct gw {
    const struct gw_opts *o;
    struct fn_runner run;
    int ep, lfd, sfd;
    unsigned nconns, running, queued;
    struct inv *qhead, *qtail;
    struct conn *conns; /* open */
    struct inv *runs;   /* running */
    struct conn *dead_conns;
    struct inv *dead_invs;
    /* The reaper thread: guests that ended are reaped and torn down
     * (cgroup removal, namespaces going away) off the loop, which learns
     * of each answer through done_efd. */
    pthread_t reaper;
    pthread_mutex_t rlock;
    pthread_cond_t rwake;
    struct inv *rq_head, *rq_tail, *done;
    int done_efd, rstop;
    struct tag dtag;
    int stop;
    struct tag ltag, stag;
    unsigned long long served, shed, limited, timeouts, abandoned;
    struct fn_clients clients;
    struct fn_clients conns_by_addr; /* --max-conns-per-client */
    struct conn *whead[WAIT_KINDS], *wtail[WAIT_KINDS];
    unsigned max_conns; /* the option, bounded by the fds there are */
    int accept_paused;  /* out of fds: the listener waits for one */
};

static void conn_close(struct gw *gw, struct conn *c);
static void answer(struct gw *gw, struct inv *v);
static void conn_process(struct gw *gw, struct conn *c);

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t wait_ms(const struct gw *gw, enum wait_kind k)
{
    return k == WAIT_HEAD   ? gw->o->header_timeout_ms
           : k == WAIT_BODY ? gw->o->body_timeout_ms
           : k == WAIT_SEND ? gw->o->send_timeout_ms
                            : gw->o->keepalive_timeout_ms;
}

/* (c) now waits for (k): a new deadline if that is another wait than
 * before (the head's runs from its first byte, not from each read). */
static void conn_wait(struct gw *gw, struct conn *c, enum wait_kind k)
{
    if (c->wait == k)
        return;
    if (c->wait != WAIT_NONE) {
        if (c->wprev)
            c->wprev->wnext = c->wnext;
        else
            gw->whead[c->wait] = c->wnext;
        if (c->wnext)
            c->wnext->wprev = c->wprev;
        else
            gw->wtail[c->wait] = c->wprev;
        c->wprev = c->wnext = NULL;
    }
    c->wait = k;
    if (k == WAIT_NONE)
        return;
    c->deadline_ms = now_ms() + wait_ms(gw, k);
    c->wprev = gw->wtail[k];
    if (gw->wtail[k])
        gw->wtail[k]->wnext = c;
    else
        gw->whead[k] = c;
    gw->wtail[k] = c;
}

static void ep_set(struct gw *gw, int fd, struct tag *t, uint32_t ev, int op)
{
    struct epoll_event e = {.events = ev, .data.ptr = t};
    epoll_ctl(gw->ep, op, fd, &e);
}

/* Out of fds, the listener would wake the loop at once, again and again:
 * it is left out until a connection or an invocation gives one back (the
 * kernel's backlog holds the clients meanwhile). */
static void accept_pause(struct gw *gw, int pause)
{
    if (gw->accept_paused == pause)
        return;
    gw->accept_paused = pause;
    ep_set(gw, gw->lfd, &gw->ltag, pause ? 0 : EPOLLIN, EPOLL_CTL_MOD);
}

/* Write what is pending; 0 when all is out, 1 if more, -1 on error. */
static int conn_flush(struct conn *c)
{
    while (c->outoff < c->outlen) {
        ssize_t w = send(c->fd, c->out + c->outoff, c->outlen - c->outoff,
                         MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN)
            return 1;
        if (w <= 0)
            return -1;
        c->outoff += (size_t)w;
    }
    free(c->out);
    c->out = NULL;
    c->outlen = c->outoff = 0;
    return 0;
}

/* The answer is out: close, or read the next request. */
static void conn_done(struct gw *gw, struct conn *c)
{
    if (c->close_after || !c->keep_alive) {
        conn_close(gw, c);
        return;
    }
    c->busy = 0;
    c->sent_continue = 0;
    ep_set(gw, c->fd, &c->tag, EPOLLIN, EPOLL_CTL_MOD);
    if (!c->processing) /* else its loop goes on with the next request */
        conn_process(gw, c);
}

static void conn_send(struct gw *gw, struct conn *c)
{
    size_t before = c->outoff;
    int r = conn_flush(c);
    if (r < 0) {
        conn_close(gw, c);
    } else if (r > 0) {
        /* As nginx's send_timeout: between two writes, so a big answer
         * to a slow reader is not cut, one that stopped reading is. */
        if (c->outoff != before)
            conn_wait(gw, c, WAIT_NONE);
        conn_wait(gw, c, WAIT_SEND);
        ep_set(gw, c->fd, &c->tag, EPOLLOUT, EPOLL_CTL_MOD);
    } else if (c->eof)
        conn_close(gw, c);
    else
        conn_done(gw, c);
}

static void respond(struct gw *gw, struct conn *c, int status,
                    const char *ctype, const char *body, size_t len,
                    const char *extra)
{
    char head[512];
    int keep = c->keep_alive && !c->close_after;
    int hl =
        http_format_head(head, sizeof head, status, ctype, len, keep, extra);
    if (hl < 0 || !(c->out = malloc((size_t)hl + len))) {
        conn_close(gw, c);
        return;
    }
    memcpy(c->out, head, (size_t)hl);
    if (len)
        memcpy(c->out + hl, body, len);
    c->outlen = (size_t)hl + len;
    c->outoff = 0;
    c->busy = 1;
    conn_send(gw, c);
}

/* Append (s, n) JSON-escaped to (b) at (*at) (capacity cap). */
static void json_str(char *b, size_t cap, size_t *at, const char *s, size_t n)
{
    for (size_t i = 0; i < n && *at + 8 < cap; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\')
            *at += (size_t)snprintf(b + *at, cap - *at, "\\%c", ch);
        else if (ch < 0x20 || ch == 0x7f)
            *at += (size_t)snprintf(b + *at, cap - *at, "\\u%04x", ch);
        else
            b[(*at)++] = (char)ch;
    }
    b[*at] = 0;
}

/* An error answer: {"error": MESSAGE, "cause": CAUSE[, "function": NAME]}. */
static void respond_error(struct gw *gw, struct conn *c, int status,
                          const char *cause, const char *fn, const char *msg,
                          size_t msglen, const char *extra)
{
    char b[4096];
    size_t at = 0;
    at += (size_t)snprintf(b, sizeof b, "{\"error\":\"");
    json_str(b, sizeof b - 128, &at, msg, msglen);
    at += (size_t)snprintf(b + at, sizeof b - at, "\",\"cause\":\"%s\"", cause);
    if (fn) {
        at += (size_t)snprintf(b + at, sizeof b - at, ",\"function\":\"");
        json_str(b, sizeof b - 8, &at, fn, strlen(fn));
        at += (size_t)snprintf(b + at, sizeof b - at, "\"");
    }
    at += (size_t)snprintf(b + at, sizeof b - at, "}\n");
    respond(gw, c, status, "application/json", b, at, extra);
}

static void inv_free(struct inv *v)
{
    free(v->src);
    free(v->body);
    free(v);
}

/* Its client's count of invocations in flight is one fewer. */
static void inv_uncount(struct gw *gw, struct inv *v)
{
    if (v->counted)
        fn_clients_put(&gw->clients, v->addr);
    v->counted = 0;
}

static void queue_remove(struct gw *gw, struct inv *v)
{
    if (v->prev)
        v->prev->next = v->next;
    else
        gw->qhead = v->next;
    if (v->next)
        v->next->prev = v->prev;
    else
        gw->qtail = v->prev;
    v->next = v->prev = NULL;
    gw->queued--;
}

/* Its client went away: nobody waits for the answer, so it stops now. */
static void inv_abandon(struct gw *gw, struct inv *v)
{
    v->conn = NULL;
    if (v->done)
        return; /* ended already; the reaper has it */
    gw->abandoned++;
    if (v->running) {
        /* Its pidfd says when it is dead; inv_ended frees the slot. */
        fn_call_kill(&gw->run, &v->call);
        return;
    }
    queue_remove(gw, v);
    inv_uncount(gw, v);
    inv_free(v);
}

static void inv_start(struct gw *gw, struct inv *v)
{
    struct lvm_err err;
    if (fn_call_start(&gw->run, &v->call, v->name, v->src, v->srclen, v->body,
                      v->bodylen, &err) < 0) {
        if (v->conn) {
            v->conn->inv = NULL;
            respond_error(gw, v->conn, 500, "internal", v->name, err.msg,
                          strlen(err.msg), NULL);
        }
        inv_uncount(gw, v);
        inv_free(v);
        return;
    }
    free(v->body);
    v->body = NULL;
    v->running = 1;
    gw->running++;
    v->rnext = gw->runs;
    if (gw->runs)
        gw->runs->rprev = v;
    gw->runs = v;
    v->pid_tag = (struct tag){TAG_PID, v};
    v->timer_tag = (struct tag){TAG_TIMER, v};
    ep_set(gw, v->call.pidfd, &v->pid_tag, EPOLLIN, EPOLL_CTL_ADD);
    ep_set(gw, v->call.timer_fd, &v->timer_tag, EPOLLIN, EPOLL_CTL_ADD);
}

/* A guest finished: start the next queued invocation. */
static void dequeue(struct gw *gw)
{
    while (gw->qhead && gw->running < gw->o->max_running) {
        struct inv *v = gw->qhead;
        queue_remove(gw, v);
        inv_start(gw, v);
    }
}

static int cause_status(enum fn_cause c)
{
    return c == FN_TIMEOUT ? 504 : 500;
}

static void inv_ended(struct gw *gw, struct inv *v)
{
    if (v->done)
        return;
    v->done = 1;
    if (v->rprev)
        v->rprev->rnext = v->rnext;
    else
        gw->runs = v->rnext;
    if (v->rnext)
        v->rnext->rprev = v->rprev;
    epoll_ctl(gw->ep, EPOLL_CTL_DEL, v->call.pidfd, NULL);
    epoll_ctl(gw->ep, EPOLL_CTL_DEL, v->call.timer_fd, NULL);
    gw->running--;
    inv_uncount(gw, v);
    pthread_mutex_lock(&gw->rlock);
    v->rq_next = NULL;
    if (gw->rq_tail)
        gw->rq_tail->rq_next = v;
    else
        gw->rq_head = v;
    gw->rq_tail = v;
    pthread_cond_signal(&gw->rwake);
    pthread_mutex_unlock(&gw->rlock);
    dequeue(gw);
}

static void *reaper_main(void *arg)
{
    struct gw *gw = arg;
    pthread_mutex_lock(&gw->rlock);
    for (;;) {
        while (!gw->rq_head && !gw->rstop)
            pthread_cond_wait(&gw->rwake, &gw->rlock);
        struct inv *v = gw->rq_head;
        if (!v)
            break; /* stopping, and nothing left */
        gw->rq_head = v->rq_next;
        if (!gw->rq_head)
            gw->rq_tail = NULL;
        pthread_mutex_unlock(&gw->rlock);
        fn_call_finish(&gw->run, &v->call, &v->out);
        pthread_mutex_lock(&gw->rlock);
        v->rq_next = gw->done;
        gw->done = v;
        uint64_t one = 1;
        if (write(gw->done_efd, &one, sizeof one) < 0) {
            /* the counter cannot overflow here; nothing to do */
        }
    }
    pthread_mutex_unlock(&gw->rlock);
    return NULL;
}

/* Answers the reaper has ready. */
static void answers(struct gw *gw)
{
    uint64_t n;
    if (read(gw->done_efd, &n, sizeof n) < 0 && errno != EAGAIN)
        return;
    pthread_mutex_lock(&gw->rlock);
    struct inv *list = gw->done;
    gw->done = NULL;
    pthread_mutex_unlock(&gw->rlock);
    while (list) {
        struct inv *v = list;
        list = v->rq_next;
        answer(gw, v);
    }
}

static void answer(struct gw *gw, struct inv *v)
{
    accept_pause(gw, 0); /* its guest's fds are back */
    struct fn_outcome out = v->out;
    struct conn *c = v->conn;
    if (c) {
        gw->served++;
        c->inv = NULL;
        if (out.cause == FN_OK)
            respond(gw, c, 200, "text/plain; charset=utf-8", out.data, out.len,
                    NULL);
        else
            respond_error(gw, c, cause_status(out.cause),
                          fn_cause_name(out.cause), v->name,
                          out.data ? out.data : "", out.data ? out.len : 0,
                          NULL);
    }
    free(out.data);
    /* Freed after the event batch: its timer may be in it too. */
    v->next_dead = gw->dead_invs;
    gw->dead_invs = v;
}

/* POST /fn/NAME with its body. */
static void invoke(struct gw *gw, struct conn *c, const char *name,
                   const char *body, size_t bodylen)
{
    struct lvm_err err;
    char *src = NULL;
    if (c->eof) {
        /* Its client hung up already (often: it gave up while waiting in
         * the listen backlog): nobody would get the answer. */
        gw->abandoned++;
        conn_close(gw, c);
        return;
    }
    long n = fn_load(fn_store_dir(gw->o->dir), name, &src, &err);
    if (n < 0) {
        char msg[160];
        int ml =
            snprintf(msg, sizeof msg, "no function '%s' is deployed", name);
        if (err.code == ENOENT)
            respond_error(gw, c, 404, "not-found", name, msg, (size_t)ml, NULL);
        else
            respond_error(gw, c, 500, "internal", name, err.msg,
                          strlen(err.msg), NULL);
        return;
    }
    if (gw->o->max_per_client &&
        fn_clients_in_flight(&gw->clients, c->addr) >= gw->o->max_per_client) {
        free(src);
        gw->limited++;
        char msg[160];
        int ml = snprintf(msg, sizeof msg,
                          "this client has %u invocations running or "
                          "waiting already; try again",
                          gw->o->max_per_client);
        respond_error(gw, c, 429, "client-limit", name, msg, (size_t)ml,
                      "Retry-After: 1\r\n");
        return;
    }
    if (gw->running >= gw->o->max_running && gw->queued >= gw->o->queue_max) {
        free(src);
        gw->shed++;
        static const char msg[] = "too many invocations waiting; try again";
        respond_error(gw, c, 503, "overloaded", name, msg, sizeof msg - 1,
                      "Retry-After: 1\r\n");
        return;
    }
    struct inv *v = calloc(1, sizeof *v);
    char *b = malloc(bodylen + 1);
    if (!v || !b) {
        free(v);
        free(b);
        free(src);
        static const char msg[] = "out of memory";
        respond_error(gw, c, 500, "internal", name, msg, sizeof msg - 1, NULL);
        return;
    }
    memcpy(b, body, bodylen);
    snprintf(v->name, sizeof v->name, "%s", name);
    v->src = src;
    v->srclen = (size_t)n;
    v->body = b;
    v->bodylen = bodylen;
    v->conn = c;
    v->addr = c->addr;
    v->counted = fn_clients_take(&gw->clients, c->addr) == 0;
    c->inv = v;
    c->busy = 1;
    /* Read nothing more from it until it has its answer; but a hang-up
     * (EPOLLRDHUP: its FIN; EPOLLHUP, EPOLLERR) abandons the invocation. */
    ep_set(gw, c->fd, &c->tag, EPOLLRDHUP, EPOLL_CTL_MOD);
    if (gw->running < gw->o->max_running) {
        inv_start(gw, v);
    } else {
        v->prev = gw->qtail;
        if (gw->qtail)
            gw->qtail->next = v;
        else
            gw->qhead = v;
        gw->qtail = v;
        gw->queued++;
    }
}

/* GET /stats: the gateway's counters, as nginx's stub_status gives its
 * own: what runs and waits now, and what was refused since the start. */
static void respond_stats(struct gw *gw, struct conn *c)
{
    char b[512];
    int n = snprintf(
        b, sizeof b,
        "{\"connections\":%u,\"running\":%u,\"queued\":%u,"
        "\"clients\":%u,\"served\":%llu,\"overloaded\":%llu,"
        "\"client_limited\":%llu,\"abandoned\":%llu,\"timed_out\":%llu}\n",
        gw->nconns, gw->running, gw->queued, gw->clients.count, gw->served,
        gw->shed, gw->limited, gw->abandoned, gw->timeouts);
    respond(gw, c, 200, "application/json", b, (size_t)n, NULL);
}

static void route(struct gw *gw, struct conn *c, const struct http_req *r,
                  const char *body)
{
    char path[HTTP_PATH_MAX];
    snprintf(path, sizeof path, "%s", r->path);
    char *q = strchr(path, '?');
    if (q)
        *q = 0;
    if (!strcmp(path, "/healthz")) {
        if (strcmp(r->method, "GET")) {
            static const char msg[] = "use GET";
            respond_error(gw, c, 405, "method", NULL, msg, sizeof msg - 1,
                          "Allow: GET\r\n");
            return;
        }
        respond(gw, c, 200, "text/plain", "ok\n", 3, NULL);
        return;
    }
    if (!strcmp(path, "/stats")) {
        if (strcmp(r->method, "GET")) {
            static const char msg[] = "use GET";
            respond_error(gw, c, 405, "method", NULL, msg, sizeof msg - 1,
                          "Allow: GET\r\n");
            return;
        }
        respond_stats(gw, c);
        return;
    }
    if (strncmp(path, "/fn/", 4) != 0) {
        static const char msg[] = "not found; invoke with POST /fn/NAME";
        respond_error(gw, c, 404, "not-found", NULL, msg, sizeof msg - 1, NULL);
        return;
    }
    const char *name = path + 4;
    if (!fn_name_ok(name, strlen(name))) {
        static const char msg[] = "not a function name";
        respond_error(gw, c, 404, "not-found", NULL, msg, sizeof msg - 1, NULL);
        return;
    }
    if (strcmp(r->method, "POST")) {
        static const char msg[] = "functions are invoked with POST";
        respond_error(gw, c, 405, "method", name, msg, sizeof msg - 1,
                      "Allow: POST\r\n");
        return;
    }
    invoke(gw, c, name, body, (size_t)r->content_length);
}

/* A request refused whatever its body holds (not POST /fn/NAME of a
 * deployed function) is answered once its head is in, and the connection
 * closed after: its body, up to --max-body per connection, is never
 * buffered for a request that only gets a 404. 1 if answered so. */
static int refuse_early(struct gw *gw, struct conn *c, const struct http_req *r)
{
    char path[HTTP_PATH_MAX];
    snprintf(path, sizeof path, "%s", r->path);
    char *q = strchr(path, '?');
    if (q)
        *q = 0;
    if (!strncmp(path, "/fn/", 4) && !strcmp(r->method, "POST") &&
        fn_name_ok(path + 4, strlen(path + 4))) {
        char file[PATH_MAX];
        snprintf(file, sizeof file, "%s/%s.lua", fn_store_dir(gw->o->dir),
                 path + 4);
        if (access(file, F_OK) == 0 || errno != ENOENT)
            return 0; /* it may run: its body is wanted */
    }
    c->close_after = 1; /* its body is not read: the stream ends here */
    c->keep_alive = 0;
    c->busy = 1;
    route(gw, c, r, "");
    return 1;
}

/* Parse and answer what the client sent, one request at a time. */
static void conn_process(struct gw *gw, struct conn *c)
{
    c->processing = 1;
    while (!c->busy && c->fd >= 0 && c->inlen) {
        struct http_req r;
        const char *why = "";
        int st = http_parse_head(c->in, c->inlen, gw->o->body_max, &r, &why);
        c->in_body = 0;
        if (st == 0)
            break;
        if (st > 1) {
            c->close_after = 1; /* the stream cannot be trusted past it */
            respond_error(gw, c, st,
                          st == 413 ? "body-too-large" : "bad-request", NULL,
                          why, strlen(why), NULL);
            break;
        }
        size_t need = r.head_len + (size_t)r.content_length;
        if (c->inlen < need && refuse_early(gw, c, &r))
            break;
        if (c->inlen < need) {
            c->in_body = 1;
            if (r.expect_continue && !c->sent_continue) {
                static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
                c->sent_continue = 1;
                if (send(c->fd, cont, sizeof cont - 1, MSG_NOSIGNAL) < 0) {
                    conn_close(gw, c);
                    break;
                }
            }
            if (c->incap < need) {
                char *n = realloc(c->in, need);
                if (!n) {
                    conn_close(gw, c);
                    break;
                }
                c->in = n;
                c->incap = need;
            }
            break;
        }
        c->keep_alive = r.keep_alive;
        c->busy = 1; /* route() answers, now or when the guest ends */
        c->nreq++;
        route(gw, c, &r, c->in + r.head_len);
        if (c->fd < 0) /* closed while answering */
            break;
        memmove(c->in, c->in + need, c->inlen - need);
        c->inlen -= need;
    }
    c->processing = 0;
    if (c->fd < 0)
        return;
    if (c->eof && !c->busy) { /* nothing more will come */
        conn_close(gw, c);
        return;
    }
    if (c->eof && !c->inv)
        ep_set(gw, c->fd, &c->tag, 0, EPOLL_CTL_MOD); /* EOF stays readable */
    conn_wait(gw, c,
              c->busy                ? WAIT_NONE
              : c->in_body           ? WAIT_BODY
              : c->inlen || !c->nreq ? WAIT_HEAD
                                     : WAIT_IDLE);
}

/* Connections past their deadline: a request begun gets 408 and the
 * connection is closed (what follows cannot be trusted to start a
 * request); an idle one, or a new one that sent nothing, is closed
 * without a word, as a client reusing it may race with an answer. */
static void expire(struct gw *gw)
{
    uint64_t now = now_ms();
    for (int k = WAIT_HEAD; k < WAIT_KINDS; k++) {
        struct conn *c;
        while ((c = gw->whead[k]) && c->deadline_ms <= now) {
            conn_wait(gw, c, WAIT_NONE);
            if (k == WAIT_SEND) { /* it does not read: nothing to say */
                gw->timeouts++;
                conn_close(gw, c);
                continue;
            }
            if (k == WAIT_IDLE || !c->inlen) {
                conn_close(gw, c);
                continue;
            }
            gw->timeouts++;
            char msg[128];
            int ml = snprintf(msg, sizeof msg,
                              "the request %s did not arrive within %llu ms",
                              k == WAIT_HEAD ? "head" : "body",
                              (unsigned long long)wait_ms(gw, k));
            c->close_after = 1;
            c->keep_alive = 0;
            c->busy = 1;
            respond_error(gw, c, 408, "request-timeout", NULL, msg, (size_t)ml,
                          NULL);
            if (c->fd >= 0) /* not all sent: it does not read either */
                conn_close(gw, c);
        }
    }
}

/* Milliseconds until the next deadline, for epoll_wait; -1 if none. */
static int next_deadline(const struct gw *gw)
{
    uint64_t first = UINT64_MAX, now = now_ms();
    for (int k = WAIT_HEAD; k < WAIT_KINDS; k++)
        if (gw->whead[k] && gw->whead[k]->deadline_ms < first)
            first = gw->whead[k]->deadline_ms;
    if (first == UINT64_MAX)
        return -1;
    return first <= now ? 0 : first - now > 60000 ? 60000 : (int)(first - now);
}

static void conn_read(struct gw *gw, struct conn *c)
{
    for (;;) {
        if (c->inlen == c->incap) {
            size_t cap = c->incap ? c->incap * 2 : 4096;
            size_t lim = HTTP_HEAD_MAX + 1 + (size_t)gw->o->body_max;
            if (cap > lim)
                cap = lim;
            if (cap <= c->inlen) /* full: the parser refuses it (431/413) */
                break;
            char *n = realloc(c->in, cap);
            if (!n) {
                conn_close(gw, c);
                return;
            }
            c->in = n;
            c->incap = cap;
        }
        ssize_t r = recv(c->fd, c->in + c->inlen, c->incap - c->inlen, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno == EAGAIN)
            break;
        if (r < 0) {
            conn_close(gw, c);
            return;
        }
        if (r == 0) { /* answer what came, then close */
            c->eof = 1;
            c->close_after = 1;
            break;
        }
        c->inlen += (size_t)r;
    }
    /* (c) may be freed by conn_process; the caller does not touch it. */
    conn_process(gw, c);
}

static void conn_close(struct gw *gw, struct conn *c)
{
    if (c->fd < 0)
        return;
    conn_wait(gw, c, WAIT_NONE);
    if (c->inv)
        inv_abandon(gw, c->inv);
    c->inv = NULL;
    epoll_ctl(gw->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    gw->nconns--;
    fn_clients_put(&gw->conns_by_addr, c->addr);
    accept_pause(gw, 0);
    free(c->in);
    free(c->out);
    c->in = c->out = NULL;
    if (c->prev)
        c->prev->next = c->next;
    else
        gw->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    /* Freed after the event batch: the loop may still hold its tag. */
    c->tag.owner = NULL;
    c->next_dead = gw->dead_conns;
    gw->dead_conns = c;
}

static void accept_all(struct gw *gw)
{
    for (;;) {
        struct sockaddr_in peer;
        socklen_t plen = sizeof peer;
        int fd = accept4(gw->lfd, (struct sockaddr *)&peer, &plen,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0 && (errno == EMFILE || errno == ENFILE))
            accept_pause(gw, 1);
        if (fd < 0)
            return;
        if (gw->nconns >= gw->max_conns) {
            close(fd);
            continue;
        }
        /* One address holds at most its share of connections: each may
         * buffer up to --max-body of request, so connections from one
         * address would otherwise pin memory without bound. */
        if (fn_clients_take(&gw->conns_by_addr, peer.sin_addr.s_addr) < 0) {
            static const char busy[] =
                "HTTP/1.1 429 Too Many Requests\r\n"
                "Content-Type: application/json\r\n"
                "Retry-After: 1\r\nConnection: close\r\n"
                "Content-Length: 86\r\n\r\n"
                "{\"error\":\"too many connections from this client "
                "address\",\"cause\":\"client-conn-limit\"}\n";
            /* Best effort on a new socket (its buffer is empty): a client
             * that left already is told nothing. */
            ssize_t w = write(fd, busy, sizeof busy - 1);
            (void)w;
            gw->limited++;
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct conn *c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->addr = peer.sin_addr.s_addr;
        c->tag = (struct tag){TAG_CONN, c};
        gw->nconns++;
        c->next = gw->conns;
        if (gw->conns)
            gw->conns->prev = c;
        gw->conns = c;
        ep_set(gw, fd, &c->tag, EPOLLIN, EPOLL_CTL_ADD);
        conn_wait(gw, c, WAIT_HEAD); /* its first request, from now */
    }
}

static int listen_on(const char *spec, struct lvm_err *err)
{
    char host[64];
    const char *colon = strrchr(spec, ':');
    if (!colon || (size_t)(colon - spec) >= sizeof host)
        return lvm_err_invalid(err, "--listen: '%s' is not ADDR:PORT", spec);
    memcpy(host, spec, (size_t)(colon - spec));
    host[colon - spec] = 0;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port)};
    if (!colon[1] || *end || port < 0 || port > 65535 ||
        inet_pton(AF_INET, *host ? host : "0.0.0.0", &a.sin_addr) != 1)
        return lvm_err_invalid(err, "--listen: '%s' is not ADDR:PORT", spec);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0)
        return lvm_err_set(err, errno, "socket");
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 1024) < 0) {
        int e = errno;
        close(fd);
        return lvm_err_set(err, e, "listen on %s", spec);
    }
    socklen_t al = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &al);
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &a.sin_addr, ip, sizeof ip);
    /* On stdout, one line: scripts read it to learn the port of :0. */
    printf("listening on %s:%u\n", ip, ntohs(a.sin_port));
    fflush(stdout);
    return fd;
}

static void reap_dead(struct gw *gw)
{
    while (gw->dead_conns) {
        struct conn *c = gw->dead_conns;
        gw->dead_conns = c->next_dead;
        free(c);
    }
    while (gw->dead_invs) {
        struct inv *v = gw->dead_invs;
        gw->dead_invs = v->next_dead;
        inv_free(v);
    }
}

int fn_serve(const struct gw_opts *o)
{
    struct gw gw;
    memset(&gw, 0, sizeof gw);
    gw.o = o;
    gw.ep = gw.lfd = gw.sfd = -1;
    /* As many fds as we may have; half of them at most for connections,
     * the rest for the guests' (shells, devices, pidfds). */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    gw.max_conns = o->max_conns;
    fn_clients_init(&gw.clients, o->max_per_client);
    fn_clients_init(&gw.conns_by_addr, o->max_conns_per_client);
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && gw.max_conns > rl.rlim_cur / 2)
        gw.max_conns = (unsigned)(rl.rlim_cur / 2);
    struct lvm_err err;
    char eb[512];
    char guest[4096];
    guest[0] = 0;
    if ((o->runner == FN_RUN_GUEST &&
         fn_find_guest(guest, sizeof guest, &err) < 0) ||
        fn_runner_init(&gw.run, o->runner, guest, &o->lim, o->pool, &err) < 0) {
        fprintf(stderr, "lightvm: fn serve: %s\n",
                lvm_err_str(&err, eb, sizeof eb));
        return 125;
    }
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigprocmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    gw.sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
    gw.ep = epoll_create1(EPOLL_CLOEXEC);
    /* The pool first, so the first invocations find shells ready. */
    pthread_mutex_init(&gw.rlock, NULL);
    pthread_cond_init(&gw.rwake, NULL);
    gw.done_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (gw.done_efd < 0 || fn_runner_start_pool(&gw.run, &err) < 0 ||
        pthread_create(&gw.reaper, NULL, reaper_main, &gw) != 0) {
        fprintf(stderr, "lightvm: fn serve: %s\n",
                gw.done_efd < 0 ? "eventfd failed" : err.msg);
        fn_runner_fini(&gw.run);
        return 125;
    }
    if ((gw.lfd = listen_on(o->listen, &err)) < 0) {
        fprintf(stderr, "lightvm: fn serve: %s\n",
                lvm_err_str(&err, eb, sizeof eb));
        fn_runner_fini(&gw.run);
        return 125;
    }
    gw.ltag = (struct tag){TAG_LISTEN, NULL};
    gw.stag = (struct tag){TAG_SIGNAL, NULL};
    ep_set(&gw, gw.lfd, &gw.ltag, EPOLLIN, EPOLL_CTL_ADD);
    ep_set(&gw, gw.sfd, &gw.stag, EPOLLIN, EPOLL_CTL_ADD);
    gw.dtag = (struct tag){TAG_DONE, NULL};
    ep_set(&gw, gw.done_efd, &gw.dtag, EPOLLIN, EPOLL_CTL_ADD);
    while (!gw.stop) {
        struct epoll_event ev[64];
        int n = epoll_wait(gw.ep, ev, 64, next_deadline(&gw));
        if (n < 0 && errno != EINTR)
            break;
        for (int i = 0; i < n; i++) {
            struct tag *t = ev[i].data.ptr;
            switch (t->kind) {
            case TAG_LISTEN: accept_all(&gw); break;
            case TAG_SIGNAL: gw.stop = 1; break;
            case TAG_PID: inv_ended(&gw, t->owner); break;
            case TAG_DONE: answers(&gw); break;
            case TAG_TIMER: {
                struct inv *v = t->owner;
                if (!v->done)
                    fn_call_timer(&gw.run, &v->call);
                break;
            }
            case TAG_CONN: {
                struct conn *c = t->owner;
                if (!c) /* closed earlier in this batch */
                    break;
                if (ev[i].events & (EPOLLHUP | EPOLLERR))
                    conn_close(&gw, c); /* gone both ways: reset */
                else if ((ev[i].events & EPOLLRDHUP) && c->inv)
                    conn_close(&gw, c); /* it gave up on its invocation */
                else if (ev[i].events & EPOLLOUT)
                    conn_send(&gw, c);
                else if (ev[i].events & EPOLLIN)
                    conn_read(&gw, c);
                break;
            }
            }
        }
        expire(&gw);
        reap_dead(&gw);
    }
    fprintf(stderr,
            "lightvm: fn serve: stopping (%llu invocation%s, %llu "
            "refused as overload, %llu past a client's limit, %llu "
            "abandoned by their client, %llu request%s timed out)\n",
            gw.served, gw.served == 1 ? "" : "s", gw.shed, gw.limited,
            gw.abandoned, gw.timeouts, gw.timeouts == 1 ? "" : "s");
    /* Running guests are killed; their clients get nothing. Connections
     * first: closing one drops its queued invocation, kills its guest. */
    while (gw.conns)
        conn_close(&gw, gw.conns);
    while (gw.qhead) {
        struct inv *v = gw.qhead;
        gw.qhead = v->next;
        inv_free(v);
    }
    while (gw.runs) {
        struct inv *v = gw.runs;
        gw.runs = v->rnext;
        fn_call_abort(&gw.run, &v->call);
        inv_free(v);
    }
    /* The reaper finishes what it has, then stops. */
    pthread_mutex_lock(&gw.rlock);
    gw.rstop = 1;
    pthread_cond_signal(&gw.rwake);
    pthread_mutex_unlock(&gw.rlock);
    pthread_join(gw.reaper, NULL);
    for (struct inv *v = gw.done, *nx; v; v = nx) {
        nx = v->rq_next;
        free(v->out.data);
        inv_free(v);
    }
    close(gw.done_efd);
    reap_dead(&gw);
    fn_clients_fini(&gw.clients);
    fn_clients_fini(&gw.conns_by_addr);
    close(gw.lfd);
    close(gw.sfd);
    close(gw.ep);
    fn_runner_fini(&gw.run);
    return 0;
}
