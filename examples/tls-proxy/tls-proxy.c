/*
 * tls-proxy.c: TLS termination. Accepts TLS 1.2 and 1.3 on a port and
 * forwards the plaintext of each connection to a backend over TCP, and
 * the backend's answers back.
 *
 *     tls-proxy [-p PORT] [-c CERT] [-k KEY] [-H TIME] [-i TIME] [-s TIME]
 *               [-P N] BACKEND_ADDR:PORT
 *
 * The certificate chain and key are files: by default /etc/tls/cert.pem
 * and /etc/tls/key.pem of the image's file tree (`lightvm-cc --files`).
 * Built with -DTLS_PROXY_BLOCK (tls-proxy-blk.elf), it reads them from a
 * read-only block device "certs" instead (a PEM bundle of chain and key,
 * `lightvm run --block certs=FILE`), so one image serves any certificate.
 *
 *     lightvm run --net --block certs=site.pem tls-proxy-blk.elf -- \
 *         10.213.0.1:8080
 *     curl --cacert ca.pem https://<guest ip>/
 *
 * A missing, unreadable or malformed certificate or key, or a key that is
 * not the certificate's, ends the guest at start with one line saying so.
 * When one side is slower, the proxy stops reopening the faster side's
 * receive window (lvm_tcp_hold()) once HOLD_AT bytes wait for the slower
 * one, and reopens it when they are out; QUEUE_MAX is a hard limit that
 * a sender keeping to TCP never reaches.
 *
 * Timeouts, like haproxy's and nginx's (TIME: N[ms|s|m|h], seconds if no
 * unit; 0 turns one off): -H, the handshake (default 10s, then reset);
 * -i, the client (default 300s) and -s, the backend (default 300s): a
 * pair whose client, or backend, has neither sent nor taken anything for
 * that long is closed: gracefully (close_notify and FIN) a side that
 * has taken everything sent to it, with a reset a side that has not (a
 * peer that stopped reading would otherwise keep its unsent bytes in the
 * stack's heap for minutes of zero-window probes). A side that waits
 * because the proxy holds data for the other side is not idle. A pair
 * still not gone LINGER after it was ended is reset. The guest wakes for
 * them without traffic: the loop is lvm_net_poll() up to the next
 * deadline, not lvm_net_run().
 *
 * At most PAIRS_MAX pairs are open (ending ones count until they are
 * gone): each takes two of the guest's 64 TCP connections, and 16 more
 * are kept for handshakes. With -P N (default 0: no limit), at most N
 * are from one client address. A handshake that completes when its address has N pairs
 * resets that address's pair idle longest; when all pairs are taken, it
 * resets the pair idle longest of the address holding the most (a line
 * on the console either way), so idle clients cannot lock new ones out
 * and one address cannot push out the others. A pair whose client has
 * sent a request and waits for the backend's answer is never reset so;
 * when nothing may be reset, the new connection is (a line says so).
 */
#include <lightvm/guest.h>
#include <lightvm/tls.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef TLS_PROXY_BLOCK
LVM_MANIFEST(LVM_NET("net0"), LVM_BLOCK("certs", LVM_DEVF_READONLY));
#else
LVM_MANIFEST(LVM_NET("net0"));
#endif

#define QUEUE_MAX (1u << 20)
#define HOLD_AT (64u << 10)
#define CHUNK 16384
/* lwIP's MEMP_NUM_TCP_PCB (64) = 16 handshakes (tls_conn.c) + 2 per pair,
 * and 8 for connections that are closing (FIN-WAIT, LAST-ACK). */
#define PAIRS_MAX 20
/* No per-address limit unless asked for: behind a load balancer or a NAT
 * every client has one address (wrk's 16 connections from one host made
 * a limit of 8 reset pairs at every connect: 0.03x the requests). */
#define PER_SOURCE_DEFAULT 0
/*
 * lwIP's packet heap (MEM_SIZE, 256 KiB) holds every connection's unacked
 * sent bytes, and every frame that arrives. A peer that stops reading
 * keeps its connection's share there until the connection is reset; with
 * lwIP's whole send buffer (8 segments, about 12.5 KiB with headers) on
 * both sides, 20 such pairs take 250 KiB, and then incoming frames, ACKs
 * and resets included, are dropped: the guest is deaf. So each side is
 * limited (lvm_tcp_sndbuf(); the rest waits in the guest's memory):
 * client 4 segments (5840 bytes, about 6.2 KiB of heap), backend 2 (2920,
 * 3.1 KiB: it is near and takes requests, which are small). Worst case:
 * 20 pairs x 9.3 KiB = 187 KiB, plus 16 handshakes whose first flight
 * (about 2 KiB with a one-certificate chain) is stuck = 32 KiB, leaves
 * about 37 KiB for frames in flight (25 full-size, hundreds of ACKs).
 */
