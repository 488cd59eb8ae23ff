/*
 * host_net.c: the TCP part of lightvm/net.h over Linux sockets and epoll,
 * so that a guest's network code (here examples/tls-proxy with the SDK's
 * TLS library) also builds as an ordinary Linux process: the peer that
 * tells what the guest's own stack (lwIP) and the monitor cost
 * (bench/tls.sh). Single-threaded, like a guest; callbacks run only from
 * lvm_net_run(), never from inside another call, as net.h promises.
 *
 * Only what a TCP server/proxy uses: listen, connect, write, close,
 * abort. No UDP, no DHCP; lvm_net_up() has nothing to do.
 */
#include <lightvm/guest.h>
#include <lightvm/net.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { K_LISTENER, K_CONN };

struct lvm_tcp_listener {
    int kind, fd;
    const struct lvm_tcp_handlers *h;
    void *arg;
};

struct lvm_tcp {
    int kind, fd;
    const struct lvm_tcp_handlers *h;
    void *arg;
    int connecting, closing, dead, want_out, held;
    int err;              /* for closed() */
    struct lvm_tcp *next; /* on the list of closed() to call */
    unsigned char *out;   /* bytes not yet taken by the kernel */
    size_t out_len, out_cap;
};

static int ep = -1;
static int stop;
static struct lvm_tcp *dead_list;

static int ep_init(void)
{
    if (ep < 0)
        ep = epoll_create1(EPOLL_CLOEXEC);
    return ep < 0 ? LVM_NET_EIO : 0;
}

int lvm_net_up(const char *nic, uint64_t timeout_ms)
{
    (void)nic;
    (void)timeout_ms;
    return ep_init();
}

const char *lvm_net_strerror(int err)
{
    switch (err) {
    case LVM_NET_OK: return "success";
    case LVM_NET_ENOMEM: return "out of memory";
    case LVM_NET_EINVAL: return "invalid argument";
    case LVM_NET_EADDRINUSE: return "address in use";
    case LVM_NET_ETIMEDOUT: return "timed out";
    case LVM_NET_ECONNREFUSED: return "connection refused";
    case LVM_NET_ECONNRESET: return "connection reset";
    case LVM_NET_ECONNABORTED: return "connection aborted";
    case LVM_NET_EHOSTUNREACH: return "host unreachable";
    case LVM_NET_ENOTCONN: return "not connected";
    default: return "I/O error";
    }
}

int lvm_ip4_parse(const char *s, lvm_ip4_t *ip)
{
    struct in_addr a;
    if (inet_pton(AF_INET, s, &a) != 1)
        return LVM_NET_EINVAL;
    *ip = a.s_addr;
    return 0;
}

char *lvm_ip4_str(lvm_ip4_t ip, char buf[LVM_IP4_STRLEN])
{
    struct in_addr a = {.s_addr = ip};
    inet_ntop(AF_INET, &a, buf, LVM_IP4_STRLEN);
    return buf;
}

static int errno_code(int e)
{
    switch (e) {
    case ECONNREFUSED: return LVM_NET_ECONNREFUSED;
    case ECONNRESET:
    case EPIPE: return LVM_NET_ECONNRESET;
    case ETIMEDOUT: return LVM_NET_ETIMEDOUT;
    case EHOSTUNREACH:
    case ENETUNREACH: return LVM_NET_EHOSTUNREACH;
    case EADDRINUSE: return LVM_NET_EADDRINUSE;
    case ENOMEM:
    case ENOBUFS: return LVM_NET_ENOMEM;
    default: return LVM_NET_EIO;
    }
}

/* The connection is over: its fd closed now, closed() from the loop. */
static void finish(struct lvm_tcp *c, int err)
{
    if (c->dead)
        return;
    c->dead = 1;
    c->err = err;
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    c->next = dead_list;
    dead_list = c;
}

