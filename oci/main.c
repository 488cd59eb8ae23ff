/*
 * main.c: lightvm-runtime's entry point: runc's global flags, then one
 * command (oci.h, docs/oci.md).
 */
#include "oci/args.h"
#include "oci/oci.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct oci_global oci_g = {.root = OCI_ROOT_DEFAULT, .log_format = "text"};

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *what;
} commands[] = {
    {"create", oci_cmd_create, "create a container (its guest waits)"},
    {"start", oci_cmd_start, "start a created container's guest"},
    {"run", oci_cmd_run, "create and start, and wait unless --detach"},
    {"list", oci_cmd_list, "list the containers"},
    {"state", oci_cmd_state, "print a container's state as JSON"},
    {"kill", oci_cmd_kill, "send a signal to a container"},
    {"delete", oci_cmd_delete, "delete a container"},
    {"ps", oci_cmd_ps, "list a container's processes"},
    {"pause", oci_cmd_pause, "freeze a container"},
    {"resume", oci_cmd_pause, "thaw a paused container"},
    {"features", oci_cmd_features, "print what this runtime supports"},
    {"spec", oci_cmd_spec, "write a config.json for a unikernel bundle"},
    {"checkpoint", oci_cmd_checkpoint, "save a container's guest to a file"},
    {"restore", oci_cmd_restore, "run a container from a checkpoint"},
    {"update", oci_cmd_update, "change a container's memory and CPU limits"},
    {"exec", oci_cmd_exec, "run a process in a VM container"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: lightvm-runtime [--root DIR] [--log FILE] "
               "[--log-format text|json] [--debug]\n"
               "                       [--systemd-cgroup] COMMAND "
               "[ARGS...]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].what);
    fprintf(f, "\nAn OCI runtime for lightvm unikernel guests; see "
               "docs/oci.md.\n");
}

int oci_cmd_args(int argc, char **argv, const struct oci_opt *opts, char **pos,
                 int minpos, int maxpos, const char *use)
{
    /* `COMMAND --help` says how, and succeeds: podman asks `checkpoint
     * --help` whether a runtime can checkpoint. */
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h") ||
            !strcmp(argv[i], "-help")) {
            printf("usage: lightvm-runtime %s\n", use);
            exit(0);
        }
    char err[256];
    int n = oci_args_parse(argc - 1, argv + 1, opts, 0, pos, maxpos, NULL, err,
                           sizeof err);
    if (n < 0) {
        oci_error("%s: %s (usage: %s)", argv[0], err, use);
        return -1;
    }
    if (n < minpos) {
        oci_error("%s: %s (usage: %s)", argv[0],
                  n == 0 && minpos == 1 ? "container id cannot be empty"
                                        : "missing arguments",
                  use);
        return -1;
    }
    return n;
}

static const struct {
    const char *name;
    int sig;
} signals[] = {
    {"HUP", SIGHUP},   {"INT", SIGINT},       {"QUIT", SIGQUIT},
    {"ILL", SIGILL},   {"TRAP", SIGTRAP},     {"ABRT", SIGABRT},
    {"IOT", SIGIOT},   {"BUS", SIGBUS},       {"FPE", SIGFPE},
    {"KILL", SIGKILL}, {"USR1", SIGUSR1},     {"SEGV", SIGSEGV},
    {"USR2", SIGUSR2}, {"PIPE", SIGPIPE},     {"ALRM", SIGALRM},
    {"TERM", SIGTERM}, {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD},
    {"CONT", SIGCONT}, {"STOP", SIGSTOP},     {"TSTP", SIGTSTP},
    {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},     {"URG", SIGURG},
    {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ},     {"VTALRM", SIGVTALRM},
    {"PROF", SIGPROF}, {"WINCH", SIGWINCH},   {"IO", SIGIO},
    {"POLL", SIGPOLL}, {"PWR", SIGPWR},       {"SYS", SIGSYS},
};

int oci_parse_signal(const char *s)
{
    if (!s || !*s)
        return -1;
    char *end;
    long n = strtol(s, &end, 10);
    if (*end == 0)
        return n > 0 && n <= 64 ? (int)n : -1;
    if (strncasecmp(s, "SIG", 3) == 0)
        s += 3;
    for (size_t i = 0; i < sizeof signals / sizeof *signals; i++)
        if (strcasecmp(s, signals[i].name) == 0)
            return signals[i].sig;
    return -1;
}

int main(int argc, char **argv)
{
    const char *rootless = NULL, *criu = NULL;
    int help = 0, version = 0;
    const struct oci_opt globals[] = {
        {"root", 0, 1, &oci_g.root, NULL},
        {"log", 0, 1, &oci_g.log, NULL},
        {"log-format", 0, 1, &oci_g.log_format, NULL},
        {"debug", 0, 0, NULL, &oci_g.debug},
        {"systemd-cgroup", 0, 0, NULL, &oci_g.systemd_cgroup},
        {"rootless", 0, 1, &rootless, NULL},
        {"criu", 0, 1, &criu, NULL},
        {"help", 'h', 0, NULL, &help},
        {"version", 'v', 0, NULL, &version},
        {NULL, 0, 0, NULL, NULL},
    };
    char err[256];
    int next;
    if (oci_args_parse(argc - 1, argv + 1, globals, 1, NULL, 0, &next, err,
                       sizeof err) < 0) {
        fprintf(stderr, "lightvm-runtime: %s\n", err);
        return 1;
    }
    next++; /* argv[0] */
    oci_log_open(oci_g.log, oci_g.log_format);
    if (strcmp(oci_g.log_format, "text") && strcmp(oci_g.log_format, "json")) {
        oci_error("invalid log-format: %s", oci_g.log_format);
        return 1;
    }
    if (version) {
        printf("lightvm-runtime version 0.1\nspec: %s\n", OCI_VERSION);
        return 0;
    }
    if (help || next >= argc) {
        usage(help ? stdout : stderr);
        return help ? 0 : 1;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (strcmp(argv[next], commands[i].name) == 0) {
            oci_debug("%s", argv[next]);
            oci_g.cmd_argc = argc - next;
            oci_g.cmd_argv = argv + next;
            return commands[i].fn(argc - next, argv + next);
        }
    oci_error("unknown command '%s' (lightvm-runtime --help lists them)",
              argv[next]);
    return 1;
}
