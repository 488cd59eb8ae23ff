/*
 * netc.c: the host side of the network tests: clients that check what
 * the example guests answer, small servers for guests that are clients,
 * and a raw frame injector. Every wait has a deadline; nothing sleeps to
 * synchronise.
 *
 *   netc wait-ip FILE [MS [PID]]       wait for lightvm's "ip A.B.C.D" line
 *                                      in FILE (while PID runs); print
 *                                      "IP MAC TAP"
 *   netc daytime IP [MS]               RFC 867 answer, checked against
 *                                      the clock
 *   netc echo-tcp IP PORT BYTES        echo of BYTES random bytes
 *   netc echo-udp IP PORT COUNT        COUNT datagrams of 1..1472 bytes
 *   netc http IP PORT                  200, keep-alive, pipelining, 404,
 *                                      HEAD, Connection: close
 *   netc serve PORT COUNT              TCP server: answers COUNT
 *                                      connections with "re:" + what came,
 *                                      prints each peer's address
 *   netc udp-listen PORT TEXT MS       print each datagram's text until
 *                                      one equal to TEXT arrives
 *   netc wait-text FILE TEXT MS [PID]  wait for a line holding TEXT
 *   netc wait-pid PID MS               wait until process PID exits
 *   netc inject IFACE MODE COUNT [DSTMAC DSTIP]
 *                                      raw frames into IFACE: garbage,
 *                                      truncated, oversized, storm, ipbad
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("netc: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

/* Test data: xorshift64, seeded once from the kernel. */
static uint64_t prng_state;
static void fill(void *buf, size_t len)
{
    if (!prng_state &&
        (getrandom(&prng_state, sizeof prng_state, 0) != sizeof prng_state ||
         !prng_state))
        prng_state = 0x9e3779b97f4a7c15ull ^ (uint64_t)now_ms();
    uint8_t *b = buf;
    for (size_t i = 0; i < len; i++) {
        prng_state ^= prng_state << 13;
        prng_state ^= prng_state >> 7;
        prng_state ^= prng_state << 17;
        b[i] = (uint8_t)prng_state;
    }
}

static int parse_ip(const char *s, struct in_addr *a)
{
    return inet_pton(AF_INET, s, a) == 1 ? 0 : -1;
}

/* Wait until (fd) is readable or writable (events) before (deadline). */
static int wait_fd(int fd, short events, uint64_t deadline)
{
    for (;;) {
        uint64_t t = now_ms();
        if (t >= deadline)
            return -1;
        struct pollfd p = {fd, events, 0};
        int r = poll(&p, 1, (int)(deadline - t));
        if (r > 0)
            return 0;
        if (r < 0 && errno != EINTR)
            return -1;
    }
}

/*
 * Connect to (ip):(port), retrying a refused or unreachable connection
 * until (deadline): a guest may still be starting. Returns the socket.
 */
static int connect_retry(struct in_addr ip, int port, uint64_t deadline)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr = ip};
    for (int attempt = 0;; attempt++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -1;
        int r = connect(fd, (struct sockaddr *)&sa, sizeof sa);
        if (r < 0 && errno == EINPROGRESS) {
            if (wait_fd(fd, POLLOUT, deadline) == 0) {
                int e = 0;
                socklen_t l = sizeof e;
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l);
                r = e ? -1 : 0;
                errno = e;
            } else {
                errno = ETIMEDOUT;
            }
        }
        if (r == 0) {
            fcntl(fd, F_SETFL, 0); /* blocking from here on */
            return fd;
        }
        int e = errno;
        close(fd);
        if (now_ms() >= deadline) {
            errno = e;
            return -1;
        }
        /* Refused or unreachable: the guest is not listening yet. Back
         * off a little (bounded by the deadline) before the next try. */
        struct pollfd none;
        poll(&none, 0, attempt < 10 ? 1 : 10);
    }
}

