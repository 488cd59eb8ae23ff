/*
 * cmd_list.c: lightvm list (ls, ps) and stats -- what lightvmd's guests
 * are doing. list shows each guest, filtered (--filter) and formatted
 * (--format) as docker ps does; stats adds CPU time and memory.
 */
#include "cli/cli.h"
#include "cli/daemon_cmds.h"
#include "cli/guest_filter.h"
#include "toolstack/text.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

static void usage(FILE *f, const char *cmd, int stats)
{
    if (stats)
        fputs("Usage: lightvm stats [--json] [-q] [GUEST...]\n\n"
              "Show the named (or all) guests with their CPU time and "
              "memory.\n",
              f);
    else
        fprintf(f,
                "Usage: lightvm %s [OPTIONS] [GUEST...]\n\n"
                "Show lightvmd's guests (%s).\n\n"
                "  -a, --all               show exited guests too\n"
                "  -f, --filter KEY=VALUE  only guests with name=SUBSTRING, "
                "id=PREFIX,\n"
                "                          status=STATE or monitor=MONITOR "
                "(repeatable)\n"
                "      --format TEMPLATE   each guest by a Go-like template: "
                "{{.ID}},\n"
                "                          {{.Name}}, {{.State}}, ... or "
                "{{json .}};\n"
                "                          'table TEMPLATE' adds titles "
                "(docs/cli.md)\n"
                "      --json              a JSON array of the guests\n"
                "  -q, --quiet             ids only\n"
                "  -h, --help              this text\n",
                cmd,
                strcmp(cmd, "ps") ? "all of them"
                                  : "without -a, only those not exited");
}

/* Is (g) one of the guests named on the command line (all if none)? */
static int named(const struct lightvm_guest *g, int n, char **names)
{
    if (n == 0)
        return 1;
    char full[160], ref[160];
    snprintf(full, sizeof full, "%ld/%s", g->owner, g->name);
    for (int k = 0; k < n; k++) {
        const char *r = cli_guest_ref(names[k], ref, sizeof ref);
        if (!strcmp(r, g->id) || !strcmp(r, g->name) || !strcmp(r, full) ||
            (strlen(r) >= 4 && !strncmp(r, g->id, strlen(r))))
            return 1;
    }
    return 0;
}

static void print_row(const struct lightvm_guest *g, int stats)
{
    /* Names from old records and image paths are a member's text. */
    char name[TEXT_ESCAPED_MAX(sizeof g->name)];
    char image[TEXT_ESCAPED_MAX(sizeof g->image)];
    text_escape(g->name, name, sizeof name);
    text_escape(g->image, image, sizeof image);
    char a[32], b[32], who[64];
    if (stats) {
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
        printf("%-16s  %-20.20s  %-8s  %7d  %8s  %5s  %-15s  %-8s  %s\n", g->id,
               name, g->state, g->pid, cli_bytes(g->mem, a, sizeof a),
               age(g->created, b, sizeof b), g->ip[0] ? g->ip : "-",
               cli_owner_name(g->owner, who, sizeof who), image);
    }
}

static int list(int argc, char **argv, int stats)
{
    enum { OPT_JSON = 256, OPT_FORMAT };
    static const struct option opts[] = {
        {"json", no_argument, NULL, OPT_JSON},
        {"quiet", no_argument, NULL, 'q'},
        {"all", no_argument, NULL, 'a'},
        {"filter", required_argument, NULL, 'f'},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0}};
    /* ps is docker's: exited guests only with -a. list and ls show them
     * all, as they always have (scripts rely on it). */
    int json = 0, quiet = 0, all = strcmp(argv[0], "ps") != 0, c;
    const char *format = NULL;
    struct guest_filter filter = {.n = 0};
    while ((c = cli_getopt(argc, argv, stats ? "qh" : "qaf:h", opts)) != -1) {
        switch (c) {
        case OPT_JSON: json = 1; break;
        case 'q': quiet = 1; break;
        case 'a': all = 1; break;
        case 'f':
            if (guest_filter_add(&filter, optarg) < 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_FORMAT: format = optarg; break;
        case 'h': usage(stdout, argv[0], stats); return 0;
        default: return CLI_EXIT_USAGE; /* cli_getopt said why */
        }
    }
    if (format && !strcmp(format, "json")) { /* docker's --format json */
        format = NULL;
        json = 1;
    }
    if (format && (json || quiet)) {
        cli_msg("%s: --format excludes --json and -q", argv[0]);
        return CLI_EXIT_USAGE;
    }
    if (format && guest_format_check(format) < 0)
        return CLI_EXIT_USAGE;
    struct lightvm *cl = cli_connect();
    if (!cl)
        return CLI_EXIT_ERROR;
    struct lightvm_error e;
    json_t *guests = cli_api_guests(cl, stats, &e);
    lightvm_close(cl);
    if (!guests) {
        cli_msg("%s", e.message);
        return CLI_EXIT_ERROR;
    }
    cli_json_round(guests);
    int nnamed = argc - optind;
    json_t *out = json_array();
    if (format)
        guest_format_header(stdout, format);
    else if (!json && !quiet && stats)
        printf("%-16s  %-20s  %-8s  %10s  %10s  %10s  %-17s  %16s  %16s\n",
               "ID", "NAME", "STATE", "CPU TIME", "MEMORY", "LIMIT", "MAC",
               "NET RX", "NET TX");
    else if (!json && !quiet)
        printf("%-16s  %-20s  %-8s  %7s  %8s  %5s  %-15s  %-8s  %s\n", "ID",
               "NAME", "STATE", "PID", "RAM", "AGE", "IP", "OWNER", "IMAGE");
    size_t i, shown = 0;
    json_t *raw;
    json_array_foreach (guests, i, raw) {
        struct lightvm_guest g;
        char *text = json_dumps(raw, JSON_COMPACT);
        int ok = text && lightvm_guest_parse(text, &g) == 0;
        free(text);
        /* A guest named on the command line shows in any state. */
        if (!ok || !named(&g, nnamed, argv + optind) ||
            !guest_filter_match(&filter, &g) ||
            (!all && !nnamed && !strcmp(g.state, "exited")))
            continue;
        shown++;
        if (json)
            json_array_append(out, quiet ? json_object_get(raw, "id") : raw);
        else if (quiet)
            printf("%s\n", g.id);
        else if (format)
            guest_format_print(stdout, format, &g, raw);
        else
            print_row(&g, stats);
    }
    json_decref(guests);
    if (json)
        cli_print_json(out);
    else
        json_decref(out);
    if (nnamed && !shown) {
        cli_msg("no such guest");
        return CLI_EXIT_ERROR;
    }
    return 0;
}

int cmd_list(int argc, char **argv)
{
    return list(argc, argv, 0);
}

int cmd_stats(int argc, char **argv)
{
    return list(argc, argv, 1);
}
