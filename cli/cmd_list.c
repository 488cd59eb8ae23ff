/*
 * cmd_list.c: lightvm list, stats and top -- what lightvmd's guests are
 * doing. list shows each guest; stats adds CPU time and memory; top
 * refreshes a table sorted by CPU use.
 */
#include "cli/cli.h"
#include "cli/daemon_cmds.h"
#include "toolstack/text.h"

#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct table {
    struct lightvm_guest *g;
    size_t n, cap;
};

static int collect(const struct lightvm_guest *g, void *arg)
{
    struct table *t = arg;
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 64;
        struct lightvm_guest *n = realloc(t->g, cap * sizeof *n);
        if (!n)
            return 1;
        t->g = n;
        t->cap = cap;
    }
    t->g[t->n++] = *g;
    return 0;
}

static const char *age(double created, char *buf, size_t len)
{
    double s = (double)time(NULL) - created;
    if (s < 120)
        snprintf(buf, len, "%.0fs", s < 0 ? 0 : s);
    else if (s < 7200)
        snprintf(buf, len, "%.0fm", s / 60);
    else
        snprintf(buf, len, "%.0fh", s / 3600);
    return buf;
}

static int fetch(struct lightvm *cl, int stats, struct table *t)
{
    struct lightvm_error e;
    t->n = 0;
    if (lightvm_list(cl, stats, collect, t, &e) < 0) {
        cli_msg("%s", e.message);
        return -1;
    }
    return 0;
}

static int list(int argc, char **argv, int stats)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0, 0, 0, 0}};
    int json = 0, quiet = 0, c;
    while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
        if (c == 'j') {
            json = 1;
        } else if (c == 'q') {
            quiet = 1;
        } else {
            FILE *f = c == 'h' ? stdout : stderr;
            fprintf(f,
                    "Usage: lightvm %s [--json] [-q] [GUEST...]\n\n"
                    "Show %s guests%s. -q prints ids only.\n",
                    stats ? "stats" : "list",
                    stats ? "the named (or all)" : "all",
                    stats ? " with their CPU time and memory" : "");
            return c == 'h' ? 0 : CLI_EXIT_USAGE;
        }
    }
    struct lightvm *cl = cli_connect();
    if (!cl)
        return CLI_EXIT_ERROR;
    struct table t = {0};
    int rc = fetch(cl, stats, &t);
    lightvm_close(cl);
    if (rc < 0)
        return CLI_EXIT_ERROR;
    int status = 0;
    if (!json && !quiet) {
        if (stats)
            printf("%-16s  %-20s  %-8s  %10s  %10s  %10s  %-17s  %16s  %16s\n",
                   "ID", "NAME", "STATE", "CPU TIME", "MEMORY", "LIMIT", "MAC",
                   "NET RX", "NET TX");
        else
            printf("%-16s  %-20s  %-8s  %7s  %8s  %5s  %-15s  %-8s  %s\n", "ID",
                   "NAME", "STATE", "PID", "RAM", "AGE", "IP", "OWNER",
                   "IMAGE");
    }
    if (json)
        printf("[");
    int first = 1;
    for (size_t i = 0; i < t.n; i++) {
        const struct lightvm_guest *g = &t.g[i];
        char who[64], full[160], ref[160];
        cli_owner_name(g->owner, who, sizeof who);
        snprintf(full, sizeof full, "%ld/%s", g->owner, g->name);
        if (optind < argc) { /* only the guests asked for */
            int want = 0;
            for (int k = optind; k < argc; k++) {
                const char *r = cli_guest_ref(argv[k], ref, sizeof ref);
                want |= !strcmp(r, g->id) || !strcmp(r, g->name) ||
                        !strcmp(r, full) ||
                        (strlen(r) >= 4 && !strncmp(r, g->id, strlen(r)));
            }
            if (!want)
                continue;
        }
        /* Names from old records and image paths are a member's text. */
        char name[TEXT_ESCAPED_MAX(sizeof g->name)];
        char image[TEXT_ESCAPED_MAX(sizeof g->image)];
        text_escape(g->name, name, sizeof name);
        text_escape(g->image, image, sizeof image);
        char a[32], b[32], m[32];
        if (quiet) {
            printf("%s\n", g->id);
        } else if (json) {
            if (!first)
                printf(",");
            fflush(stdout);
            cli_print_guest_json(g);
        } else if (stats) {
            char rx[48] = "-", tx[48] = "-", nb[32];
            if (g->mac[0]) { /* packets / bytes, as the guest sees them */
                snprintf(rx, sizeof rx, "%llu/%s",
                         (unsigned long long)g->net_rx_packets,
                         cli_bytes(g->net_rx_bytes, nb, sizeof nb));
                snprintf(tx, sizeof tx, "%llu/%s",
                         (unsigned long long)g->net_tx_packets,
                         cli_bytes(g->net_tx_bytes, nb, sizeof nb));
            }
            printf("%-16s  %-20.20s  %-8s  %9.3fs  %10s  %10s  %-17s  %16s  "
                   "%16s\n",
                   g->id, name, g->state, g->cpu_ns / 1e9,
                   cli_bytes(g->memory_bytes, a, sizeof a),
                   cli_bytes(g->memory_limit, b, sizeof b),
                   g->mac[0] ? g->mac : "-", rx, tx);
        } else {
            printf("%-16s  %-20.20s  %-8s  %7d  %8s  %5s  %-15s  %-8s  %s\n",
                   g->id, name, g->state, g->pid,
                   cli_bytes(g->mem, m, sizeof m), age(g->created, a, sizeof a),
                   g->ip[0] ? g->ip : "-", who, image);
        }
        first = 0;
    }
    if (json)
        printf("]\n");
    if (optind < argc && first) {
        cli_msg("no such guest");
        status = CLI_EXIT_ERROR;
    }
    free(t.g);
    return status;
}