/* Read until EOF or (max) bytes or (deadline); returns the length. */
static ssize_t read_all(int fd, char *buf, size_t max, uint64_t deadline)
{
    size_t got = 0;
    while (got < max) {
        if (wait_fd(fd, POLLIN, deadline) < 0)
            return -1;
        ssize_t n = read(fd, buf + got, max - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

/* ---- wait-ip ------------------------------------------------------------- */

/* The "IP MAC TAP" of lightvm's start-up line in (path), if there. */
static int find_ip(const char *path, const char *unused, char *out, size_t len)
{
    (void)unused;
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[512];
    int found = -1;
    while (found < 0 && fgets(line, sizeof line, f)) {
        char ip[32] = "", mac[32] = "", tap[32] = "";
        const char *p = strstr(line, ": ip ");
        const char *m = strstr(line, " mac ");
        const char *t = strstr(line, " tap ");
        if (!p || !m || !t)
            continue;
        sscanf(p + 5, "%31[0-9.]", ip);
        sscanf(m + 5, "%31s", mac);
        sscanf(t + 5, "%31s", tap);
        snprintf(out, len, "%s %s %s", ip, mac, tap);
        found = 0;
    }
    fclose(f);
    return found;
}

/* The first line of (path) holding (text), if there. */
static int find_text(const char *path, const char *text, char *out, size_t len)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[512];
    int found = -1;
    while (found < 0 && fgets(line, sizeof line, f))
        if (strstr(line, text)) {
            line[strcspn(line, "\n")] = 0;
            snprintf(out, len, "%s", line);
            found = 0;
        }
    fclose(f);
    return found;
}

/* Wait (inotify, no polling) until (find) succeeds on (file), the
 * deadline passes or process (pid) (if > 0) exits. */
static int wait_file(const char *file, const char *text, uint64_t ms, int pid,
                     int (*find)(const char *, const char *, char *, size_t))
{
    uint64_t deadline = now_ms() + ms;
    int pfd = pid > 0 ? (int)syscall(SYS_pidfd_open, pid, 0) : -1;
    int in = inotify_init1(IN_CLOEXEC);
    /* Watch the directory: the file may not exist yet. */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", file);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    else
        snprintf(dir, sizeof dir, ".");
    if (in < 0 || inotify_add_watch(in, dir, IN_MODIFY | IN_CREATE) < 0)
        return fail("inotify: %s", strerror(errno));
    char out[512];
    for (;;) {
        if (find(file, text, out, sizeof out) == 0) {
            printf("%s\n", out);
            return 0;
        }
        uint64_t t = now_ms();
        struct pollfd p[2] = {{in, POLLIN, 0}, {pfd, POLLIN, 0}};
        if (t >= deadline ||
            poll(p, pfd >= 0 ? 2 : 1, (int)(deadline - t)) <= 0)
            return fail("nothing in %s after %llu ms", file,
                        (unsigned long long)ms);
        if (p[1].revents && find(file, text, out, sizeof out) < 0)
            return fail("process %d exited; nothing in %s", pid, file);
        char ev[4096];
        if (p[0].revents && read(in, ev, sizeof ev) < 0 && errno != EINTR)
            return fail("inotify read: %s", strerror(errno));
    }
}

static int cmd_wait_ip(int argc, char **argv)
{
    if (argc < 1)
        return fail("wait-ip FILE [MS [PID]]");
    return wait_file(argv[0], NULL, argc > 1 ? strtoull(argv[1], 0, 10) : 10000,
                     argc > 2 ? atoi(argv[2]) : 0, find_ip);
}

static int cmd_wait_text(int argc, char **argv)
{
    if (argc < 3)
        return fail("wait-text FILE TEXT MS [PID]");
    return wait_file(argv[0], argv[1], strtoull(argv[2], 0, 10),
                     argc > 3 ? atoi(argv[3]) : 0, find_text);
}

/* ---- wait-pid --------------------------------------------------------- */

static int cmd_wait_pid(int argc, char **argv)
{
    if (argc < 2)
        return fail("wait-pid PID MS");
    int pfd = (int)syscall(SYS_pidfd_open, atoi(argv[0]), 0);
    if (pfd < 0)
        return errno == ESRCH ? 0 : fail("pidfd_open: %s", strerror(errno));
    int r = wait_fd(pfd, POLLIN, now_ms() + strtoull(argv[1], 0, 10));
    close(pfd);
    return r == 0 ? 0 : fail("process %s still running", argv[0]);
}

/* ---- daytime ------------------------------------------------------------- */

static int cmd_daytime(int argc, char **argv)
{
    struct in_addr ip;
    if (argc < 1 || parse_ip(argv[0], &ip) < 0)
        return fail("daytime IP [MS]");
    uint64_t deadline =
        now_ms() + (argc > 1 ? strtoull(argv[1], 0, 10) : 10000);
    int fd = connect_retry(ip, 13, deadline);
    if (fd < 0)
        return fail("connect %s:13: %s", argv[0], strerror(errno));
    char buf[256];
    ssize_t n = read_all(fd, buf, sizeof buf - 1, deadline);
    close(fd);
    if (n <= 0)
        return fail("no answer from %s:13", argv[0]);
    buf[n] = 0;
    /* "Weekday, Month Day, Year HH:MM:SS-UTC" CRLF, within a few seconds. */
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    char *end = strptime(buf, "%A, %B %d, %Y %H:%M:%S-UTC", &tm);
    if (!end || strcmp(end, "\r\n") != 0)
        return fail("not a daytime line: '%s'", buf);
    time_t t = timegm(&tm), now = time(NULL);
    if (t < now - 5 || t > now + 5)
        return fail("daytime %s is %ld s off the host's clock", buf,
                    (long)(t - now));
    fputs(buf, stdout);
    return 0;
}

/* ---- echo ---------------------------------------------------------------- */

static int cmd_echo_tcp(int argc, char **argv)
{
    struct in_addr ip;
    if (argc < 3 || parse_ip(argv[0], &ip) < 0)
        return fail("echo-tcp IP PORT BYTES");
    size_t len = strtoul(argv[2], 0, 10);
    uint64_t deadline = now_ms() + 20000;
    int fd = connect_retry(ip, atoi(argv[1]), deadline);
    if (fd < 0)
        return fail("connect: %s", strerror(errno));
    char *out = malloc(len + 1), *in = malloc(len + 1);
    if (!out || !in)
        return fail("no memory");
    fill(out, len);
    /* Write and read at once: the echo may fill both directions. */
    size_t sent = 0, got = 0;
    while (got < len) {
        uint64_t t = now_ms();
        if (t >= deadline)
            return fail("echo timed out: %zu of %zu bytes back", got, len);
        struct pollfd p = {fd, POLLIN | (sent < len ? POLLOUT : 0), 0};
        if (poll(&p, 1, (int)(deadline - t)) <= 0)
            continue;
        if ((p.revents & POLLOUT) && sent < len) {
            size_t chunk = len - sent < 3000 ? len - sent : 3000;
            ssize_t n = send(fd, out + sent, chunk, MSG_DONTWAIT);
            if (n > 0)
                sent += (size_t)n;
        }
        if (p.revents & (POLLIN | POLLHUP)) {
            ssize_t n = recv(fd, in + got, len - got, MSG_DONTWAIT);
            if (n == 0)
                return fail("connection closed after %zu bytes", got);
            if (n > 0)
                got += (size_t)n;
        }
    }
    close(fd);
    int same = memcmp(in, out, len) == 0;
    free(in);
    free(out);
    if (!same)
        return fail("echoed bytes differ");
    printf("tcp echo: %zu bytes\n", len);
    return 0;
}

static int cmd_echo_udp(int argc, char **argv)
{
    struct in_addr ip;
    if (argc < 3 || parse_ip(argv[0], &ip) < 0)
        return fail("echo-udp IP PORT COUNT");
    int count = atoi(argv[2]);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)atoi(argv[1])),
                             .sin_addr = ip};
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
        return fail("udp socket: %s", strerror(errno));
    static const size_t sizes[] = {1, 2, 100, 512, 1000, 1471, 1472};
    char out[1472], in[2048];
    for (int i = 0; i < count; i++) {
        size_t len = sizes[i % 7];
        fill(out, len);
        /* UDP may lose a datagram (the first waits for ARP): resend. */
        int ok = 0;
        for (int attempt = 0; attempt < 20 && !ok; attempt++) {
            if (send(fd, out, len, 0) != (ssize_t)len)
                return fail("send: %s", strerror(errno));
            uint64_t deadline = now_ms() + 200;
            while (!ok && wait_fd(fd, POLLIN, deadline) == 0) {
                ssize_t n = recv(fd, in, sizeof in, 0);
                if (n < 0 && errno == ECONNREFUSED)
                    break; /* not bound yet */
                ok = n == (ssize_t)len && memcmp(in, out, len) == 0;
            }
        }
        if (!ok)
            return fail("datagram %d (%zu bytes) not echoed", i, len);
    }
    printf("udp echo: %d datagrams\n", count);
    return 0;
}

