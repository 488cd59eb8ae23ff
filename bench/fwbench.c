/*
 * fwbench.c: load and latency for bench/firewall.sh.
 *
 *   fwbench blast IFACE MS USERS DSTIP PORT SIZE
 *       send UDP frames of SIZE bytes of payload out of IFACE (a packet
 *       socket) for MS milliseconds, round robin over USERS lines of
 *       stdin "MAC SRCIP" (each user's next hop and address) to
 *       DSTIP:PORT; prints "sent FRAMES MS"
 *   fwbench arp IFACE SRCIP
 *       an ARP request for each address on stdin, so that each firewall
 *       answers and the bridge learns where its MAC is (a bridge floods
 *       no unknown unicast to guest ports)
 *   fwbench sink PORT IDLE_MS
 *       count UDP datagrams on PORT; prints "listening", then, IDLE_MS
 *       after the last one, "got DATAGRAMS BYTES SPAN_US" (first to last)
 *   fwbench echo PORT
 *       answer each UDP datagram on PORT with itself, until killed
 *   fwbench rtt DSTIP PORT COUNT
 *       COUNT request/answer round trips, one at a time; prints
 *       "rtt_us p50 P50 p90 P90 lost N"
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_USERS 4096

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static uint16_t csum(const uint8_t *p, size_t len)
{
    uint32_t s = 0;
    for (size_t i = 0; i + 1 < len; i += 2)
        s += (uint32_t)(p[i] << 8 | p[i + 1]);
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

static int udp_socket(int port)
{
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    int big = 8 << 20;
    setsockopt(s, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port)};
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0) {
        perror("fwbench: bind");
        exit(1);
    }
    return s;
}

static uint8_t frames[MAX_USERS][1514];

static int blast(char **argv)
{
    const char *ifname = argv[0];
    uint64_t ms = strtoull(argv[1], NULL, 10);
    int users = atoi(argv[2]), port = atoi(argv[4]);
    size_t size = (size_t)atoi(argv[5]);
    struct in_addr dst;
    if (users < 1 || users > MAX_USERS || size < 18 || size > 1472 ||
        !inet_aton(argv[3], &dst))
        return fprintf(stderr, "fwbench: bad blast arguments\n"), 2;
    int s = socket(AF_PACKET, SOCK_RAW, 0);
    struct sockaddr_ll ll = {.sll_family = AF_PACKET,
                             .sll_ifindex = (int)if_nametoindex(ifname),
                             .sll_halen = 6};
    if (s < 0 || !ll.sll_ifindex)
        return perror("fwbench: packet socket"), 1;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
    int q = socket(AF_INET, SOCK_DGRAM, 0);
    if (ioctl(q, SIOCGIFHWADDR, &ifr) < 0)
        return perror("fwbench: SIOCGIFHWADDR"), 1;
    close(q);
    size_t len = 14 + 28 + size;
    for (int u = 0; u < users; u++) {
        unsigned m[6];
        char src[32];
        if (scanf("%x:%x:%x:%x:%x:%x %31s", &m[0], &m[1], &m[2], &m[3], &m[4],
                  &m[5], src) != 7)
            return fprintf(stderr, "fwbench: user %d: no MAC SRCIP\n", u), 2;
        uint8_t *f = frames[u];
        for (int i = 0; i < 6; i++)
            f[i] = (uint8_t)m[i];
        memcpy(f + 6, ifr.ifr_hwaddr.sa_data, 6);
        f[12] = 8, f[13] = 0;
        uint8_t *ip = f + 14;
        memset(ip, 0, 28);
        ip[0] = 0x45;
        ip[2] = (uint8_t)((28 + size) >> 8), ip[3] = (uint8_t)(28 + size);
        ip[8] = 64, ip[9] = 17;
        struct in_addr sa;
        inet_aton(src, &sa);
        memcpy(ip + 12, &sa, 4);
        memcpy(ip + 16, &dst, 4);
        uint16_t c = csum(ip, 20);
        ip[10] = (uint8_t)(c >> 8), ip[11] = (uint8_t)c;
        uint8_t *udp = ip + 20;
        udp[0] = 0x17, udp[1] = 0x70; /* source port 6000 */
        udp[2] = (uint8_t)(port >> 8), udp[3] = (uint8_t)port;
        udp[4] = (uint8_t)((8 + size) >> 8), udp[5] = (uint8_t)(8 + size);
        memset(udp + 8, 'x', size);
    }
    uint64_t start = now_us(), end = start + ms * 1000, sent = 0;
    while (now_us() < end) {
        for (int i = 0; i < 64; i++) {
            int u = (int)(sent % (uint64_t)users);
            if (sendto(s, frames[u], len, 0, (struct sockaddr *)&ll,
                       sizeof ll) == (ssize_t)len)
                sent++;
        }
    }
    printf("sent %llu %llu\n", (unsigned long long)sent,
           (unsigned long long)((now_us() - start) / 1000));
    return 0;
}

