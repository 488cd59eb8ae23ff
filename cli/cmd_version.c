/*
 * cmd_version.c: lightvm version: this CLI's version and, when lightvmd
 * answers, the daemon's (like `docker version`: client, then server).
 * The daemon being down is not an error here: the command is how a user
 * finds out what is installed before starting anything.
 */
#include "cli/cli.h"

#include <getopt.h>
#include <jansson.h>
#include <lightvm/abi.h>
#include <lightvm/lightvm.h>
#include <lvm_version.h>
#include <stdio.h>
#include <stdlib.h>

/* The daemon's reply to {"op":"version"}, or NULL with (e) set. */
static json_t *daemon_version(struct lightvm_error *e)
{
    struct lightvm *c = lightvm_connect(NULL, e);
    if (!c)
        return NULL;
    char *reply = NULL;
    json_t *o = NULL;
    if (lightvm_call(c, "{\"op\":\"version\"}", -1, &reply, e) == 0)
        o = json_loads(reply, 0, NULL);
    free(reply);
    lightvm_close(c);
    return o;
}

int cmd_version(int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0, 0, 0, 0}};
    int json = 0, c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'j') {
            json = 1;
            continue;
        }
        FILE *f = c == 'h' ? stdout : stderr;
        fputs("Usage: lightvm version [--json]\n\n"
              "Print the version of this lightvm and, if it answers, of "
              "lightvmd.\n",
              f);
        return c == 'h' ? 0 : CLI_EXIT_USAGE;
    }
    if (optind != argc) {
        cli_msg("version: no arguments (see 'lightvm version --help')");
        return CLI_EXIT_USAGE;
    }
    struct lightvm_error e = {0};
    json_t *d = daemon_version(&e);
    if (json) {
        json_t *o = json_pack("{s:{s:s, s:i}}", "client", "version",
                              LVM_VERSION, "abi", LVM_ABI_VERSION);
        json_object_set_new(o, "daemon", d ? json_incref(d) : json_null());
        char *s = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        if (s)
            puts(s);
        free(s);
    } else {
        printf("lightvm:  %s (guest ABI %d)\n", LVM_VERSION, LVM_ABI_VERSION);
        if (d) {
            json_int_t n = json_integer_value(json_object_get(d, "guests"));
            printf("lightvmd: %s (guest ABI %lld, pid %lld, %lld guest%s)\n",
                   json_string_value(json_object_get(d, "version")),
                   json_integer_value(json_object_get(d, "abi")),
                   json_integer_value(json_object_get(d, "pid")), n,
                   n == 1 ? "" : "s");
        } else {
            printf("lightvmd: not reachable (%s)\n", e.message);
        }
    }
    json_decref(d);
    return 0;
}
