/*
 * audit.c: seccomp kill records from the kernel's audit multicast group
 * (see audit.h). Needs CAP_AUDIT_READ; records look like
 *   audit(...): auid=... pid=1234 comm="..." ... sig=31 arch=c000003e
 *   syscall=257 compat=0 ip=... code=0x80000000
 */
#include "toolstack/audit.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/netlink.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef AUDIT_SECCOMP
#define AUDIT_SECCOMP 1326
#endif

int audit_open(void)
{
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK,
                    NETLINK_AUDIT);
    if (fd < 0)
        return -1;
    struct sockaddr_nl a = {.nl_family = AF_NETLINK,
                            .nl_groups = AUDIT_NLGRP_READLOG};
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        return -1;
    }
    int size = 1 << 20; /* ride out bursts of unrelated records */
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    return fd;
}

/* The number after " key=" in text, or -1. Quoted values (comm, exe)
 * are skipped, so nothing inside them is read as a field. */
static long field(const char *text, size_t len, const char *key, int base)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i + kl < len; i++) {
        if (text[i] == '"') {
            while (++i < len && text[i] != '"')
                ;
            continue;
        }
        if ((i == 0 || text[i - 1] == ' ') && memcmp(text + i, key, kl) == 0) {
            char num[32];
            size_t j = 0;
            i += kl;
            while (i < len && j + 1 < sizeof num && text[i] != ' ')
                num[j++] = text[i++];
            num[j] = 0;
            char *end;
            long v = strtol(num, &end, base);
            return end != num ? v : -1;
        }
    }
    return -1;
}

int audit_parse_seccomp(const char *text, size_t len, pid_t *pid, long *nr)
{
    long p = field(text, len, "pid=", 10);
    long s = field(text, len, "syscall=", 10);
    long arch = field(text, len, "arch=", 16);
    if (p <= 0 || s < 0)
        return -1;
    /* i386 calls made with int 0x80 carry their own numbering. */
    if (arch != -1 && arch != (long)AUDIT_ARCH_X86_64)
        s = -2 - s;
    *pid = (pid_t)p;
    *nr = s;
    return 0;
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long audit_wait_seccomp(int fd, pid_t pid, int timeout_ms,
                        void (*other)(pid_t pid, long nr, void *arg), void *arg)
{
    if (fd < 0)
        return -1;
    long deadline = now_ms() + timeout_ms;
    char buf[8192] __attribute__((aligned(NLMSG_ALIGNTO)));
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == ENOBUFS)
            continue; /* records were dropped; keep reading */
        if (n < 0) {
            long left = deadline - now_ms();
            if (left <= 0)
                return -1;
            struct pollfd pfd = {fd, POLLIN, 0};
            poll(&pfd, 1, (int)left);
            continue;
        }
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, n);
             h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_type != AUDIT_SECCOMP)
                continue;
            pid_t p;
            long nr;
            if (audit_parse_seccomp(NLMSG_DATA(h), NLMSG_PAYLOAD(h, 0), &p,
                                    &nr) < 0)
                continue;
            if (p == pid)
                return nr;
            if (other)
                other(p, nr, arg);
        }
    }
}
