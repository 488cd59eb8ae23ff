/*
 * jitc.c: many TCP echo clients at once, for `lightvm serve`'s tests and
 * its benchmark (bench/jit.sh). Client i connects (from address SRC + i
 * with --src, so that each is a different client to serve), sends
 * "hello i\n", and must read that line back, after a "guest IP\n"
 * greeting with --greeting. Its round-trip time is from the start of its
 * connect to the last byte of the echo: the first answer.
 *
 *   jitc [OPTIONS] ADDR PORT COUNT
 *     --interval-us N   open loop: client i starts at i*N us (default 0:
 *                       all at once)
 *     --src A.B.C.D     client i binds to A.B.C.D + i
 *     --greeting        expect "guest IP\n" first; count distinct IPs
 *     --timeout-ms N    a client not done in N ms failed (default 10000)
 *     --out FILE        one line per client: "i rtt_us ok|error guest"
 *
 * Prints "N ok, N failed, N guests, median/p90/p99 X/Y/Z us" and exits 1
 * if any client failed. Nothing sleeps: one epoll loop with deadlines.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct client {
    int fd, done, ok;
    uint64_t t0, rtt;
    char want[32];
    size_t wlen, sent;
    char got[96];
    size_t glen;
    char guest[16];
    const char *why;
};

static uint64_t now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000ULL + (uint64_t)t.tv_nsec / 1000;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int greeting;

static void finish(struct client *c, int ok, const char *why)
{
    if (c->done)
        return;
    c->done = 1;
    c->ok = ok;
    c->why = why;
    c->rtt = now_us() - c->t0;
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

/* What has come so far is checked; complete: done. */
static void check(struct client *c)
{
    const char *echo = c->got;
    size_t elen = c->glen;
    if (greeting) {
        char *nl = memchr(c->got, '\n', c->glen);
        if (!nl)
            return;
        if (strncmp(c->got, "guest ", 6) || nl - c->got - 6 >= 16) {
            finish(c, 0, "bad greeting");
            return;
        }
        memcpy(c->guest, c->got + 6, (size_t)(nl - c->got - 6));
        c->guest[nl - c->got - 6] = 0;
        echo = nl + 1;
        elen = c->glen - (size_t)(nl + 1 - c->got);
    }
    if (elen > c->wlen || memcmp(echo, c->want, elen))
        finish(c, 0, "wrong echo");
    else if (elen == c->wlen)
        finish(c, 1, NULL);
}

static void start(struct client *c, int ep, const struct sockaddr_in *dst,
                  uint32_t src)
{
    c->t0 = now_us();
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        finish(c, 0, "socket");
        return;
    }
    if (src) {
        struct sockaddr_in a = {.sin_family = AF_INET};
        a.sin_addr.s_addr = src;
        if (bind(c->fd, (struct sockaddr *)&a, sizeof a) < 0) {
            finish(c, 0, "bind");
            return;
        }
    }
    if (connect(c->fd, (const struct sockaddr *)dst, sizeof *dst) < 0 &&
        errno != EINPROGRESS) {
        finish(c, 0, "connect");
        return;
    }
    struct epoll_event e = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &e);
}

static void on_event(struct client *c, int ep, uint32_t ev)
{
    if (c->sent < c->wlen && (ev & EPOLLOUT)) {
        ssize_t n =
            send(c->fd, c->want + c->sent, c->wlen - c->sent, MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN) {
            finish(c, 0, "refused or reset");
            return;
        }
        if (n > 0)
            c->sent += (size_t)n;
        if (c->sent == c->wlen) {
            struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
            epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
        }
    }
    if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        ssize_t n = recv(c->fd, c->got + c->glen, sizeof c->got - c->glen, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN)) {
            finish(c, 0, n == 0 ? "closed early" : "refused or reset");
            return;
        }
        if (n > 0) {
            c->glen += (size_t)n;
            check(c);
            if (!c->done && c->glen == sizeof c->got)
                finish(c, 0, "too much");
        }
    }
}

