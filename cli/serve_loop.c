/*
 * serve_loop.c: the event loop of `lightvm serve`. It accepts clients,
 * finds or makes (through the workers) the guest each one goes to,
 * connects to the guest's address, and copies bytes both ways through two
 * bounded buffers per connection. A guest that has had no connection for
 * the idle timeout is destroyed. Nothing here blocks: lightvmd's calls are
 * the workers', and every socket is non-blocking.
 */
#include "cli/serve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE 16384
#define RETRY_FIRST_NS 200000ULL /* a booting guest: connect again soon */
#define RETRY_MAX_NS 20000000ULL

enum gstate { G_CREATING, G_READY, G_DESTROYING };
enum cstate { C_NEW, C_QUEUED, C_WAIT_GUEST, C_CONNECTING, C_RETRY, C_OPEN };

struct guest {
    char id[17];
    struct sockaddr_in addr;
    enum gstate state;
    int broken;       /* did not answer: take no more connections */
    int spare;        /* made ahead (--spare), no client yet */
    uint32_t key;     /* per-client: the client's address */
    unsigned nconns;  /* connections routed to it, in any state */
    uint64_t last_ns; /* when its last connection closed */
    struct guest *next;
};

struct buf {
    char d[BUF_SIZE];
    size_t off, len;
    int eof; /* the reading side has finished */
};

struct conn;
struct endpoint {
    struct conn *c;
    int side; /* 0: client, 1: guest; 2: the listener, 3: signals, 4: jobs */
};

struct conn {
    int fd[2]; /* client, guest */
    struct endpoint ep[2];
    uint32_t ev[2]; /* events registered for each fd (0: none) */
    enum cstate state;
    struct guest *g;
    uint32_t client_ip;
    uint64_t t_accept, retry_at, backoff;
    uint64_t t_guest, t_open; /* timing: its guest made, its connect done */
    unsigned retries;
    int last_err;
    struct buf up, down;      /* client to guest, guest to client */
    int wr_shut[2];           /* shutdown(SHUT_WR) done on that fd */
    int dead;                 /* closed; freed after this batch of events */
    int probe;                /* no client: warms a spare guest (ARP, boot) */
    struct conn *prev, *next; /* every connection */
    struct conn *qnext;       /* the queue, or the dead */
};

struct loop {
    const struct serve_cfg *cfg;
    struct serve_work w;
    int ep, lfd, sfd;
    struct endpoint ep_listen, ep_sig, ep_jobs;
    struct guest *guests;
    unsigned nguests;           /* records, destroying ones included */
    unsigned nspare;            /* spare ones, made or being made */
    struct conn *conns;         /* every connection */
    struct conn *qhead, *qtail; /* queued ones, in arrival order */
    struct conn *dead;          /* closed, to free after the batch */
    unsigned nqueued;
    unsigned pending_jobs;
    int stopping;
    int accept_paused; /* out of fds: not accepting until one closes */
    int timing;        /* LIGHTVM_TIMING: each connection's phases on stderr */
    /* Counters, said at exit. */
    unsigned long clients, made, refused, failed;
};

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

/* ---- Guests ---- */

static void guest_destroy(struct loop *l, struct guest *g)
{
    if (g->state == G_DESTROYING)
        return;
    g->state = G_DESTROYING;
    struct serve_job *j = calloc(1, sizeof *j);
    if (!j)
        return; /* it stays listed: `lightvm destroy` can remove it */
    j->op = SERVE_OP_DESTROY;
    j->guest = g;
    snprintf(j->id, sizeof j->id, "%s", g->id);
    l->pending_jobs++;
    serve_work_push(&l->w, j);
}

static struct guest *guest_new(struct loop *l, uint32_t key)
{
    struct guest *g = calloc(1, sizeof *g);
    struct serve_job *j = calloc(1, sizeof *j);
    if (!g || !j) {
        free(g);
        free(j);
        return NULL;
    }
    g->key = key;
    g->state = G_CREATING;
    g->next = l->guests;
    l->guests = g;
    l->nguests++;
    j->op = SERVE_OP_CREATE;
    j->guest = g;
    l->pending_jobs++;
    serve_work_push(&l->w, j);
    return g;
}