#define CLIENT_SNDBUF (4 * 1460)
#define BACKEND_SNDBUF (2 * 1460)
/* An ended pair still there after this is reset. */
#define LINGER (2000 * MS)
#define MS 1000000ull

/* Timeouts in ns; 0: none. */
static uint64_t client_idle_ns = 300000 * MS, backend_idle_ns = 300000 * MS;
/* -P: most pairs from one client address. */
static unsigned per_source = PER_SOURCE_DEFAULT;

static lvm_ip4_t backend_ip;
static uint16_t backend_port;

/* Bytes one side has sent that the other's send queue has no room for
 * yet, written out as it drains. */
struct queue {
    unsigned char *buf;
    size_t len, cap;
};

/* One client: its TLS connection and the backend connection. Freed when
 * both are gone. */
struct pair {
    struct lvm_tls *t;
    struct lvm_tcp *b;
    struct queue to_client, to_backend;
    int client_done;  /* close the client once to_client is empty */
    int backend_done; /* close the backend once to_backend is empty */
    int ending;       /* timed out or evicted: never chosen again */
    int waiting;      /* the client sent last: it waits for the backend */
    lvm_ip4_t src;    /* the client's address */
    uint64_t end_by;  /* ending: reset if still there then */
    uint64_t client_at, backend_at; /* last bytes from or to each side */
    struct pair *prev, *next;       /* on the list of pairs */
};

/* Every pair, and how many (ending ones too: their connections and
 * memory are held until they are gone). */
static struct pair *pairs;
static unsigned npairs;
/* No idle deadline is before this; activity only moves deadlines later,
 * so the pairs are walked only when one may be due. */
static uint64_t next_due = UINT64_MAX;

static void due_at(uint64_t t)
{
    if (t < next_due)
        next_due = t;
}

/* Activity is stamped with lvm_net_now(), the clock as the loop read it
 * for the current round, rather than a clock read of its own: in a proc
 * guest each is a system call, and there are several callbacks per
 * request. */

static int queue_add(struct queue *q, const void *p, size_t len)
{
    if (q->len + len > QUEUE_MAX)
        return -1;
    if (q->len + len > q->cap) {
        size_t cap = q->cap ? q->cap : CHUNK;
        while (cap < q->len + len)
            cap *= 2;
        unsigned char *nb = realloc(q->buf, cap);
        if (!nb)
            return -1;
        q->buf = nb;
        q->cap = cap;
    }
    memcpy(q->buf + q->len, p, len);
    q->len += len;
    return 0;
}

static void queue_drop(struct queue *q, size_t n)
{
    memmove(q->buf, q->buf + n, q->len - n);
    q->len -= n;
}

static void pair_free_if_done(struct pair *p)
{
    if (p->t || p->b)
        return;
    if (p->prev)
        p->prev->next = p->next;
    else
        pairs = p->next;
    if (p->next)
        p->next->prev = p->prev;
    npairs--;
    free(p->to_client.buf);
    free(p->to_backend.buf);
    free(p);
}

static void mark_ending(struct pair *p)
{
    if (!p->ending) {
        p->end_by = lvm_net_now() + LINGER;
        due_at(p->end_by);
    }
    p->ending = 1;
}

static void drop(struct pair *p)
{
    mark_ending(p);
    if (p->t)
        lvm_tls_abort(p->t);
    if (p->b)
        lvm_tcp_abort(p->b);
}

