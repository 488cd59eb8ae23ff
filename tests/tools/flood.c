/*
 * flood.c: a hostile API client, for the starvation tests and bench/flood.sh.
 *
 *   flood SOCKET hold N       open N connections, ask each for the version;
 *                             print how many were admitted and the first
 *                             refusal, then "holding" and hold them until
 *                             stdin closes or a signal (it stops opening at
 *                             the first left unanswered for 3 s: "failed")
 *   flood SOCKET idle N       open N connections, ask once, then wait until
 *                             the daemon closes each; print its message and
 *                             the seconds it took
 *   flood SOCKET spam K SECS  send requests as fast as the daemon answers,
 *                             8 in flight on each of K connections, for SECS
 *                             seconds or until SIGINT; print how many were
 *                             answered
 *   flood SOCKET noread K     send list requests in turn on K connections,
 *                             never reading, until one is closed; print the
 *                             reply bytes each had been sent by then
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_un addr = {.sun_family = AF_UNIX};
static volatile sig_atomic_t stop; /* SIGINT: spam reports and ends */

static void on_int(int sig)
{
    (void)sig;
    stop = 1;
}
static char buf[1 << 16];

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int dial(void)
{
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    /* A daemon that stops answering (or accepting: connect waits on a
     * full backlog) is reported, not waited for. */
    struct timeval tv = {3, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* One request and its reply into buf ("" if the connection closed). */
static ssize_t ask(int fd, const char *req)
{
    if (send(fd, req, strlen(req), MSG_NOSIGNAL) < 0 && errno != EPIPE)
        return -1;
    ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
    if (n < 0 && errno == ECONNRESET) /* a message may follow the reset */
        n = recv(fd, buf, sizeof buf - 1, 0);
    buf[n > 0 ? n : 0] = 0;
    return n;
}

static int hold(int n)
{
    int admitted = 0, refused = 0, failed = 0;
    char first[512] = "";
    for (int i = 0; i < n; i++) {
        int fd = dial();
        if (fd < 0 || ask(fd, "{\"op\":\"version\"}") <= 0) {
            failed++; /* closed without a word, or no answer: stop */
            if (fd >= 0)
                close(fd);
            break;
        } else if (strstr(buf, "\"ok\":true")) {
            admitted++; /* kept open */
        } else {
            if (!refused++)
                snprintf(first, sizeof first, "%s", buf);
            close(fd);
        }
    }
    printf("admitted %d\nrefused %d\nfailed %d\nmessage %s\nholding\n",
           admitted, refused, failed, first);
    fflush(stdout);
    while (read(0, buf, sizeof buf) > 0)
        ;
    return 0;
}

static int idle(int n)
{
    struct pollfd p[1024];
    if (n > 1024)
        n = 1024;
    for (int i = 0; i < n; i++) {
        p[i].fd = dial();
        p[i].events = POLLIN;
        if (p[i].fd < 0 || ask(p[i].fd, "{\"op\":\"version\"}") <= 0 ||
            !strstr(buf, "\"ok\":true")) {
            printf("connection %d failed: %s\n", i, buf);
            return 1;
        }
    }
    double t0 = now();
    for (int left = n; left > 0;) {
        if (poll(p, (nfds_t)n, -1) < 0)
            return 1;
        for (int i = 0; i < n; i++) {
            if (p[i].fd < 0 || !p[i].revents)
                continue;
            ssize_t m = recv(p[i].fd, buf, sizeof buf - 1, MSG_DONTWAIT);
            if (m > 0) {
                buf[m] = 0;
                printf("message %s\n", buf);
                continue;
            }
            printf("closed after %.1f s\n", now() - t0);
            close(p[i].fd);
            p[i].fd = -1;
            left--;
        }
    }
    return 0;
}

static int spam(int k, double secs)
{
    static const char req[] = "{\"op\":\"list\"}";
    struct pollfd p[256];
    int inflight[256];
    if (k > 256)
        k = 256;
    for (int i = 0; i < k; i++) {
        p[i].fd = dial();
        p[i].events = POLLIN;
        inflight[i] = 0;
        if (p[i].fd < 0 || ask(p[i].fd, "{\"op\":\"version\"}") <= 0 ||
            !strstr(buf, "\"ok\":true")) {
            printf("connection %d refused: %s\n", i, buf);
            return 1;
        }
    }
    printf("spamming\n"); /* all admitted */
    fflush(stdout);
    unsigned long answered = 0, refused = 0;
    double t0 = now(), end = t0 + secs;
    struct sigaction sa = {.sa_handler = on_int};
    sigaction(SIGINT, &sa, NULL);
    while (!stop && now() < end) {
        for (int i = 0; i < k; i++)
            while (inflight[i] < 8 &&
                   send(p[i].fd, req, sizeof req - 1, MSG_NOSIGNAL) > 0)
                inflight[i]++;
        if (poll(p, (nfds_t)k, 100) < 0) {
            if (errno == EINTR)
                continue;
            return 1;
        }
        for (int i = 0; i < k; i++) {
            if (!p[i].revents)
                continue;
            ssize_t m = recv(p[i].fd, buf, sizeof buf - 1, MSG_DONTWAIT);
            if (m <= 0) {
                printf("connection %d closed\n", i);
                return 1;
            }
            buf[m] = 0;
            answered++;
            if (!strstr(buf, "\"ok\":true"))
                refused++;
            inflight[i]--;
        }
    }
    double t = now() - t0;
    printf("answered %lu in %.1f s (%.0f a second), %lu errors\n", answered, t,
           answered / t, refused);
    return 0;
}

static int noread(int k)
{
    static const char req[] = "{\"op\":\"list\"}";
    int fd[64];
    if (k > 64)
        k = 64;
    for (int i = 0; i < k; i++) {
        fd[i] = dial();
        if (fd[i] < 0) {
            perror("flood: connect");
            return 1;
        }
    }
    ssize_t len = ask(fd[0], req); /* the size of one reply */
    if (len <= 0) {
        printf("no reply\n");
        return 1;
    }
    for (unsigned long sent = 1;; sent++)
        for (int i = 0; i < k; i++)
            if (send(fd[i], req, sizeof req - 1, MSG_NOSIGNAL) < 0) {
                printf("closed after %lu requests on each of %d, %zd bytes "
                       "each reply: %lu reply bytes each\n",
                       sent, k, len, sent * (unsigned long)len);
                return 0;
            }
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: flood SOCKET hold|idle|spam|noread N [SECS]\n");
        return 2;
    }
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", argv[1]);
    int n = atoi(argv[3]);
    if (!strcmp(argv[2], "hold"))
        return hold(n);
    if (!strcmp(argv[2], "idle"))
        return idle(n);
    if (!strcmp(argv[2], "spam") && argc > 4)
        return spam(n, atof(argv[4]));
    if (!strcmp(argv[2], "noread"))
        return noread(n);
    fprintf(stderr, "flood: unknown mode %s\n", argv[2]);
    return 2;
}
