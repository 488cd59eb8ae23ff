/*
 * tls_conn.c: TLS connections over the guest's TCP (lightvm/tls.h).
 *
 * Each accepted lvm_tcp connection gets an mbedTLS server context whose
 * I/O callbacks ("BIO") are the connection: ciphertext that arrives in
 * the TCP data callback is kept in a buffer that the receive callback
 * hands to mbedTLS, and records mbedTLS writes go to lvm_tcp_write().
 * After each arrival the connection is "pumped": the handshake is driven
 * as far as the bytes allow, then records are decrypted and passed on as
 * plaintext until mbedTLS wants more.
 *
 * Anything malformed (a bad record, a failed handshake) ends only that
 * connection: mbedTLS queues its alert, the TCP connection is closed, and
 * the application's closed() gets LVM_TLS_EPROTO.
 */
#include "tlspriv.h"

#include <lightvm/guest.h>

#include <stdlib.h>
#include <string.h>

#include <mbedtls/net_sockets.h>

/*
 * Ciphertext waiting for mbedTLS. The largest record a peer may send is
 * 5 bytes of header + 2^14 of plaintext + 2048 of expansion (TLS 1.2);
 * every pump consumes all complete records, so one record's room (and a
 * little) is all a connection ever holds.
 */
#define TLS_IN_MAX (5 + 16384 + 2048 + 512)

/*
 * At most this many connections may be in their handshake at once; one
 * more aborts the oldest of the address that has the most (hs_victim()). lwIP gives a new connection the slot of an old
 * one only if the old one has a lower priority, and all are equal here,
 * so without this clients that connect and never finish (slowloris)
 * would fill the guest's TCP connections (MEMP_NUM_TCP_PCB) and lock
 * everyone out. A real client completes its handshake within a few round
 * trips, so only clients that stall are cut.
 */
#define TLS_HANDSHAKES_MAX 16

/* HALF: the peer has finished sending; we may still write. DEAD: closing
 * or failed, nothing more in or out. */
enum tls_state { TLS_HANDSHAKE, TLS_OPEN, TLS_HALF, TLS_DEAD };

struct tls_listener {
    struct lvm_tls_config *cfg;
    const struct lvm_tls_handlers *h;
    void *arg;
};

struct lvm_tls {
    struct lvm_tcp *c; /* NULL once TCP's closed() has run */
    const struct lvm_tls_handlers *h;
    void *arg;
    enum tls_state state;
    int tcp_eof; /* the peer's TCP stream has ended */
    int err;     /* the TLS failure to report in closed() */
    int pumping; /* inside pump(): no nested pump from a callback */
    size_t in_off, in_len;
    uint64_t hs_due; /* handshake deadline, monotonic ns; 0: none */
    struct lvm_tls *hs_prev, *hs_next; /* on the handshake list */
    mbedtls_ssl_context ssl;
    unsigned char in[TLS_IN_MAX];
};

/* Plaintext out of mbedTLS, for the data callback: callbacks never nest,
 * so one buffer serves every connection. */
static unsigned char plain[16384];

/* Connections in their handshake, oldest first. */
static struct lvm_tls *hs_head, *hs_tail;
static unsigned hs_count;
/* No handshake deadline is before this (a lower bound: handshakes that
 * finish or die only make the true next deadline later), so
 * lvm_tls_expire() walks the list only when one may be due. */
static uint64_t hs_next_due = UINT64_MAX;

static void hs_add(struct lvm_tls *t)
{
    t->hs_prev = hs_tail;
    t->hs_next = NULL;
    if (hs_tail)
        hs_tail->hs_next = t;
    else
        hs_head = t;
    hs_tail = t;
    hs_count++;
    if (t->hs_due && t->hs_due < hs_next_due)
        hs_next_due = t->hs_due;
}