int cmd_list(int argc, char **argv)
{
    return list(argc, argv, 0);
}

int cmd_stats(int argc, char **argv)
{
    return list(argc, argv, 1);
}

struct sample {
    char id[17];
    uint64_t cpu_ns;
};

static int by_cpu(const void *a, const void *b)
{
    const struct lightvm_guest *x = a, *y = b;
    /* cpu_ns holds the last interval's CPU time here. */
    return x->cpu_ns < y->cpu_ns ? 1 : x->cpu_ns > y->cpu_ns ? -1 : 0;
}

int cmd_top(int argc, char **argv)
{
    static const struct option opts[] = {
        {"iterations", required_argument, NULL, 'n'},
        {"delay", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0}};
    long iterations = -1;
    double delay = 1.0;
    int c;
    while ((c = getopt_long(argc, argv, "n:d:h", opts, NULL)) != -1) {
        if (c == 'n') {
            iterations = strtol(optarg, NULL, 10);
        } else if (c == 'd') {
            delay = strtod(optarg, NULL);
            if (!(delay >= 0.05))
                delay = 0.05;
        } else {
            FILE *f = c == 'h' ? stdout : stderr;
            fputs("Usage: lightvm top [-n ITERATIONS] [-d SECONDS]\n\n"
                  "Live view of lightvmd's guests: CPU use over the last\n"
                  "interval, memory, state; busiest first.\n",
                  f);
            return c == 'h' ? 0 : CLI_EXIT_USAGE;
        }
    }
    struct lightvm *cl = cli_connect();
    if (!cl)
        return CLI_EXIT_ERROR;
    int tty = isatty(STDOUT_FILENO);
    struct sample *prev = NULL;
    size_t nprev = 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct table t = {0};
    int status = 0;
    for (long it = 0; iterations < 0 || it < iterations; it++) {
        if (fetch(cl, 1, &t) < 0) {
            status = CLI_EXIT_ERROR;
            break;
        }
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double dt = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
        t0 = t1;
        struct sample *cur = calloc(t.n ? t.n : 1, sizeof *cur);
        uint64_t total_mem = 0;
        unsigned running = 0;
        for (size_t i = 0; i < t.n; i++) {
            struct lightvm_guest *g = &t.g[i];
            memcpy(cur[i].id, g->id, sizeof cur[i].id);
            cur[i].cpu_ns = g->cpu_ns;
            uint64_t before = g->cpu_ns;
            for (size_t k = 0; k < nprev; k++)
                if (!strcmp(prev[k].id, g->id))
                    before = prev[k].cpu_ns;
            g->cpu_ns = g->cpu_ns >= before ? g->cpu_ns - before : 0;
            total_mem += g->memory_bytes;
            running += !strcmp(g->state, "running");
        }
        free(prev);
        prev = cur;
        nprev = t.n;
        qsort(t.g, t.n, sizeof *t.g, by_cpu);
        char a[32], b[32];
        if (tty)
            printf("\033[H\033[2J");
        printf("lightvm top - %zu guests, %u running, %s in guests\n\n", t.n,
               running, cli_bytes(total_mem, a, sizeof a));
        printf("%-16s  %-20s  %-8s  %6s  %10s  %10s\n", "ID", "NAME", "STATE",
               "CPU%", "MEMORY", "LIMIT");
        for (size_t i = 0; i < t.n && i < 40; i++) {
            const struct lightvm_guest *g = &t.g[i];
            double pct = it && dt > 0 ? 100.0 * g->cpu_ns / 1e9 / dt : 0;
            char name[TEXT_ESCAPED_MAX(sizeof g->name)];
            printf("%-16s  %-20.20s  %-8s  %6.1f  %10s  %10s\n", g->id,
                   text_escape(g->name, name, sizeof name), g->state, pct,
                   cli_bytes(g->memory_bytes, a, sizeof a),
                   cli_bytes(g->memory_limit, b, sizeof b));
        }
        fflush(stdout);
        if (iterations >= 0 && it + 1 >= iterations)
            break;
        poll(NULL, 0, (int)(delay * 1000));
    }
    free(prev);
    free(t.g);
    lightvm_close(cl);
    return status;
}
