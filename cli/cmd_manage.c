/*
 * cmd_manage.c: commands on existing guests through lightvmd: destroy,
 * pause, unpause, poweroff, suspend, resume and wait. Each takes one or
 * more guests by id, unique id prefix or name.
 */
#include "cli/cli.h"
#include "cli/daemon_cmds.h"
#include "toolstack/text.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

enum action { DESTROY, PAUSE, UNPAUSE, POWEROFF, SUSPEND, RESUME, WAIT };

static const char *const help[] = {
    [DESTROY] = "kill each guest (if running) and remove all it had",
    [PAUSE] = "freeze each guest from outside (cgroup freezer)",
    [UNPAUSE] = "thaw each paused guest",
    [POWEROFF] = "ask each guest to power off (control device)",
    [SUSPEND] = "ask each guest to park itself (control device)",
    [RESUME] = "ask each suspended guest to continue (control device)",
    [WAIT] = "wait for a guest to exit; exit with its status",
};

static int manage(enum action a, const char *name, int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0, 0, 0, 0}};
    int json = 0, c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'j') {
            json = 1;
        } else {
            FILE *f = c == 'h' ? stdout : stderr;
            fprintf(f, "Usage: lightvm %s [--json] GUEST%s\n\n%s.\n", name,
                    a == WAIT ? "" : "...", help[a]);
            return c == 'h' ? 0 : CLI_EXIT_USAGE;
        }
    }
    if (optind >= argc || (a == WAIT && optind != argc - 1)) {
        cli_msg("%s: name %s guest (see 'lightvm %s --help')", name,
                a == WAIT ? "one" : "at least one", name);
        return CLI_EXIT_USAGE;
    }
    struct lightvm *cl = cli_connect();
    if (!cl)
        return CLI_EXIT_ERROR;
    int status = 0;
    for (int i = optind; i < argc; i++) {
        struct lightvm_error e;
        struct lightvm_exit x;
        char buf[160];
        const char *ref = cli_guest_ref(argv[i], buf, sizeof buf);
        int rc;
        switch (a) {
        case DESTROY: rc = lightvm_destroy(cl, ref, &x, &e); break;
        case PAUSE: rc = lightvm_pause(cl, ref, &e); break;
        case UNPAUSE: rc = lightvm_unpause(cl, ref, &e); break;
        case POWEROFF: rc = lightvm_poweroff(cl, ref, &e); break;
        case SUSPEND: rc = lightvm_suspend(cl, ref, &e); break;
        case RESUME: rc = lightvm_resume(cl, ref, &e); break;
        case WAIT: rc = lightvm_wait(cl, ref, &x, &e); break;
        }
        if (rc < 0) {
            cli_msg("%s %s: %s", name, argv[i], e.message);
            status = CLI_EXIT_ERROR;
            continue;
        }
        if ((a == DESTROY || a == WAIT) && json)
            cli_print_exit_json(argv[i], &x);
        else if (a == WAIT) { /* its abort message is the guest's text */
            char msg[TEXT_ESCAPED_MAX(sizeof x.message)];
            printf("%s\n", text_escape(x.message, msg, sizeof msg));
        }
        if (a == WAIT)
            status = x.code;
    }
    lightvm_close(cl);
    return status;
}

int cmd_destroy(int argc, char **argv)
{
    return manage(DESTROY, "destroy", argc, argv);
}

int cmd_pause(int argc, char **argv)
{
    return manage(PAUSE, "pause", argc, argv);
}

int cmd_unpause(int argc, char **argv)
{
    return manage(UNPAUSE, "unpause", argc, argv);
}

int cmd_poweroff(int argc, char **argv)
{
    return manage(POWEROFF, "poweroff", argc, argv);
}

int cmd_suspend(int argc, char **argv)
{
    return manage(SUSPEND, "suspend", argc, argv);
}

int cmd_resume(int argc, char **argv)
{
    return manage(RESUME, "resume", argc, argv);
}

int cmd_wait(int argc, char **argv)
{
    return manage(WAIT, "wait", argc, argv);
}
