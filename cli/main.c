/*
 * main.c: lightvm, virtual machines as cheap as containers.
 */
#include "cli/cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char usage[] =
    "Usage: lightvm COMMAND [OPTIONS] ...\n"
    "\n"
    "Run lightweight virtual machines: unikernel guests built with the\n"
    "lightvm SDK, each isolated in its own sandbox.\n"
    "\n"
    "Commands:\n"
    "  run       boot a guest, show its console, exit with its status\n"
    "  inspect   show a guest image's manifest, segments and sizes\n"
    "\n"
    "Run 'lightvm COMMAND --help' for a command's options.\n"
    "Full documentation: docs/cli.md.\n";

void cli_error(const struct lvm_err *err)
{
    char buf[LVM_ERR_MSG_MAX + 128];
    fprintf(stderr, "lightvm: %s\n", lvm_err_str(err, buf, sizeof buf));
}

void cli_msg(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("lightvm: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return CLI_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 ||
        strcmp(cmd, "help") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("lightvm 0.1 (guest ABI %d)\n", 1);
        return 0;
    }
    if (strcmp(cmd, "run") == 0)
        return cmd_run(argc - 1, argv + 1);
    if (strcmp(cmd, "inspect") == 0)
        return cmd_inspect(argc - 1, argv + 1);
    cli_msg("unknown command '%s' (see 'lightvm --help')", cmd);
    return CLI_EXIT_USAGE;
}
