/*
 * cmd_run.c: lightvm run IMAGE -- boot a guest in the foreground, show its
 * console, and exit with its status (or say why it was killed).
 *
 * One engine per place a guest can start, the same for every monitor
 * (run.h): with lightvmd running, the daemon creates the guest and this
 * process shows its console and waits for it (run_daemon.c); without
 * it, lightvm does the whole job itself (run_cold.c for proc and kvm,
 * run_qemu.c for qemu). The options are one table (guest_opts.h), and a
 * flag that does not apply to the monitor is refused here, before either.
 */
#include "cli/cli.h"
#include "cli/guest_opts.h"
#include "cli/run.h"

#include <errno.h>
#include <lightvm/lightvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "Usage: lightvm run [OPTIONS] GUEST.elf [--] [ARGS...]\n"
    "       lightvm run [OPTIONS] IMAGE_DIR\n"
    "\n"
    "Boot GUEST.elf, or a Tinyx image directory ('lightvm tinyx build') under\n"
    "QEMU, as a lightweight VM, stream its console, and exit with its exit\n"
    "status. A guest killed by its sandbox, a limit or a timeout is reported\n"
    "on stderr, with a distinct exit status (see EXIT STATUS in\n"
    "docs/cli.md). Uses lightvmd when it runs, and works without it. An\n"
    "option that does not apply to the guest's monitor is refused (the\n"
    "table is in docs/cli.md).\n"
    "\n"
    "Options:\n" GUEST_OPTS_HELP GUEST_OPTS_HELP_RUN
    "  -t, --timeout SECONDS   kill the guest after this long (exit 124)\n"
    "  -c, --console FILE      write the console to FILE, not stdout\n"
    "  -q, --quiet             say nothing about a non-zero exit\n"
    "  -d, --detach            run it in the background (lightvmd): print\n"
    "                          its id, as 'lightvm create' does\n"
    "      --rm                remove it once it exits (what a foreground\n"
    "                          run does anyway; with -d, lightvmd does)\n"
    "      --no-daemon         do not use lightvmd even if it runs\n"
    "  -h, --help              this text\n"
    "\n"
    "A Tinyx image says when its health check passes (\"ready in\"). Ctrl-C\n"
    "asks the guest to power off; a second Ctrl-C kills it.\n";

static int parse(int argc, char **argv, struct run_opts *o)
{
    enum { OPT_NO_DAEMON = GO_FIRST_FREE, OPT_RM };
    static const struct option opts[] = {
        GUEST_LONG_OPTS,
        {"timeout", required_argument, NULL, 't'},
        {"console", required_argument, NULL, 'c'},
        {"quiet", no_argument, NULL, 'q'},
        {"no-daemon", no_argument, NULL, OPT_NO_DAEMON},
        {"detach", no_argument, NULL, 'd'},
        {"rm", no_argument, NULL, OPT_RM},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0}};
    int c;
    char *end;
    while ((c = cli_getopt(argc, argv, "+" GUEST_SHORT_OPTS "t:c:qdh", opts)) !=
           -1) {
        int r = guest_opt(c, guest_opt_value(c, argc, argv), &o->g);
        if (r < 0)
            return -1;
        if (r > 0)
            continue;
        switch (c) {
        case 't':
            errno = 0;
            o->timeout = strtod(optarg, &end);
            if (errno || *end || !(o->timeout > 0) || o->timeout > 1e7) {
                cli_msg("--timeout: '%s' is not a number of seconds", optarg);
                return -1;
            }
            break;
        case 'c': o->console_path = optarg; break;
        case 'q': o->quiet = 1; break;
        case OPT_NO_DAEMON: o->no_daemon = 1; break;
        case 'd': o->detach = 1; break;
        case OPT_RM: o->rm = 1; break;
        case 'h': fputs(usage, stdout); exit(0);
        default: return -1; /* cli_getopt said why */
        }
    }
    if (guest_opts_rest(argc, argv, &o->g) < 0) {
        cli_msg("run: no guest image given (see 'lightvm run --help')");
        return -1;
    }
    return 0;
}

/* run -d: what create does, with run's options. */
static int run_detached(struct run_opts *o)
{
    if (o->no_daemon || o->timeout > 0 || o->console_path || o->g.wait_ready) {
        cli_msg("run -d: %s is for a run in the foreground",
                o->no_daemon      ? "--no-daemon"
                : o->timeout > 0  ? "--timeout"
                : o->console_path ? "--console"
                                  : "--wait-ready");
        return CLI_EXIT_USAGE;
    }
    o->g.run = 0; /* checked as create's options */
    if (guest_opts_check(&o->g, 1, NULL) < 0)
        return CLI_EXIT_USAGE;
    struct lightvm_error e;
    struct lightvm *c = lightvm_connect(NULL, &e);
    if (!c) {
        cli_msg("run -d needs lightvmd: %s (start it with 'lightvmd &')",
                e.message);
        return CLI_EXIT_ERROR;
    }
    int rc = cli_create(c, &o->g, o->rm, 0, o->quiet);
    lightvm_close(c);
    return rc;
}

int cmd_run(int argc, char **argv)
{
    struct run_opts o;
    memset(&o, 0, sizeof o);
    guest_opts_init(&o.g);
    o.g.run = 1;
    if (parse(argc, argv, &o) < 0)
        return CLI_EXIT_USAGE;
    if (guest_opts_resolve(&o.g, "proc") < 0)
        return CLI_EXIT_USAGE;
    if (o.detach)
        return run_detached(&o);
    int qemu = !strcmp(o.g.monitor, "qemu");
    if (!o.no_daemon && !getenv("LIGHTVM_NO_DAEMON")) {
        struct lightvm_error e;
        struct lightvm *c = lightvm_connect(NULL, &e);
        if (c) {
            int code = guest_opts_check(&o.g, 1, " (add --no-daemon)") < 0
                           ? CLI_EXIT_USAGE
                           : run_daemon(c, &o);
            lightvm_close(c);
            return code;
        }
    }
    if (guest_opts_check(&o.g, 0, NULL) < 0)
        return CLI_EXIT_USAGE;
    if (o.g.net.enabled && !cli_has_net)
        return cli_exec_net(argc, argv); /* the static CLI has no netlink */
    if (qemu) {
        if (o.g.asked_auto)
            cli_msg("using the qemu monitor");
        return run_qemu_cold(&o);
    }
    return run_cold(&o);
}
