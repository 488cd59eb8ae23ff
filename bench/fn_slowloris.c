/*
 * fn_slowloris.c: slow clients for bench/fn_hard.sh.
 *
 *   fn_slowloris HOST PORT N
 *
 * Opens N connections and sends each half a request head, then nothing
 * (slowloris). Prints "open N" when all are connected and sent, then
 * waits until the server has closed every one of them or SIGTERM comes,
 * and prints "closed K of N, 408: J" (J answered 408 Request Timeout).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: fn_slowloris HOST PORT N\n");
        return 2;
    }
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)atoi(argv[2]))};
    int n = atoi(argv[3]);
    if (inet_pton(AF_INET, argv[1], &a.sin_addr) != 1 || n <= 0) {
        fprintf(stderr, "fn_slowloris: bad HOST or N\n");
        return 2;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    struct pollfd *p = calloc((size_t)n, sizeof *p);
    if (!p)
        return 1;
    static const char half[] = "POST /fn/square HTTP/1.1\r\nHost: x\r\n"
                               "Content-Le";
    for (int i = 0; i < n; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
            send(fd, half, sizeof half - 1, MSG_NOSIGNAL) < 0) {
            perror("fn_slowloris: connect");
            return 1;
        }
        p[i] = (struct pollfd){.fd = fd, .events = POLLIN};
    }
    printf("open %d\n", n);
    fflush(stdout);
    signal(SIGTERM, on_term);
    int closed = 0, got408 = 0;
    while (!stop && closed < n) {
        if (poll(p, (nfds_t)n, 1000) < 0)
            continue;
        for (int i = 0; i < n; i++) {
            if (p[i].fd < 0 || !p[i].revents)
                continue;
            char buf[512];
            ssize_t r = recv(p[i].fd, buf, sizeof buf - 1, 0);
            if (r > 0) {
                buf[r] = 0;
                if (strstr(buf, " 408 "))
                    got408++;
                continue;
            }
            close(p[i].fd);
            p[i].fd = -1;
            closed++;
        }
    }
    printf("closed %d of %d, 408: %d\n", closed, n, got408);
    return 0;
}
