/*
 * cmd_fn.c: lightvm fn: the function service (docs/faas.md). Functions
 * are Lua files in a directory; `fn serve` answers POST /fn/NAME by
 * running NAME in a fresh guest.
 */
#include "cli/cli.h"
#include "faas/fn_store.h"
#include "faas/gateway.h"
#include "toolstack/layout.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const char usage[] =
    "Usage: lightvm fn COMMAND [--dir DIR] ...\n\n"
    "The function service: Lua functions, each invocation in a fresh guest.\n\n"
    "Commands:\n"
    "  deploy NAME FILE.lua   store FILE.lua as function NAME (replaces it)\n"
    "  ls                     list the deployed functions\n"
    "  rm NAME...             remove functions\n"
    "  serve [OPTIONS]        the HTTP gateway: POST /fn/NAME with a body\n\n"
    "Common options:\n"
    "  --dir DIR              the function store (default $LIGHTVM_FN_DIR,\n"
    "                         else " FN_DIR_DEFAULT ")\n\n"
    "serve options:\n"
    "  -l, --listen ADDR:PORT  where to listen (default 127.0.0.1:8080)\n"
    "  -m, --memory SIZE       guest RAM per invocation (default 64M)\n"
    "      --cpu-time SECONDS  CPU time per invocation (default 1)\n"
    "  -t, --timeout SECONDS   wall-clock time per invocation (default 5)\n"
    "      --max-running N     guests at once (default 8)\n"
    "      --queue N           invocations waiting beyond those; 503 past it\n"
    "                          (default 64)\n"
    "      --pool N            prepared shells kept ready (default 8)\n"
    "      --max-per-client N  invocations running or waiting per client\n"
    "                          address; 429 past it (default: half of\n"
    "                          --max-running plus --queue; 0: no limit)\n"
    "      --max-conns-per-client N  open connections per client address,\n"
    "                          each up to --max-body buffered; 429 and\n"
    "                          closed past it (default 64; 0: no limit)\n"
    "      --header-timeout SECONDS  for a request head, from its first\n"
    "                          byte; 408 past it (default 10)\n"
    "      --body-timeout SECONDS    for its body, after the head; 408\n"
    "                          past it (default 10)\n"
    "      --keepalive-timeout SECONDS  an idle keep-alive connection is\n"
    "                          closed after it (default 30)\n"
    "      --send-timeout SECONDS  a client that reads none of its answer\n"
    "                          for this long is closed (default 10)\n"
    "      --max-body SIZE     request body limit; 413 past it (default 1M)\n"
    "      --max-result SIZE   result limit (default 1M)\n"
    "      --runner KIND       guest (the service); process or crun: a lua5.4\n"
    "                          process or crun container per invocation, to\n"
    "                          compare with (bench/faas.sh; no guest "
    "isolation)\n\n"
    "A function is a Lua 5.4 file defining handler(body): it gets the request\n"
    "body as a string and returns the answer (a string, number, boolean or\n"
    "nil). See docs/faas.md.\n";

static int parse_secs(const char *flag, const char *arg, uint64_t *ms)
{
    char *end;
    errno = 0;
    double s = strtod(arg, &end);
    if (errno || end == arg || *end || !(s >= 0.001) || s > 86400) {
        cli_msg("%s: '%s' is not a number of seconds (0.001 to 86400)", flag,
                arg);
        return -1;
    }
    *ms = (uint64_t)(s * 1000 + 0.5);
    return 0;
}

static int parse_bytes(const char *flag, const char *arg, uint64_t min,
                       uint64_t max, uint64_t *out)
{
    if (layout_parse_size(arg, out) < 0 || *out < min || *out > max) {
        cli_msg("%s: '%s' is not a size from %llu to %llu bytes (e.g. 64M)",
                flag, arg, (unsigned long long)min, (unsigned long long)max);
        return -1;
    }
    return 0;
}

enum {
    OPT_DIR = 256,
    OPT_CPU,
    OPT_RUNNING,
    OPT_QUEUE,
    OPT_POOL,
    OPT_BODY,
    OPT_RESULT,
    OPT_RUNNER,
    OPT_PER_CLIENT,
    OPT_CONNS_PER_CLIENT,
    OPT_HEADER_TO,
    OPT_BODY_TO,
    OPT_KEEPALIVE_TO,
    OPT_SEND_TO
};

