/*
 * fuzz_net_frame.c: libFuzzer target for a guest's frame input path: the
 * SDK's netif driver, lwIP (ARP, IPv4, ICMP, UDP, TCP, DHCP with
 * LVM_FUZZ_DHCP) and the TCP/UDP API above it, built for the host over a
 * fake hypercall layer. Checksums are not checked in this build
 * (lwipopts.h), so mutated frames get past IP into TCP and UDP.
 *
 * An input is a series of records, each a frame the "host" sends into
 * the guest:
 *
 *     u8 len_hi, u8 len_lo   frame length (cut to what is left, and to
 *                            LVM_NET_FRAME_MAX + 64 to see oversize reads)
 *     u8 ticks               time passing before it, in 50 ms steps, so
 *                            TCP, ARP and DHCP timers fire
 *     frame bytes
 *
 * The guest runs an echo server on TCP and UDP port 7, a server on TCP
 * port 80 that answers every request with 40 KB (its send queue fills and
 * drains) and a client that keeps connecting to 10.0.0.1:9. Every frame
 * the guest sends must fit the NIC (LVM_NET_FRAME_MAX): a larger one is a
 * crash. Between inputs all connections are aborted and the ARP cache
 * emptied, so inputs replay the same way.
 *
 *   make fuzz-net FUZZ_SECONDS=300   # grow build/fuzz/corpus
 */
#include <lightvm/guest.h>
#include <lightvm/net.h>

#include "lwip/dhcp.h"
#include "lwip/etharp.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../guest/net/netpriv.h"

/* ---- The fake hypercall layer ------------------------------------------- */

static struct lvm_device nic = {
    .type = LVM_DEV_NET,
    .handle = 4,
    .evtchn = 1,
    .name = "net0",
    .u.net = {.mac = {0x02, 0, 0, 0, 0, 0x10}, .mtu = 1500},
};

static uint64_t clock_ns = 1000000000ull;
static int trace; /* $LVM_FUZZ_TRACE: print what the guest sends */
static const uint8_t *in_frame;
static size_t in_len;
static int in_pending;

const struct lvm_device *lvm_device_find(enum lvm_device_type type,
                                         const char *name)
{
    (void)name;
    return type == LVM_DEV_NET ? &nic : NULL;
}

uint64_t lvm_device_evmask(const struct lvm_device *dev)
{
    return dev ? 1ull << dev->evtchn : 0;
}

long lvm__net_frame_read(const struct lvm_device *dev, void *buf, size_t len)
{
    (void)dev;
    if (!in_pending)
        return LVM_EAGAIN;
    in_pending = 0;
    if (in_len > len) { /* as a tap does: cut short, report what fit */
        memcpy(buf, in_frame, len);
        return (long)len;
    }
    memcpy(buf, in_frame, in_len);
    return (long)in_len;
}

long lvm__net_frame_write(const struct lvm_device *dev, const void *buf,
                          size_t len)
{
    (void)dev;
    if (len > LVM_NET_FRAME_MAX || len < 14) {
        fprintf(stderr, "the guest sent a frame of %zu bytes\n", len);
        abort();
    }
    const uint8_t *f = buf;
    if (trace) {
        unsigned type = (unsigned)f[12] << 8 | f[13];
        fprintf(stderr, "out: %zu bytes, type %04x", len, type);
        if (type == 0x0800 && len >= 34) {
            fprintf(stderr, " proto %u", f[23]);
            if (f[23] == 6 && len >= 54)
                fprintf(stderr, " tcp %u->%u flags %02x payload %zu",
                        f[34] << 8 | f[35], f[36] << 8 | f[37], f[47],
                        len - 34 - (size_t)(f[46] >> 4) * 4);
        }
        fputc('\n', stderr);
    }
    return (long)len;
}

uint64_t lvm_clock_monotonic(void)
{
    return clock_ns;
}

uint64_t lvm_clock_wall(void)
{
    return clock_ns + 1700000000ull * 1000000000ull;
}

uint64_t lvm_yield(uint64_t deadline_ns, uint64_t evmask)
{
    if (in_pending && (evmask & 2))
        return 2;
    /* Nothing arrives while waiting: time passes to the deadline (capped,
     * so a "forever" wait does not jump the clock a century). */
    if (deadline_ns > clock_ns)
        clock_ns = deadline_ns - clock_ns > 5000000000ull
                       ? clock_ns + 5000000000ull
                       : deadline_ns;
    return 0;
}

void lvm_evtchn_clear(unsigned evtchn)
{
    (void)evtchn;
}

int lvm_poweroff_requested(void)
{
    return 0;
}

_Noreturn void lvm_abort(const char *message)
{
    fprintf(stderr, "guest abort: %s\n", message);
    abort();
}