/* Write what is queued toward the client, then (len) more bytes. */
static int to_client(struct pair *p, const void *buf, size_t len)
{
    struct queue *q = &p->to_client;
    while (q->len > 0) {
        size_t n = q->len < CHUNK ? q->len : CHUNK;
        if (lvm_tls_write(p->t, q->buf, n) < 0)
            break;
        queue_drop(q, n);
    }
    while (len > 0 && q->len == 0) {
        size_t n = len < CHUNK ? len : CHUNK;
        if (lvm_tls_write(p->t, buf, n) < 0)
            break;
        buf = (const unsigned char *)buf + n;
        len -= n;
    }
    if (len > 0 && queue_add(q, buf, len) < 0)
        return -1;
    if (p->b) /* pace the backend to the client */
        lvm_tcp_hold(p->b, q->len >= HOLD_AT);
    /* Close once the client has taken everything (t_drained() comes back
     * here): after lvm_tls_close() the stack alone holds what is unacked,
     * out of the idle timeout's reach, for as long as the client keeps its
     * window shut. */
    if (q->len == 0 && p->client_done && lvm_tls_sendq(p->t) == 0)
        lvm_tls_close(p->t);
    return 0;
}

static int to_backend(struct pair *p, const void *buf, size_t len)
{
    struct queue *q = &p->to_backend;
    while (q->len > 0) {
        size_t n = q->len < CHUNK ? q->len : CHUNK;
        if (lvm_tcp_write(p->b, q->buf, n) < 0)
            break;
        queue_drop(q, n);
    }
    while (len > 0 && q->len == 0) {
        size_t n = len < CHUNK ? len : CHUNK;
        if (lvm_tcp_write(p->b, buf, n) < 0)
            break;
        buf = (const unsigned char *)buf + n;
        len -= n;
    }
    if (len > 0 && queue_add(q, buf, len) < 0)
        return -1;
    if (p->t) /* pace the client to the backend */
        lvm_tcp_hold(lvm_tls_tcp(p->t), q->len >= HOLD_AT);
    if (q->len == 0 && p->backend_done && lvm_tcp_sendq(p->b) == 0)
        lvm_tcp_close(p->b); /* as in to_client() */
    return 0;
}

/* ---- The backend side ------------------------------------------------- */

static void b_data(struct lvm_tcp *c, const void *buf, size_t len, void *arg)
{
    struct pair *p = arg;
    p->client_at = p->backend_at = lvm_net_now();
    p->waiting = 0;
    if (p->t && to_client(p, buf, len) < 0)
        drop(p);
}

static void b_eof(struct lvm_tcp *c, void *arg)
{
    struct pair *p = arg;
    p->waiting = 0;
    /* The answer is complete: pass the end on once it is all out. */
    if (p->t) {
        p->client_done = 1;
        to_client(p, NULL, 0);
    }
    lvm_tcp_close(c);
}

static void b_drained(struct lvm_tcp *c, void *arg)
{
    struct pair *p = arg;
    p->backend_at = lvm_net_now();
    if (p->to_backend.len)
        p->client_at = p->backend_at; /* the client's bytes move on */
    if (to_backend(p, NULL, 0) < 0)
        drop(p);
}

static void b_closed(struct lvm_tcp *c, int err, void *arg)
{
    struct pair *p = arg;
    p->b = NULL;
    p->waiting = 0;
    if (p->t) {
        if (err < 0 && err != LVM_NET_ECONNABORTED)
            fprintf(stderr, "tls-proxy: backend: %s\n", lvm_net_strerror(err));
        p->client_done = 1;
        to_client(p, NULL, 0);
    }
    pair_free_if_done(p);
}

static const struct lvm_tcp_handlers backend = {
    .data = b_data,
    .eof = b_eof,
    .drained = b_drained,
    .closed = b_closed,
};

/* ---- The client side (TLS) --------------------------------------------- */

static unsigned pairs_from(lvm_ip4_t src)
{
    unsigned n = 0;
    for (struct pair *p = pairs; p; p = p->next)
        n += p->src == src;
    return n;
}

static uint64_t last_at(const struct pair *p)
{
    return p->client_at > p->backend_at ? p->client_at : p->backend_at;
}

/*
 * Make room for a new pair from (src) by resetting one (its slots are
 * free at once), so that a new client is served rather than refused.
 * Candidates: pairs not already ending and whose client is not waiting
 * for the backend (a request in progress, however long its backend
 * takes, is not idle). With (src) at its per-address limit, the one of
 * (src)'s idle longest; else, from the address holding the most pairs,
 * the one idle longest, so that one address fills the table only at its
 * own expense. Returns -1 if there is no candidate.
 */