static int arp(char **argv)
{
    int s = socket(AF_PACKET, SOCK_RAW, 0);
    struct sockaddr_ll ll = {.sll_family = AF_PACKET,
                             .sll_ifindex = (int)if_nametoindex(argv[0]),
                             .sll_halen = 6};
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", argv[0]);
    struct in_addr src, tip;
    if (s < 0 || !ll.sll_ifindex || ioctl(s, SIOCGIFHWADDR, &ifr) < 0 ||
        !inet_aton(argv[1], &src))
        return perror("fwbench: arp"), 1;
    char line[64];
    unsigned n = 0;
    while (scanf("%63s", line) == 1) {
        if (!inet_aton(line, &tip))
            continue;
        uint8_t f[60];
        memset(f, 0, sizeof f);
        memset(f, 0xff, 6);
        memcpy(f + 6, ifr.ifr_hwaddr.sa_data, 6);
        f[12] = 8, f[13] = 6;
        memcpy(f + 14, "\x00\x01\x08\x00\x06\x04\x00\x01", 8);
        memcpy(f + 22, ifr.ifr_hwaddr.sa_data, 6);
        memcpy(f + 28, &src, 4);
        memcpy(f + 38, &tip, 4);
        if (sendto(s, f, sizeof f, 0, (struct sockaddr *)&ll, sizeof ll) ==
            (ssize_t)sizeof f)
            n++;
    }
    printf("arp %u\n", n);
    return 0;
}

static int sink(char **argv)
{
    int s = udp_socket(atoi(argv[0]));
    int idle = atoi(argv[1]);
    printf("listening\n");
    fflush(stdout);
    static char buf[65536];
    uint64_t n = 0, bytes = 0, first = 0, last = 0;
    struct pollfd p = {.fd = s, .events = POLLIN};
    for (;;) {
        if (poll(&p, 1, n ? idle : 60000) <= 0)
            break;
        ssize_t r;
        while ((r = recv(s, buf, sizeof buf, MSG_DONTWAIT)) > 0) {
            last = now_us();
            if (!n)
                first = last;
            n++;
            bytes += (uint64_t)r;
        }
    }
    printf("got %llu %llu %llu\n", (unsigned long long)n,
           (unsigned long long)bytes, (unsigned long long)(last - first));
    return 0;
}

static _Noreturn int echo(char **argv)
{
    int s = udp_socket(atoi(argv[0]));
    static char buf[2048];
    for (;;) {
        struct sockaddr_in peer;
        socklen_t pl = sizeof peer;
        ssize_t r =
            recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&peer, &pl);
        if (r > 0)
            sendto(s, buf, (size_t)r, 0, (struct sockaddr *)&peer, pl);
    }
}

static int cmp64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int rtt(char **argv)
{
    struct sockaddr_in d = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)atoi(argv[1]))};
    int count = atoi(argv[2]);
    if (!inet_aton(argv[0], &d.sin_addr) || count < 1 || count > 1000000)
        return fprintf(stderr, "fwbench: bad rtt arguments\n"), 2;
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in me = {.sin_family = AF_INET, .sin_port = htons(6000)};
    if (bind(s, (struct sockaddr *)&me, sizeof me) < 0 ||
        connect(s, (struct sockaddr *)&d, sizeof d) < 0)
        return perror("fwbench: rtt socket"), 1;
    uint64_t *t = calloc((size_t)count, sizeof *t);
    int got = 0, lost = 0;
    for (int i = 0; i < count; i++) {
        char q[16], a[16];
        snprintf(q, sizeof q, "%d", i);
        uint64_t t0 = now_us();
        send(s, q, strlen(q) + 1, 0);
        for (;;) {
            struct pollfd p = {.fd = s, .events = POLLIN};
            if (poll(&p, 1, 200) <= 0) {
                lost++;
                break;
            }
            ssize_t r = recv(s, a, sizeof a, 0);
            if (r > 0 && !strcmp(a, q)) {
                t[got++] = now_us() - t0;
                break;
            }
        }
    }
    if (!got)
        return printf("rtt_us p50 - p90 - lost %d\n", lost), 1;
    qsort(t, (size_t)got, sizeof *t, cmp64);
    printf("rtt_us p50 %llu p90 %llu lost %d\n", (unsigned long long)t[got / 2],
           (unsigned long long)t[got * 9 / 10], lost);
    free(t);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 8 && !strcmp(argv[1], "blast"))
        return blast(argv + 2);
    if (argc >= 4 && !strcmp(argv[1], "arp"))
        return arp(argv + 2);
    if (argc >= 4 && !strcmp(argv[1], "sink"))
        return sink(argv + 2);
    if (argc >= 3 && !strcmp(argv[1], "echo"))
        return echo(argv + 2);
    if (argc >= 5 && !strcmp(argv[1], "rtt"))
        return rtt(argv + 2);
    fprintf(stderr, "usage: fwbench blast|sink|echo|rtt ... (see fwbench.c)\n");
    return 2;
}
