/*
 * cmd_migrate.c: lightvm migrate -- move a running guest to another
 * lightvmd (docs/migration.md).
 */
#include "cli/cli.h"
#include "cli/daemon_cmds.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

static const char migrate_usage[] =
    "Usage: lightvm migrate [OPTIONS] GUEST DEST\n"
    "\n"
    "Move a running proc or kvm guest to another lightvmd, and print its id\n"
    "there. It keeps running while its memory is copied, stops for the last\n"
    "changes (a few milliseconds), and goes on at the destination with its\n"
    "memory, console, name and (for root) MAC and address; it then goes\n"
    "from here. If anything fails first, it goes on here.\n"
    "\n"
    "DEST is one of:\n"
    "  unix:PATH, or PATH      the other daemon's API socket on this host (it\n"
    "                          must let you in; the guest is yours there).\n"
    "                          Its memory is passed, not copied.\n"
    "  tcp:HOST:PORT           the other daemon's migration port (lightvmd\n"
    "                          --migrate-listen); root only there\n"
    "\n"
    "Options:\n"
    "      --token-file FILE   the secret of a tcp: destination (its lightvmd\n"
    "                          --migrate-token file, or a copy of it)\n"
    "      --json              print what was done as JSON\n"
    "  -q, --quiet             print nothing\n"
    "  -h, --help              this text\n";

int cmd_migrate(int argc, char **argv)
{
    enum { OPT_JSON = 256, OPT_TOKEN };
    static const struct option opts[] = {
        {"json", no_argument, NULL, OPT_JSON},
        {"token-file", required_argument, NULL, OPT_TOKEN},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0}};
    int json = 0, quiet = 0, c;
    const char *token_file = NULL;
    while ((c = cli_getopt(argc, argv, "qh", opts)) != -1) {
        switch (c) {
        case OPT_JSON: json = 1; break;
        case OPT_TOKEN: token_file = optarg; break;
        case 'q': quiet = 1; break;
        case 'h': fputs(migrate_usage, stdout); return 0;
        default: return CLI_EXIT_USAGE; /* cli_getopt said why */
        }
    }
    if (argc - optind != 2) {
        cli_msg("migrate: name a guest and a destination (see 'lightvm "
                "migrate --help')");
        return CLI_EXIT_USAGE;
    }
    char token[258] = "";
    if (token_file) {
        FILE *f = fopen(token_file, "re");
        size_t n = f ? fread(token, 1, sizeof token - 1, f) : 0;
        if (f)
            fclose(f);
        if (!f) {
            cli_msg("migrate: --token-file %s: %s", token_file,
                    strerror(errno));
            return CLI_EXIT_ERROR;
        }
        while (n && (token[n - 1] == '\n' || token[n - 1] == ' '))
            n--;
        token[n] = 0;
    }
    struct lightvm *cl = cli_connect();
    if (!cl)
        return CLI_EXIT_ERROR;
    struct lightvm_migrated m;
    struct lightvm_error e;
    char ref[160];
    int rc = lightvm_migrate(cl, cli_guest_ref(argv[optind], ref, sizeof ref),
                             argv[optind + 1], token, &m, &e);
    lightvm_close(cl);
    if (rc < 0) {
        cli_msg("migrate %s: %s", argv[optind], e.message);
        return CLI_EXIT_ERROR;
    }
    if (json)
        cli_print_json(json_pack(
            "{s:s, s:s, s:s, s:s, s:f, s:f, s:I, s:I, s:i, s:{s:f, s:f, s:f}}",
            "id", m.id, "name", m.name, "destination", argv[optind + 1], "via",
            m.via, "ms", m.ms, "downtime_ms", m.downtime_ms, "pages",
            (json_int_t)m.pages, "final_pages", (json_int_t)m.final_pages,
            "rounds", m.rounds, "phases", "copy_ms", m.copy_ms, "make_ms",
            m.make_ms, "commit_ms", m.commit_ms));
    else if (!quiet)
        printf("%s\n", m.id);
    return 0;
}