static void hs_remove(struct lvm_tls *t)
{
    if (t->state != TLS_HANDSHAKE)
        return; /* not on the list */
    if (t->hs_prev)
        t->hs_prev->hs_next = t->hs_next;
    else
        hs_head = t->hs_next;
    if (t->hs_next)
        t->hs_next->hs_prev = t->hs_prev;
    else
        hs_tail = t->hs_prev;
    t->hs_prev = t->hs_next = NULL;
    hs_count--;
}

/* ---- BIO: mbedTLS's view of the TCP connection ------------------------- */

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
    struct lvm_tls *t = ctx;
    if (!t->c)
        return MBEDTLS_ERR_NET_CONN_RESET;
    long n = lvm_tcp_write(t->c, buf, len);
    if (n == LVM_NET_ENOMEM)
        return MBEDTLS_ERR_SSL_WANT_WRITE; /* retried from drained() */
    if (n < 0)
        return MBEDTLS_ERR_NET_CONN_RESET;
    return (int)n;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
    struct lvm_tls *t = ctx;
    size_t have = t->in_len - t->in_off;
    if (have == 0)
        return t->tcp_eof ? 0 : MBEDTLS_ERR_SSL_WANT_READ;
    if (len > have)
        len = have;
    memcpy(buf, t->in + t->in_off, len);
    t->in_off += len;
    if (t->in_off == t->in_len)
        t->in_off = t->in_len = 0;
    return (int)len;
}

/* ---- Driving mbedTLS --------------------------------------------------- */

/* A TLS failure: let mbedTLS's alert (already queued) go out, then FIN. */
static void fail(struct lvm_tls *t)
{
    if (t->state == TLS_DEAD)
        return;
    hs_remove(t);
    t->err = LVM_TLS_EPROTO;
    t->state = TLS_DEAD;
    if (t->c)
        lvm_tcp_close(t->c);
}

static void peer_done(struct lvm_tls *t)
{
    if (t->h->eof)
        t->h->eof(t, t->arg);
    else
        lvm_tls_close(t);
}

static void pump(struct lvm_tls *t)
{
    if (t->pumping)
        return;
    t->pumping = 1;
    if (t->state == TLS_HANDSHAKE) {
        int rc = mbedtls_ssl_handshake(&t->ssl);
        if (rc == MBEDTLS_ERR_SSL_WANT_READ ||
            rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
            t->pumping = 0;
            return;
        }
        if (rc) {
            fail(t);
            t->pumping = 0;
            return;
        }
        hs_remove(t);
        t->state = TLS_OPEN;
        if (t->h->connected)
            t->h->connected(t, t->arg);
    }
    /* Records already in: plaintext for the application, until it
     * closes or mbedTLS needs bytes that have not arrived. */
    while (t->state == TLS_OPEN) {
        int n = mbedtls_ssl_read(&t->ssl, plain, sizeof plain);
        if (n > 0) {
            if (t->h->data)
                t->h->data(t, plain, (size_t)n, t->arg);
            continue;
        }
        if (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE)
            break;
        if (n == 0 || n == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY ||
            n == MBEDTLS_ERR_SSL_CONN_EOF) {
            /* The peer finished sending; reading more would only repeat
             * it. Writes may go on until the application closes (the
             * default eof handler does at once). */
            t->state = TLS_HALF;
            t->in_off = t->in_len = 0;
            t->pumping = 0;
            peer_done(t);
            return;
        }
        fail(t);
        break;
    }
    t->pumping = 0;
}

/* End a connection still in its handshake: it stalled, or took too long.
 * A reset, so that its TCP slot is free at once. */
static void cut(struct lvm_tls *t)
{
    hs_remove(t);
    t->state = TLS_DEAD;
    t->err = LVM_NET_ETIMEDOUT;
    lvm_tcp_abort(t->c);
}

uint64_t lvm_tls_expire(uint64_t now)
{
    if (!hs_head) {
        hs_next_due = UINT64_MAX;
        return UINT64_MAX;
    }
    if (now < hs_next_due)
        return hs_next_due;
    uint64_t next = UINT64_MAX;
    struct lvm_tls *t = hs_head;
    while (t) {
        struct lvm_tls *n = t->hs_next;
        if (t->hs_due && t->hs_due <= now)
            cut(t); /* closed() runs in the next network round */
        else if (t->hs_due && t->hs_due < next)
            next = t->hs_due;
        t = n;
    }
    hs_next_due = next;
    return next;
}

