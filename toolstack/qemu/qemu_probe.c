/*
 * qemu_probe.c: is a guest's TCP port answering, seen from the host?
 */
#include "toolstack/qemu/qemu.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#define CONNECT_TIMEOUT_MS 500

int qemu_tcp_probe(const char *addr, uint16_t port, int hold_ms)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1)
        return 0;
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s < 0)
        return 0;
    int ok = 0;
    if (connect(s, (struct sockaddr *)&sin, sizeof sin) < 0 &&
        errno != EINPROGRESS)
        goto out;
    struct pollfd p = {s, POLLOUT, 0};
    if (poll(&p, 1, CONNECT_TIMEOUT_MS) != 1)
        goto out;
    int soerr = 0;
    socklen_t len = sizeof soerr;
    if (getsockopt(s, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0 || soerr)
        goto out;
    /* Connected. Through user-mode networking that only means QEMU
     * accepted; if nothing in the guest listens QEMU closes it at once. */
    p = (struct pollfd){s, POLLIN | POLLRDHUP, 0};
    int r = poll(&p, 1, hold_ms);
    if (r == 0) {
        ok = 1; /* held open: the guest accepted */
    } else if (r == 1 && (p.revents & POLLIN) &&
               !(p.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
        char c;
        ok = recv(s, &c, 1, MSG_PEEK) == 1; /* a banner, not end of file */
    }
out:
    close(s);
    return ok;
}
