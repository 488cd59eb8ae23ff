/*
 * net.h: TCP/IP for lightvm guests (link with -llightvm-net, or
 * `lightvm-cc --net`).
 *
 * The SDK runs lwIP (single-threaded, NO_SYS) over the guest's NIC. An
 * application never sees lwIP: it brings the NIC up, registers callbacks
 * for TCP connections or UDP datagrams, and runs the event loop. Every
 * callback runs from inside lvm_net_poll() (or lvm_net_run()), never from
 * inside another API call, so a callback may call any function here.
 *
 * A TCP echo server, complete:
 *
 *     #include <lightvm/guest.h>
 *     #include <lightvm/net.h>
 *
 *     LVM_MANIFEST(LVM_NET("net0"));
 *
 *     static void on_data(struct lvm_tcp *c, const void *buf, size_t len,
 *                         void *arg)
 *     {
 *         lvm_tcp_write(c, buf, len);
 *     }
 *
 *     static const struct lvm_tcp_handlers echo = {.data = on_data};
 *
 *     int main(void)
 *     {
 *         if (lvm_net_up(NULL, 5000) < 0 ||
 *             lvm_tcp_listen(7, &echo, NULL, NULL) < 0)
 *             return 1;
 *         lvm_net_run(); // until the toolstack powers the guest off
 *         return 0;
 *     }
 *
 * Addresses are IPv4 in network byte order (as in the device page), ports
 * in host byte order. Functions that can fail return 0 (or a count) on
 * success and a negative LVM_NET_E* code on failure.
 *
 * Every NIC brought up with lvm_net_up() is served (up to four, each a
 * netif of its own); the first one up has the default route, and lwIP
 * reaches the subnet of each other NIC through that NIC. A listener or UDP
 * port bound here is reachable on every NIC that is up. A NIC served here
 * belongs to the stack: lvm_net_read()/lvm_net_write() on it fail with
 * LVM_EBUSY. IPv4 only.
 */
#ifndef LIGHTVM_NET_H
#define LIGHTVM_NET_H

#include <stddef.h>
#include <stdint.h>

/* ---- Errors -------------------------------------------------------------- */

enum lvm_net_error {
    LVM_NET_OK = 0,
    LVM_NET_ENOMEM = -1,       /* out of stack memory or send queue room */
    LVM_NET_EINVAL = -2,       /* bad argument, or the stack is not up */
    LVM_NET_EADDRINUSE = -3,   /* the port is taken */
    LVM_NET_ENODEV = -4,       /* no such NIC in the manifest */
    LVM_NET_ETIMEDOUT = -5,    /* DHCP or a connection timed out */
    LVM_NET_ECONNREFUSED = -6, /* the peer refused the connection */
    LVM_NET_ECONNRESET = -7,   /* the peer reset the connection */
    LVM_NET_ECONNABORTED = -8, /* aborted locally (lvm_tcp_abort, memory) */
    LVM_NET_EHOSTUNREACH = -9, /* no route to the address */
    LVM_NET_ENOTCONN = -10,    /* the connection is closing or closed */
    LVM_NET_EIO = -11,         /* any other failure */
};

/* A short description of (err), e.g. "connection refused". */
const char *lvm_net_strerror(int err);

/* ---- Addresses ----------------------------------------------------------- */

typedef uint32_t lvm_ip4_t; /* network byte order */

/* Parse dotted-quad (s) into (*ip); 0 or LVM_NET_EINVAL. */
int lvm_ip4_parse(const char *s, lvm_ip4_t *ip);

/* Format (ip) as dotted-quad into (buf); returns (buf). */
#define LVM_IP4_STRLEN 16
char *lvm_ip4_str(lvm_ip4_t ip, char buf[LVM_IP4_STRLEN]);

/* ---- The stack ----------------------------------------------------------- */

struct lvm_net_info {
    lvm_ip4_t addr, netmask, gateway; /* 0 until DHCP has bound */
    uint8_t mac[6];
    uint16_t mtu;
    int dhcp; /* 1 if the address came from DHCP */
    char nic[16];
};

