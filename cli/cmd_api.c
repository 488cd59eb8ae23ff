/*
 * cmd_api.c: lightvm api JSON: send one raw request to lightvmd and print
 * its reply, for scripts and for trying the API (docs/api.md) without a
 * socket tool. The request goes as it is: the daemon validates it, as it
 * does any client's.
 */
#include "cli/cli.h"
#include "cli/daemon_cmds.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* At most one request's worth (the daemon refuses more anyway). */
#define API_MAX_BYTES 65536

static char *read_stdin(void)
{
    char *buf = malloc(API_MAX_BYTES + 1);
    size_t n = buf ? fread(buf, 1, API_MAX_BYTES + 1, stdin) : 0;
    if (!buf || n > API_MAX_BYTES) {
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    return buf;
}

int cmd_api(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'},
                                         {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        FILE *f = c == 'h' ? stdout : stderr;
        fputs("Usage: lightvm api JSON\n"
              "       lightvm api - < request.json\n\n"
              "Send one raw request to lightvmd and print its reply (one "
              "line of JSON).\nExit 0 if the reply says \"ok\": true, 1 if "
              "it is an error reply.\nExample: lightvm api "
              "'{\"op\":\"list\"}'. The requests: docs/api.md.\n",
              f);
        return c == 'h' ? 0 : CLI_EXIT_USAGE;
    }
    if (argc - optind != 1) {
        cli_msg("api: expected one JSON request, or - to read it from stdin "
                "(see 'lightvm api --help')");
        return CLI_EXIT_USAGE;
    }
    const char *arg = argv[optind];
    char *owned = strcmp(arg, "-") == 0 ? read_stdin() : NULL;
    if (strcmp(arg, "-") == 0 && !owned) {
        cli_msg("api: the request on stdin is larger than %d bytes",
                API_MAX_BYTES);
        return CLI_EXIT_USAGE;
    }
    const char *req = owned ? owned : arg;
    /* Checked here only to name the mistake; the daemon checks it again. */
    json_error_t je;
    json_t *o = json_loads(req, 0, &je);
    if (!o) {
        cli_msg("api: the request is not JSON: %s (line %d, column %d)",
                je.text, je.line, je.column);
        free(owned);
        return CLI_EXIT_USAGE;
    }
    json_decref(o);
    struct lightvm *cl = cli_connect();
    if (!cl) {
        free(owned);
        return CLI_EXIT_ERROR;
    }
    struct lightvm_error e;
    char *reply = NULL;
    int rc = lightvm_call(cl, req, -1, &reply, &e);
    lightvm_close(cl);
    free(owned);
    if (rc < 0) {
        cli_msg("api: %s", e.message);
        return CLI_EXIT_ERROR;
    }
    puts(reply);
    json_t *r = json_loads(reply, 0, NULL);
    int ok = json_is_true(json_object_get(r, "ok"));
    json_decref(r);
    free(reply);
    return ok ? 0 : 1;
}
