/*
 * fn_slowread.c: a client that does not read its answers, for
 * tests/integration/test_fn_limits.sh (the gateway's --send-timeout).
 *
 *   fn_slowread PORT PATH COUNT [shut]
 *
 * Connects to 127.0.0.1:PORT with a small receive buffer (so the answers
 * cannot all be taken in by the kernel on its behalf), sends POST PATH
 * with a one-byte body COUNT times (pipelined), prints "sent", then holds
 * the connection, reading nothing, until it is killed. Whether it sees
 * the server's close is up to TCP (a reset from a server that closes with
 * our requests unread is dropped against our closed window): the test
 * asks the server instead. With "shut" it half-closes instead (its
 * requests sent, its sending side shut down: a client that has left, to
 * an HTTP server), reads to the end and prints "eof BYTES". Exit status
 * 0, or 1 if it could not connect.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: fn_slowread PORT PATH COUNT [shut]\n");
        return 2;
    }
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)atoi(argv[1])),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096;
    char req[512];
    int n = snprintf(req, sizeof req,
                     "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
                     "\r\nx",
                     argv[2]);
    if (fd < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small) < 0 ||
        connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        perror("fn_slowread");
        return 1;
    }
    for (int i = atoi(argv[3]); i > 0; i--)
        if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
            perror("fn_slowread: send");
            return 1;
        }
    if (argc == 5) {
        shutdown(fd, SHUT_WR);
        char buf[4096];
        long long total = 0;
        ssize_t r;
        while ((r = recv(fd, buf, sizeof buf, 0)) > 0)
            total += r;
        printf("eof %lld\n", total);
        return 0;
    }
    printf("sent\n");
    fflush(stdout);
    for (;;)
        pause(); /* until killed */
}
