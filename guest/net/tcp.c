/*
 * tcp.c: TCP connections and listeners over lwIP's raw API (net.h).
 *
 * lwIP calls back from inside its input and timer functions, where some
 * actions (freeing a connection, aborting it) must be signalled by a
 * return value rather than done. So this file defers: an abort requested
 * inside one of the connection's own callbacks is carried out when that
 * callback returns, and closed() runs at the end of the event loop's
 * round (lvm__tcp_reap), never inside another call.
 *
 * Data the application writes goes into lwIP's send buffer while it has
 * room, the rest into a per-connection queue that is fed to lwIP as the
 * peer acknowledges; so lvm_tcp_write() never fails for lack of room in
 * lwIP, only past LVM_TCP_SENDQ_MAX.
 */
#include "netpriv.h"

#include "lwip/tcp.h"

#include <stdlib.h>
#include <string.h>

enum { C_CONNECTING, C_OPEN, C_DEAD };

struct lvm_tcp {
    struct tcp_pcb *pcb; /* NULL once given back to lwIP */
    const struct lvm_tcp_handlers *h;
    void *arg;
    int state;
    int closing;       /* lvm_tcp_close(): FIN after the queue drains */
    int in_cb;         /* inside one of this connection's lwIP callbacks */
    int abort_pending; /* lvm_tcp_abort() from inside such a callback */
    int err;           /* for closed() */
    char *q;           /* queued bytes not yet in lwIP: q[qhead, qhead+qlen) */
    size_t qhead, qlen, qcap;
    int drained_due; /* call drained() when the queue empties */
    int in_open;     /* inside the accept or connect callback */
    int kicked;      /* on the kick list */
    lvm_ip4_t peer_ip;
    uint16_t peer_port;
    struct lvm_tcp *next_dead;
    struct lvm_tcp *next_kick;
    int held;          /* lvm_tcp_hold(): the receive window is not reopened */
    size_t unwindowed; /* bytes taken while held, given back on release */
    size_t sndmax; /* lvm_tcp_sndbuf(): most bytes in lwIP; 0: TCP_SND_BUF */
};

struct lvm_tcp_listener {
    struct tcp_pcb *pcb;
    const struct lvm_tcp_handlers *h;
    void *arg;
};

static const struct lvm_tcp_handlers no_handlers;
/* Connections whose closed() is due, in order. */
static struct lvm_tcp *dead_head, **dead_tail = &dead_head;
/* Connections that asked to close inside their accept or connect
 * callback, where lwIP does not expect the pcb to change state. */
static struct lvm_tcp *kick_head;

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err);
static err_t on_sent(void *arg, struct tcp_pcb *pcb, u16_t len);
static void on_err(void *arg, err_t err);
static err_t on_poll(void *arg, struct tcp_pcb *pcb);

/* ---- Bookkeeping ------------------------------------------------------- */

/* Detach (c) from its pcb, which lwIP keeps (closing) or has freed. */
static void detach(struct lvm_tcp *c)
{
    if (c->pcb) {
        tcp_arg(c->pcb, NULL);
        tcp_recv(c->pcb, NULL);
        tcp_sent(c->pcb, NULL);
        tcp_err(c->pcb, NULL);
        tcp_poll(c->pcb, NULL, 0);
    }
    c->pcb = NULL;
}

/* The connection is over: closed() runs at the end of this round. */
static void make_dead(struct lvm_tcp *c, int err)
{
    if (c->state == C_DEAD)
        return;
    c->state = C_DEAD;
    c->err = err;
    c->next_dead = NULL;
    *dead_tail = c;
    dead_tail = &c->next_dead;
}

static void flush(struct lvm_tcp *c);

void lvm__tcp_reap(void)
{
    while (kick_head) {
        struct lvm_tcp *c = kick_head;
        kick_head = c->next_kick;
        c->kicked = 0;
        flush(c);
    }
    while (dead_head) {
        struct lvm_tcp *c = dead_head;
        dead_head = c->next_dead;
        if (!dead_head)
            dead_tail = &dead_head;
        if (c->h->closed)
            c->h->closed(c, c->err, c->arg);
        free(c->q);
        free(c);
    }
}

static void do_abort(struct lvm_tcp *c)
{
    struct tcp_pcb *pcb = c->pcb;
    detach(c);
    if (pcb)
        tcp_abort(pcb); /* sends RST; no callbacks: they are detached */
    make_dead(c, LVM_NET_ECONNABORTED);
}

/* After a callback of (c)'s own: an abort asked for inside it is done
 * now, and lwIP is told (ERR_ABRT) that the pcb is gone. */