/* ---- http ---------------------------------------------------------------- */

/* Read one response: status, the body's length, keep-alive; the body is
 * read and its start returned in (body). */
static int http_response(int fd, char *body, size_t bodymax, int *status,
                         int *keep, int head, uint64_t deadline)
{
    char hdr[4096];
    size_t n = 0;
    while (n < sizeof hdr - 1) { /* byte by byte: no over-read */
        if (wait_fd(fd, POLLIN, deadline) < 0 || read(fd, hdr + n, 1) != 1)
            return -1;
        n++;
        if (n >= 4 && memcmp(hdr + n - 4, "\r\n\r\n", 4) == 0)
            break;
    }
    hdr[n] = 0;
    if (sscanf(hdr, "HTTP/1.1 %d", status) != 1)
        return -1;
    const char *cl = strcasestr(hdr, "\r\nContent-Length:");
    const char *conn = strcasestr(hdr, "\r\nConnection:");
    if (!cl || !conn)
        return -1;
    *keep = strncasecmp(conn + 14, "keep-alive", 10) == 0 ||
            strncasecmp(conn + 15, "keep-alive", 10) == 0;
    size_t blen = strtoul(cl + 17, NULL, 10);
    if (head)
        blen = 0;
    if (blen >= bodymax)
        return -1;
    if (blen && read_all(fd, body, blen, deadline) != (ssize_t)blen)
        return -1;
    body[blen] = 0;
    return (int)blen;
}

