/*
 * cmd_state.c: lightvm save and restore -- a qemu guest's whole state to a
 * file through lightvmd, and a new guest from it.
 */
#include "cli/cli.h"
#include "cli/daemon_cmds.h"
#include "cli/guest_opts.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char save_usage[] =
    "Usage: lightvm save [--json] GUEST PATH\n"
    "\n"
    "Save a qemu guest's whole state (RAM, devices) to PATH through\n"
    "lightvmd. The guest stays paused: 'lightvm unpause' goes on from\n"
    "there, 'lightvm destroy' ends it. 'lightvm restore PATH IMAGE_DIR'\n"
    "starts a new guest from the file.\n";

static const char restore_usage[] =
    "Usage: lightvm restore [OPTIONS] PATH IMAGE_DIR\n"
    "\n"
    "Start a new qemu guest from the state file PATH (made by 'lightvm\n"
    "save'), with the Tinyx image and RAM (-m) of the guest that was saved;\n"
    "print its id. Port forwards are made afresh (-p).\n"
    "\n"
    "Options (those of create; docs/cli.md):\n" GUEST_OPTS_HELP
    "      --json              print the new guest as JSON\n"
    "  -q, --quiet             print nothing\n"
    "  -h, --help              this text\n";

/* (path) made absolute without requiring it to exist: lightvmd's working
 * directory is not the caller's. */
static int absolute(const char *path, char *out, size_t len)
{
    char dir[PATH_MAX], base[PATH_MAX], real[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    snprintf(base, sizeof base, "%s", path);
    if (!realpath(dirname(dir), real)) {
        cli_msg("%s: %s", path, strerror(errno));
        return -1;
    }
    const char *b = basename(base);
    if (!strcmp(b, "/") || !strcmp(b, ".") || !strcmp(b, "..")) {
        cli_msg("%s: not a file name", path);
        return -1;
    }
    if ((size_t)snprintf(out, len, "%s/%s", strcmp(real, "/") ? real : "", b) >=
        len) {
        cli_msg("%s: path too long", path);
        return -1;
    }
    return 0;
}

int cmd_save(int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0, 0, 0, 0}};
    int json = 0, c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'j') {
            json = 1;
        } else {
            fputs(save_usage, c == 'h' ? stdout : stderr);
            return c == 'h' ? 0 : CLI_EXIT_USAGE;
        }
    }
    if (argc - optind != 2) {
        cli_msg("save: name a guest and a file (see 'lightvm save --help')");
        return CLI_EXIT_USAGE;
    }
    char path[PATH_MAX];
    if (absolute(argv[optind + 1], path, sizeof path) < 0)
        return CLI_EXIT_ERROR;
    struct lightvm *cl = cli_connect();
    if (!cl)
        return CLI_EXIT_ERROR;
    struct lightvm_saved s;
    struct lightvm_error e;
    char ref[160];
    int rc = lightvm_save(cl, cli_guest_ref(argv[optind], ref, sizeof ref),
                          path, &s, &e);
    lightvm_close(cl);
    if (rc < 0) {
        cli_msg("save %s: %s", argv[optind], e.message);
        return CLI_EXIT_ERROR;
    }
    if (json)
        printf("{\"path\":\"%s\",\"bytes\":%llu,\"save_ms\":%.3f}\n", path,
               (unsigned long long)s.bytes, s.save_ms);
    return 0;
}

int cmd_restore(int argc, char **argv)
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
    /* Options anywhere: "restore PATH -p 0:80 IMAGE_DIR" reads well. */
    while ((c = getopt_long(argc, argv, GUEST_SHORT_OPTS "qh", opts, NULL)) !=
           -1) {
        int r = guest_opt(c, optarg, &o);
        if (r < 0)
            return CLI_EXIT_USAGE;
        if (r > 0)
            continue;
        switch (c) {
        case OPT_JSON: json = 1; break;
        case 'q': quiet = 1; break;
        case 'h': fputs(restore_usage, stdout); return 0;
        default: fputs(restore_usage, stderr); return CLI_EXIT_USAGE;
        }
    }
    if (argc - optind != 2) {
        cli_msg("restore: give a state file and the guest's image "
                "directory (see 'lightvm restore --help')");
        return CLI_EXIT_USAGE;
    }
    o.argc = 1; /* the image, for the option table's checks */
    o.argv = &argv[optind + 1];
    if (guest_opts_resolve(&o, "qemu") < 0 || guest_opts_check(&o, 1, NULL) < 0)
        return CLI_EXIT_ERROR;
    char path[PATH_MAX], image[PATH_MAX];
    if (absolute(argv[optind], path, sizeof path) < 0)
        return CLI_EXIT_ERROR;
    if (!realpath(argv[optind + 1], image)) {
        cli_msg("%s: %s", argv[optind + 1], strerror(errno));
        return CLI_EXIT_ERROR;
    }
    struct guest_paths gp;
    struct lightvm_create_opts co;
    guest_opts_request(&o, image, &gp, &co);
    struct lightvm *cl = cli_connect();
    if (!cl)
        return CLI_EXIT_ERROR;
    struct lightvm_guest g;
    struct lightvm_error e;
    int rc = lightvm_restore(cl, path, &co, &g, &e);
    lightvm_close(cl);
    if (rc < 0) {
        cli_msg("%s", e.message);
        return CLI_EXIT_ERROR;
    }
    if (json)
        cli_print_guest_json(&g);
    else if (!quiet)
        printf("%s\n", g.id);
    return 0;
}
