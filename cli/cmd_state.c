/*
 * cmd_state.c: lightvm save, restore and clone -- a guest's whole state to
 * a file through lightvmd, a guest from it, and many guests from one
 * snapshot (docs/cli.md, docs/snapshots.md).
 */
#include "cli/cli.h"
#include "cli/daemon_cmds.h"
#include "cli/guest_opts.h"
#include "toolstack/guest_name.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char save_usage[] =
    "Usage: lightvm save [OPTIONS] GUEST PATH\n"
    "\n"
    "Save a guest's whole state (memory, CPU, devices) to the state file\n"
    "PATH through lightvmd, then destroy the guest (as 'xl save' does).\n"
    "'lightvm restore PATH' brings it back, under proc or kvm for a proc or\n"
    "kvm guest. The file is written as you, atomically, and never over an\n"
    "existing file without --force.\n"
    "\n"
    "Options:\n"
    "      --leave-running     the guest goes on after the save\n"
    "  -f, --force             replace PATH if it exists\n"
    "      --json              print what was saved as JSON\n"
    "  -h, --help              this text\n";

static const char restore_usage[] =
    "Usage: lightvm restore [OPTIONS] PATH [IMAGE]\n"
    "\n"
    "Start the guest saved in the state file PATH (made by 'lightvm save')\n"
    "and print its id. The file names its image (and checks it by its\n"
    "SHA-256) and holds its recipe (arguments, devices, limits): IMAGE and\n"
    "the options below replace what it says. A proc or kvm guest keeps its\n"
    "name, MAC and address, and may move between proc and kvm (--monitor).\n"
    "\n"
    "Options (those of create; docs/cli.md):\n" GUEST_OPTS_HELP
    "      --json              print the new guest as JSON\n"
    "  -q, --quiet             print nothing\n"
    "  -h, --help              this text\n";

static const char clone_usage[] =
    "Usage: lightvm clone [OPTIONS] GUEST|PATH\n"
    "\n"
    "Start copies of a guest (a snapshot taken now; it goes on running) or\n"
    "of a state file PATH (an existing file). They share its memory\n"
    "copy-on-write; each has its own id, name, console, MAC and address,\n"
    "and learns that it is a clone (new random seed, new address). Prints\n"
    "their ids, one per line.\n"
    "\n"
    "Options:\n"
    "  -n, --count N           how many (default 1, at most 1000)\n"
    "      --name STEM         name them STEM-1, STEM-2, ... (default: the\n"
    "                          original's name)\n"
    "      --json              print them as a JSON array\n"
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
    enum { OPT_JSON = 256, OPT_LEAVE };
    static const struct option opts[] = {
        {"json", no_argument, NULL, OPT_JSON},
        {"leave-running", no_argument, NULL, OPT_LEAVE},
        {"force", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0}};
    int json = 0, c;
    struct lightvm_save_opts so = {0, 0};
    while ((c = cli_getopt(argc, argv, "fh", opts)) != -1) {
        switch (c) {
        case OPT_JSON: json = 1; break;
        case OPT_LEAVE: so.leave_running = 1; break;
        case 'f': so.force = 1; break;
        case 'h': fputs(save_usage, stdout); return 0;
        default: return CLI_EXIT_USAGE; /* cli_getopt said why */
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
    const char *id = cli_guest_ref(argv[optind], ref, sizeof ref);
    /* With --json, the guest is looked up first: its real id is printed. */
    json_t *g = json ? cli_api_guest(cl, id, &e) : NULL;
    int rc = json && !g
                 ? -1
                 : lightvm_save(
                       cl, g ? json_string_value(json_object_get(g, "id")) : id,
                       path, &so, &s, &e);
    lightvm_close(cl);
    if (rc < 0) {
        json_decref(g);
        cli_msg("save %s: %s", argv[optind], e.message);
        return CLI_EXIT_ERROR;
    }
    if (json)
        cli_print_json(json_pack("{s:O, s:O, s:s, s:I, s:I, s:f, s:b}", "id",
                                 json_object_get(g, "id"), "name",
                                 json_object_get(g, "name"), "path", path,
                                 "bytes", (json_int_t)s.bytes, "pages",
                                 (json_int_t)s.pages, "save_ms", s.save_ms,
                                 "running", so.leave_running));
    json_decref(g);
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
    while ((c = cli_getopt(argc, argv, GUEST_SHORT_OPTS "qh", opts)) != -1) {
        int r = guest_opt(c, optarg, &o);
        if (r < 0)
            return CLI_EXIT_USAGE;
        if (r > 0)
            continue;
        switch (c) {
        case OPT_JSON: json = 1; break;
        case 'q': quiet = 1; break;
        case 'h': fputs(restore_usage, stdout); return 0;
        default: return CLI_EXIT_USAGE; /* cli_getopt said why */
        }
    }
    int nargs = argc - optind;
    if (nargs < 1 || nargs > 2) {
        cli_msg("restore: give a state file, and an image if it moved (see "
                "'lightvm restore --help')");
        return CLI_EXIT_USAGE;
    }
    char path[PATH_MAX], image[PATH_MAX] = "";
    if (absolute(argv[optind], path, sizeof path) < 0)
        return CLI_EXIT_ERROR;
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        /* An image given for the state file, most likely. */
        cli_msg("restore: %s is a directory%s, not a state file ('lightvm "
                "save' makes those)",
                argv[optind],
                guest_opts_is_tinyx(path)
                    ? " (a Tinyx image: 'lightvm run' boots it)"
                    : "");
        return CLI_EXIT_USAGE;
    }
    if (nargs == 2 && !realpath(argv[optind + 1], image)) {
        cli_msg("%s: %s", argv[optind + 1], strerror(errno));
        return CLI_EXIT_ERROR;
    }
    /* The flags are checked here when the monitor is known; else lightvmd
     * checks them against the state file's. */
    if (image[0]) {
        o.argc = 1;
        o.argv = &argv[optind + 1];
        if (guest_opts_resolve(&o, NULL) < 0)
            return CLI_EXIT_USAGE;
    }
    if (o.monitor && strcmp(o.monitor, "auto") &&
        guest_opts_check(&o, 1, NULL) < 0)
        return CLI_EXIT_USAGE;
    struct guest_paths gp;
    struct lightvm_create_opts co;
    guest_opts_request(&o, image[0] ? image : NULL, &gp, &co);
    struct lightvm *cl = cli_connect();
    if (!cl)
        return CLI_EXIT_ERROR;
    struct lightvm_guest g;
    struct lightvm_error e;
    int rc = lightvm_restore(cl, path, &co, &g, &e);
    if (rc < 0) {
        lightvm_close(cl);
        cli_msg("restore %s: %s", argv[optind], e.message);
        return CLI_EXIT_ERROR;
    }
    if (json)
        rc = cli_print_guest(cl, g.id);
    else if (!quiet)
        printf("%s\n", g.id);
    lightvm_close(cl);
    return rc < 0 ? CLI_EXIT_ERROR : 0;
}