static void guest_free(struct loop *l, struct guest *g)
{
    for (struct guest **p = &l->guests; *p; p = &(*p)->next)
        if (*p == g) {
            *p = g->next;
            break;
        }
    l->nguests--;
    if (g->spare)
        l->nspare--;
    free(g);
}

/* Keep --spare guests made ahead, within --max-guests. */
static void spare_top_up(struct loop *l)
{
    while (!l->stopping && l->nspare < l->cfg->spare &&
           l->nguests < l->cfg->max_guests) {
        struct guest *g = guest_new(l, 0);
        if (!g)
            return;
        g->spare = 1;
        l->nspare++;
    }
}

/* A spare guest for a new client: a made one first. */
static struct guest *spare_take(struct loop *l)
{
    struct guest *best = NULL;
    for (struct guest *g = l->guests; g; g = g->next)
        if (g->spare && !g->broken &&
            (!best || (g->state == G_READY && best->state != G_READY)))
            best = g;
    return best;
}

/* ---- Connections ---- */

static void ep_set(struct loop *l, struct conn *c, int side, uint32_t want)
{
    if (c->fd[side] < 0 || c->ev[side] == want)
        return;
    struct epoll_event e = {.events = want, .data.ptr = &c->ep[side]};
    int op = !c->ev[side] ? EPOLL_CTL_ADD
             : want       ? EPOLL_CTL_MOD
                          : EPOLL_CTL_DEL;
    if (epoll_ctl(l->ep, op, c->fd[side], &e) == 0)
        c->ev[side] = want;
}

static void conn_close(struct loop *l, struct conn *c, int failed)
{
    for (int s = 0; s < 2; s++)
        if (c->fd[s] >= 0) {
            ep_set(l, c, s, 0);
            close(c->fd[s]);
        }
    if (c->state == C_QUEUED) { /* out of the queue */
        struct conn *prev = NULL;
        for (struct conn *q = l->qhead; q; prev = q, q = q->qnext)
            if (q == c) {
                if (prev)
                    prev->qnext = c->qnext;
                else
                    l->qhead = c->qnext;
                if (l->qtail == c)
                    l->qtail = prev;
                break;
            }
        l->nqueued--;
    }
    if (failed)
        l->failed++;
    if (l->accept_paused && !l->stopping) {
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = &l->ep_listen};
        epoll_ctl(l->ep, EPOLL_CTL_MOD, l->lfd, &e);
        l->accept_paused = 0;
    }
    struct guest *g = c->g;
    if (g) {
        g->nconns--;
        g->last_ns = now_ns();
        /* One connection, one guest; and a guest that never answered
         * is of no use to the next client either. */
        if (!g->nconns && g->state == G_READY &&
            (l->cfg->mode == SERVE_PER_REQUEST || g->broken))
            guest_destroy(l, g);
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        l->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->dead = 1; /* an event for it may be further on in this batch */
    c->qnext = l->dead;
    l->dead = c;
}

static void conn_retry(struct loop *l, struct conn *c, int err);

static void conn_connect(struct loop *l, struct conn *c)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        conn_close(l, c, 1);
        return;
    }
    c->fd[1] = fd;
    c->ev[1] = 0;
    c->state = C_CONNECTING;
    if (connect(fd, (struct sockaddr *)&c->g->addr, sizeof c->g->addr) < 0 &&
        errno != EINPROGRESS) {
        conn_retry(l, c, errno); /* failed at once: no event will say so */
        return;
    }
    ep_set(l, c, 1, EPOLLOUT);
}

/* The guest's address did not answer (yet): again shortly, until the
 * boot timeout. */
