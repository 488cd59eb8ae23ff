/*
 * cmd_top.c: lightvm top -- a table of lightvmd's guests, refreshed,
 * busiest first; with --json, one JSON object per refresh and line.
 */
#include "cli/cli.h"
#include "cli/daemon_cmds.h"
#include "toolstack/text.h"

#include <errno.h>
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

static const char usage[] =
    "Usage: lightvm top [-n ITERATIONS] [-d SECONDS] [--json]\n\n"
    "Live view of lightvmd's guests: CPU use over the last interval,\n"
    "memory, state; busiest first. Until interrupted, or ITERATIONS\n"
    "refreshes.\n\n"
    "  -n, --iterations N  stop after N refreshes (1 or more)\n"
    "  -d, --delay SECONDS between refreshes (0.1 to 3600, default 1)\n"
    "      --json          one JSON object per refresh, one per line\n"
    "  -h, --help          this text\n";

/* The options; -1 (said why) if one is wrong. */
static int parse(int argc, char **argv, long *iterations, double *delay,
                 int *json)
{
    static const struct option opts[] = {
        {"iterations", required_argument, NULL, 'n'},
        {"delay", required_argument, NULL, 'd'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0}};
    int c;
    char *end;
    while ((c = cli_getopt(argc, argv, "n:d:h", opts)) != -1) {
        switch (c) {
        case 'n':
            errno = 0;
            *iterations = strtol(optarg, &end, 10);
            if (errno || *end || end == optarg || *iterations < 1) {
                cli_msg("top: -n '%s': want a number of refreshes, 1 or more",
                        optarg);
                return -1;
            }
            break;
        case 'd':
            errno = 0;
            *delay = strtod(optarg, &end);
            /* Below 0.1 s, top would be the busiest thing it shows. */
            if (errno || *end || end == optarg || !(*delay >= 0.1) ||
                *delay > 3600) {
                cli_msg("top: -d '%s': want seconds from 0.1 to 3600", optarg);
                return -1;
            }
            break;
        case 'j': *json = 1; break;
        case 'h': fputs(usage, stdout); return 1;
        default: return -1; /* cli_getopt said why */
        }
    }
    if (optind != argc) {
        cli_msg("top: unexpected '%s' (see 'lightvm top --help')",
                argv[optind]);
        return -1;
    }
    return 0;
}

static void print_json(const struct table *t, double dt, long it)
{
    json_t *a = json_array();
    for (size_t i = 0; i < t->n; i++) {
        const struct lightvm_guest *g = &t->g[i];
        double pct = it && dt > 0 ? 100.0 * g->cpu_ns / 1e9 / dt : 0;
        json_array_append_new(
            a, json_pack("{s:s, s:s, s:s, s:f, s:I, s:I}", "id", g->id, "name",
                         g->name, "state", g->state, "cpu_percent", pct,
                         "memory_bytes", (json_int_t)g->memory_bytes,
                         "memory_limit", (json_int_t)g->memory_limit));
    }
    cli_print_json(json_pack("{s:f, s:f, s:o}", "time", (double)time(NULL),
                             "interval_s", it ? dt : 0.0, "guests", a));
}

static void print_table(const struct table *t, double dt, long it, int tty)
{
    uint64_t total_mem = 0;
    unsigned running = 0;
    for (size_t i = 0; i < t->n; i++) {
        total_mem += t->g[i].memory_bytes;
        running += !strcmp(t->g[i].state, "running");
    }
    char a[32], b[32];
    if (tty)
        printf("\033[H\033[2J");
    printf("lightvm top - %zu guest%s, %u running, %s in guests\n\n", t->n,
           t->n == 1 ? "" : "s", running, cli_bytes(total_mem, a, sizeof a));
    printf("%-16s  %-20s  %-8s  %6s  %10s  %10s\n", "ID", "NAME", "STATE",
           "CPU%", "MEMORY", "LIMIT");
    for (size_t i = 0; i < t->n && i < 40; i++) {
        const struct lightvm_guest *g = &t->g[i];
        double pct = it && dt > 0 ? 100.0 * g->cpu_ns / 1e9 / dt : 0;
        char name[TEXT_ESCAPED_MAX(sizeof g->name)];
        printf("%-16s  %-20.20s  %-8s  %6.1f  %10s  %10s\n", g->id,
               text_escape(g->name, name, sizeof name), g->state, pct,
               cli_bytes(g->memory_bytes, a, sizeof a),
               cli_bytes(g->memory_limit, b, sizeof b));
    }
    fflush(stdout);
}

int cmd_top(int argc, char **argv)
{
    long iterations = -1;
    double delay = 1.0;
    int json = 0;
    int r = parse(argc, argv, &iterations, &delay, &json);
    if (r)
        return r > 0 ? 0 : CLI_EXIT_USAGE;
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
        struct lightvm_error e;
        t.n = 0;
        if (lightvm_list(cl, 1, collect, &t, &e) < 0) {
            cli_msg("%s", e.message);
            status = CLI_EXIT_ERROR;
            break;
        }
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double dt = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
        t0 = t1;
        struct sample *cur = calloc(t.n ? t.n : 1, sizeof *cur);
        for (size_t i = 0; cur && i < t.n; i++) {
            struct lightvm_guest *g = &t.g[i];
            memcpy(cur[i].id, g->id, sizeof cur[i].id);
            cur[i].cpu_ns = g->cpu_ns;
            uint64_t before = g->cpu_ns;
            for (size_t k = 0; k < nprev; k++)
                if (!strcmp(prev[k].id, g->id))
                    before = prev[k].cpu_ns;
            g->cpu_ns = g->cpu_ns >= before ? g->cpu_ns - before : 0;
        }
        free(prev);
        prev = cur;
        nprev = cur ? t.n : 0;
        qsort(t.g, t.n, sizeof *t.g, by_cpu);
        if (json)
            print_json(&t, dt, it);
        else
            print_table(&t, dt, it, tty);
        if (iterations >= 0 && it + 1 >= iterations)
            break;
        poll(NULL, 0, (int)(delay * 1000));
    }
    free(prev);
    free(t.g);
    lightvm_close(cl);
    return status;
}
