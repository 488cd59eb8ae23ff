/*
 * firewall.c: a per-user firewall guest. It routes IPv4 between two NICs,
 * user0 (the user's side) and up0 (upstream), with an address of its own
 * on each, and passes a packet only if its rules allow it and the user's
 * rate limit has room. Raw frames on both NICs (no TCP/IP stack): it
 * answers ARP for its own addresses and ICMP echo to them, resolves next
 * hops by ARP, and forwards with the TTL decremented.
 *
 * Rules: from the block device "rules" (firewall-blk.elf: one image for
 * every user, each given its own file) or from a file in the image's file
 * tree (firewall.elf, argv[1], default /etc/firewall.rules). A rule file
 * with an error stops the guest with exit status 2 and the line on the
 * console: "firewall: rules:LINE: what is wrong".
 *
 * Upstream needs a route to the user's addresses via up0's address; the
 * user's default route is user0's address. The host attaches up0 in
 * forwarding mode (--net=up0=BRIDGE,forward; and user0 too for the
 * replies), or the bridge filter would drop the forwarded packets.
 */
#include "rules.h"

#include <lightvm/guest.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef FW_BLOCK
LVM_MANIFEST(LVM_NET("user0"), LVM_NET("up0"),
             LVM_BLOCK("rules", LVM_DEVF_READONLY));
#else
LVM_MANIFEST(LVM_NET("user0"), LVM_NET("up0"));
#endif

#define ARP_SLOTS 64
#define BATCH 64

struct arp_entry {
    uint32_t ip;
    uint8_t mac[6];
    uint8_t valid;
};

struct nic {
    const struct lvm_device *dev;
    uint64_t evmask;
    uint8_t mac[6];
    uint32_t addr, mask, gw;
    struct arp_entry arp[ARP_SLOTS];
    /* One packet waiting for its next hop's MAC (the latest one). */
    uint8_t pending[LVM_NET_FRAME_MAX];
    size_t pending_len;
    uint32_t pending_hop;
    struct fw_bucket bucket; /* what leaves through this NIC */
    unsigned long fwd, denied, limited, noroute;
};

