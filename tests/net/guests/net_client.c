/*
 * net_client.c: a test guest that is a client: `net_client tcp|udp IP
 * PORT TEXT` sends TEXT to IP:PORT and prints the reply on its console,
 * then exits 0 (1 if no reply came). It prints its own address first,
 * which is how a DHCP test learns it.
 */
#include <lightvm/guest.h>
#include <lightvm/net.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

LVM_MANIFEST(LVM_NET("net0"));

static volatile int done;
static int got_reply;

static void tcp_connected(struct lvm_tcp *c, void *arg)
{
    lvm_tcp_write(c, arg, strlen(arg));
}

static void tcp_data(struct lvm_tcp *c, const void *buf, size_t len, void *arg)
{
    (void)c, (void)arg;
    printf("reply: %.*s\n", (int)len, (const char *)buf);
    got_reply = 1;
}

static void tcp_closed(struct lvm_tcp *c, int err, void *arg)
{
    (void)c, (void)arg;
    if (err)
        printf("closed: %s\n", lvm_net_strerror(err));
    done = 1;
}

static const struct lvm_tcp_handlers client = {
    .connected = tcp_connected, .data = tcp_data, .closed = tcp_closed};

static void udp_data(struct lvm_udp *u, const void *buf, size_t len,
                     lvm_ip4_t from, uint16_t port, void *arg)
{
    (void)u, (void)from, (void)port, (void)arg;
    printf("reply: %.*s\n", (int)len, (const char *)buf);
    got_reply = 1;
    done = 1;
}

int main(int argc, char **argv)
{
    lvm_ip4_t ip;
    if (argc != 5 || lvm_ip4_parse(argv[2], &ip) < 0) {
        fprintf(stderr, "usage: net_client tcp|udp IP PORT TEXT\n");
        return 2;
    }
    uint16_t port = (uint16_t)atoi(argv[3]);
    int r = lvm_net_up(NULL, 10000);
    if (r < 0) {
        printf("net up: %s\n", lvm_net_strerror(r));
        return 1;
    }
    char a[LVM_IP4_STRLEN];
    printf("net up: ip %s%s\n", lvm_ip4_str(lvm_net_info()->addr, a),
           lvm_net_info()->dhcp ? " (dhcp)" : "");
    fflush(stdout);
    if (strcmp(argv[1], "tcp") == 0) {
        r = lvm_tcp_connect(ip, port, &client, argv[4], NULL);
        if (r == 0)
            r = lvm_net_wait(&done, 10000);
    } else {
        struct lvm_udp *u;
        r = lvm_udp_bind(0, udp_data, NULL, &u);
        /* Resend until answered: the first may wait for ARP. */
        for (int i = 0; r == 0 && i < 50 && !done; i++) {
            lvm_udp_sendto(u, argv[4], strlen(argv[4]), ip, port);
            lvm_net_wait(&done, 200);
        }
    }
    if (r < 0)
        printf("error: %s\n", lvm_net_strerror(r));
    return got_reply ? 0 : 1;
}
