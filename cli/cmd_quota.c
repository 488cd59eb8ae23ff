/*
 * cmd_quota.c: lightvm quota: the caller's usage and limits, as lightvmd
 * counts them (docs/security.md, "Quotas"). Each user sees its own.
 */
#include "cli/cli.h"
#include "cli/daemon_cmds.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* In the order of docs/security.md's table. */
static const char *const quotas[] = {"guests", "ram",       "memory_limit",
                                     "cpus",   "console",   "console_total",
                                     "ports",  "templates", "connections"};

/* A value of quota (name) as people read it; null is no limit. */
static const char *show(const char *name, json_t *v, char *buf, size_t len)
{
    if (!v || json_is_null(v))
        return "unlimited";
    if (!strcmp(name, "cpus"))
        snprintf(buf, len, "%.2f", json_number_value(v));
    else if (!strcmp(name, "guests") || !strcmp(name, "ports") ||
             !strcmp(name, "connections"))
        snprintf(buf, len, "%lld", (long long)json_integer_value(v));
    else
        cli_bytes((uint64_t)json_integer_value(v), buf, len);
    return buf;
}

int cmd_quota(int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0, 0, 0, 0}};
    int json = 0, c;
    while ((c = cli_getopt(argc, argv, "h", opts)) != -1) {
        if (c == 'j') {
            json = 1;
        } else {
            if (c != 'h')
                return CLI_EXIT_USAGE; /* cli_getopt said why */
            fprintf(stdout,
                    "Usage: lightvm quota [--json]\n\n"
                    "Show what your guests (and lightvmd on your behalf) "
                    "hold against your quotas.\n"
                    "The operator sets quotas in lightvmd's config file; "
                    "root has none unless set.\n");
            return 0;
        }
    }
    if (optind != argc) {
        cli_msg("quota: no arguments (see 'lightvm quota --help')");
        return CLI_EXIT_USAGE;
    }
    struct lightvm *cl = cli_connect();
    if (!cl)
        return CLI_EXIT_ERROR;
    struct lightvm_error e;
    char *reply = NULL;
    int rc = lightvm_call(cl, "{\"op\":\"quota\"}", -1, &reply, &e);
    lightvm_close(cl);
    if (rc < 0) {
        cli_msg("quota: %s", e.message);
        return CLI_EXIT_ERROR;
    }
    json_t *o = json_loads(reply, 0, NULL);
    free(reply);
    json_t *q = json_object_get(o, "quotas");
    if (!json_is_object(q)) {
        json_decref(o);
        cli_msg("quota: the daemon's reply has no quotas");
        return CLI_EXIT_ERROR;
    }
    if (json) {
        cli_print_json(json_pack("{s:O, s:O}", "uid", json_object_get(o, "uid"),
                                 "quotas", q));
        json_decref(o);
        return 0;
    }
    printf("%-14s %12s %12s\n", "QUOTA", "USED", "LIMIT");
    for (size_t i = 0; i < sizeof quotas / sizeof quotas[0]; i++) {
        json_t *e1 = json_object_get(q, quotas[i]);
        if (!e1)
            continue;
        char u[32], l[32];
        json_t *used = json_object_get(e1, "used");
        printf("%-14s %12s %12s%s\n", quotas[i],
               used ? show(quotas[i], used, u, sizeof u) : "-",
               show(quotas[i], json_object_get(e1, "limit"), l, sizeof l),
               !strcmp(quotas[i], "console") ? "  (per guest)" : "");
    }
    json_decref(o);
    return 0;
}
