/*
 * faas_load.c: an open-loop HTTP load generator for bench/faas.sh.
 *
 *   faas_load HOST PORT PATH BODY RATE SECONDS [MAXCONN]
 *
 * Sends POST PATH with BODY at RATE requests a second for SECONDS,
 * on schedule whether or not earlier answers came back (open loop: an
 * overloaded server cannot slow the offered load down, unlike a closed
 * loop such as wrk's). Each request goes on an idle keep-alive connection,
 * or a new one (at most MAXCONN, default 1024); with none free it is
 * counted as dropped. Latency runs from the scheduled send time to the
 * last byte of the answer, so queueing anywhere is counted. After the
 * last send it waits up to 30 s for answers still due.
 *
 * Prints one CSV line:
 *   rate,sent,ok,shed,errors,dropped,lost,goodput,p50_ms,p90_ms,p99_ms
 * ok: 200 answers; shed: 503; errors: other statuses; lost: no answer;
 * goodput: ok answers a second over the run (first send to last answer);
 * percentiles: of the ok answers.
 *
 * With FAAS_LOAD_SRC=ADDR in the environment its connections come from
 * ADDR (e.g. 127.0.0.2): a second client, for the gateway's per-client
 * limit (bench/fn_hard.sh).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn {
    int fd;
    int busy, connecting;
    double sched; /* the scheduled send time of its request */
    size_t sent;  /* bytes of the request written */
    char in[8192];
    size_t inlen;
    struct conn *next_idle;
};

static char req[4096];
static size_t reqlen;
static struct sockaddr_in addr, src; /* src: FAAS_LOAD_SRC, if set */
static struct conn *idle;
static int ep;
static unsigned nconns, maxconn = 1024;
static unsigned long sent, ok, shed, errors, dropped, outstanding;
static double *lat;
static size_t nlat, caplat;
static double last_done;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void conn_drop(struct conn *c)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    nconns--;
    free(c);
}

static void write_req(struct conn *c)
{
    while (c->sent < reqlen) {
        ssize_t w = send(c->fd, req + c->sent, reqlen - c->sent, MSG_NOSIGNAL);
        if (w < 0 && errno == EAGAIN) {
            struct epoll_event e = {.events = EPOLLIN | EPOLLOUT,
                                    .data.ptr = c};
            epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
            return;
        }
        if (w <= 0) {
            outstanding--;
            errors++; /* the connection broke under it */
            conn_drop(c);
            return;
        }
        c->sent += (size_t)w;
    }
    struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
}

static void start(double sched)
{
    while (idle && idle->fd < 0) { /* closed by the server while idle */
        struct conn *d = idle;
        idle = d->next_idle;
        free(d);
    }
    struct conn *c = idle;
    if (c) {
        idle = c->next_idle;
    } else {
        if (nconns >= maxconn) {
            dropped++;
            return;
        }
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            dropped++;
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (src.sin_family &&
            bind(fd, (struct sockaddr *)&src, sizeof src) < 0) {
            close(fd);
            dropped++;
            return;
        }
        c = calloc(1, sizeof *c);
        c->fd = fd;
        nconns++;
        struct epoll_event e = {.events = EPOLLOUT, .data.ptr = c};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
        if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0 &&
            errno != EINPROGRESS) {
            dropped++;
            conn_drop(c);
            return;
        }
        c->connecting = 1;
    }
    c->busy = 1;
    c->sched = sched;
    c->sent = 0;
    c->inlen = 0;
    sent++;
    outstanding++;
    if (!c->connecting)
        write_req(c);
}

/* A whole answer in c->in: its length, 0 if not yet. */
static size_t answer_len(struct conn *c, int *status, int *closes)
{
    c->in[c->inlen < sizeof c->in ? c->inlen : sizeof c->in - 1] = 0;
    char *end = strstr(c->in, "\r\n\r\n");
    if (!end)
        return 0;
    size_t head = (size_t)(end + 4 - c->in);
    *status = atoi(c->in + 9);
    char *cl = strcasestr(c->in, "\r\ncontent-length:");
    size_t body = cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0;
    *closes = strcasestr(c->in, "\r\nconnection: close") != NULL;
    return c->inlen >= head + body ? head + body : 0;
}

