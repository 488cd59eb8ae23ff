/*
 * net_whoami.c: a TCP echo guest that says who it is first. On each
 * connection it sends "guest IP\n" (its own address), then echoes every
 * byte back. For test_serve.sh: different clients reaching different
 * guests is seen in what they read. Port 7 or the first argument.
 */
#include <lightvm/guest.h>
#include <lightvm/net.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

LVM_MANIFEST(LVM_NET("net0"));

static void connected(struct lvm_tcp *c, void *arg)
{
    (void)arg;
    char ip[LVM_IP4_STRLEN], line[32];
    lvm_ip4_str(lvm_net_info()->addr, ip);
    int n = snprintf(line, sizeof line, "guest %s\n", ip);
    if (lvm_tcp_write(c, line, (size_t)n) < 0)
        lvm_tcp_abort(c);
}

static void data(struct lvm_tcp *c, const void *buf, size_t len, void *arg)
{
    (void)arg;
    if (lvm_tcp_write(c, buf, len) < 0)
        lvm_tcp_abort(c);
}

static const struct lvm_tcp_handlers whoami = {.connected = connected,
                                               .data = data};

int main(int argc, char **argv)
{
    long port = argc > 1 ? strtol(argv[1], NULL, 10) : 7;
    if (port < 1 || port > 65535)
        return 2;
    int r = lvm_net_up(NULL, 10000);
    if (r == 0)
        r = lvm_tcp_listen((uint16_t)port, &whoami, NULL, NULL);
    if (r < 0) {
        fprintf(stderr, "whoami: %s\n", lvm_net_strerror(r));
        return 1;
    }
    lvm_net_run();
    return 0;
}