static int serve(int argc, char **argv, const char *dir)
{
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"memory", required_argument, NULL, 'm'},
        {"cpu-time", required_argument, NULL, OPT_CPU},
        {"timeout", required_argument, NULL, 't'},
        {"max-running", required_argument, NULL, OPT_RUNNING},
        {"queue", required_argument, NULL, OPT_QUEUE},
        {"pool", required_argument, NULL, OPT_POOL},
        {"max-body", required_argument, NULL, OPT_BODY},
        {"max-result", required_argument, NULL, OPT_RESULT},
        {"dir", required_argument, NULL, OPT_DIR},
        {"runner", required_argument, NULL, OPT_RUNNER},
        {"max-per-client", required_argument, NULL, OPT_PER_CLIENT},
        {"max-conns-per-client", required_argument, NULL, OPT_CONNS_PER_CLIENT},
        {"header-timeout", required_argument, NULL, OPT_HEADER_TO},
        {"body-timeout", required_argument, NULL, OPT_BODY_TO},
        {"keepalive-timeout", required_argument, NULL, OPT_KEEPALIVE_TO},
        {"send-timeout", required_argument, NULL, OPT_SEND_TO},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0}};
    struct gw_opts o = {
        .listen = "127.0.0.1:8080",
        .dir = dir,
        .lim = {.ram = 64 << 20,
                .timeout_ms = 5000,
                .cpu_ms = 1000,
                .result_max = 1 << 20},
        .max_running = 8,
        .queue_max = 64,
        .pool = 8,
        .body_max = 1 << 20,
        .max_conns = 4096,
        .max_per_client = UINT_MAX, /* unset: from the others, below */
        .max_conns_per_client = 64,
        .header_timeout_ms = 10000,
        .body_timeout_ms = 10000,
        .keepalive_timeout_ms = 30000,
        .send_timeout_ms = 10000,
    };
    int c, bad = 0;
    while (!bad && (c = cli_getopt(argc, argv, "l:m:t:h", opts)) != -1) {
        switch (c) {
        case 'l': o.listen = optarg; break;
        case 'm':
            bad = parse_bytes("--memory", optarg, 4 << 20, 4ull << 30,
                              &o.lim.ram) < 0;
            o.lim.ram &= ~4095ull;
            break;
        case OPT_CPU:
            bad = parse_secs("--cpu-time", optarg, &o.lim.cpu_ms) < 0;
            break;
        case 't':
            bad = parse_secs("--timeout", optarg, &o.lim.timeout_ms) < 0;
            break;
        case OPT_RUNNING:
            bad = cli_parse_count("--max-running", optarg, 1, 10000,
                                  &o.max_running) < 0;
            break;
        case OPT_QUEUE:
            bad = cli_parse_count("--queue", optarg, 0, 1000000, &o.queue_max) <
                  0;
            break;
        case OPT_POOL:
            bad = cli_parse_count("--pool", optarg, 0, 10000, &o.pool) < 0;
            break;
        case OPT_BODY:
            bad =
                parse_bytes("--max-body", optarg, 0, 64 << 20, &o.body_max) < 0;
            break;
        case OPT_RESULT:
            bad = parse_bytes("--max-result", optarg, 1, 64 << 20,
                              &o.lim.result_max) < 0;
            break;
        case OPT_CONNS_PER_CLIENT:
            bad = cli_parse_count("--max-conns-per-client", optarg, 0, 10000000,
                                  &o.max_conns_per_client) < 0;
            break;
        case OPT_PER_CLIENT:
            bad = cli_parse_count("--max-per-client", optarg, 0, 10000000,
                                  &o.max_per_client) < 0;
            break;
        case OPT_HEADER_TO:
            bad = parse_secs("--header-timeout", optarg, &o.header_timeout_ms) <
                  0;
            break;
        case OPT_BODY_TO:
            bad = parse_secs("--body-timeout", optarg, &o.body_timeout_ms) < 0;
            break;
        case OPT_KEEPALIVE_TO:
            bad = parse_secs("--keepalive-timeout", optarg,
                             &o.keepalive_timeout_ms) < 0;
            break;
        case OPT_SEND_TO:
            bad = parse_secs("--send-timeout", optarg, &o.send_timeout_ms) < 0;
            break;
        case OPT_DIR: o.dir = optarg; break;
        case OPT_RUNNER:
            if (!strcmp(optarg, "guest")) {
                o.runner = FN_RUN_GUEST;
            } else if (!strcmp(optarg, "process")) {
                o.runner = FN_RUN_PROCESS;
            } else if (!strcmp(optarg, "crun")) {
                o.runner = FN_RUN_CRUN;
            } else {
                cli_msg("--runner: '%s' is not guest, process or crun", optarg);
                bad = 1;
            }
            break;
        case 'h': fputs(usage, stdout); return 0;
        default: return CLI_EXIT_USAGE;
        }
    }
    if (bad)
        return CLI_EXIT_USAGE;
    if (optind != argc) {
        cli_msg("fn serve: unexpected argument '%s'", argv[optind]);
        return CLI_EXIT_USAGE;
    }
    /* One address may hold half of what there is: the rest stays for the
     * others (at least one each). */
    if (o.max_per_client == UINT_MAX) {
        o.max_per_client = (o.max_running + o.queue_max) / 2;
        if (!o.max_per_client)
            o.max_per_client = 1;
    }
    return fn_serve(&o);
}