static void watch(struct lvm_tcp *c)
{
    struct epoll_event ev = {.events = (c->held ? 0 : EPOLLIN | EPOLLRDHUP) |
                                       (c->want_out ? EPOLLOUT : 0),
                             .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Hand queued bytes to the kernel; 0, or -1 if the connection broke. */
static int flush(struct lvm_tcp *c)
{
    size_t off = 0;
    while (off < c->out_len) {
        ssize_t n = send(c->fd, c->out + off, c->out_len - off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN)
                break;
            finish(c, errno_code(errno));
            return -1;
        }
        off += (size_t)n;
    }
    memmove(c->out, c->out + off, c->out_len - off);
    c->out_len -= off;
    int want = c->out_len > 0;
    if (want != c->want_out) {
        c->want_out = want;
        watch(c);
    }
    return 0;
}

static struct lvm_tcp *conn_new(int fd, const struct lvm_tcp_handlers *h,
                                void *arg)
{
    struct lvm_tcp *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->kind = K_CONN;
    c->fd = fd;
    c->h = h;
    c->arg = arg;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        free(c);
        return NULL;
    }
    return c;
}

int lvm_tcp_listen(uint16_t port, const struct lvm_tcp_handlers *h, void *arg,
                   struct lvm_tcp_listener **out)
{
    if (ep_init() < 0 || port == 0)
        return LVM_NET_EINVAL;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return errno_code(errno);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        listen(fd, 4096) < 0) {
        int e = errno_code(errno);
        close(fd);
        return e;
    }
    struct lvm_tcp_listener *l = calloc(1, sizeof *l);
    if (!l) {
        close(fd);
        return LVM_NET_ENOMEM;
    }
    *l = (struct lvm_tcp_listener){
        .kind = K_LISTENER, .fd = fd, .h = h, .arg = arg};
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = l};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    if (out)
        *out = l;
    return 0;
}

void lvm_tcp_unlisten(struct lvm_tcp_listener *l)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, l->fd, NULL);
    close(l->fd);
    free(l);
}

int lvm_tcp_connect(lvm_ip4_t ip, uint16_t port,
                    const struct lvm_tcp_handlers *h, void *arg,
                    struct lvm_tcp **out)
{
    if (ep_init() < 0)
        return LVM_NET_EINVAL;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return errno_code(errno);
    struct sockaddr_in sa = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = ip};
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 &&
        errno != EINPROGRESS) {
        int e = errno_code(errno);
        close(fd);
        return e;
    }
    struct lvm_tcp *c = conn_new(fd, h, arg);
    if (!c) {
        close(fd);
        return LVM_NET_ENOMEM;
    }
    c->connecting = 1;
    c->want_out = 1; /* writable = connected (or failed) */
    watch(c);
    if (out)
        *out = c;
    return 0;
}

long lvm_tcp_write(struct lvm_tcp *c, const void *buf, size_t len)
{
    if (c->dead || c->closing)
        return LVM_NET_ENOTCONN;
    if (c->out_len + len > LVM_TCP_SENDQ_MAX)
        return LVM_NET_ENOMEM;
    if (c->out_len + len > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 16384;
        while (cap < c->out_len + len)
            cap *= 2;
        unsigned char *nb = realloc(c->out, cap);
        if (!nb)
            return LVM_NET_ENOMEM;
        c->out = nb;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, buf, len);
    c->out_len += len;
    if (!c->connecting)
        flush(c); /* a failure shows as closed() from the loop */
    return (long)len;
}

size_t lvm_tcp_sendq(const struct lvm_tcp *c)
{
    return c->out_len;
}

void lvm_tcp_close(struct lvm_tcp *c)
{
    if (c->dead || c->closing)
        return;
    c->closing = 1;
    if (c->out_len == 0 && !c->connecting)
        finish(c, 0);
}

void lvm_tcp_abort(struct lvm_tcp *c)
{
    if (c->dead)
        return;
    struct linger lg = {.l_onoff = 1, .l_linger = 0}; /* RST, as lwIP */
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    finish(c, LVM_NET_ECONNABORTED);
}

/* Held: stop reading, so the kernel's window closes. */
void lvm_tcp_hold(struct lvm_tcp *c, int hold)
{
    if (!c || c->dead || c->held == !!hold)
        return;
    c->held = !!hold;
    watch(c);
}

/* The limit protects lwIP's shared packet heap; the kernel has its own
 * per-socket buffers, so there is nothing to limit here. */
void lvm_tcp_sndbuf(struct lvm_tcp *c, size_t max)
{
    (void)c, (void)max;
}