static void conn_retry(struct loop *l, struct conn *c, int err)
{
    ep_set(l, c, 1, 0);
    close(c->fd[1]);
    c->fd[1] = -1;
    uint64_t now = now_ns();
    if (now - c->t_accept >= l->cfg->boot_ns) {
        if (!c->g->broken && !l->cfg->quiet)
            fprintf(stderr,
                    "lightvm: serve: guest %s did not answer on port %u "
                    "within the boot timeout (%s)\n",
                    c->g->id, l->cfg->guest_port, strerror(err));
        c->g->broken = 1;
        conn_close(l, c, !c->probe);
        return;
    }
    c->retries++;
    c->last_err = err;
    c->backoff = c->backoff ? c->backoff * 2 : RETRY_FIRST_NS;
    if (c->backoff > RETRY_MAX_NS)
        c->backoff = RETRY_MAX_NS;
    c->retry_at = now + c->backoff;
    c->state = C_RETRY;
}

static void conn_attach(struct loop *l, struct conn *c, struct guest *g)
{
    if (g->spare) { /* it is this client's now; make another */
        g->spare = 0;
        g->key = c->client_ip;
        l->nspare--;
        spare_top_up(l);
    }
    c->g = g;
    g->nconns++;
    c->t_guest = g->state == G_READY ? now_ns() : 0;
    if (g->state == G_READY)
        conn_connect(l, c);
    else
        c->state = C_WAIT_GUEST;
}

/* Interest in each fd from the buffers' state: read while there is room
 * and no end of file, write while there is something to send. */
static void conn_update(struct loop *l, struct conn *c)
{
    struct buf *from[2] = {&c->up, &c->down}; /* what side s reads into */
    struct buf *to[2] = {&c->down, &c->up};   /* what side s writes out */
    for (int s = 0; s < 2; s++) {
        uint32_t ev = 0;
        if (!from[s]->eof && from[s]->len < BUF_SIZE)
            ev |= EPOLLIN;
        if (to[s]->len)
            ev |= EPOLLOUT;
        ep_set(l, c, s, ev);
    }
}

/* Copy what can be copied without blocking; 0 while it goes on, -1 once
 * the connection is over (either side reset, or both sides finished). */
static int conn_pump(struct conn *c, int side, uint32_t events)
{
    struct buf *in = side ? &c->down : &c->up;
    if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !in->eof) {
        size_t end = in->off + in->len;
        if (end == BUF_SIZE && in->off) { /* room at the front: compact */
            memmove(in->d, in->d + in->off, in->len);
            in->off = 0;
            end = in->len;
        }
        if (end < BUF_SIZE) {
            ssize_t n = recv(c->fd[side], in->d + end, BUF_SIZE - end, 0);
            if (n > 0)
                in->len += (size_t)n;
            else if (n == 0)
                in->eof = 1;
            else if (errno != EAGAIN && errno != EINTR)
                return -1; /* reset */
        }
    }
    /* Send what each side has for the other. */
    for (int s = 0; s < 2; s++) {
        struct buf *b = s ? &c->up : &c->down; /* bytes for side s */
        while (b->len) {
            ssize_t n = send(c->fd[s], b->d + b->off, b->len, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN || errno == EINTR)
                    break;
                return -1;
            }
            b->off += (size_t)n;
            b->len -= (size_t)n;
        }
        if (!b->len)
            b->off = 0;
        /* Its peer has finished and all is sent: pass the end on. */
        if (b->eof && !b->len && !c->wr_shut[s]) {
            shutdown(c->fd[s], SHUT_WR);
            c->wr_shut[s] = 1;
        }
    }
    return c->wr_shut[0] && c->wr_shut[1] ? -1 : 0;
}

/* ---- Routing ---- */

static struct guest *least_busy(struct loop *l, unsigned below)
{
    struct guest *best = NULL;
    for (struct guest *g = l->guests; g; g = g->next)
        if (g->state != G_DESTROYING && !g->broken && g->nconns < below &&
            (!best || g->nconns < best->nconns))
            best = g;
    return best;
}

/* Route (c) to a guest; 0 if it is on its way (or closed), 1 if it must
 * wait in the queue. */
