/*
 * daytime_check.h: the part of the daytime benchmarks that talks to the
 * guest: connect to port 13 until it answers, and check the answer is an
 * RFC 867 daytime line within 5 s of the host's clock.
 */
#ifndef LVM_BENCH_DAYTIME_CHECK_H
#define LVM_BENCH_DAYTIME_CHECK_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static inline uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Connect to (ip) port 13 until it answers or (deadline) (us) passes;
 * 0 if the answer is right. A refused or unreachable connection is the
 * guest not listening yet: try again. */
static inline int daytime(struct in_addr ip, uint64_t deadline)
{
    struct sockaddr_in sa = {
        .sin_family = AF_INET, .sin_port = htons(13), .sin_addr = ip};
    for (;;) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -1;
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
            char buf[128];
            size_t got = 0;
            ssize_t n;
            while (got < sizeof buf - 1 &&
                   (n = read(fd, buf + got, sizeof buf - 1 - got)) > 0)
                got += (size_t)n;
            close(fd);
            buf[got] = 0;
            struct tm tm;
            memset(&tm, 0, sizeof tm);
            char *end = strptime(buf, "%A, %B %d, %Y %H:%M:%S-UTC", &tm);
            time_t t = timegm(&tm), wall = time(NULL);
            return end && strcmp(end, "\r\n") == 0 && t >= wall - 5 &&
                           t <= wall + 5
                       ? 0
                       : -1;
        }
        int e = errno;
        close(fd);
        if (now_us() >= deadline || (e != ECONNREFUSED && e != EHOSTUNREACH))
            return -1;
    }
}

#endif