static int cmd_http(int argc, char **argv)
{
    struct in_addr ip;
    if (argc < 2 || parse_ip(argv[0], &ip) < 0)
        return fail("http IP PORT");
    uint64_t deadline = now_ms() + 20000;
    int fd = connect_retry(ip, atoi(argv[1]), deadline);
    if (fd < 0)
        return fail("connect: %s", strerror(errno));
    char body[4096];
    int status, keep;
    const char get[] = "GET / HTTP/1.1\r\nHost: guest\r\n\r\n";
    /* Two requests on one connection: keep-alive. */
    for (int i = 0; i < 2; i++) {
        if (write(fd, get, sizeof get - 1) != sizeof get - 1 ||
            http_response(fd, body, sizeof body, &status, &keep, 0, deadline) <
                0)
            return fail("request %d: no valid response", i + 1);
        if (status != 200 || !keep || !strstr(body, "Hello from a lightvm"))
            return fail("request %d: status %d keep %d body '%.40s'", i + 1,
                        status, keep, body);
    }
    /* Pipelined: 404, HEAD, and a GET, in one write. */
    const char pipe3[] = "GET /nope HTTP/1.1\r\nHost: g\r\n\r\n"
                         "HEAD / HTTP/1.1\r\nHost: g\r\n\r\n"
                         "GET /index.html HTTP/1.1\r\nHost: g\r\n\r\n";
    if (write(fd, pipe3, sizeof pipe3 - 1) != sizeof pipe3 - 1)
        return fail("write pipelined requests");
    int want[3] = {404, 200, 200};
    for (int i = 0; i < 3; i++) {
        int blen = http_response(fd, body, sizeof body, &status, &keep, i == 1,
                                 deadline);
        if (blen < 0 || status != want[i] || !keep || (i == 1 && blen != 0))
            return fail("pipelined response %d: status %d (want %d)", i + 1,
                        status, want[i]);
    }
    /* Connection: close ends the connection after the response. */
    const char bye[] = "GET / HTTP/1.1\r\nHost: g\r\nConnection: close\r\n\r\n";
    if (write(fd, bye, sizeof bye - 1) != sizeof bye - 1 ||
        http_response(fd, body, sizeof body, &status, &keep, 0, deadline) < 0 ||
        status != 200 || keep)
        return fail("Connection: close: status %d keep %d", status, keep);
    char c;
    if (wait_fd(fd, POLLIN, deadline) < 0 || read(fd, &c, 1) != 0)
        return fail("the server kept the connection after Connection: close");
    close(fd);
    printf("http: keep-alive, pipelining, 404, HEAD, close all right\n");
    return 0;
}

/* ---- servers for client guests ------------------------------------------- */