static struct nic nics[2]; /* 0: user0, 1: up0 */
static struct fw_rules rules;
static uint8_t frame[LVM_NET_FRAME_MAX];

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint16_t csum(const uint8_t *p, size_t len)
{
    uint32_t s = 0;
    for (size_t i = 0; i + 1 < len; i += 2)
        s += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (len & 1)
        s += (uint32_t)p[len - 1] << 8;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

static struct arp_entry *arp_slot(struct nic *n, uint32_t ip)
{
    /* Direct-mapped by the address's last byte: a user's side holds a few
     * hosts, upstream one gateway and a few servers. */
    uint8_t b[4];
    memcpy(b, &ip, 4);
    return &n->arp[(b[3] ^ b[2]) % ARP_SLOTS];
}

static void arp_send(struct nic *n, int op, const uint8_t *tmac, uint32_t tip)
{
    uint8_t f[60];
    memset(f, 0, sizeof f);
    if (op == 1)
        memset(f, 0xff, 6);
    else
        memcpy(f, tmac, 6);
    memcpy(f + 6, n->mac, 6);
    put16(f + 12, 0x0806);
    memcpy(f + 14, "\x00\x01\x08\x00\x06\x04", 6);
    put16(f + 20, (uint16_t)op);
    memcpy(f + 22, n->mac, 6);
    memcpy(f + 28, &n->addr, 4);
    if (op == 2)
        memcpy(f + 32, tmac, 6);
    memcpy(f + 38, &tip, 4);
    lvm_net_write(n->dev, f, sizeof f);
}

/* Send an IPv4 packet (frame with room for the Ethernet header) to (hop). */
static void send_to(struct nic *n, uint8_t *f, size_t len, uint32_t hop)
{
    struct arp_entry *e = arp_slot(n, hop);
    memcpy(f + 6, n->mac, 6);
    put16(f + 12, 0x0800);
    if (e->valid && e->ip == hop) {
        memcpy(f, e->mac, 6);
        lvm_net_write(n->dev, f, len);
        return;
    }
    memcpy(n->pending, f, len);
    n->pending_len = len;
    n->pending_hop = hop;
    arp_send(n, 1, NULL, hop);
}

static void arp_input(struct nic *n, const uint8_t *f, size_t len)
{
    if (len < 42 || memcmp(f + 14, "\x00\x01\x08\x00\x06\x04", 6))
        return;
    uint16_t op = get16(f + 20);
    uint32_t sip, tip;
    memcpy(&sip, f + 28, 4);
    memcpy(&tip, f + 38, 4);
    /* Learn only neighbours on this NIC's subnet, and only from ARP about
     * us: a flood of other ARP cannot churn the table. */
    if (tip == n->addr && sip != n->addr && ((sip ^ n->addr) & n->mask) == 0 &&
        !(f[22] & 1)) {
        struct arp_entry *e = arp_slot(n, sip);
        e->ip = sip;
        memcpy(e->mac, f + 22, 6);
        e->valid = 1;
        if (n->pending_len && n->pending_hop == sip) {
            memcpy(n->pending, e->mac, 6);
            lvm_net_write(n->dev, n->pending, n->pending_len);
            n->pending_len = 0;
        }
    }
    if (op == 1 && tip == n->addr)
        arp_send(n, 2, f + 22, sip);
}

/* An ICMP echo request to one of our addresses: answer it. */
static void local_input(struct nic *n, uint8_t *f, size_t len)
{
    uint8_t *ip = f + 14;
    size_t hl = (size_t)(ip[0] & 15) * 4, tot = get16(ip + 2);
    if (ip[9] != 1 || tot < hl + 8 || tot > len - 14 || ip[hl] != 8)
        return;
    uint32_t src;
    memcpy(&src, ip + 12, 4);
    memcpy(ip + 12, ip + 16, 4);
    memcpy(ip + 16, &src, 4);
    ip[8] = 64;
    put16(ip + 10, 0);
    put16(ip + 10, csum(ip, hl));
    ip[hl] = 0;
    put16(ip + hl + 2, 0);
    put16(ip + hl + 2, csum(ip + hl, tot - hl));
    uint32_t hop = ((src ^ n->addr) & n->mask) == 0 ? src : n->gw;
    send_to(n, f, 14 + tot, hop);
}

static void ip_input(int in, uint8_t *f, size_t len)
{
    struct nic *n = &nics[in], *o = &nics[!in];
    if (memcmp(f, n->mac, 6)) /* routed to us by MAC, or not ours */
        return;
    uint8_t *ip = f + 14;
    if (len < 34 || (ip[0] >> 4) != 4 || (ip[0] & 15) < 5)
        return;
    size_t hl = (size_t)(ip[0] & 15) * 4, tot = get16(ip + 2);
    if (tot < hl || tot > len - 14 || csum(ip, hl) != 0)
        return;
    uint32_t dst;
    memcpy(&dst, ip + 16, 4);
    if (dst == n->addr || dst == o->addr) {
        local_input(n, f, len);
        return;
    }
    /* Fragments are dropped: their ports cannot be checked. */
    if ((ip[6] & 0x3f) || ip[7] || ip[8] <= 1)
        return;
    if (!fw_rules_allow(&rules, in == 0 ? FW_OUT : FW_IN, ip, tot)) {
        n->denied++;
        return;
    }
    if (!fw_bucket_take(&o->bucket, &rules, lvm_clock_monotonic(), 14 + tot)) {
        n->limited++;
        return;
    }
    /* TTL - 1, checksum updated incrementally (RFC 1624). */
    ip[8]--;
    uint32_t s = (uint32_t)get16(ip + 10) + 0x100;
    put16(ip + 10, (uint16_t)(s + (s >> 16)));
    uint32_t hop = ((dst ^ o->addr) & o->mask) == 0 ? dst : o->gw;
    if (!hop) {
        n->noroute++;
        return;
    }
    n->fwd++;
    send_to(o, f, 14 + tot, hop);
}

static void input(int in, size_t len)
{
    if (len < 14)
        return;
    uint16_t type = get16(frame + 12);
    if (type == 0x0806)
        arp_input(&nics[in], frame, len);
    else if (type == 0x0800)
        ip_input(in, frame, len);
}

static int nic_init(struct nic *n, const char *name)
{
    n->dev = lvm_device_find(LVM_DEV_NET, name);
    if (!n->dev) {
        fprintf(stderr, "firewall: no NIC %s\n", name);
        return -1;
    }
    memcpy(n->mac, n->dev->u.net.mac, 6);
    n->addr = n->dev->u.net.ipv4_addr;
    n->mask = n->dev->u.net.ipv4_netmask;
    n->gw = n->dev->u.net.ipv4_gateway;
    n->evmask = lvm_device_evmask(n->dev);
    if (!n->addr) {
        fprintf(stderr, "firewall: NIC %s has no static address\n", name);
        return -1;
    }
    return 0;
}

static char text[1 << 16];

/* The rule file's text: the block device's, or the file tree's. */
static long load(int argc, char **argv)
{
#ifdef FW_BLOCK
    (void)argc, (void)argv;
    const struct lvm_device *b = lvm_device_find(LVM_DEV_BLOCK, "rules");
    uint64_t cap = b ? b->u.block.capacity : 0;
    if (cap > sizeof text - 1) { /* never a rule file cut short */
        fprintf(stderr,
                "firewall: block device rules is %llu bytes, over the "
                "%zu a rule file may have\n",
                (unsigned long long)cap, sizeof text - 1);
        return -1;
    }
    if (!b || lvm_block_read(b, 0, text, cap) != (long)cap) {
        fprintf(stderr, "firewall: cannot read block device rules\n");
        return -1;
    }
    return (long)cap;
#else
    const char *path = argc > 1 ? argv[1] : "/etc/firewall.rules";
    FILE *fp = fopen(path, "r");
    if (!fp) {
        fprintf(stderr, "firewall: cannot open %s: %s\n", path,
                strerror(errno));
        return -1;
    }
    size_t n = fread(text, 1, sizeof text - 1, fp);
    int big = !feof(fp);
    fclose(fp);
    if (big) {
        fprintf(stderr, "firewall: %s is over %zu bytes\n", path,
                sizeof text - 1);
        return -1;
    }
    return (long)n;
#endif
}

/* Finish the round, print the counters, return from main(). */
static void on_poweroff(void *arg)
{
    (void)arg;
}

int main(int argc, char **argv)
{
    lvm_on_poweroff(on_poweroff, NULL);
    long n = load(argc, argv);
    if (n < 0)
        return 2;
    char err[160];
    if (fw_rules_parse(text, (size_t)n, &rules, err, sizeof err) < 0) {
        fprintf(stderr, "firewall: %s\n", err);
        return 2;
    }
    if (nic_init(&nics[0], "user0") < 0 || nic_init(&nics[1], "up0") < 0)
        return 2;
    /* A gratuitous ARP on each side: a firewall restarted with the same
     * address and a new MAC is reached at once, not once the neighbours'
     * entries for its old MAC have expired. */
    for (int i = 0; i < 2; i++)
        arp_send(&nics[i], 1, NULL, nics[i].addr);
    if (rules.limit_bytes)
        printf("firewall: %u rule%s, default %s, limit %llu bytes/s\n", rules.n,
               rules.n == 1 ? "" : "s", rules.default_allow ? "allow" : "deny",
               (unsigned long long)rules.limit_bytes);
    else
        printf("firewall: %u rule%s, default %s, no rate limit\n", rules.n,
               rules.n == 1 ? "" : "s", rules.default_allow ? "allow" : "deny");
    fflush(stdout);
    uint64_t mask = nics[0].evmask | nics[1].evmask;
    while (!lvm_poweroff_requested()) {
        int busy = 0;
        for (int i = 0; i < 2; i++) {
            /* A bounded batch per NIC per round: a flood on one side
             * cannot starve the other. */
            for (int k = 0; k < BATCH; k++) {
                long len = lvm_net_read(nics[i].dev, frame, sizeof frame);
                if (len <= 0)
                    break;
                busy = 1;
                input(i, (size_t)len);
            }
        }
        if (!busy) {
            uint64_t ev = lvm_yield(LVM_FOREVER, mask);
            for (int i = 0; i < 2; i++)
                if (ev & nics[i].evmask)
                    lvm_evtchn_clear(nics[i].dev->evtchn);
        }
    }
    printf("firewall: forwarded %lu out %lu in, denied %lu out %lu in, "
           "limited %lu out %lu in\n",
           nics[0].fwd, nics[1].fwd, nics[0].denied, nics[1].denied,
           nics[0].limited, nics[1].limited);
    return 0;
}