/* Deterministic and restarted with every input, so an input replays and
 * its TCP sequence numbers can be predicted (tests/fuzz/make_net_seeds.py
 * does, for the seed corpus). */
#define RANDOM_SEED 2463534242u
static uint32_t x = RANDOM_SEED;

void lvm__random_fill(void *buf, size_t len)
{
    uint8_t *b = buf;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        b[i] = (uint8_t)x;
    }
}

/* ---- The guest's applications ------------------------------------------ */

static void echo_data(struct lvm_tcp *c, const void *buf, size_t len, void *a)
{
    (void)a;
    if (lvm_tcp_write(c, buf, len) < 0)
        lvm_tcp_abort(c);
}

static const struct lvm_tcp_handlers echo = {.data = echo_data};

static char big[40000];

static void big_data(struct lvm_tcp *c, const void *buf, size_t len, void *a)
{
    (void)buf, (void)len, (void)a;
    if (lvm_tcp_write(c, big, sizeof big) < 0)
        lvm_tcp_close(c);
}

static const struct lvm_tcp_handlers bigsrv = {.data = big_data};

static struct lvm_udp *udp;

static void udp_echo(struct lvm_udp *u, const void *buf, size_t len,
                     lvm_ip4_t from, uint16_t port, void *arg)
{
    (void)arg;
    lvm_udp_sendto(u, buf, len, from, port);
    if (len == 1 && *(const char *)buf == 'x') {
        lvm_udp_close(u); /* closing inside its own callback */
        udp = NULL;
    }
}

static struct lvm_tcp *client;

static void client_connected(struct lvm_tcp *c, void *a)
{
    (void)a;
    lvm_tcp_write(c, "hello", 5);
}

static void client_closed(struct lvm_tcp *c, int err, void *a)
{
    (void)err, (void)a;
    if (c == client)
        client = NULL;
}

static const struct lvm_tcp_handlers cli = {
    .connected = client_connected, .data = echo_data, .closed = client_closed};

static void setup(void)
{
#ifdef LVM_FUZZ_DHCP
    nic.flags = LVM_DEVF_DHCP;
#else
    nic.u.net.ipv4_addr = __builtin_bswap32(0x0a000002);    /* 10.0.0.2 */
    nic.u.net.ipv4_netmask = __builtin_bswap32(0xffffff00); /* /24 */
    nic.u.net.ipv4_gateway = __builtin_bswap32(0x0a000001);
#endif
    memset(big, 'b', sizeof big);
    trace = getenv("LVM_FUZZ_TRACE") != NULL;
    int r = lvm_net_up(NULL, 0);
    if (r < 0 && r != LVM_NET_ETIMEDOUT)
        abort();
    if (lvm_tcp_listen(7, &echo, NULL, NULL) < 0 ||
        lvm_tcp_listen(80, &bigsrv, NULL, NULL) < 0)
        abort();
}

static void reset(void)
{
    /* Abort every connection (their closed() runs in the next round) and
     * forget every neighbour. */
    while (tcp_active_pcbs)
        tcp_abort(tcp_active_pcbs);
    while (tcp_tw_pcbs)
        tcp_abort(tcp_tw_pcbs);
    etharp_cleanup_netif(&lvm__net.nic[0].nif);
    lvm_net_poll(clock_ns);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        setup();
        ready = 1;
    }
    x = RANDOM_SEED;
#ifdef LVM_FUZZ_DHCP
    /* Every input starts DHCP afresh: its transaction id is then the
     * input's first random number, which the seeds predict. */
    dhcp_release_and_stop(&lvm__net.nic[0].nif);
    if (dhcp_start(&lvm__net.nic[0].nif) != ERR_OK)
        abort();
#endif
    if (!udp && lvm_udp_bind(7, udp_echo, NULL, &udp) < 0)
        abort();
    if (!client && lvm_tcp_connect(__builtin_bswap32(0x0a000001), 9, &cli, NULL,
                                   &client) < 0)
        client = NULL; /* no route yet (DHCP): fine */
    size_t at = 0;
    while (at + 3 <= size) {
        size_t len = (size_t)data[at] << 8 | data[at + 1];
        unsigned ticks = data[at + 2];
        at += 3;
        if (len > size - at)
            len = size - at;
        if (len > LVM_NET_FRAME_MAX + 64)
            len = LVM_NET_FRAME_MAX + 64;
        clock_ns += (uint64_t)ticks * 50000000ull;
        in_frame = data + at;
        in_len = len;
        in_pending = 1;
        at += len;
        lvm_net_poll(clock_ns);
        /* Let timers run and queues drain before the next frame. */
        lvm_net_poll(clock_ns);
    }
    reset();
    return 0;
}
