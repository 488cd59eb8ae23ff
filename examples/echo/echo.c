/*
 * echo.c: RFC 862 echo over TCP and UDP (port 7 by default, or the
 * first argument). TCP sends back every byte it receives; UDP sends back
 * every datagram to its sender.
 *
 *     lightvm run --net build/examples/echo/echo.elf
 *     nc <guest ip> 7          # TCP
 *     nc -u <guest ip> 7       # UDP
 */
#include <lightvm/guest.h>
#include <lightvm/net.h>

#include <stdio.h>
#include <stdlib.h>

LVM_MANIFEST(LVM_NET("net0"));

static void tcp_data(struct lvm_tcp *c, const void *buf, size_t len, void *arg)
{
    (void)arg;
    /* A client that sends without reading fills our queue: drop it. */
    if (lvm_tcp_write(c, buf, len) < 0)
        lvm_tcp_abort(c);
}

static void udp_data(struct lvm_udp *u, const void *buf, size_t len,
                     lvm_ip4_t from, uint16_t port, void *arg)
{
    (void)arg;
    lvm_udp_sendto(u, buf, len, from, port);
}

static const struct lvm_tcp_handlers echo = {.data = tcp_data};

int main(int argc, char **argv)
{
    long port = argc > 1 ? strtol(argv[1], NULL, 10) : 7;
    if (port < 1 || port > 65535) {
        fprintf(stderr, "echo: bad port %s\n", argv[1]);
        return 2;
    }
    int r = lvm_net_up(NULL, 10000);
    if (r == 0)
        r = lvm_tcp_listen((uint16_t)port, &echo, NULL, NULL);
    if (r == 0)
        r = lvm_udp_bind((uint16_t)port, udp_data, NULL, NULL);
    if (r < 0) {
        fprintf(stderr, "echo: %s\n", lvm_net_strerror(r));
        return 1;
    }
    lvm_net_run();
    return 0;
}