static int list(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT)
            return 0; /* nothing deployed yet */
        cli_msg("fn ls: %s: %s", dir, strerror(errno));
        return CLI_EXIT_ERROR;
    }
    printf("%-32s %10s  %s\n", "NAME", "SIZE", "DEPLOYED");
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".lua") ||
            !fn_name_ok(e->d_name, n - 4))
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode))
            continue;
        char when[32];
        struct tm tm;
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S",
                 localtime_r(&st.st_mtime, &tm));
        printf("%-32.*s %10lld  %s\n", (int)(n - 4), e->d_name,
               (long long)st.st_size, when);
    }
    closedir(d);
    return 0;
}

int cmd_fn(int argc, char **argv)
{
    /* --dir may come before the subcommand or after it. */
    const char *dir = NULL;
    int i = 1;
    while (i < argc && !strncmp(argv[i], "--dir", 5)) {
        if (argv[i][5] == '=') {
            dir = argv[i] + 6;
            i++;
        } else if (!argv[i][5] && i + 1 < argc) {
            dir = argv[i + 1];
            i += 2;
        } else {
            break;
        }
    }
    if (i >= argc || !strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
        fputs(usage, i >= argc ? stderr : stdout);
        return i >= argc ? CLI_EXIT_USAGE : 0;
    }
    const char *sub = argv[i];
    int sargc = argc - i;
    char **sargv = argv + i;
    if (!strcmp(sub, "serve")) {
        /* cli_getopt names the command by argv[0]: not `lightvm serve`'s. */
        static char name[] = "fn serve";
        sargv[0] = name;
        return serve(sargc, sargv, dir);
    }
    /* deploy, ls, rm: --dir after the subcommand too. */
    char *rest[64];
    int nrest = 0;
    for (int k = 1; k < sargc; k++) {
        if (!strcmp(sargv[k], "--dir") && k + 1 < sargc) {
            dir = sargv[++k];
        } else if (!strncmp(sargv[k], "--dir=", 6)) {
            dir = sargv[k] + 6;
        } else if (sargv[k][0] == '-' && sargv[k][1]) {
            cli_msg("fn %s: unknown option '%s' (see 'lightvm fn --help')", sub,
                    sargv[k]);
            return CLI_EXIT_USAGE;
        } else if (nrest < 64) {
            rest[nrest++] = sargv[k];
        }
    }
    const char *store = fn_store_dir(dir);
    struct lvm_err err;
    char eb[512];
    if (!strcmp(sub, "deploy")) {
        if (nrest != 2) {
            cli_msg("fn deploy: usage: lightvm fn deploy NAME FILE.lua");
            return CLI_EXIT_USAGE;
        }
        if (fn_deploy(store, rest[0], rest[1], &err) < 0) {
            cli_msg("fn deploy: %s", lvm_err_str(&err, eb, sizeof eb));
            return CLI_EXIT_ERROR;
        }
        printf("%s\n", rest[0]);
        return 0;
    }
    if (!strcmp(sub, "ls") || !strcmp(sub, "list")) {
        if (nrest) {
            cli_msg("fn ls: no arguments");
            return CLI_EXIT_USAGE;
        }
        return list(store);
    }
    if (!strcmp(sub, "rm")) {
        if (!nrest) {
            cli_msg("fn rm: usage: lightvm fn rm NAME...");
            return CLI_EXIT_USAGE;
        }
        int rc = 0;
        for (int k = 0; k < nrest; k++) {
            if (fn_remove(store, rest[k], &err) < 0) {
                cli_msg("fn rm: %s", lvm_err_str(&err, eb, sizeof eb));
                rc = CLI_EXIT_ERROR;
            } else {
                printf("%s\n", rest[k]);
            }
        }
        return rc;
    }
    static const char *const subs[] = {"deploy", "ls", "rm", "serve"};
    const char *s = cli_suggest(sub, strlen(sub), subs, 4);
    if (s)
        cli_msg("fn: unknown command '%s' (did you mean '%s'?)", sub, s);
    else
        cli_msg("fn: unknown command '%s' (deploy, ls, rm, serve)", sub);
    return CLI_EXIT_USAGE;
}
