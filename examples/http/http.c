/*
 * http.c: a static HTTP/1.1 server on port 80 (or the first argument).
 * GET or HEAD of / returns a small page, anything else 404; connections
 * are kept alive (HTTP/1.1 default, or HTTP/1.0 with "Connection:
 * keep-alive"), pipelined requests are answered in order, and a
 * connection idle for IDLE_SECONDS is closed.
 *
 *     lightvm run --net build/examples/http/http.elf
 *     curl http://<guest ip>/
 *
 * It also shows the explicit event loop: lvm_net_poll() with a deadline,
 * for work of the application's own (here, closing idle connections).
 */
#define _DEFAULT_SOURCE /* gmtime_r, strncasecmp */
#include <lightvm/guest.h>
#include <lightvm/net.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

LVM_MANIFEST(LVM_NET("net0"));

#define REQ_MAX 8192 /* request line and headers */
#define IDLE_SECONDS 30
#define NS 1000000000ull

static const char page[] =
    "<!DOCTYPE html>\n<html><head><title>lightvm</title></head>\n"
    "<body><h1>Hello from a lightvm guest</h1>\n"
    "<p>Served by a unikernel over lwIP.</p></body></html>\n";

struct conn {
    struct lvm_tcp *c;
    struct conn *prev, *next;
    uint64_t last_ns;
    size_t len;    /* bytes in req */
    uint64_t skip; /* request body bytes still to discard */
    int closing;
    char req[REQ_MAX];
};

static struct conn *conns;

static void respond(struct conn *k, int status, const char *reason, int head,
                    int keep)
{
    const char *body = status == 200 ? page : "not found\n";
    size_t blen = status == 200 ? sizeof page - 1 : 10;
    if (status >= 400 && status != 404)
        body = reason, blen = strlen(reason);
    char date[40], hdr[320];
    time_t now = (time_t)(lvm_clock_wall() / NS);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    int n = snprintf(hdr, sizeof hdr,
                     "HTTP/1.1 %d %s\r\nServer: lightvm\r\nDate: %s\r\n"
                     "Content-Type: %s\r\nContent-Length: %zu\r\n"
                     "Connection: %s\r\n\r\n",
                     status, reason, date,
                     status == 200 ? "text/html" : "text/plain", blen,
                     keep ? "keep-alive" : "close");
    if (lvm_tcp_write(k->c, hdr, (size_t)n) < 0 ||
        (!head && lvm_tcp_write(k->c, body, blen) < 0) || !keep) {
        k->closing = 1;
        lvm_tcp_close(k->c);
    }
}

/* The value of header (name) in the header block [h, end), or NULL. */
static const char *header(const char *h, const char *end, const char *name,
                          size_t *vlen)
{
    size_t nlen = strlen(name);
    while (h < end) {
        const char *eol = memchr(h, '\n', (size_t)(end - h));
        if (!eol)
            eol = end;
        if ((size_t)(eol - h) > nlen && h[nlen] == ':' &&
            strncasecmp(h, name, nlen) == 0) {
            const char *v = h + nlen + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            const char *ve = eol;
            while (ve > v && isspace((unsigned char)ve[-1]))
                ve--;
            *vlen = (size_t)(ve - v);
            return v;
        }
        h = eol + 1;
    }
    return NULL;
}

/* Whether the comma-separated value [v, v+len) holds token (t). */
static int has_token(const char *v, size_t len, const char *t)
{
    size_t tl = strlen(t);
    for (size_t i = 0; i + tl <= len; i++)
        if (strncasecmp(v + i, t, tl) == 0 &&
            (i == 0 || !isalnum((unsigned char)v[i - 1])) &&
            (i + tl == len || !isalnum((unsigned char)v[i + tl])))
            return 1;
    return 0;
}

/* Answer one complete request of (hlen) bytes at the start of k->req;
 * returns 0, or -1 once the connection is closing. */