static void readable(struct conn *c)
{
    for (;;) {
        if (c->inlen >= sizeof c->in - 1)
            break;
        ssize_t r =
            recv(c->fd, c->in + c->inlen, sizeof c->in - 1 - c->inlen, 0);
        if (r < 0 && errno == EAGAIN)
            break;
        if (r <= 0) {
            if (!c->busy) { /* idle, so on the idle list: freed from there */
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
                c->fd = -1;
                nconns--;
                return;
            }
            outstanding--;
            errors++;
            conn_drop(c);
            return;
        }
        c->inlen += (size_t)r;
    }
    int status = 0, closes = 0;
    size_t n = answer_len(c, &status, &closes);
    if (!n)
        return;
    double t = now();
    outstanding--;
    last_done = t;
    if (status == 200) {
        ok++;
        if (nlat == caplat) {
            caplat = caplat ? caplat * 2 : 4096;
            double *nl = realloc(lat, caplat * sizeof *lat);
            if (!nl) {
                fprintf(stderr, "faas_load: out of memory\n");
                exit(1);
            }
            lat = nl;
        }
        lat[nlat++] = (t - c->sched) * 1e3;
    } else if (status == 503) {
        shed++;
    } else {
        errors++;
    }
    c->busy = 0;
    if (closes) {
        conn_drop(c);
        return;
    }
    c->next_idle = idle;
    idle = c;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double p)
{
    if (!nlat)
        return 0;
    size_t i = (size_t)(p * (double)(nlat - 1) + 0.5);
    return lat[i];
}

int main(int argc, char **argv)
{
    if (argc < 7) {
        fprintf(
            stderr,
            "usage: faas_load HOST PORT PATH BODY RATE SECONDS [MAXCONN]\n");
        return 2;
    }
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)atoi(argv[2]));
    if (inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) {
        fprintf(stderr, "faas_load: %s is not an IPv4 address\n", argv[1]);
        return 2;
    }
    const char *from = getenv("FAAS_LOAD_SRC");
    if (from && *from) {
        src.sin_family = AF_INET;
        if (inet_pton(AF_INET, from, &src.sin_addr) != 1) {
            fprintf(stderr,
                    "faas_load: FAAS_LOAD_SRC: %s is not an IPv4 "
                    "address\n",
                    from);
            return 2;
        }
    }
    double rate = atof(argv[5]), secs = atof(argv[6]);
    if (argc > 7)
        maxconn = (unsigned)atoi(argv[7]);
    if (!(rate > 0) || !(secs > 0)) {
        fprintf(stderr, "faas_load: RATE and SECONDS must be positive\n");
        return 2;
    }
    int n = snprintf(req, sizeof req,
                     "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %zu\r\n"
                     "\r\n%s",
                     argv[3], argv[1], strlen(argv[4]), argv[4]);
    if (n < 0 || (size_t)n >= sizeof req) {
        fprintf(stderr, "faas_load: request too long\n");
        return 2;
    }
    reqlen = (size_t)n;
    ep = epoll_create1(EPOLL_CLOEXEC);
    unsigned long total = (unsigned long)(rate * secs + 0.5);
    double t0 = now(), deadline = t0 + secs + 30;
    unsigned long i = 0;
    while ((i < total || outstanding) && now() < deadline) {
        double t = now();
        while (i < total && t0 + (double)i / rate <= t)
            start(t0 + (double)i++ / rate);
        double next = i < total ? t0 + (double)i / rate : deadline;
        int ms = (int)((next - now()) * 1e3);
        if (ms < 0)
            ms = 0;
        struct epoll_event ev[128];
        int k = epoll_wait(ep, ev, 128, ms);
        for (int j = 0; j < k; j++) {
            struct conn *c = ev[j].data.ptr;
            if (c->connecting && (ev[j].events & (EPOLLOUT | EPOLLERR))) {
                int err = 0;
                socklen_t el = sizeof err;
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
                if (err) {
                    outstanding--;
                    errors++;
                    conn_drop(c);
                    continue;
                }
                c->connecting = 0;
                write_req(c);
            } else if (ev[j].events & EPOLLOUT) {
                write_req(c);
            } else {
                readable(c);
            }
        }
    }
    qsort(lat, nlat, sizeof *lat, cmp);
    double span = last_done > t0 ? last_done - t0 : secs;
    if (span < secs)
        span = secs;
    printf("%.0f,%lu,%lu,%lu,%lu,%lu,%lu,%.1f,%.2f,%.2f,%.2f\n", rate, sent, ok,
           shed, errors, dropped, outstanding, (double)ok / span, pct(0.5),
           pct(0.9), pct(0.99));
    return 0;
}