/*
 * Bring NIC (nic) up (NULL: the first NIC in the device page, or nothing
 * if a NIC is up already). A static address from the toolstack is used at
 * once; a NIC marked for DHCP runs the event loop until a lease is bound
 * or (timeout_ms) passes (LVM_NET_ETIMEDOUT; DHCP keeps trying in the
 * background). Call once per NIC to serve several (a NIC already up: 0;
 * a fifth: LVM_NET_ENOMEM). The first NIC up stays the default one.
 */
int lvm_net_up(const char *nic, uint64_t timeout_ms);

/* The first NIC's current configuration, or NULL before lvm_net_up(). */
const struct lvm_net_info *lvm_net_info(void);

/* NIC (nic)'s (NULL: the first's), or NULL if it is not up. */
const struct lvm_net_info *lvm_net_info_of(const char *nic);

/*
 * Run the stack once: take in the frames that have arrived, fire due
 * timers and run callbacks. If there was nothing to do, first wait until
 * a frame arrives, a timer is due or the monotonic clock passes
 * (deadline_ns) (LVM_FOREVER from guest.h: no deadline). Returns the
 * number of frames taken in.
 */
int lvm_net_poll(uint64_t deadline_ns);

/* Run lvm_net_poll() until lvm_net_stop() is called or the toolstack asks
 * the guest to power off. */
void lvm_net_run(void);

/* The monotonic clock (lvm_clock_monotonic()) as the loop read it at the
 * start of its current or last round: a time stamp for callbacks at no
 * cost (in a proc guest a clock read is a system call). At most one
 * round old; 0 before the first round. */
uint64_t lvm_net_now(void);

/* Make lvm_net_run() return after the current callback. */
void lvm_net_stop(void);

/* Run the loop until (*flag) is non-zero (0) or (timeout_ms) passes
 * (LVM_NET_ETIMEDOUT). For clients that wait for their own callbacks. */
int lvm_net_wait(volatile int *flag, uint64_t timeout_ms);

/* Frame counters of the first NIC, as the guest sees them (zeros before
 * lvm_net_up()). */
struct lvm_net_counters {
    uint64_t rx_frames, rx_bytes, rx_dropped; /* dropped: bad or no memory */
    uint64_t tx_frames, tx_bytes, tx_dropped;
};
void lvm_net_counters(struct lvm_net_counters *out);

/* NIC (nic)'s counters (NULL: the first's); LVM_NET_ENODEV if not up. */
int lvm_net_counters_of(const char *nic, struct lvm_net_counters *out);

/* ---- TCP ----------------------------------------------------------------- */

struct lvm_tcp;          /* one connection */
struct lvm_tcp_listener; /* a listening port */

/*
 * Callbacks for a connection; any may be NULL. (arg) is the listener's
 * (or connect's) argument until lvm_tcp_set_arg() changes it.
 */
struct lvm_tcp_handlers {
    /* The connection is established: accepted by a listener, or a
     * connect that succeeded. */
    void (*connected)(struct lvm_tcp *c, void *arg);
    /* (len) > 0 bytes arrived. Data of one connection arrives in order;
     * one write by the peer may arrive in several pieces. */
    void (*data)(struct lvm_tcp *c, const void *buf, size_t len, void *arg);
    /* The peer has finished sending. NULL: close our side too, once
     * everything queued is sent (what most servers want). */
    void (*eof)(struct lvm_tcp *c, void *arg);
    /* The send queue has become empty (see lvm_tcp_write()). */
    void (*drained)(struct lvm_tcp *c, void *arg);
    /* The connection is gone: closed by both sides (err 0), reset, timed
     * out, refused or aborted (err < 0). Called exactly once for every
     * connection, including a connect that failed; (c) is invalid after
     * it returns. */
    void (*closed)(struct lvm_tcp *c, int err, void *arg);
};

/* Accept connections on (port) (1..65535) of any address of the NIC.
 * (*out) (may be NULL) receives the listener. */