static int evict(lvm_ip4_t src, int own)
{
    struct pair *old = NULL;
    unsigned old_n = 0;
    for (struct pair *p = pairs; p; p = p->next) {
        if (p->ending || p->waiting || (own && p->src != src))
            continue;
        unsigned n = own ? 0 : pairs_from(p->src);
        if (!old || n > old_n || (n == old_n && last_at(p) < last_at(old))) {
            old = p;
            old_n = n;
        }
    }
    if (!old)
        return -1;
    char ip[LVM_IP4_STRLEN];
    unsigned long long ms = (lvm_net_now() - last_at(old)) / MS;
    if (own)
        fprintf(stderr,
                "tls-proxy: %u connections from %s (the most per address): "
                "closing its one idle longest (%llu ms)\n",
                per_source, lvm_ip4_str(src, ip), ms);
    else
        fprintf(stderr,
                "tls-proxy: %u connections open (the most): closing the one "
                "idle longest of %s, which holds %u (%llu ms)\n",
                PAIRS_MAX, lvm_ip4_str(old->src, ip), old_n, ms);
    drop(old);
    return 0;
}

/* (src) is at its limit, or every pair is taken, and none of the pairs
 * that would make room may be reset: refuse the new one. */
static int make_room(lvm_ip4_t src)
{
    /* A reset pair's connections are free at once, although it counts
     * until its closed() runs: one reset makes room for one pair. */
    if (per_source && pairs_from(src) >= per_source)
        return evict(src, 1);
    if (npairs >= PAIRS_MAX)
        return evict(src, 0);
    return 0;
}

static void t_connected(struct lvm_tls *t, void *arg)
{
    lvm_ip4_t src;
    lvm_tcp_peer(lvm_tls_tcp(t), &src, NULL);
    if (make_room(src) < 0) {
        char ip[LVM_IP4_STRLEN];
        fprintf(stderr,
                "tls-proxy: no connection may be closed for a new one from %s "
                "(all wait for the backend): refusing it\n",
                lvm_ip4_str(src, ip));
        lvm_tls_abort(t);
        return;
    }
    struct pair *p = calloc(1, sizeof *p);
    if (!p) {
        lvm_tls_abort(t);
        return;
    }
    p->t = t;
    p->src = src;
    lvm_tcp_sndbuf(lvm_tls_tcp(t), CLIENT_SNDBUF);
    uint64_t now = lvm_net_now();
    p->client_at = p->backend_at = now;
    p->next = pairs;
    if (pairs)
        pairs->prev = p;
    pairs = p;
    npairs++;
    if (client_idle_ns)
        due_at(now + client_idle_ns);
    if (backend_idle_ns)
        due_at(now + backend_idle_ns);
    lvm_tls_set_arg(t, p);
    int rc = lvm_tcp_connect(backend_ip, backend_port, &backend, p, &p->b);
    if (rc < 0) {
        p->b = NULL;
        fprintf(stderr, "tls-proxy: backend: %s\n", lvm_net_strerror(rc));
        lvm_tls_close(t);
        return;
    }
    lvm_tcp_sndbuf(p->b, BACKEND_SNDBUF);
}

static void t_data(struct lvm_tls *t, const void *buf, size_t len, void *arg)
{
    struct pair *p = arg;
    if (!p)
        return;
    p->client_at = p->backend_at = lvm_net_now();
    p->waiting = 1;
    if (!p->b || to_backend(p, buf, len) < 0)
        drop(p);
}

static void t_eof(struct lvm_tls *t, void *arg)
{
    struct pair *p = arg;
    if (!p) {
        lvm_tls_close(t);
        return;
    }
    /* The client has sent everything: the backend gets its end of
     * stream once the queue is out; the answer still comes back. */
    if (p->b) {
        p->backend_done = 1;
        if (to_backend(p, NULL, 0) < 0)
            drop(p);
    } else {
        p->client_done = 1; /* close once the client has taken the rest */
        to_client(p, NULL, 0);
    }
}

static void t_drained(struct lvm_tls *t, void *arg)
{
    struct pair *p = arg;
    if (p) {
        p->client_at = lvm_net_now();
        if (p->to_client.len)
            p->backend_at = p->client_at; /* the backend's bytes move on */
    }
    if (p && to_client(p, NULL, 0) < 0)
        drop(p);
}

static void t_closed(struct lvm_tls *t, int err, void *arg)
{
    struct pair *p = arg;
    if (!p)
        return; /* the handshake never finished */
    p->t = NULL;
    if (p->b)
        lvm_tcp_abort(p->b);
    pair_free_if_done(p);
}

