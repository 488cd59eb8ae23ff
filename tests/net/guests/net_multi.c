/*
 * net_multi.c: one lwIP stack over two NICs (net0 and net1, each on a
 * bridge of its own). Echo over TCP and UDP on port 7, reachable through
 * either NIC; UDP port 9 answers any datagram with the per-NIC frame
 * counters ("net0 rx N tx N net1 rx N tx N"). At start it prints what
 * the SDK says of each NIC and of frame-level access to net1, for
 * test_net_multi.sh. With the argument "one", only net0 is brought up (as
 * a guest of one served NIC): net1 stays the app's, at frame level.
 */
#include <lightvm/guest.h>
#include <lightvm/net.h>

#include <stdio.h>
#include <string.h>

LVM_MANIFEST(LVM_NET("net0"), LVM_NET("net1"));

static void tcp_data(struct lvm_tcp *c, const void *buf, size_t len, void *arg)
{
    (void)arg;
    if (lvm_tcp_write(c, buf, len) < 0)
        lvm_tcp_abort(c);
}

static void udp_echo(struct lvm_udp *u, const void *buf, size_t len,
                     lvm_ip4_t from, uint16_t port, void *arg)
{
    (void)arg;
    lvm_udp_sendto(u, buf, len, from, port);
}

static void udp_counters(struct lvm_udp *u, const void *buf, size_t len,
                         lvm_ip4_t from, uint16_t port, void *arg)
{
    (void)buf, (void)len, (void)arg;
    struct lvm_net_counters a, b;
    if (lvm_net_counters_of("net0", &a) < 0)
        return;
    if (lvm_net_counters_of("net1", &b) < 0)
        memset(&b, 0, sizeof b);
    char line[160];
    int n = snprintf(
        line, sizeof line, "net0 rx %llu tx %llu net1 rx %llu tx %llu\n",
        (unsigned long long)a.rx_frames, (unsigned long long)a.tx_frames,
        (unsigned long long)b.rx_frames, (unsigned long long)b.tx_frames);
    lvm_udp_sendto(u, line, (size_t)n, from, port);
}

static const struct lvm_tcp_handlers echo = {.data = tcp_data};

static void show(const char *nic)
{
    const struct lvm_net_info *i = lvm_net_info_of(nic);
    char a[LVM_IP4_STRLEN];
    if (i)
        printf("%s: ip %s mtu %u\n", nic, lvm_ip4_str(i->addr, a), i->mtu);
    else
        printf("%s: not up\n", nic);
}

int main(int argc, char **argv)
{
    int one = argc > 1 && !strcmp(argv[1], "one");
    /* net1 is not up yet: nothing about it. */
    int r = lvm_net_up(NULL, 10000);
    show("net1");
    if (r == 0 && !one)
        r = lvm_net_up("net1", 10000);
    if (r < 0) {
        fprintf(stderr, "multi: %s\n", lvm_net_strerror(r));
        return 1;
    }
    show("net0");
    show("net1");
    char a[LVM_IP4_STRLEN];
    printf("default: %s\n", lvm_ip4_str(lvm_net_info()->addr, a));
    if (!one)
        printf("again: %d, unknown: %s\n", lvm_net_up("net1", 0),
               lvm_net_strerror(lvm_net_up("nosuch", 0)));
    /* The stack's NICs are not the app's to read or write. */
    const struct lvm_device *d = lvm_device_find(LVM_DEV_NET, "net1");
    char frame[64] = {0};
    printf("frame read: %ld, write: %ld\n",
           lvm_net_read(d, frame, sizeof frame),
           lvm_net_write(d, frame, sizeof frame));
    r = lvm_tcp_listen(7, &echo, NULL, NULL);
    if (r == 0)
        r = lvm_udp_bind(7, udp_echo, NULL, NULL);
    if (r == 0)
        r = lvm_udp_bind(9, udp_counters, NULL, NULL);
    if (r < 0) {
        fprintf(stderr, "multi: %s\n", lvm_net_strerror(r));
        return 1;
    }
    printf("serving\n");
    fflush(stdout);
    lvm_net_run();
    return 0;
}