/* The handshake to cut when there are too many: the oldest of the
 * address with the most in progress (the oldest of all on a tie), so
 * that a flood of connects from one address cuts its own handshakes,
 * not other clients'. At most TLS_HANDSHAKES_MAX + 1 are on the list. */
static struct lvm_tls *hs_victim(void)
{
    struct lvm_tls *best = hs_head;
    unsigned best_n = 0;
    for (struct lvm_tls *t = hs_head; t; t = t->hs_next) {
        lvm_ip4_t a, b;
        lvm_tcp_peer(t->c, &a, NULL);
        unsigned n = 0;
        for (struct lvm_tls *u = hs_head; u; u = u->hs_next) {
            lvm_tcp_peer(u->c, &b, NULL);
            n += a == b;
        }
        if (n > best_n) {
            best = t;
            best_n = n;
        }
    }
    return best;
}

/* ---- TCP callbacks ----------------------------------------------------- */

static void on_connected(struct lvm_tcp *c, void *arg)
{
    struct tls_listener *l = arg;
    struct lvm_tls *t = calloc(1, sizeof *t);
    if (!t) {
        lvm_tcp_set_arg(c, NULL);
        lvm_tcp_abort(c);
        return;
    }
    t->c = c;
    t->h = l->h;
    t->arg = l->arg;
    mbedtls_ssl_init(&t->ssl);
    if (mbedtls_ssl_setup(&t->ssl, &l->cfg->conf) != 0) {
        mbedtls_ssl_free(&t->ssl);
        free(t);
        lvm_tcp_set_arg(c, NULL);
        lvm_tcp_abort(c);
        return;
    }
    mbedtls_ssl_set_bio(&t->ssl, t, bio_send, bio_recv, NULL);
    lvm_tcp_set_arg(c, t);
    t->state = TLS_HANDSHAKE;
    if (l->cfg->handshake_ns)
        t->hs_due = lvm_clock_monotonic() + l->cfg->handshake_ns;
    hs_add(t);
    if (hs_count > TLS_HANDSHAKES_MAX)
        cut(hs_victim()); /* cut for stalling */
}

static void on_data(struct lvm_tcp *c, const void *buf, size_t len, void *arg)
{
    struct lvm_tls *t = arg;
    const unsigned char *p = buf;
    if (!t)
        return;
    /* Take what fits, let mbedTLS consume it, repeat: a connection holds
     * at most one record however much arrives at once. */
    while (len > 0 && (t->state == TLS_HANDSHAKE || t->state == TLS_OPEN)) {
        size_t room = sizeof t->in - t->in_len;
        if (room == 0) {
            fail(t); /* a full buffer mbedTLS would not take: no record
                        is this long */
            return;
        }
        size_t take = len < room ? len : room;
        memcpy(t->in + t->in_len, p, take);
        t->in_len += take;
        p += take;
        len -= take;
        pump(t);
    }
}

static void on_eof(struct lvm_tcp *c, void *arg)
{
    struct lvm_tls *t = arg;
    if (!t)
        return;
    t->tcp_eof = 1;
    if (t->state == TLS_HANDSHAKE || t->state == TLS_OPEN)
        pump(t); /* the handshake fails, or the read sees the end */
}

static void on_drained(struct lvm_tcp *c, void *arg)
{
    struct lvm_tls *t = arg;
    if (!t)
        return;
    if (t->state == TLS_HANDSHAKE)
        pump(t); /* a flight that did not fit the send queue */
    else if ((t->state == TLS_OPEN || t->state == TLS_HALF) && t->h->drained)
        t->h->drained(t, t->arg);
}