int cmd_clone(int argc, char **argv)
{
    enum { OPT_JSON = 256, OPT_NAME };
    static const struct option opts[] = {
        {"count", required_argument, NULL, 'n'},
        {"name", required_argument, NULL, OPT_NAME},
        {"json", no_argument, NULL, OPT_JSON},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0}};
    int json = 0, quiet = 0, c;
    unsigned long count = 1;
    const char *name = NULL;
    char *end;
    while ((c = cli_getopt(argc, argv, "n:qh", opts)) != -1) {
        switch (c) {
        case 'n':
            errno = 0;
            count = strtoul(optarg, &end, 10);
            if (errno || *end || !*optarg || count < 1 || count > 1000) {
                cli_msg("--count: '%s' is not a number from 1 to 1000", optarg);
                return CLI_EXIT_USAGE;
            }
            break;
        case OPT_NAME: { /* a stem: STEM-1 must keep to the rule */
            struct lvm_err err;
            if (guest_name_check(optarg, &err) < 0) {
                cli_msg("--%s", err.msg);
                return CLI_EXIT_USAGE;
            }
            name = optarg;
            break;
        }
        case OPT_JSON: json = 1; break;
        case 'q': quiet = 1; break;
        case 'h': fputs(clone_usage, stdout); return 0;
        default: return CLI_EXIT_USAGE; /* cli_getopt said why */
        }
    }
    if (argc - optind != 1) {
        cli_msg("clone: name one guest or state file (see 'lightvm clone "
                "--help')");
        return CLI_EXIT_USAGE;
    }
    const char *what = argv[optind];
    struct stat st;
    char path[PATH_MAX], ref[160];
    int is_file = stat(what, &st) == 0 && S_ISREG(st.st_mode);
    if (is_file && absolute(what, path, sizeof path) < 0)
        return CLI_EXIT_ERROR;
    struct lightvm_guest *gs = calloc(count, sizeof *gs);
    struct lightvm *cl = gs ? cli_connect() : NULL;
    if (!cl) {
        free(gs);
        return CLI_EXIT_ERROR;
    }
    struct lightvm_error e;
    e.code[0] = 0;
    unsigned n = 0;
    int rc =
        lightvm_clone(cl, is_file ? NULL : cli_guest_ref(what, ref, sizeof ref),
                      is_file ? path : NULL, (unsigned)count, name, gs,
                      (unsigned)count, &n, &e);
    if (rc == 0 && json) {
        json_t *a = json_array();
        for (unsigned i = 0; i < n; i++) {
            struct lightvm_error ge;
            json_t *g = cli_api_guest(cl, gs[i].id, &ge);
            if (g) /* else gone already: the ids are printed below */
                json_array_append_new(a, g);
        }
        cli_print_json(a);
    } else if (rc == 0 && !quiet) {
        for (unsigned i = 0; i < n; i++)
            printf("%s\n", gs[i].id);
    }
    lightvm_close(cl);
    free(gs);
    if (rc < 0 || n < count) {
        cli_msg("clone %s: %s%s", what, rc == 0 ? "only some started: " : "",
                e.message);
        return CLI_EXIT_ERROR;
    }
    return 0;
}
