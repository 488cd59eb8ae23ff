/*
 * daytime_latency.c: time from a guest create request to its first
 * correct RFC 867 daytime answer over TCP.
 *
 *   daytime_latency [-n RUNS] [-w WARMUP] [-k] [-o FILE] -- CREATE...
 *
 * Each run starts CREATE (e.g. `lightvm run --net daytime.elf`, or a
 * daemon client's create command) with posix_spawn, reads its stderr and
 * stdout until a line holding "ip A.B.C.D" (lightvm's start-up line),
 * connects to port 13 of that address, reads the answer and checks it.
 * The clock starts just before the spawn and stops when the answer has
 * been read and checked. Then the guest is stopped: SIGINT to CREATE if
 * it is still running (lightvm run powers the guest off), and its exit is
 * awaited, before the next run.
 *
 * With -k the guests are kept (not stopped) until the end: creation time
 * as guests accumulate. -o writes one line per run: "run total_us ip_us".
 * With -x there is no guest to ask: each run is CREATE from spawn to exit
 * (a baseline, e.g. `lightvm run noop.elf`).
 * Prints the median, p90, min and max of the whole, and the medians of
 * its two parts: until the address line (the toolstack's work) and from
 * there to the answer (the guest's start, ARP and TCP).
 */
#include "bench/net/daytime_check.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t pct(uint64_t *v, size_t n, double p)
{
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i];
}

/* Read (fd) until a line holding "ip A.B.C.D"; (deadline) in us. */
static int read_ip(int fd, struct in_addr *ip, uint64_t deadline)
{
    static char buf[8192];
    size_t len = 0;
    for (;;) {
        buf[len] = 0;
        char *p = strstr(buf, " ip ");
        if (p && strchr(p, '\n')) {
            char a[32] = "";
            sscanf(p + 4, "%31[0-9.]", a);
            return inet_pton(AF_INET, a, ip) == 1 ? 0 : -1;
        }
        uint64_t t = now_us();
        if (t >= deadline || len == sizeof buf - 1)
            return -1;
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, (int)((deadline - t) / 1000 + 1)) <= 0)
            continue;
        ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
        if (n <= 0)
            return -1;
        len += (size_t)n;
    }
}

int main(int argc, char **argv)
{
    int runs = 50, warmup = 3, keep = 0, exit_only = 0, c;
    const char *out = NULL;
    while ((c = getopt(argc, argv, "+n:w:kxo:")) != -1) {
        switch (c) {
        case 'x': exit_only = 1; break;
        case 'n': runs = atoi(optarg); break;
        case 'w': warmup = atoi(optarg); break;
        case 'k': keep = 1; break;
        case 'o': out = optarg; break;
        default:
            fprintf(stderr, "usage: daytime_latency [-n RUNS] [-w WARMUP] "
                            "[-k] [-o FILE] -- CREATE...\n");
            return 2;
        }
    }
    if (optind >= argc || runs < 1) {
        fprintf(stderr, "daytime_latency: no create command\n");
        return 2;
    }
    char **cmd = argv + optind;
    FILE *o = out ? fopen(out, "w") : NULL;
    uint64_t *total = calloc((size_t)runs, sizeof *total);
    uint64_t *to_ip = calloc((size_t)runs, sizeof *to_ip);
    uint64_t *answer = calloc((size_t)runs, sizeof *answer);
    pid_t *kept = calloc((size_t)(runs + warmup), sizeof *kept);
    int nkept = 0, done = 0, failed = 0;
    signal(SIGPIPE, SIG_IGN);
    /* With -k every kept guest's pipe stays open (lightvm must not get
     * SIGPIPE when it reports the guest's exit): raise the fd limit. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    for (int i = 0; i < warmup + runs; i++) {
        int pfd[2];
        if (pipe2(pfd, O_CLOEXEC) < 0)
            return 1;
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
        posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
        pid_t pid;
        uint64_t t0 = now_us();
        if (posix_spawnp(&pid, cmd[0], &fa, NULL, cmd, environ) != 0) {
            perror("posix_spawn");
            return 1;
        }
        posix_spawn_file_actions_destroy(&fa);
        close(pfd[1]);
        struct in_addr ip;
        int ok, status = 0;
        uint64_t t1, t2;
        if (exit_only) {
            close(pfd[0]);
            pfd[0] = -1;
            ok = waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
                 WEXITSTATUS(status) == 0;
            t1 = t2 = now_us();
            pid = -1;
        } else {
            ok = read_ip(pfd[0], &ip, t0 + 10000000) == 0;
            t1 = now_us();
            ok = ok && daytime(ip, t1 + 10000000) == 0;
            t2 = now_us();
        }
        if (!ok) {
            failed++;
            fprintf(stderr, "run %d: no correct answer\n", i);
        } else if (i >= warmup) {
            total[done] = t2 - t0;
            to_ip[done] = t1 - t0;
            answer[done] = t2 - t1;
            if (o)
                fprintf(o, "%d %llu %llu\n", done,
                        (unsigned long long)total[done],
                        (unsigned long long)to_ip[done]);
            done++;
        }
        if (keep) {
            /* The pipe stays open: lightvm reports the guest's stop on
             * it at the end, and a closed pipe would kill it first. */
            kept[nkept++] = pid;
            continue;
        }
        if (pid > 0) {
            kill(pid, SIGINT);
            waitpid(pid, NULL, 0);
        }
        if (pfd[0] >= 0)
            close(pfd[0]);
    }
    for (int i = 0; i < nkept; i++)
        kill(kept[i], SIGINT);
    for (int i = 0; i < nkept; i++)
        waitpid(kept[i], NULL, 0);
    if (o)
        fclose(o);
    if (done == 0) {
        fprintf(stderr, "daytime_latency: every run failed\n");
        return 1;
    }
    qsort(total, (size_t)done, sizeof *total, cmp_u64);
    qsort(to_ip, (size_t)done, sizeof *to_ip, cmp_u64);
    qsort(answer, (size_t)done, sizeof *answer, cmp_u64);
    printf("runs %d (failed %d)\n", done, failed);
    printf("%s: median %.2f ms  p90 %.2f ms  min %.2f ms  max %.2f ms\n",
           exit_only ? "spawn -> exit" : "create -> daytime answer",
           pct(total, (size_t)done, 0.5) / 1e3,
           pct(total, (size_t)done, 0.9) / 1e3, total[0] / 1e3,
           total[done - 1] / 1e3);
    if (!exit_only) {
        printf("create -> address line:  median %.2f ms  p90 %.2f ms\n",
               pct(to_ip, (size_t)done, 0.5) / 1e3,
               pct(to_ip, (size_t)done, 0.9) / 1e3);
        /* The guest is running when its address line appears: from there
         * on it is the guest's start, ARP and TCP, whoever created it. */
        printf("address line -> answer:  median %.2f ms  p90 %.2f ms\n",
               pct(answer, (size_t)done, 0.5) / 1e3,
               pct(answer, (size_t)done, 0.9) / 1e3);
    }
    return failed ? 1 : 0;
}