static const struct lvm_tls_handlers client = {
    .connected = t_connected,
    .data = t_data,
    .eof = t_eof,
    .drained = t_drained,
    .closed = t_closed,
};

/* ---- Idle timeouts ------------------------------------------------------ */

/* When (p) goes idle: the earlier of its sides' deadlines. A side is not
 * idle while the proxy holds its bytes for the other side (it is the
 * other side that is slow, or paced): it is looked at again a timeout
 * from (now); when the other side takes those bytes, its stamp is
 * renewed (b_drained(), t_drained()). */
static uint64_t pair_due(const struct pair *p, uint64_t now)
{
    uint64_t due = UINT64_MAX;
    if (client_idle_ns && p->t)
        due = (p->to_backend.len ? now : p->client_at) + client_idle_ns;
    if (backend_idle_ns && p->b) {
        uint64_t b = (p->to_client.len ? now : p->backend_at) + backend_idle_ns;
        due = b < due ? b : due;
    }
    return due;
}

/* End a pair that has gone idle: close_notify and FIN to a side that
 * has taken all it was sent, a reset to one that has not (its bytes would
 * sit in the stack's heap while it keeps its window shut). */
static void expire(struct pair *p)
{
    mark_ending(p);
    if (p->t) {
        if (p->to_client.len || lvm_tls_sendq(p->t))
            lvm_tls_abort(p->t);
        else
            lvm_tls_close(p->t);
    }
    if (p->b) {
        if (p->to_backend.len || lvm_tcp_sendq(p->b))
            lvm_tcp_abort(p->b);
        else
            lvm_tcp_close(p->b);
    }
}

/* End the pairs that have gone idle, and reset those ended LINGER ago
 * that are still there. Returns when the next one is due. */
static uint64_t expire_idle(uint64_t now)
{
    if (now < next_due)
        return next_due;
    uint64_t next = UINT64_MAX;
    for (struct pair *p = pairs; p; p = p->next) {
        if (p->ending) {
            if (p->end_by <= now)
                drop(p); /* closed() frees it in the next round */
            else
                next = p->end_by < next ? p->end_by : next;
            continue;
        }
        uint64_t due = pair_due(p, now);
        if (due > now) {
            next = due < next ? due : next;
            continue;
        }
        expire(p);
        next = p->end_by < next ? p->end_by : next;
    }
    next_due = next;
    return next;
}

/* ---- Start ------------------------------------------------------------- */

static int usage(void)
{
    fprintf(stderr, "usage: tls-proxy [-p PORT] [-c CERT] [-k KEY] [-H TIME] "
                    "[-i TIME] [-s TIME] [-P N] BACKEND_ADDR:PORT\n");
    return 2;
}

static int parse_port(const char *s, uint16_t *port)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *end || v == 0 || v > 65535 || s[0] == '-' || s[0] == '+')
        return -1;
    *port = (uint16_t)v;
    return 0;
}

/* TIME: N[ms|s|m|h] (seconds without a unit, as nginx reads them), 0 to
 * 24h, into ms. */
static int parse_time(const char *s, uint64_t *ms)
{
    static const struct {
        const char *unit;
        uint64_t ms;
    } units[] = {
        {"", 1000}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
    char *end;
    if (*s < '0' || *s > '9')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(end, units[i].unit) != 0)
            continue;
        if (v > LVM_TLS_TIMEOUT_MAX_MS / units[i].ms)
            return -1;
        *ms = v * units[i].ms;
        return 0;
    }
    return -1;
}

static int parse_backend(const char *s)
{
    char addr[LVM_IP4_STRLEN];
    const char *colon = strrchr(s, ':');
    if (!colon || (size_t)(colon - s) >= sizeof addr)
        return -1;
    memcpy(addr, s, (size_t)(colon - s));
    addr[colon - s] = 0;
    if (lvm_ip4_parse(addr, &backend_ip) < 0)
        return -1;
    return parse_port(colon + 1, &backend_port);
}

#ifdef TLS_PROXY_BLOCK
/* The PEM bundle on block device "certs": read whole (it is small), then
 * parsed up to its first NUL (the device is padded to whole blocks). */