int lvm_tcp_listen(uint16_t port, const struct lvm_tcp_handlers *h, void *arg,
                   struct lvm_tcp_listener **out);

/* Stop accepting on (l); established connections go on. */
void lvm_tcp_unlisten(struct lvm_tcp_listener *l);

/* Connect to (ip):(port). Returns at once; the outcome arrives as
 * connected() or closed(). (*out) (may be NULL) receives the connection,
 * usable for writes straight away (they are queued). */
int lvm_tcp_connect(lvm_ip4_t ip, uint16_t port,
                    const struct lvm_tcp_handlers *h, void *arg,
                    struct lvm_tcp **out);

/*
 * Queue (len) bytes of (buf) for sending (copied; the caller may reuse
 * buf at once). Returns (len), or LVM_NET_ENOMEM if the connection's
 * send queue would exceed LVM_TCP_SENDQ_MAX bytes (nothing is queued
 * then: wait for drained() and try again), or LVM_NET_ENOTCONN after
 * lvm_tcp_close() or once the connection is gone.
 */
#define LVM_TCP_SENDQ_MAX (256u << 10)
long lvm_tcp_write(struct lvm_tcp *c, const void *buf, size_t len);

/* Bytes queued and not yet acknowledged by the peer. */
size_t lvm_tcp_sendq(const struct lvm_tcp *c);

/* Close gracefully: send what is queued, then FIN. closed() follows. */
void lvm_tcp_close(struct lvm_tcp *c);

/* Close at once with a reset, dropping queued data. closed() follows
 * with LVM_NET_ECONNABORTED. */
void lvm_tcp_abort(struct lvm_tcp *c);

/*
 * Flow control: with (hold) non-zero, stop reopening (c)'s receive window
 * as data is delivered, so the peer stops sending once a window's worth
 * (about 11 KiB) is in flight; data already on its way still arrives.
 * lvm_tcp_hold(c, 0) reopens it. For relays whose other side is slower.
 */
void lvm_tcp_hold(struct lvm_tcp *c, int hold);

/*
 * Memory: keep at most (max) of (c)'s unacknowledged bytes in the network
 * stack's packet heap (shared by every connection of the guest, 256 KiB);
 * the rest waits in (c)'s send queue, in the guest's own memory. By
 * default a connection may hold the stack's whole send buffer (about
 * 11 KiB). Lower it for servers with many connections whose peers may
 * stop reading, so that they cannot fill the heap between them (which
 * drops every connection's incoming frames); it also bounds the bytes in
 * flight, so throughput to a distant peer. At least one segment (1460);
 * 0 restores the default.
 */
void lvm_tcp_sndbuf(struct lvm_tcp *c, size_t max);

/* Replace the argument passed to (c)'s callbacks. */
void lvm_tcp_set_arg(struct lvm_tcp *c, void *arg);

/* The peer's address and port. */
void lvm_tcp_peer(const struct lvm_tcp *c, lvm_ip4_t *ip, uint16_t *port);

/* ---- UDP ----------------------------------------------------------------- */

struct lvm_udp; /* a bound UDP port */

/* A datagram of (len) bytes arrived from (from):(port). */
typedef void (*lvm_udp_recv_fn)(struct lvm_udp *u, const void *buf, size_t len,
                                lvm_ip4_t from, uint16_t port, void *arg);

/* Bind (port) (0: any free port) and deliver datagrams to (fn). */
int lvm_udp_bind(uint16_t port, lvm_udp_recv_fn fn, void *arg,
                 struct lvm_udp **out);

/* Send one datagram of (len) bytes (at most LVM_UDP_MAX) to (to):(port). */
#define LVM_UDP_MAX 1472u
int lvm_udp_sendto(struct lvm_udp *u, const void *buf, size_t len, lvm_ip4_t to,
                   uint16_t port);

/* The port (u) is bound to. */
uint16_t lvm_udp_port(const struct lvm_udp *u);

/* Unbind and free (u); also from inside its own receive callback. */
void lvm_udp_close(struct lvm_udp *u);

#endif /* LIGHTVM_NET_H */