static int cmd_serve(int argc, char **argv)
{
    if (argc < 2)
        return fail("serve PORT COUNT");
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)atoi(argv[0]))};
    if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 64) < 0)
        return fail("listen: %s", strerror(errno));
    printf("listening\n");
    fflush(stdout);
    for (int i = 0; i < atoi(argv[1]); i++) {
        struct sockaddr_in peer;
        socklen_t pl = sizeof peer;
        uint64_t deadline = now_ms() + 30000;
        if (wait_fd(lfd, POLLIN, deadline) < 0)
            return fail("no connection within 30 s");
        int fd = accept(lfd, (struct sockaddr *)&peer, &pl);
        if (fd < 0)
            return fail("accept: %s", strerror(errno));
        char buf[512] = "re:";
        ssize_t n = 0;
        if (wait_fd(fd, POLLIN, deadline) == 0)
            n = read(fd, buf + 3, sizeof buf - 4);
        if (n > 0 && write(fd, buf, (size_t)n + 3) != n + 3)
            fprintf(stderr, "netc: short write to %s\n",
                    inet_ntoa(peer.sin_addr));
        printf("peer %s\n", inet_ntoa(peer.sin_addr));
        fflush(stdout);
        close(fd);
    }
    return 0;
}

static int cmd_udp_listen(int argc, char **argv)
{
    if (argc < 3)
        return fail("udp-listen PORT TEXT MS");
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)atoi(argv[0]))};
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
        return fail("bind: %s", strerror(errno));
    printf("listening\n");
    fflush(stdout);
    uint64_t deadline = now_ms() + strtoull(argv[2], 0, 10);
    while (wait_fd(fd, POLLIN, deadline) == 0) {
        char buf[1500];
        struct sockaddr_in from;
        socklen_t fl = sizeof from;
        ssize_t n =
            recvfrom(fd, buf, sizeof buf - 1, 0, (struct sockaddr *)&from, &fl);
        if (n < 0)
            continue;
        buf[n] = 0;
        printf("%s from %s\n", buf, inet_ntoa(from.sin_addr));
        fflush(stdout);
        if (strcmp(buf, argv[1]) == 0)
            return 0;
    }
    return fail("'%s' did not arrive", argv[1]);
}

/* ---- inject -------------------------------------------------------------- */

static uint16_t csum(const void *p, size_t len)
{
    const uint8_t *b = p;
    uint32_t s = 0;
    for (size_t i = 0; i + 1 < len; i += 2)
        s += (uint32_t)(b[i] << 8 | b[i + 1]);
    if (len & 1)
        s += (uint32_t)b[len - 1] << 8;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return htons((uint16_t)~s);
}

static uint32_t rnd(void)
{
    uint32_t r;
    fill(&r, sizeof r);
    return r;
}

/* An IPv4 header to (dst) with random, mostly valid fields. */
static size_t ipbad(uint8_t *f, size_t max, const uint8_t dmac[6], uint32_t dst)
{
    memcpy(f, dmac, 6);
    memcpy(f + 6, "\x02\x00\x00\x00\x00\x01", 6);
    f[12] = 0x08, f[13] = 0x00;
    uint8_t *ip = f + 14;
    size_t plen = 20 + rnd() % 200;
    if (14 + plen > max)
        plen = max - 14;
    for (size_t i = 0; i < plen; i++)
        ip[i] = (uint8_t)rnd();
    ip[0] = (uint8_t)(0x40 | (5 + rnd() % 11)); /* IHL 5..15 */
    uint16_t tot = (uint16_t)(rnd() % 3 ? plen : rnd());
    ip[2] = (uint8_t)(tot >> 8), ip[3] = (uint8_t)tot;
    static const uint8_t protos[] = {1, 6, 17, 6, 17};
    ip[9] = protos[rnd() % 5];
    memcpy(ip + 12, "\x0a\xd5\x00\x01", 4); /* from the bridge's address */
    memcpy(ip + 16, &dst, 4);
    ip[6] = rnd() % 4 ? 0 : ip[6]; /* mostly not fragments */
    ip[10] = ip[11] = 0;
    uint16_t c = csum(ip, 20);
    memcpy(ip + 10, &c, 2);
    return 14 + plen;
}

