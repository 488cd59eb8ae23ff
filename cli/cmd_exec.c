/*
 * cmd_exec.c: lightvm exec -- run a command in a running Tinyx guest, as
 * `docker exec` does in a container. lightvmd hands over a connection to
 * the guest's exec channel (include/lightvm/tinyx_exec.h) and is out of
 * the way: this process and the guest's init speak frames directly.
 */
#include "cli/cli.h"
#include "cli/daemon_cmds.h"
#include "toolstack/qemu/qemu_xframe.h"

#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#define EXEC_MAX_ENV 64

static const char exec_usage[] =
    "Usage: lightvm exec [OPTIONS] GUEST COMMAND [ARG...]\n"
    "\n"
    "Run a command in a running Tinyx guest (lightvm tinyx build) and exit\n"
    "with its status. Its stdout and stderr come here; its stdin is empty\n"
    "unless -i. It runs as the guest's app user, in the app's environment,\n"
    "and is killed if lightvm exec is. Commands in one guest run one after\n"
    "another.\n"
    "\n"
    "Options:\n"
    "  -i, --interactive        pass this stdin to the command\n"
    "  -e, --env NAME=VALUE     set a variable (repeatable)\n"
    "  -w, --workdir DIR        run it in DIR\n"
    "  -u, --user USER[:GROUP]  run it as USER (a name or a number)\n"
    "  -h, --help               this text\n"
    "\n"
    "Exit status: the command's; 128+N if signal N ended it; 126 if it\n"
    "could not be run, 127 if it was not found; 125 if lightvm failed.\n";

int cmd_exec(int argc, char **argv)
{
    static const struct option opts[] = {
        {"interactive", no_argument, NULL, 'i'},
        {"tty", no_argument, NULL, 't'},
        {"env", required_argument, NULL, 'e'},
        {"workdir", required_argument, NULL, 'w'},
        {"user", required_argument, NULL, 'u'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0}};
    int interactive = 0, c, nenv = 0;
    char *env[EXEC_MAX_ENV];
    const char *cwd = NULL, *user = NULL;
    while ((c = cli_getopt(argc, argv, "+ite:w:u:h", opts)) != -1) {
        switch (c) {
        case 'i': interactive = 1; break;
        case 't':
            cli_msg("exec: -t: commands run without a terminal (pipes); "
                    "use -i for input");
            return CLI_EXIT_USAGE;
        case 'e':
            if (nenv == EXEC_MAX_ENV) {
                cli_msg("exec: at most %d -e", EXEC_MAX_ENV);
                return CLI_EXIT_USAGE;
            }
            if (!strchr(optarg, '=') || optarg[0] == '=') {
                cli_msg("exec: -e '%s': expected NAME=VALUE", optarg);
                return CLI_EXIT_USAGE;
            }
            env[nenv++] = optarg;
            break;
        case 'w': cwd = optarg; break;
        case 'u': user = optarg; break;
        case 'h': fputs(exec_usage, stdout); return 0;
        default: return CLI_EXIT_USAGE; /* cli_getopt said why */
        }
    }
    if (argc - optind < 2) {
        cli_msg("exec: name a guest and a command (see 'lightvm exec "
                "--help')");
        return CLI_EXIT_USAGE;
    }
    uint8_t start[LVM_XF_HDR + LVM_XF_MAX];
    size_t start_len;
    struct lvm_err err;
    if (xframe_start(argv + optind + 1, argc - optind - 1, env, nenv, cwd, user,
                     start, &start_len, &err) < 0) {
        cli_error(&err);
        return CLI_EXIT_USAGE;
    }
    struct lightvm *cl = cli_connect();
    if (!cl)
        return CLI_EXIT_ERROR;
    struct lightvm_error e;
    char ref[160];
    int fd;
    int rc = lightvm_exec_channel(
        cl, cli_guest_ref(argv[optind], ref, sizeof ref), &fd, &e);
    lightvm_close(cl);
    if (rc < 0) {
        cli_msg("exec %s: %s", argv[optind], e.message);
        return CLI_EXIT_ERROR;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    struct xsession_io io = {.in_fd = interactive ? STDIN_FILENO : -1,
                             .out_fd = STDOUT_FILENO,
                             .err_fd = STDERR_FILENO,
                             .sig_fd = signalfd(-1, &mask, SFD_CLOEXEC)};
    struct xsession_result res;
    if (qemu_xsession_run(fd, start, start_len, &io, &res) < 0 &&
        res.code < 0) {
        cli_msg("exec: %s", res.error);
        rc = CLI_EXIT_ERROR;
    } else {
        if (res.error[0])
            cli_msg("exec: %s", res.error);
        rc = res.code;
    }
    if (io.sig_fd >= 0)
        close(io.sig_fd);
    close(fd);
    return rc;
}