void lvm_tcp_set_arg(struct lvm_tcp *c, void *arg)
{
    c->arg = arg;
}

void lvm_tcp_peer(const struct lvm_tcp *c, lvm_ip4_t *ip, uint16_t *port)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    if (getpeername(c->fd, (struct sockaddr *)&sa, &len) < 0)
        memset(&sa, 0, sizeof sa);
    if (ip) /* either may be NULL, as in the guest's (tcp.c) */
        *ip = sa.sin_addr.s_addr;
    if (port)
        *port = ntohs(sa.sin_port);
}

static void on_listener(struct lvm_tcp_listener *l)
{
    for (;;) {
        int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        struct lvm_tcp *c = conn_new(fd, l->h, l->arg);
        if (!c) {
            close(fd);
            continue;
        }
        if (c->h->connected)
            c->h->connected(c, c->arg);
    }
}

static void on_conn(struct lvm_tcp *c, uint32_t events)
{
    static unsigned char buf[65536];
    if (c->connecting && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        int e = 0;
        socklen_t len = sizeof e;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &len);
        if (e) {
            finish(c, errno_code(e));
            return;
        }
        c->connecting = 0;
        if (c->h->connected)
            c->h->connected(c, c->arg);
        if (c->dead || flush(c) < 0)
            return;
        if (c->closing && c->out_len == 0) {
            finish(c, 0);
            return;
        }
    } else if (events & EPOLLOUT) {
        size_t had = c->out_len;
        if (flush(c) < 0)
            return;
        if (c->out_len == 0 && had) {
            if (c->closing) {
                finish(c, 0);
                return;
            }
            if (c->h->drained)
                c->h->drained(c, c->arg);
        }
    }
    if (c->dead || !(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
        return;
    for (int i = 0; i < 4 && !c->dead; i++) {
        ssize_t n = recv(c->fd, buf, sizeof buf, 0);
        if (n > 0) {
            if (!c->closing && c->h->data)
                c->h->data(c, buf, (size_t)n, c->arg);
            continue;
        }
        if (n == 0) {
            if (c->closing)
                finish(c, 0);
            else if (c->h->eof)
                c->h->eof(c, c->arg);
            else
                lvm_tcp_close(c);
            /* Nothing more will come: stop watching for input. */
            if (!c->dead) {
                struct epoll_event ev = {.events = c->want_out ? EPOLLOUT : 0,
                                         .data.ptr = c};
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
            }
        } else if (errno != EAGAIN) {
            finish(c, errno_code(errno));
        }
        break;
    }
}

static void reap(void)
{
    while (dead_list) {
        struct lvm_tcp *c = dead_list;
        dead_list = c->next;
        if (c->h->closed)
            c->h->closed(c, c->err, c->arg);
        free(c->out);
        free(c);
    }
}

uint64_t lvm_clock_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A process has no toolstack: SIGTERM ends it. */
int lvm_poweroff_requested(void)
{
    return 0;
}

static uint64_t round_ns;

uint64_t lvm_net_now(void)
{
    return round_ns;
}

int lvm_net_poll(uint64_t deadline_ns)
{
    struct epoll_event evs[64];
    round_ns = lvm_clock_monotonic();
    reap();
    int ms = -1;
    if (deadline_ns != UINT64_MAX) {
        uint64_t now = lvm_clock_monotonic();
        uint64_t left = deadline_ns > now ? deadline_ns - now : 0;
        ms = left / 1000000 > 60000 ? 60000 : (int)((left + 999999) / 1000000);
    }
    int n = epoll_wait(ep, evs, 64, ms);
    round_ns = lvm_clock_monotonic();
    for (int i = 0; i < n; i++) {
        int kind = *(int *)evs[i].data.ptr;
        if (kind == K_LISTENER)
            on_listener(evs[i].data.ptr);
        else if (!((struct lvm_tcp *)evs[i].data.ptr)->dead)
            on_conn(evs[i].data.ptr, evs[i].events);
    }
    reap();
    return n > 0 ? n : 0;
}

void lvm_net_run(void)
{
    while (!stop)
        lvm_net_poll(UINT64_MAX);
}

void lvm_net_stop(void)
{
    stop = 1;
}
