/*
 * main.c: lightvm, virtual machines as cheap as containers.
 */
#include "cli/cli.h"
#include "toolstack/text.h"

#include <lightvm/abi.h>
#include <lvm_version.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
};

/* One line per command; each lives in cli/cmd_<name>.c. */
static const struct command commands[] = {
    {"run", cmd_run, "boot a guest, show its console, exit with its status"},
    {"inspect", cmd_inspect,
     "show a guest image's manifest and sizes, or a guest as JSON"},
    {"create", cmd_create, "create a guest through lightvmd; print its id"},
    {"list", cmd_list, "list lightvmd's guests (ps: docker's, -a for all)"},
    {"ls", cmd_list, NULL},
    {"ps", cmd_list, NULL},
    {"stats", cmd_stats, "CPU time and memory of guests"},
    {"top", cmd_top, "live view of guests, busiest first"},
    {"console", cmd_console, "print (or follow) a guest's console (logs)"},
    {"logs", cmd_console, NULL},
    {"pause", cmd_pause, "freeze guests (cgroup freezer, QMP stop)"},
    {"unpause", cmd_unpause, "thaw paused guests"},
    {"poweroff", cmd_poweroff, "ask guests to power off (control device)"},
    {"suspend", cmd_suspend, "ask guests to park themselves"},
    {"resume", cmd_resume, "ask suspended guests to continue"},
    {"wait", cmd_wait, "wait for a guest to exit"},
    {"kill", cmd_kill, "send guests a signal (default SIGKILL)"},
    {"stop", cmd_stop, "power guests off; kill them after a timeout"},
    {"restart", cmd_restart, "stop guests and create them again"},
    {"port", cmd_port, "a guest's published ports"},
    {"exec", cmd_exec, "run a command in a running Tinyx guest"},
    {"save", cmd_save, "save a guest's whole state to a file"},
    {"restore", cmd_restore, "start a guest from a saved state"},
    {"clone", cmd_clone, "start copies of a guest or a saved state"},
    {"migrate", cmd_migrate, "move a running guest to another lightvmd"},
    {"serve", cmd_serve, "make guests as clients connect (just in time)"},
    {"destroy", cmd_destroy, "kill guests and remove all they had"},
    {"rm", cmd_destroy, NULL},
    {"fn", cmd_fn, "the function service: deploy Lua functions, serve them"},
    {"tinyx", cmd_tinyx,
     "build a minimal Linux VM for a Debian app, or its kernel"},
    {"quota", cmd_quota, "your usage and limits in lightvmd"},
    {"net", cmd_net, "guest networking: bridge up/down, sweep, list ports"},
    {"api", cmd_api, "send a raw JSON request to lightvmd, print the reply"},
    {"version", cmd_version, "the version of lightvm and of lightvmd"},
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
    fputs("Usage: lightvm COMMAND [OPTIONS] ...\n"
          "\n"
          "Run lightweight virtual machines: unikernel guests built with the\n"
          "lightvm SDK, each isolated in its own sandbox.\n"
          "\n"
          "Commands:\n",
          f);
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (commands[i].help) /* aliases have none */
            fprintf(f, "  %-10s%s\n", commands[i].name, commands[i].help);
    fputs("\nRun 'lightvm COMMAND --help' for a command's options.\n"
          "Full documentation: docs/cli.md.\n",
          f);
}

void cli_error(const struct lvm_err *err)
{
    char buf[LVM_ERR_MSG_MAX + 128];
    cli_msg("%s", lvm_err_str(err, buf, sizeof buf));
}

void cli_msg(const char *fmt, ...)
{
    /* Messages carry names, paths and exit messages from members and
     * guests: one line each, with nothing a terminal would act on. */
    char text[2048], safe[TEXT_ESCAPED_MAX(sizeof text)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    fprintf(stderr, "lightvm: %s\n", text_escape(text, safe, sizeof safe));
}

static const struct command *find(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(name, commands[i].name) == 0)
            return &commands[i];
    return NULL;
}

static int unknown(const char *cmd)
{
    const char *names[NCOMMANDS];
    for (size_t i = 0; i < NCOMMANDS; i++)
        names[i] = commands[i].name;
    const char *s = cli_suggest(cmd, strlen(cmd), names, NCOMMANDS);
    if (s)
        cli_msg("unknown command '%s' (did you mean '%s'?)", cmd, s);
    else
        cli_msg("unknown command '%s' (see 'lightvm --help')", cmd);
    return CLI_EXIT_USAGE;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "help") == 0 && argc > 2) { /* help CMD: CMD --help */
        const struct command *c = find(argv[2]);
        if (!c)
            return unknown(argv[2]);
        char *hargv[] = {argv[2], "--help", NULL};
        return c->fn(2, hargv);
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 ||
        strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("lightvm %s (guest ABI %d)\n", LVM_VERSION, LVM_ABI_VERSION);
        return 0;
    }
    const struct command *c = find(cmd);
    return c ? c->fn(argc - 1, argv + 1) : unknown(cmd);
}
