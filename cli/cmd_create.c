/*
 * cmd_create.c: lightvm create GUEST.elf -- have lightvmd create a guest
 * that runs in the background; prints its id.
 */
#include "cli/cli.h"
#include "cli/daemon_cmds.h"
#include "cli/guest_opts.h"
#include "cli/run.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "Usage: lightvm create [OPTIONS] GUEST.elf [--] [ARGS...]\n"
    "       lightvm create [OPTIONS] IMAGE_DIR\n"
    "\n"
    "Create a guest through lightvmd (in a prepared shell from its pool) and\n"
    "print its id. Its console goes to a log file ('lightvm console ID').\n"
    "A Tinyx image directory ('lightvm tinyx build') runs under QEMU (the\n"
    "qemu monitor): the reply comes when QEMU is up; 'lightvm list --json'\n"
    "says when the app is ready.\n"
    "\n"
    "Options (docs/cli.md says which apply to which monitor):\n" GUEST_OPTS_HELP
    "      --json              print the new guest as JSON\n"
    "  -q, --quiet             print nothing\n"
    "  -h, --help              this text\n";

int cmd_create(int argc, char **argv)
{
    enum { OPT_JSON = GO_FIRST_FREE };
    static const struct option opts[] = {GUEST_LONG_OPTS,
                                         {"json", no_argument, NULL, OPT_JSON},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0, 0, 0, 0}};
    struct guest_opts o;
    guest_opts_init(&o);
    int json = 0, quiet = 0, c;
    while ((c = cli_getopt(argc, argv, "+" GUEST_SHORT_OPTS "qh", opts)) !=
           -1) {
        int r = guest_opt(c, guest_opt_value(c, argc, argv), &o);
        if (r < 0)
            return CLI_EXIT_USAGE;
        if (r > 0)
            continue;
        switch (c) {
        case OPT_JSON: json = 1; break;
        case 'q': quiet = 1; break;
        case 'h': fputs(usage, stdout); return 0;
        default: return CLI_EXIT_USAGE; /* cli_getopt said why */
        }
    }
    if (guest_opts_rest(argc, argv, &o) < 0) {
        cli_msg("create: no guest image given (see 'lightvm create --help')");
        return CLI_EXIT_USAGE;
    }
    if (guest_opts_resolve(&o, "proc") < 0 || guest_opts_check(&o, 1, NULL) < 0)
        return CLI_EXIT_USAGE; /* a flag the monitor does not take, ... */
    struct lightvm *cl = cli_connect();
    if (!cl)
        return CLI_EXIT_ERROR;
    int rc = cli_create(cl, &o, 0, json, quiet);
    lightvm_close(cl);
    return rc;
}

int cli_create(struct lightvm *cl, struct guest_opts *o, int auto_remove,
               int json, int quiet)
{
    char image[PATH_MAX];
    if (!realpath(o->argv[0], image)) {
        cli_msg("%s: %s", o->argv[0], strerror(errno));
        return CLI_EXIT_ERROR;
    }
    struct guest_paths gp;
    struct lightvm_create_opts co;
    guest_opts_request(o, image, &gp, &co);
    co.args = (const char *const *)o->argv + 1;
    co.nargs = o->argc - 1;
    co.auto_remove = auto_remove;
    struct lightvm_guest g;
    struct lightvm_error e;
    int rc = lightvm_create(cl, &co, &g, &e);
    if (rc < 0) {
        cli_msg("%s", e.message);
        return CLI_EXIT_ERROR;
    }
    if (json) /* as the API describes it, every field */
        rc = cli_print_guest(cl, g.id);
    else if (!quiet)
        printf("%s\n", g.id);
    return rc < 0 ? CLI_EXIT_ERROR : 0;
}