static err_t cb_return(struct lvm_tcp *c)
{
    c->in_cb--;
    if (c->abort_pending && !c->in_cb) {
        c->abort_pending = 0;
        do_abort(c);
        return ERR_ABRT;
    }
    return ERR_OK;
}

/* ---- Sending ----------------------------------------------------------- */

/* Room in lwIP's send buffer for (c): lwIP's own, less what lwIP
 * already holds beyond (c)'s lvm_tcp_sndbuf() limit. */
static size_t room(const struct lvm_tcp *c)
{
    size_t n = tcp_sndbuf(c->pcb);
    if (c->sndmax) {
        size_t held = TCP_SND_BUF - n;
        n = held >= c->sndmax ? 0 : c->sndmax - held < n ? c->sndmax - held : n;
    }
    return n;
}

/* Hand lwIP as much of (buf) as it takes; returns the bytes taken. */
static size_t push(struct lvm_tcp *c, const char *buf, size_t len)
{
    struct tcp_pcb *pcb = c->pcb;
    size_t done = 0, limit = 0xffff;
    while (done < len) {
        size_t n = room(c);
        if (n == 0)
            break;
        if (n > len - done)
            n = len - done;
        if (n > limit)
            n = limit;
        u8_t flags = TCP_WRITE_FLAG_COPY;
        if (done + n < len)
            flags |= TCP_WRITE_FLAG_MORE;
        err_t e = tcp_write(pcb, buf + done, (u16_t)n, flags);
        if (e == ERR_MEM && n > TCP_MSS) {
            limit = n / 2; /* the segment queue is short: try less */
            continue;
        }
        if (e != ERR_OK)
            break;
        done += n;
    }
    return done;
}

static void try_close(struct lvm_tcp *c);

/* Move queued bytes into lwIP, send, and finish a pending close. */
static void flush(struct lvm_tcp *c)
{
    if (c->state != C_OPEN || !c->pcb)
        return;
    if (c->qlen) {
        size_t n = push(c, c->q + c->qhead, c->qlen);
        c->qhead += n;
        c->qlen -= n;
        if (!c->qlen)
            c->qhead = 0;
    }
    tcp_output(c->pcb);
    if (c->closing && !c->qlen) {
        if (c->in_open) {
            if (!c->kicked) {
                c->kicked = 1;
                c->next_kick = kick_head;
                kick_head = c;
            }
            return;
        }
        try_close(c);
    }
}

static void try_close(struct lvm_tcp *c)
{
    struct tcp_pcb *pcb = c->pcb;
    tcp_arg(pcb, NULL);
    tcp_recv(pcb, NULL);
    tcp_sent(pcb, NULL);
    tcp_err(pcb, NULL);
    if (tcp_close(pcb) == ERR_OK) {
        /* lwIP sends what it holds, then FIN, on its own. */
        tcp_poll(pcb, NULL, 0);
        c->pcb = NULL;
        make_dead(c, LVM_NET_OK);
        return;
    }
    /* Out of memory for the FIN: keep the callbacks, retry from poll. */
    tcp_arg(pcb, c);
    tcp_recv(pcb, on_recv);
    tcp_sent(pcb, on_sent);
    tcp_err(pcb, on_err);
}

long lvm_tcp_write(struct lvm_tcp *c, const void *buf, size_t len)
{
    if (!c || c->state == C_DEAD || c->closing || c->abort_pending)
        return LVM_NET_ENOTCONN;
    if (len == 0)
        return 0;
    if (len > LVM_TCP_SENDQ_MAX || lvm_tcp_sendq(c) + len > LVM_TCP_SENDQ_MAX)
        return LVM_NET_ENOMEM;
    size_t done = 0;
    if (c->state == C_OPEN && c->qlen == 0)
        done = push(c, buf, len);
    if (done < len) {
        size_t rest = len - done;
        if (c->qhead + c->qlen + rest > c->qcap) {
            if (c->qhead) { /* slide down before growing */
                memmove(c->q, c->q + c->qhead, c->qlen);
                c->qhead = 0;
            }
            size_t cap = c->qcap ? c->qcap : 4096;
            while (cap < c->qlen + rest)
                cap *= 2;
            if (cap != c->qcap) {
                char *q = realloc(c->q, cap);
                if (!q) {
                    if (done)
                        tcp_output(c->pcb);
                    return done ? (long)done : LVM_NET_ENOMEM;
                }
                c->q = q;
                c->qcap = cap;
            }
        }
        memcpy(c->q + c->qhead + c->qlen, (const char *)buf + done, rest);
        c->qlen += rest;
    }
    c->drained_due = 1;
    if (c->state == C_OPEN)
        tcp_output(c->pcb);
    return (long)len;
}