static int cmd_inject(int argc, char **argv)
{
    if (argc < 3)
        return fail("inject IFACE MODE COUNT [DSTMAC DSTIP]");
    const char *mode = argv[1];
    long count = atol(argv[2]);
    uint8_t dmac[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    struct in_addr dip = {0};
    if (argc >= 5 &&
        (sscanf(argv[3], "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &dmac[0], &dmac[1],
                &dmac[2], &dmac[3], &dmac[4], &dmac[5]) != 6 ||
         parse_ip(argv[4], &dip) < 0))
        return fail("bad DSTMAC or DSTIP");
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    int ifindex = (int)if_nametoindex(argv[0]);
    if (fd < 0 || ifindex == 0)
        return fail("raw socket on %s: %s", argv[0], strerror(errno));
    struct sockaddr_ll sll = {
        .sll_family = AF_PACKET, .sll_ifindex = ifindex, .sll_halen = 6};
    memcpy(sll.sll_addr, dmac, 6);
    static uint8_t f[9100];
    long sent = 0, refused = 0;
    uint64_t stuck_since = 0;
    for (long i = 0; i < count; i++) {
        size_t len;
        if (strcmp(mode, "garbage") == 0) {
            len = 14 + rnd() % 1501;
            fill(f, len);
            if (i % 2)
                memcpy(f, dmac, 6); /* half of them to the guest's MAC */
        } else if (strcmp(mode, "truncated") == 0) {
            /* Headers cut short: Ethernet+IPv4/ARP/TCP/UDP stubs. */
            len = ipbad(f, sizeof f, dmac, dip.s_addr);
            static const uint16_t types[] = {0x0800, 0x0806, 0x0800, 0x8100};
            uint16_t t = types[i % 4];
            f[12] = (uint8_t)(t >> 8), f[13] = (uint8_t)t;
            len = 14 + rnd() % 40;
        } else if (strcmp(mode, "oversized") == 0) {
            len = 1519 + rnd() % (9014 - 1519 + 1); /* up to MTU 9000 */
            fill(f + 12, len - 12);
            memcpy(f, dmac, 6);
            memcpy(f + 6, "\x02\x00\x00\x00\x00\x01", 6);
        } else if (strcmp(mode, "storm") == 0) {
            /* Broadcast ARP requests between addresses that are not
             * there (not from the gateway: that would be poisoning, not
             * a storm). */
            memset(f, 0xff, 6);
            fill(f + 6, 6);
            f[6] = (uint8_t)((f[6] & 0xfc) | 2);
            f[12] = 0x08, f[13] = 0x06;
            memcpy(f + 14, "\x00\x01\x08\x00\x06\x04\x00\x01", 8);
            memcpy(f + 22, f + 6, 6);
            uint32_t sender = htonl(0x0ad50000u | (2 + rnd() % 0xfff0));
            memcpy(f + 28, &sender, 4);
            memset(f + 32, 0, 6);
            uint32_t target = htonl(0x0ad50000u | (rnd() & 0xffff));
            memcpy(f + 38, &target, 4);
            len = 60;
            memset(f + 42, 0, 18);
        } else if (strcmp(mode, "ipbad") == 0) {
            len = ipbad(f, 1514, dmac, dip.s_addr);
        } else {
            return fail("unknown mode %s", mode);
        }
        ssize_t n = sendto(fd, f, len, 0, (struct sockaddr *)&sll, sizeof sll);
        if (n == (ssize_t)len) {
            sent++;
            stuck_since = 0;
        } else if (errno == ENOBUFS || errno == EAGAIN) {
            /* The tap's queue is full: let the guest drain it, for at
             * most 5 s (a wedged guest never does). */
            if (!stuck_since)
                stuck_since = now_ms();
            if (now_ms() - stuck_since > 5000)
                return fail("%s: the tap stayed full for 5 s", mode);
            struct pollfd none;
            poll(&none, 0, 1);
            i--;
        } else {
            refused++;
        }
    }
    printf("%s: %ld frames sent, %ld refused by the kernel\n", mode, sent,
           refused);
    return sent > 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return fail("usage: netc COMMAND ARGS (see the source)");
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } cmds[] = {{"wait-ip", cmd_wait_ip},
                {"wait-pid", cmd_wait_pid},
                {"wait-text", cmd_wait_text},
                {"daytime", cmd_daytime},
                {"echo-tcp", cmd_echo_tcp},
                {"echo-udp", cmd_echo_udp},
                {"http", cmd_http},
                {"serve", cmd_serve},
                {"udp-listen", cmd_udp_listen},
                {"inject", cmd_inject}};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (strcmp(argv[1], cmds[i].name) == 0)
            return cmds[i].fn(argc - 2, argv + 2);
    return fail("unknown command %s", argv[1]);
}