static int handle(struct conn *k, size_t hlen)
{
    char *req = k->req, *end = req + hlen;
    char *eol = memchr(req, '\n', hlen);
    char method[8], path[256], version[16];
    char line[300];
    size_t llen = (size_t)(eol - req);
    if (llen >= sizeof line) {
        respond(k, 414, "URI Too Long", 0, 0);
        return -1;
    }
    memcpy(line, req, llen);
    line[llen] = 0;
    if (sscanf(line, "%7s %255s %15s", method, path, version) != 3 ||
        strncmp(version, "HTTP/1.", 7) != 0) {
        respond(k, 400, "Bad Request", 0, 0);
        return -1;
    }
    size_t vlen;
    const char *conn = header(eol + 1, end, "Connection", &vlen);
    int keep = strcmp(version, "HTTP/1.0") == 0
                   ? conn && has_token(conn, vlen, "keep-alive")
                   : !(conn && has_token(conn, vlen, "close"));
    const char *cl = header(eol + 1, end, "Content-Length", &vlen);
    if (cl) {
        char num[24];
        char *e;
        if (vlen == 0 || vlen >= sizeof num) {
            respond(k, 400, "Bad Request", 0, 0);
            return -1;
        }
        memcpy(num, cl, vlen);
        num[vlen] = 0;
        unsigned long long n = strtoull(num, &e, 10);
        if (*e || num[0] == '-') {
            respond(k, 400, "Bad Request", 0, 0);
            return -1;
        }
        k->skip = n;
    }
    if (header(eol + 1, end, "Transfer-Encoding", &vlen)) {
        respond(k, 501, "Not Implemented", 0, 0); /* no chunked bodies */
        return -1;
    }
    int head = strcmp(method, "HEAD") == 0;
    if (!head && strcmp(method, "GET") != 0) {
        respond(k, 405, "Method Not Allowed", 0, 0);
        return -1;
    }
    int found = strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0;
    respond(k, found ? 200 : 404, found ? "OK" : "Not Found", head, keep);
    return k->closing ? -1 : 0;
}

static void on_data(struct lvm_tcp *c, const void *buf, size_t len, void *arg)
{
    struct conn *k = arg;
    const char *p = buf;
    k->last_ns = lvm_clock_monotonic();
    while (len > 0 && !k->closing) {
        if (k->skip) { /* a request body we do not use */
            size_t n = len < k->skip ? len : (size_t)k->skip;
            k->skip -= n, p += n, len -= n;
            continue;
        }
        size_t n = REQ_MAX - k->len;
        if (n > len)
            n = len;
        memcpy(k->req + k->len, p, n);
        k->len += n, p += n, len -= n;
        /* Answer every complete request now in the buffer. */
        for (;;) {
            char *end = NULL;
            for (size_t i = 3; i < k->len && !end; i++)
                if (memcmp(k->req + i - 3, "\r\n\r\n", 4) == 0)
                    end = k->req + i + 1;
            if (!end) {
                if (k->len == REQ_MAX) {
                    respond(k, 431, "Request Header Fields Too Large", 0, 0);
                    return;
                }
                break;
            }
            size_t hlen = (size_t)(end - k->req);
            if (handle(k, hlen) < 0)
                return;
            memmove(k->req, end, k->len - hlen);
            k->len -= hlen;
            /* A body that arrived with the headers is skipped here. */
            size_t n2 = k->len < k->skip ? k->len : (size_t)k->skip;
            memmove(k->req, k->req + n2, k->len - n2);
            k->len -= n2, k->skip -= n2;
        }
    }
    (void)c;
}

static void on_connected(struct lvm_tcp *c, void *arg)
{
    (void)arg;
    struct conn *k = malloc(sizeof *k);
    if (!k) {
        lvm_tcp_abort(c);
        return;
    }
    k->c = c;
    k->len = 0;
    k->skip = 0;
    k->closing = 0;
    k->last_ns = lvm_clock_monotonic();
    k->prev = NULL;
    k->next = conns;
    if (conns)
        conns->prev = k;
    conns = k;
    lvm_tcp_set_arg(c, k);
}

static void on_closed(struct lvm_tcp *c, int err, void *arg)
{
    (void)c, (void)err;
    struct conn *k = arg;
    if (!k)
        return; /* aborted before it was set up */
    if (k->prev)
        k->prev->next = k->next;
    else
        conns = k->next;
    if (k->next)
        k->next->prev = k->prev;
    free(k);
}

static const struct lvm_tcp_handlers http = {
    .connected = on_connected,
    .data = on_data,
    .closed = on_closed,
};

int main(int argc, char **argv)
{
    long port = argc > 1 ? strtol(argv[1], NULL, 10) : 80;
    if (port < 1 || port > 65535) {
        fprintf(stderr, "http: bad port %s\n", argv[1]);
        return 2;
    }
    int r = lvm_net_up(NULL, 10000);
    if (r == 0)
        r = lvm_tcp_listen((uint16_t)port, &http, NULL, NULL);
    if (r < 0) {
        fprintf(stderr, "http: %s\n", lvm_net_strerror(r));
        return 1;
    }
    uint64_t next_sweep = lvm_clock_monotonic() + IDLE_SECONDS * NS;
    while (!lvm_poweroff_requested()) {
        lvm_net_poll(conns ? next_sweep : LVM_FOREVER);
        uint64_t now = lvm_clock_monotonic();
        if (now < next_sweep)
            continue;
        for (struct conn *k = conns; k; k = k->next)
            if (!k->closing && now - k->last_ns > IDLE_SECONDS * NS) {
                k->closing = 1;
                lvm_tcp_close(k->c);
            }
        next_sweep = now + IDLE_SECONDS * NS;
    }
    return 0;
}