static int conn_route(struct loop *l, struct conn *c)
{
    const struct serve_cfg *cfg = l->cfg;
    struct guest *g = NULL;
    if (cfg->mode == SERVE_PER_CLIENT) {
        for (g = l->guests; g; g = g->next)
            if (g->key == c->client_ip && g->state != G_DESTROYING &&
                !g->broken)
                break;
    } else if (cfg->mode == SERVE_SHARED) {
        g = least_busy(l, cfg->conns_per_guest);
    }
    if (!g)
        g = spare_take(l);
    if (!g && l->nguests < cfg->max_guests) {
        g = guest_new(l, c->client_ip);
        if (!g) {
            conn_close(l, c, 1);
            return 0;
        }
    }
    if (!g && cfg->when_full == SERVE_FULL_REUSE)
        g = least_busy(l, ~0u);
    if (!g && cfg->when_full != SERVE_FULL_REFUSE &&
        l->nqueued < cfg->queue_max)
        return 1;
    if (!g) {
        l->refused++;
        conn_close(l, c, 0);
        return 0;
    }
    conn_attach(l, c, g);
    return 0;
}

static void queue_push(struct loop *l, struct conn *c)
{
    c->state = C_QUEUED;
    c->qnext = NULL;
    if (l->qtail)
        l->qtail->qnext = c;
    else
        l->qhead = c;
    l->qtail = c;
    l->nqueued++;
}

/* A guest slot may have freed: route what waits, in arrival order. */
static void queue_drain(struct loop *l)
{
    while (l->qhead && !l->stopping) {
        struct conn *c = l->qhead;
        l->qhead = c->qnext;
        if (!l->qhead)
            l->qtail = NULL;
        l->nqueued--;
        c->state = C_WAIT_GUEST;     /* not queued while routed */
        if (conn_route(l, c) == 1) { /* still full: back to the front */
            c->state = C_QUEUED;
            c->qnext = l->qhead;
            l->qhead = c;
            if (!l->qtail)
                l->qtail = c;
            l->nqueued++;
            return;
        }
    }
}

static void on_accept(struct loop *l)
{
    for (;;) {
        struct sockaddr_in a;
        socklen_t al = sizeof a;
        int fd = accept4(l->lfd, (struct sockaddr *)&a, &al,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0 && (errno == EMFILE || errno == ENFILE) && l->conns) {
            /* Out of fds: the backlog keeps the clients until a
             * connection closes; the listener, level-triggered, would
             * otherwise wake us at once, again and again. */
            struct epoll_event e = {.events = 0, .data.ptr = &l->ep_listen};
            epoll_ctl(l->ep, EPOLL_CTL_MOD, l->lfd, &e);
            l->accept_paused = 1;
        }
        if (fd < 0)
            return; /* EAGAIN (or, above, out of fds) */
        struct conn *c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        l->clients++;
        c->fd[0] = fd;
        c->fd[1] = -1;
        c->ep[0] = (struct endpoint){c, 0};
        c->ep[1] = (struct endpoint){c, 1};
        c->client_ip = a.sin_addr.s_addr;
        c->t_accept = now_ns();
        c->next = l->conns;
        if (l->conns)
            l->conns->prev = c;
        l->conns = c;
        if (conn_route(l, c) == 1)
            queue_push(l, c);
    }
}

/* Connect to a new spare guest once, so that its first client finds its
 * address resolved and the guest booted and listening. */
static void spare_probe(struct loop *l, struct guest *g)
{
    struct conn *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->probe = 1;
    c->fd[0] = c->fd[1] = -1;
    c->ep[1] = (struct endpoint){c, 1};
    c->t_accept = now_ns();
    c->next = l->conns;
    if (l->conns)
        l->conns->prev = c;
    l->conns = c;
    c->g = g;
    g->nconns++;
    conn_connect(l, c);
}

