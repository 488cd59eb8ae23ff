/*
 * tls-proxy.c: TLS termination. Accepts TLS 1.2 and 1.3 on a port and
 * forwards the plaintext of each connection to a backend over TCP, and
 * the backend's answers back.
 *
 *     tls-proxy [-p PORT] [-c CERT] [-k KEY] BACKEND_ADDR:PORT
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
};

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
    free(p->to_client.buf);
    free(p->to_backend.buf);
    free(p);
}

static void drop(struct pair *p)
{
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
    if (q->len == 0 && p->client_done)
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
    if (q->len == 0 && p->backend_done)
        lvm_tcp_close(p->b);
    return 0;
}

/* ---- The backend side ------------------------------------------------- */

static void b_data(struct lvm_tcp *c, const void *buf, size_t len, void *arg)
{
    struct pair *p = arg;
    if (p->t && to_client(p, buf, len) < 0)
        drop(p);
}

static void b_eof(struct lvm_tcp *c, void *arg)
{
    struct pair *p = arg;
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
    if (to_backend(p, NULL, 0) < 0)
        drop(p);
}

static void b_closed(struct lvm_tcp *c, int err, void *arg)
{
    struct pair *p = arg;
    p->b = NULL;
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

static void t_connected(struct lvm_tls *t, void *arg)
{
    struct pair *p = calloc(1, sizeof *p);
    if (!p) {
        lvm_tls_abort(t);
        return;
    }
    p->t = t;
    lvm_tls_set_arg(t, p);
    int rc = lvm_tcp_connect(backend_ip, backend_port, &backend, p, &p->b);
    if (rc < 0) {
        p->b = NULL;
        fprintf(stderr, "tls-proxy: backend: %s\n", lvm_net_strerror(rc));
        lvm_tls_close(t);
    }
}

static void t_data(struct lvm_tls *t, const void *buf, size_t len, void *arg)
{
    struct pair *p = arg;
    if (!p)
        return;
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
        lvm_tls_close(t);
    }
}

static void t_drained(struct lvm_tls *t, void *arg)
{
    struct pair *p = arg;
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

/* ---- Start ------------------------------------------------------------- */

static int usage(void)
{
    fprintf(stderr, "usage: tls-proxy [-p PORT] [-c CERT] [-k KEY] "
                    "BACKEND_ADDR:PORT\n");
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
    int opt;
    while ((opt = getopt(argc, argv, "p:c:k:")) != -1) {
        switch (opt) {
        case 'p':
            if (parse_port(optarg, &port) < 0) {
                fprintf(stderr, "tls-proxy: -p %s: not a port (1-65535)\n",
                        optarg);
                return 2;
            }
            break;
        case 'c': cert = optarg; break;
        case 'k': key = optarg; break;
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
    lvm_net_run();
    return 0;
}