int main(int argc, char **argv)
{
    uint64_t interval = 0, timeout = 10000000;
    uint32_t src = 0;
    const char *out = NULL;
    int i = 1;
    for (; i < argc && !strncmp(argv[i], "--", 2); i++) {
        if (!strcmp(argv[i], "--greeting"))
            greeting = 1;
        else if (!strcmp(argv[i], "--interval-us") && i + 1 < argc)
            interval = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--timeout-ms") && i + 1 < argc)
            timeout = strtoull(argv[++i], NULL, 10) * 1000;
        else if (!strcmp(argv[i], "--out") && i + 1 < argc)
            out = argv[++i];
        else if (!strcmp(argv[i], "--src") && i + 1 < argc &&
                 inet_pton(AF_INET, argv[i + 1], &src) == 1)
            i++;
        else
            break;
    }
    struct sockaddr_in dst = {.sin_family = AF_INET};
    long port = i + 1 < argc ? strtol(argv[i + 1], NULL, 10) : 0;
    long n = i + 2 < argc ? strtol(argv[i + 2], NULL, 10) : 0;
    if (i + 3 != argc || inet_pton(AF_INET, argv[i], &dst.sin_addr) != 1 ||
        port < 1 || port > 65535 || n < 1 || n > 100000) {
        fprintf(stderr, "usage: jitc [--interval-us N] [--src A.B.C.D] "
                        "[--greeting] [--timeout-ms N] [--out FILE] ADDR "
                        "PORT COUNT\n");
        return 2;
    }
    dst.sin_port = htons((uint16_t)port);
    struct client *cs = calloc((size_t)n, sizeof *cs);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (!cs || ep < 0)
        return 2;
    for (long k = 0; k < n; k++) {
        cs[k].fd = -1;
        cs[k].wlen =
            (size_t)snprintf(cs[k].want, sizeof cs[k].want, "hello %ld\n", k);
    }
    uint64_t t0 = now_us();
    long started = 0, done = 0;
    while (done < n) {
        uint64_t now = now_us();
        while (started < n && now >= t0 + (uint64_t)started * interval) {
            uint32_t s = src ? htonl(ntohl(src) + (uint32_t)started) : 0;
            start(&cs[started++], ep, &dst, s);
        }
        now = now_us();
        for (long k = 0; k < started; k++) /* deadlines */
            if (!cs[k].done && now > cs[k].t0 + timeout)
                finish(&cs[k], 0, "timed out");
        done = 0;
        for (long k = 0; k < started; k++)
            done += cs[k].done;
        if (done == n)
            break;
        int wait = 50;
        if (started < n) {
            uint64_t next = t0 + (uint64_t)started * interval;
            wait = next > now ? (int)((next - now) / 1000) : 0;
        }
        struct epoll_event evs[64];
        int m = epoll_wait(ep, evs, 64, wait);
        for (int k = 0; k < m; k++)
            on_event(evs[k].data.ptr, ep, evs[k].events);
    }
    FILE *f = out ? fopen(out, "w") : NULL;
    uint64_t *rtt = calloc((size_t)n, sizeof *rtt);
    long ok = 0, guests = 0;
    for (long k = 0; k < n; k++) {
        if (f)
            fprintf(f, "%ld %llu %s %s\n", k, (unsigned long long)cs[k].rtt,
                    cs[k].ok ? "ok" : "error",
                    cs[k].guest[0] ? cs[k].guest : "-");
        if (!cs[k].ok) {
            fprintf(stderr, "jitc: client %ld: %s\n", k, cs[k].why);
            continue;
        }
        rtt[ok++] = cs[k].rtt;
        int seen = 0; /* distinct guests: quadratic, fine for a test */
        for (long j = 0; j < k && !seen && cs[k].guest[0]; j++)
            seen = cs[j].ok && !strcmp(cs[j].guest, cs[k].guest);
        guests += cs[k].guest[0] && !seen;
    }
    if (f)
        fclose(f);
    qsort(rtt, (size_t)ok, sizeof *rtt, cmp_u64);
    uint64_t med = ok ? rtt[ok / 2] : 0, p90 = ok ? rtt[ok * 9 / 10] : 0,
             p99 = ok ? rtt[ok * 99 / 100] : 0;
    printf("%ld ok, %ld failed, %ld guests, median/p90/p99 %llu/%llu/%llu "
           "us\n",
           ok, n - ok, guests, (unsigned long long)med, (unsigned long long)p90,
           (unsigned long long)p99);
    free(rtt);
    free(cs);
    close(ep);
    return ok == n ? 0 : 1;
}