static void on_jobs(struct loop *l)
{
    int freed = 0;
    for (struct serve_job *j = serve_work_take(&l->w), *next; j; j = next) {
        next = j->next;
        struct guest *g = j->guest;
        l->pending_jobs--;
        if (j->op == SERVE_OP_DESTROY) {
            if (!j->ok)
                fprintf(stderr, "lightvm: serve: destroy guest %s: %s\n", j->id,
                        j->err);
            guest_free(l, g);
            freed = 1; /* a --max-guests slot for a spare */
        } else if (!j->ok) {
            fprintf(stderr, "lightvm: serve: %s\n", j->err);
            for (struct conn *c = l->conns, *cn; c; c = cn) {
                cn = c->next;
                if (c->g == g)
                    conn_close(l, c, 1);
            }
            guest_free(l, g);
        } else {
            l->made++;
            snprintf(g->id, sizeof g->id, "%s", j->id);
            g->addr.sin_family = AF_INET;
            g->addr.sin_port = htons(l->cfg->guest_port);
            inet_pton(AF_INET, j->ip, &g->addr.sin_addr);
            g->state = G_READY;
            g->last_ns = now_ns();
            if (l->stopping)
                guest_destroy(l, g);
            else if (g->spare)
                spare_probe(l, g);
            for (struct conn *c = l->conns, *cn; c; c = cn) {
                cn = c->next;
                if (c->g == g && c->state == C_WAIT_GUEST) {
                    c->t_guest = now_ns();
                    conn_connect(l, c);
                }
            }
        }
        free(j);
    }
    queue_drain(l);
    /* After a destroy only: a spare that failed to be made is not made
     * again at once (a quota would refuse it as fast as it is asked). */
    if (freed)
        spare_top_up(l);
}

static void on_conn(struct loop *l, struct conn *c, int side, uint32_t ev)
{
    if (c->state == C_CONNECTING && side == 1) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd[1], SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
            conn_retry(l, c, err);
            return;
        }
        if (c->probe) { /* the spare answers: ready for its client */
            conn_close(l, c, 0);
            return;
        }
        c->state = C_OPEN;
        c->t_open = now_ns();
        if (l->timing) /* where a first answer's time goes */
            fprintf(stderr,
                    "lightvm: serve: timing (us): guest %s %.0f, connected "
                    "%.0f after %u retries (%s)\n",
                    c->g->id, (double)(c->t_guest - c->t_accept) / 1e3,
                    (double)(c->t_open - c->t_accept) / 1e3, c->retries,
                    c->retries ? strerror(c->last_err) : "-");
        conn_update(l, c);
        return;
    }
    if (c->state != C_OPEN)
        return;
    if (conn_pump(c, side, ev) < 0) {
        conn_close(l, c, 0);
        return;
    }
    conn_update(l, c);
}

/* Due retries; idle guests; the next wake-up, in ms. */
static int on_tick(struct loop *l)
{
    uint64_t now = now_ns(), next = now + 100000000ULL;
    for (struct conn *c = l->conns, *cn; c; c = cn) {
        cn = c->next;
        if (c->state != C_RETRY)
            continue;
        if (c->retry_at <= now)
            conn_connect(l, c);
        else if (c->retry_at < next)
            next = c->retry_at;
    }
    for (struct guest *g = l->guests; g; g = g->next) {
        if (g->state != G_READY || g->nconns || (g->spare && !l->stopping))
            continue;
        uint64_t due = g->last_ns + l->cfg->idle_ns;
        if (due <= now || l->stopping)
            guest_destroy(l, g);
        else if (due < next)
            next = due;
    }
    uint64_t ms = (next - now + 999999) / 1000000;
    return ms > 100 ? 100 : (int)ms;
}

static void loop_reap(struct loop *l)
{
    while (l->dead) {
        struct conn *c = l->dead;
        l->dead = c->qnext;
        free(c);
    }
}