size_t lvm_tcp_sendq(const struct lvm_tcp *c)
{
    size_t inflight = 0;
    if (c->pcb && c->state == C_OPEN)
        inflight = TCP_SND_BUF - tcp_sndbuf(c->pcb);
    return c->qlen + inflight;
}

/* ---- lwIP's callbacks ---------------------------------------------------- */

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    struct lvm_tcp *c = arg;
    (void)err;
    if (!c) {
        if (p)
            pbuf_free(p);
        return ERR_OK;
    }
    c->in_cb++;
    if (!p) { /* the peer sent FIN */
        if (c->h->eof)
            c->h->eof(c, c->arg);
        else
            lvm_tcp_close(c);
        return cb_return(c);
    }
    /* Everything is consumed at once: the window stays open (and a close
     * from the data callback sends FIN, not the RST lwIP sends when
     * received data was left unread). */
    if (c->held)
        c->unwindowed += p->tot_len;
    else
        tcp_recved(pcb, p->tot_len);
    for (struct pbuf *q = p; q; q = q->next) {
        if (c->state == C_DEAD || c->closing || c->abort_pending)
            break;
        if (c->h->data && q->len)
            c->h->data(c, q->payload, q->len, c->arg);
    }
    pbuf_free(p);
    return cb_return(c);
}

static err_t on_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
    struct lvm_tcp *c = arg;
    (void)pcb, (void)len;
    if (!c)
        return ERR_OK;
    c->in_cb++;
    flush(c);
    if (c->state == C_OPEN && c->drained_due && lvm_tcp_sendq(c) == 0) {
        c->drained_due = 0;
        if (c->h->drained)
            c->h->drained(c, c->arg);
    }
    return cb_return(c);
}

static void on_err(void *arg, err_t err)
{
    struct lvm_tcp *c = arg;
    if (!c)
        return;
    c->pcb = NULL; /* already freed by lwIP */
    int e = lvm__net_err(err);
    if (c->state == C_CONNECTING)
        e = err == ERR_RST    ? LVM_NET_ECONNREFUSED
            : err == ERR_ABRT ? LVM_NET_ETIMEDOUT
                              : e;
    c->abort_pending = 0;
    make_dead(c, e);
}

static err_t on_poll(void *arg, struct tcp_pcb *pcb)
{
    struct lvm_tcp *c = arg;
    (void)pcb;
    if (!c)
        return ERR_OK;
    c->in_cb++;
    flush(c); /* retries a close that ran out of memory */
    return cb_return(c);
}

static void setup(struct lvm_tcp *c, struct tcp_pcb *pcb)
{
    c->pcb = pcb;
    tcp_arg(pcb, c);
    tcp_recv(pcb, on_recv);
    tcp_sent(pcb, on_sent);
    tcp_err(pcb, on_err);
    tcp_poll(pcb, on_poll, 4); /* every 2 s */
    tcp_nagle_disable(pcb);    /* servers answer in one write: send it now */
}

static struct lvm_tcp *new_conn(const struct lvm_tcp_handlers *h, void *arg)
{
    struct lvm_tcp *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->h = h ? h : &no_handlers;
    c->arg = arg;
    return c;
}

static err_t accept_cb(void *arg, struct tcp_pcb *pcb, err_t err)
{
    struct lvm_tcp_listener *l = arg;
    if (err != ERR_OK || !pcb || !l)
        return ERR_VAL;
    struct lvm_tcp *c = new_conn(l->h, l->arg);
    if (!c) {
        tcp_abort(pcb);
        return ERR_ABRT;
    }
    setup(c, pcb);
    c->state = C_OPEN;
    c->peer_ip = ip4_addr_get_u32(&pcb->remote_ip);
    c->peer_port = pcb->remote_port;
    c->in_cb++;
    c->in_open = 1;
    if (c->h->connected)
        c->h->connected(c, c->arg);
    flush(c);
    c->in_open = 0;
    return cb_return(c);
}

static err_t connected_cb(void *arg, struct tcp_pcb *pcb, err_t err)
{
    struct lvm_tcp *c = arg;
    (void)pcb;
    if (!c)
        return ERR_OK;
    (void)err; /* always ERR_OK in lwIP 2.1: failures go to the err callback */
    c->state = C_OPEN;
    c->in_cb++;
    c->in_open = 1;
    if (c->h->connected)
        c->h->connected(c, c->arg);
    flush(c); /* writes queued while connecting */
    c->in_open = 0;
    return cb_return(c);
}

/* ---- The API ------------------------------------------------------------- */

