/*
 * net_spoof.c: a test guest that tries to lie about who it is, with raw
 * frames (no TCP/IP stack): `net_spoof PORT` sends UDP datagrams to its
 * gateway's PORT from its own MAC and address ("ok", "done"), from
 * another address ("ip-spoof"), from another MAC ("mac-spoof"), and an
 * ARP request claiming another address. With lightvm's filter on, only
 * "ok" and "done" may reach the host.
 */
#include <lightvm/guest.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

LVM_MANIFEST(LVM_NET("net0"));

static const struct lvm_device *nic;
static uint8_t frame[LVM_NET_FRAME_MAX];

static uint16_t csum(const uint8_t *p, size_t len)
{
    uint32_t s = 0;
    for (size_t i = 0; i + 1 < len; i += 2)
        s += (uint32_t)(p[i] << 8 | p[i + 1]);
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v;
}

static void arp(const uint8_t smac[6], uint32_t sip, uint32_t tip)
{
    memset(frame, 0xff, 6);
    memcpy(frame + 6, smac, 6);
    put16(frame + 12, 0x0806);
    memcpy(frame + 14, "\x00\x01\x08\x00\x06\x04\x00\x01", 8); /* request */
    memcpy(frame + 22, smac, 6);
    memcpy(frame + 28, &sip, 4);
    memset(frame + 32, 0, 6);
    memcpy(frame + 38, &tip, 4);
    memset(frame + 42, 0, 18);
    lvm_net_write(nic, frame, 60);
}

static void udp(const uint8_t dmac[6], const uint8_t smac[6], uint32_t sip,
                uint32_t dip, uint16_t port, const char *text)
{
    size_t n = strlen(text);
    memcpy(frame, dmac, 6);
    memcpy(frame + 6, smac, 6);
    put16(frame + 12, 0x0800);
    uint8_t *ip = frame + 14;
    memset(ip, 0, 28);
    ip[0] = 0x45;
    put16(ip + 2, (uint16_t)(28 + n));
    ip[8] = 64;
    ip[9] = 17;
    memcpy(ip + 12, &sip, 4);
    memcpy(ip + 16, &dip, 4);
    put16(ip + 10, csum(ip, 20));
    uint8_t *u = ip + 20;
    put16(u, 40000);
    put16(u + 2, port);
    put16(u + 4, (uint16_t)(8 + n)); /* checksum 0: none, allowed in IPv4 */
    memcpy(u + 8, text, n);
    lvm_net_write(nic, frame, 14 + 28 + n);
}

int main(int argc, char **argv)
{
    nic = lvm_device_find(LVM_DEV_NET, NULL);
    if (argc != 2 || !nic) {
        fprintf(stderr, "usage: net_spoof PORT (with a NIC)\n");
        return 2;
    }
    uint16_t port = (uint16_t)atoi(argv[1]);
    const uint8_t *mac = nic->u.net.mac;
    uint32_t me = nic->u.net.ipv4_addr, gw = nic->u.net.ipv4_gateway;
    /* Another guest's address, in the same subnet. */
    uint32_t other = me ^ __builtin_bswap32(1);
    uint8_t fake_mac[6] = {0x02, 0x66, 0x61, 0x6b, 0x65, 0x21};

    /* Learn the gateway's MAC the honest way. */
    uint8_t gw_mac[6];
    int found = 0;
    uint64_t deadline = lvm_clock_monotonic() + 5000000000ull;
    while (!found && lvm_clock_monotonic() < deadline) {
        arp(mac, me, gw);
        uint64_t retry = lvm_clock_monotonic() + 200000000ull;
        while (!found && lvm_clock_monotonic() < retry) {
            long n = lvm_net_read(nic, frame, sizeof frame);
            if (n == LVM_EAGAIN) {
                lvm_yield(retry, lvm_device_evmask(nic));
                continue;
            }
            if (n >= 42 && frame[12] == 0x08 && frame[13] == 0x06 &&
                frame[21] == 2 && memcmp(frame + 28, &gw, 4) == 0) {
                memcpy(gw_mac, frame + 22, 6);
                found = 1;
            }
        }
    }
    if (!found) {
        printf("no ARP reply from the gateway\n");
        return 1;
    }
    udp(gw_mac, mac, me, gw, port, "ok");
    udp(gw_mac, mac, other, gw, port, "ip-spoof");
    udp(gw_mac, fake_mac, me, gw, port, "mac-spoof");
    arp(mac, other, gw);   /* "I am other" */
    arp(fake_mac, me, gw); /* a MAC that is not mine */
    udp(gw_mac, mac, me, gw, port, "done");
    printf("sent\n");
    fflush(stdout);
    /* Stay up until powered off, so the test sees a running guest. */
    for (;;)
        lvm_yield(LVM_FOREVER, 0);
}