static int loop_init(struct loop *l, const struct serve_cfg *cfg, int lfd)
{
    memset(l, 0, sizeof *l);
    l->cfg = cfg;
    l->lfd = lfd;
    l->timing = getenv("LIGHTVM_TIMING") != NULL;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGINT);
    sigaddset(&s, SIGTERM);
    sigprocmask(SIG_BLOCK, &s, NULL); /* before the workers: theirs too */
    signal(SIGPIPE, SIG_IGN);
    l->sfd = signalfd(-1, &s, SFD_CLOEXEC | SFD_NONBLOCK);
    l->ep = epoll_create1(EPOLL_CLOEXEC);
    if (l->sfd < 0 || l->ep < 0) {
        perror("lightvm: serve");
        return -1;
    }
    if (serve_work_start(&l->w, cfg) < 0)
        return -1;
    l->ep_listen.side = 2;
    l->ep_sig.side = 3;
    l->ep_jobs.side = 4;
    struct epoll_event e = {.events = EPOLLIN};
    e.data.ptr = &l->ep_listen;
    epoll_ctl(l->ep, EPOLL_CTL_ADD, lfd, &e);
    e.data.ptr = &l->ep_sig;
    epoll_ctl(l->ep, EPOLL_CTL_ADD, l->sfd, &e);
    e.data.ptr = &l->ep_jobs;
    epoll_ctl(l->ep, EPOLL_CTL_ADD, l->w.efd, &e);
    return 0;
}

/* Stop taking clients, close every connection, destroy every guest (those
 * still being made once they are), and wait for the workers to finish. */
static void loop_stop(struct loop *l)
{
    l->stopping = 1;
    epoll_ctl(l->ep, EPOLL_CTL_DEL, l->lfd, NULL);
    close(l->lfd);
    while (l->conns)
        conn_close(l, l->conns, 0);
    for (struct guest *g = l->guests; g; g = g->next)
        if (g->state == G_READY)
            guest_destroy(l, g);
    while (l->pending_jobs) {
        struct epoll_event ev;
        if (epoll_wait(l->ep, &ev, 1, -1) < 0 && errno != EINTR)
            break;
        on_jobs(l);
    }
    loop_reap(l);
}

int serve_run(const struct serve_cfg *cfg, int lfd)
{
    struct loop l;
    if (loop_init(&l, cfg, lfd) < 0)
        return -1;
    if (!cfg->quiet) {
        char a[INET_ADDRSTRLEN];
        static const char *const modes[] = {"shared", "per-client",
                                            "per-request"};
        fprintf(stderr,
                "lightvm: serve: listening on %s:%u (%s, guest port %u, idle "
                "timeout %.3g s, at most %u guests)\n",
                inet_ntop(AF_INET, &cfg->listen.sin_addr, a, sizeof a),
                ntohs(cfg->listen.sin_port), modes[cfg->mode], cfg->guest_port,
                (double)cfg->idle_ns / 1e9, cfg->max_guests);
    }
    spare_top_up(&l);
    int timeout = 100;
    while (!l.stopping) {
        struct epoll_event evs[64];
        int n = epoll_wait(l.ep, evs, 64, timeout);
        if (n < 0 && errno != EINTR)
            break;
        for (int i = 0; i < n; i++) {
            struct endpoint *p = evs[i].data.ptr;
            if (p->side == 2)
                on_accept(&l);
            else if (p->side == 3)
                l.stopping = 1;
            else if (p->side == 4)
                on_jobs(&l);
        }
        /* Connections after the rest: one may close another's guest. */
        for (int i = 0; i < n && !l.stopping; i++) {
            struct endpoint *p = evs[i].data.ptr;
            if (p->side >= 2)
                continue;
            if (!p->c->dead)
                on_conn(&l, p->c, p->side, evs[i].events);
        }
        timeout = on_tick(&l);
        loop_reap(&l);
    }
    loop_stop(&l);
    serve_work_stop(&l.w);
    close(l.sfd);
    close(l.ep);
    if (!cfg->quiet)
        fprintf(stderr,
                "lightvm: serve: %lu client%s, %lu guest%s made, %lu refused "
                "(full), %lu failed\n",
                l.clients, l.clients == 1 ? "" : "s", l.made,
                l.made == 1 ? "" : "s", l.refused, l.failed);
    return 0;
}