int lvm_tcp_listen(uint16_t port, const struct lvm_tcp_handlers *h, void *arg,
                   struct lvm_tcp_listener **out)
{
    if (!lvm__net.up || port == 0)
        return LVM_NET_EINVAL;
    struct lvm_tcp_listener *l = calloc(1, sizeof *l);
    struct tcp_pcb *pcb = l ? tcp_new_ip_type(IPADDR_TYPE_V4) : NULL;
    if (!pcb) {
        free(l);
        return LVM_NET_ENOMEM;
    }
    ip_set_option(pcb, SOF_REUSEADDR);
    err_t e = tcp_bind(pcb, IP4_ADDR_ANY, port);
    if (e != ERR_OK) {
        tcp_close(pcb);
        free(l);
        return lvm__net_err(e);
    }
    struct tcp_pcb *lpcb = tcp_listen_with_backlog(pcb, 255);
    if (!lpcb) {
        tcp_close(pcb);
        free(l);
        return LVM_NET_ENOMEM;
    }
    l->pcb = lpcb;
    l->h = h ? h : &no_handlers;
    l->arg = arg;
    tcp_arg(lpcb, l);
    tcp_accept(lpcb, accept_cb);
    if (out)
        *out = l;
    return LVM_NET_OK;
}

void lvm_tcp_unlisten(struct lvm_tcp_listener *l)
{
    if (!l)
        return;
    tcp_arg(l->pcb, NULL);
    tcp_accept(l->pcb, NULL);
    tcp_close(l->pcb); /* a listening pcb closes at once */
    free(l);
}

int lvm_tcp_connect(lvm_ip4_t ip, uint16_t port,
                    const struct lvm_tcp_handlers *h, void *arg,
                    struct lvm_tcp **out)
{
    if (!lvm__net.up || port == 0 || ip == 0)
        return LVM_NET_EINVAL;
    struct lvm_tcp *c = new_conn(h, arg);
    struct tcp_pcb *pcb = c ? tcp_new_ip_type(IPADDR_TYPE_V4) : NULL;
    if (!pcb) {
        free(c);
        return LVM_NET_ENOMEM;
    }
    setup(c, pcb);
    c->state = C_CONNECTING;
    c->peer_ip = ip;
    c->peer_port = port;
    ip_addr_t addr;
    ip_addr_set_ip4_u32(&addr, ip);
    err_t e = tcp_connect(pcb, &addr, port, connected_cb);
    if (e != ERR_OK) {
        detach(c);
        tcp_abort(pcb);
        free(c);
        return lvm__net_err(e);
    }
    if (out)
        *out = c;
    return LVM_NET_OK;
}

void lvm_tcp_close(struct lvm_tcp *c)
{
    if (!c || c->state == C_DEAD || c->closing)
        return;
    c->closing = 1;
    if (c->state == C_CONNECTING) {
        do_abort(c); /* nothing was said yet: just give up */
        c->err = LVM_NET_OK;
        return;
    }
    flush(c);
}

void lvm_tcp_abort(struct lvm_tcp *c)
{
    if (!c || c->state == C_DEAD)
        return;
    if (c->in_cb) {
        c->abort_pending = 1; /* done when the callback returns */
        return;
    }
    do_abort(c);
}

void lvm_tcp_hold(struct lvm_tcp *c, int hold)
{
    if (!c || c->held == !!hold)
        return;
    c->held = !!hold;
    /* Reopen the window by what was taken meanwhile (tcp_recved takes at
     * most 64 KiB at a time). */
    while (!c->held && c->unwindowed > 0 && c->pcb) {
        u16_t n = c->unwindowed > 0xffff ? 0xffff : (u16_t)c->unwindowed;
        tcp_recved(c->pcb, n);
        c->unwindowed -= n;
    }
    if (!c->held && c->pcb)
        tcp_output(c->pcb); /* the window update now, not with the next ACK */
}

void lvm_tcp_sndbuf(struct lvm_tcp *c, size_t max)
{
    if (!c)
        return;
    c->sndmax = max < TCP_SND_BUF ? max : 0;
    if (c->sndmax && c->sndmax < TCP_MSS)
        c->sndmax = TCP_MSS; /* at least a segment, or nothing moves */
    flush(c);                /* a larger limit makes room at once */
}

void lvm_tcp_set_arg(struct lvm_tcp *c, void *arg)
{
    if (c)
        c->arg = arg;
}

void lvm_tcp_peer(const struct lvm_tcp *c, lvm_ip4_t *ip, uint16_t *port)
{
    if (ip)
        *ip = c->peer_ip;
    if (port)
        *port = c->peer_port;
}
