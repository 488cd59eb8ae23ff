/*
 * daytime_api.c: time from a create request to lightvmd to the guest's
 * first correct RFC 867 daytime answer over TCP, from a client that keeps
 * its connection to the daemon (as the paper measured its toolstack).
 *
 *   daytime_api [-n RUNS] [-w WARMUP] [-k] [-o FILE] SOCKET DAYTIME.elf
 *
 * Each run: lightvm_create with a NIC (the reply carries the guest's
 * address), then connect to port 13 until the guest answers, read and
 * check the answer; the clock runs from just before the request to the
 * checked answer. Then the guest is destroyed (or, with -k, kept until
 * the end: creation as network guests accumulate). Prints the median,
 * p90, min and max, and the medians of the two parts: the daemon's reply
 * (the toolstack's work) and from there to the answer (the guest's start,
 * ARP and TCP). -o writes "run total_us reply_us" lines.
 */
#include "bench/net/daytime_check.h"
#include <lightvm/lightvm.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t pct(const uint64_t *v, size_t n, double p)
{
    return v[(size_t)(p * (double)(n - 1) + 0.5)];
}

int main(int argc, char **argv)
{
    int runs = 50, warmup = 3, keep = 0, c;
    const char *out = NULL;
    while ((c = getopt(argc, argv, "n:w:ko:")) != -1) {
        switch (c) {
        case 'n': runs = atoi(optarg); break;
        case 'w': warmup = atoi(optarg); break;
        case 'k': keep = 1; break;
        case 'o': out = optarg; break;
        default:
            fprintf(stderr, "usage: daytime_api [-n RUNS] [-w WARMUP] [-k] "
                            "[-o FILE] SOCKET DAYTIME.elf\n");
            return 2;
        }
    }
    if (argc - optind != 2 || runs < 1 || warmup < 0) {
        fprintf(stderr, "daytime_api: need SOCKET and DAYTIME.elf\n");
        return 2;
    }
    struct lightvm_error e;
    struct lightvm *cl = lightvm_connect(argv[optind], &e);
    if (!cl) {
        fprintf(stderr, "daytime_api: %s\n", e.message);
        return 1;
    }
    char image[4096];
    if (!realpath(argv[optind + 1], image)) {
        perror(argv[optind + 1]);
        return 1;
    }
    FILE *o = out ? fopen(out, "w") : NULL;
    uint64_t *total = calloc((size_t)runs, sizeof *total);
    uint64_t *reply = calloc((size_t)runs, sizeof *reply);
    uint64_t *answer = calloc((size_t)runs, sizeof *answer);
    char(*kept)[17] = calloc((size_t)(runs + warmup), sizeof *kept);
    if (!total || !reply || !answer || !kept) {
        fprintf(stderr, "daytime_api: out of memory\n");
        return 1;
    }
    int nkept = 0, done = 0, failed = 0, pooled = 0;
    struct lightvm_create_opts co = {.image = image, .console_fd = -1};
    co.net.enabled = 1;
    for (int i = 0; i < runs + warmup; i++) {
        struct lightvm_guest g;
        uint64_t t0 = now_us();
        if (lightvm_create(cl, &co, &g, &e) < 0) {
            fprintf(stderr, "daytime_api: create: %s\n", e.message);
            failed++;
            continue;
        }
        uint64_t t1 = now_us();
        struct in_addr ip;
        int ok = inet_pton(AF_INET, g.ip, &ip) == 1 &&
                 daytime(ip, t1 + 10000000) == 0;
        uint64_t t2 = now_us();
        if (keep)
            memcpy(kept[nkept++], g.id, 17);
        else
            lightvm_destroy(cl, g.id, NULL, &e);
        if (!ok) {
            fprintf(stderr, "daytime_api: no answer from %s (%s)\n", g.id,
                    g.ip);
            failed++;
            continue;
        }
        if (i < warmup)
            continue;
        pooled += g.pooled;
        total[done] = t2 - t0;
        reply[done] = t1 - t0;
        answer[done] = t2 - t1;
        if (o)
            fprintf(o, "%d %llu %llu\n", done, (unsigned long long)total[done],
                    (unsigned long long)reply[done]);
        done++;
    }
    for (int i = 0; i < nkept; i++)
        lightvm_destroy(cl, kept[i], NULL, &e);
    lightvm_close(cl);
    if (o)
        fclose(o);
    if (!done) {
        fprintf(stderr, "daytime_api: no run succeeded\n");
        return 1;
    }
    qsort(total, (size_t)done, sizeof *total, cmp_u64);
    qsort(reply, (size_t)done, sizeof *reply, cmp_u64);
    qsort(answer, (size_t)done, sizeof *answer, cmp_u64);
    printf("%d runs (%d failed, %d from the pool): request to daytime answer "
           "median %.2f ms, p90 %.2f ms, min %.2f, max %.2f; daemon reply "
           "median %.2f ms, reply to answer median %.2f ms\n",
           done, failed, pooled, pct(total, (size_t)done, 0.5) / 1e3,
           pct(total, (size_t)done, 0.9) / 1e3, total[0] / 1e3,
           total[done - 1] / 1e3, pct(reply, (size_t)done, 0.5) / 1e3,
           pct(answer, (size_t)done, 0.5) / 1e3);
    free(total);
    free(reply);
    free(answer);
    free(kept);
    return failed ? 1 : 0;
}