static void on_closed(struct lvm_tcp *c, int err, void *arg)
{
    struct lvm_tls *t = arg;
    if (!t)
        return;
    t->c = NULL;
    hs_remove(t);
    t->state = TLS_DEAD;
    if (t->err)
        err = t->err;
    if (t->h->closed)
        t->h->closed(t, err, t->arg);
    mbedtls_ssl_free(&t->ssl);
    mbedtls_platform_zeroize(t->in, sizeof t->in);
    free(t);
}

static const struct lvm_tcp_handlers tls_tcp = {
    .connected = on_connected,
    .data = on_data,
    .eof = on_eof,
    .drained = on_drained,
    .closed = on_closed,
};

/* ---- API --------------------------------------------------------------- */

int lvm_tls_listen(struct lvm_tls_config *cfg, uint16_t port,
                   const struct lvm_tls_handlers *h, void *arg,
                   struct lvm_tcp_listener **out)
{
    static const struct lvm_tls_handlers none;
    if (!cfg)
        return LVM_NET_EINVAL;
    /* Lives as long as the guest: a listener has no "gone" callback. */
    struct tls_listener *l = malloc(sizeof *l);
    if (!l)
        return LVM_NET_ENOMEM;
    l->cfg = cfg;
    l->h = h ? h : &none;
    l->arg = arg;
    int rc = lvm_tcp_listen(port, &tls_tcp, l, out);
    if (rc < 0)
        free(l);
    return rc;
}

/* Room the records for (len) bytes take beyond the bytes: per record at
 * most a 5-byte header, a 1-byte TLS 1.3 type, a 16-byte tag and an
 * explicit nonce of 8 (TLS 1.2 GCM), rounded up. */
static size_t record_overhead(size_t len)
{
    return (len / 16384 + 1) * 64;
}

long lvm_tls_write(struct lvm_tls *t, const void *buf, size_t len)
{
    if (!t || !t->c || (t->state != TLS_OPEN && t->state != TLS_HALF))
        return LVM_NET_ENOTCONN;
    if (len > LVM_TCP_SENDQ_MAX ||
        lvm_tcp_sendq(t->c) + len + record_overhead(len) > LVM_TCP_SENDQ_MAX)
        return LVM_NET_ENOMEM;
    const unsigned char *p = buf;
    size_t left = len;
    while (left > 0) {
        int n = mbedtls_ssl_write(&t->ssl, p, left);
        if (n <= 0) {
            /* The room was checked: this is a broken connection. */
            fail(t);
            return LVM_NET_ENOTCONN;
        }
        p += n;
        left -= (size_t)n;
    }
    return (long)len;
}

size_t lvm_tls_sendq(const struct lvm_tls *t)
{
    return t && t->c ? lvm_tcp_sendq(t->c) : 0;
}

void lvm_tls_close(struct lvm_tls *t)
{
    if (!t || !t->c || t->state == TLS_DEAD)
        return;
    if (t->state != TLS_HANDSHAKE)
        mbedtls_ssl_close_notify(&t->ssl);
    hs_remove(t);
    t->state = TLS_DEAD;
    lvm_tcp_close(t->c);
}

void lvm_tls_abort(struct lvm_tls *t)
{
    if (!t || !t->c)
        return;
    hs_remove(t);
    t->state = TLS_DEAD;
    lvm_tcp_abort(t->c);
}

void lvm_tls_set_arg(struct lvm_tls *t, void *arg)
{
    t->arg = arg;
}

const char *lvm_tls_version(const struct lvm_tls *t)
{
    return mbedtls_ssl_get_version(&t->ssl);
}

const char *lvm_tls_ciphersuite(const struct lvm_tls *t)
{
    return mbedtls_ssl_get_ciphersuite(&t->ssl);
}

struct lvm_tcp *lvm_tls_tcp(const struct lvm_tls *t)
{
    return t->c;
}

const char *lvm_tls_strerror(int err)
{
    if (err == LVM_TLS_EPROTO)
        return "TLS protocol error";
    return lvm_net_strerror(err);
}