static int load_block(struct lvm_tls_config **cfg, char *err)
{
    const struct lvm_device *d = lvm_device_find(LVM_DEV_BLOCK, "certs");
    if (!d) {
        snprintf(err, LVM_TLS_ERRLEN, "no block device \"certs\"");
        return -1;
    }
    uint64_t cap = d->u.block.capacity;
    if (cap == 0 || cap > (1u << 20)) {
        snprintf(err, LVM_TLS_ERRLEN,
                 "block device certs: %llu bytes (a PEM bundle of at most "
                 "1 MiB is expected)",
                 (unsigned long long)cap);
        return -1;
    }
    void *buf = malloc((size_t)cap);
    if (!buf || lvm_block_read(d, 0, buf, (size_t)cap) != (long)cap) {
        free(buf);
        snprintf(err, LVM_TLS_ERRLEN, "block device certs: cannot read it");
        return -1;
    }
    int rc = lvm_tls_config_load_pem(buf, (size_t)cap, "block device certs",
                                     cfg, err);
    free(buf);
    return rc < 0 ? -1 : 0;
}
#endif

int main(int argc, char **argv)
{
    uint16_t port = 443;
    const char *cert = "/etc/tls/cert.pem", *key = "/etc/tls/key.pem";
    uint64_t handshake_ms = LVM_TLS_HANDSHAKE_TIMEOUT_MS;
    uint64_t client_ms = client_idle_ns / MS, backend_ms = backend_idle_ns / MS;
    int opt;
    while ((opt = getopt(argc, argv, "p:c:k:H:i:s:P:")) != -1) {
        switch (opt) {
        case 'p':
            if (parse_port(optarg, &port) < 0) {
                fprintf(stderr, "tls-proxy: -p %s: not a port (1-65535)\n",
                        optarg);
                return 2;
            }
            break;
        case 'P': {
            char *end;
            unsigned long v = strtoul(optarg, &end, 10);
            if (optarg[0] < '0' || optarg[0] > '9' || *end || v > PAIRS_MAX) {
                fprintf(stderr,
                        "tls-proxy: -P %s: not a number of connections per "
                        "address (0-%u, 0 for no limit)\n",
                        optarg, PAIRS_MAX);
                return 2;
            }
            per_source = (unsigned)v;
            break;
        }
        case 'c': cert = optarg; break;
        case 'k': key = optarg; break;
        case 'H':
        case 'i':
        case 's':
            if (parse_time(optarg, opt == 'H'   ? &handshake_ms
                                   : opt == 'i' ? &client_ms
                                                : &backend_ms) < 0) {
                fprintf(stderr,
                        "tls-proxy: -%c %s: not a timeout (N[ms|s|m|h], "
                        "0 for none, at most 24h)\n",
                        opt, optarg);
                return 2;
            }
            break;
        default: return usage();
        }
    }
    if (optind != argc - 1)
        return usage();
    if (parse_backend(argv[optind]) < 0) {
        fprintf(stderr, "tls-proxy: %s: not a backend ADDR:PORT\n",
                argv[optind]);
        return 2;
    }

    char err[LVM_TLS_ERRLEN];
    struct lvm_tls_config *cfg;
#ifdef TLS_PROXY_BLOCK
    (void)cert;
    (void)key;
    if (load_block(&cfg, err) < 0) {
#else
    if (lvm_tls_config_load(cert, key, &cfg, err) < 0) {
#endif
        fprintf(stderr, "tls-proxy: %s\n", err);
        return 1;
    }
    lvm_tls_config_handshake_timeout(cfg, handshake_ms); /* checked above */
    client_idle_ns = client_ms * MS;
    backend_idle_ns = backend_ms * MS;
    int rc = lvm_net_up(NULL, 10000);
    if (rc == 0)
        rc = lvm_tls_listen(cfg, port, &client, NULL, NULL);
    if (rc < 0) {
        fprintf(stderr, "tls-proxy: port %u: %s\n", port, lvm_net_strerror(rc));
        return 1;
    }
    char ip[LVM_IP4_STRLEN];
    printf("tls-proxy: listening on port %u, backend %s:%u\n", port,
           lvm_ip4_str(backend_ip, ip), backend_port);
    fflush(stdout);
    /* lvm_net_run(), plus the timeouts: wake for the next one even if no
     * frame comes. */
    while (!lvm_poweroff_requested()) {
        uint64_t now = lvm_net_now();
        uint64_t hs = lvm_tls_expire(now), idle = expire_idle(now);
        lvm_net_poll(hs < idle ? hs : idle);
    }
    return 0;
}
