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

static const char *const ops[] = {
    [DESTROY] = "destroy",   [PAUSE] = "pause",     [UNPAUSE] = "unpause",
    [POWEROFF] = "poweroff", [SUSPEND] = "suspend", [RESUME] = "resume",
    [WAIT] = "wait",
};

/* What --json prints for one guest: (before) is the guest as it was
 * (its id and name, whatever the user typed), (rep) the reply. destroy
 * and wait: the id, name and exit; the others: the guest as it is now. */
static json_t *result(struct lightvm *cl, enum action a, json_t *before,
                      json_t *rep)
{
    const char *id = json_string_value(json_object_get(before, "id"));
    if (a == DESTROY || a == WAIT)
        return json_pack("{s:s, s:O, s:O}", "id", id, "name",
                         json_object_get(before, "name"), "exit",
                         json_object_get(rep, "exit"));
    struct lightvm_error e;
    json_t *now = cli_api_guest(cl, id, &e);
    return now ? now : json_incref(before); /* gone since: as it was */
}

static int manage(enum action a, const char *name, int argc, char **argv)
{
    /* destroy takes docker rm's -f: it already kills a running guest, so
     * the flag only keeps `lightvm rm -f` scripts working. */
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"force", no_argument, NULL, 'f'},
                                         {0, 0, 0, 0}};
    static const struct option no_force[] = {{"json", no_argument, NULL, 'j'},
                                             {"help", no_argument, NULL, 'h'},
                                             {0, 0, 0, 0}};
    int json = 0, c;
    while ((c = cli_getopt(argc, argv, a == DESTROY ? "hf" : "h",
                           a == DESTROY ? opts : no_force)) != -1) {
        if (c == 'j') {
            json = 1;
        } else if (c == 'f' && a == DESTROY) {
            continue;
        } else {
            if (c != 'h')
                return CLI_EXIT_USAGE; /* cli_getopt said why */
            printf("Usage: lightvm %s [--json]%s GUEST%s\n\n%s.\n\n"
                   "%s  --json      print %s\n",
                   name, a == DESTROY ? " [-f]" : "", a == WAIT ? "" : "...",
                   help[a],
                   a == DESTROY ? "  -f, --force accepted, as docker rm's "
                                  "(running guests are always killed)\n"
                                : "",
                   a == WAIT      ? "the guest's id, name and exit as JSON"
                   : a == DESTROY ? "a JSON array: each guest's id, name "
                                    "and exit"
                                  : "a JSON array of the guests, as they are "
                                    "after it");
            return 0;
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
    json_t *out = json_array();
    for (int i = optind; i < argc; i++) {
        struct lightvm_error e;
        char buf[160];
        const char *ref = cli_guest_ref(argv[i], buf, sizeof buf);
        /* With --json, the guest is looked up first: what is printed is
         * its real id, not what was typed. */
        json_t *before = json ? cli_api_guest(cl, ref, &e) : NULL;
        const char *id =
            before ? json_string_value(json_object_get(before, "id")) : ref;
        json_t *rep =
            json && !before
                ? NULL
                : cli_api(cl, json_pack("{s:s, s:s}", "op", ops[a], "id", id),
                          &e);
        if (!rep) {
            cli_msg("%s %s: %s", name, argv[i], e.message);
            status = CLI_EXIT_ERROR;
            json_decref(before);
            continue;
        }
        struct lightvm_exit x = {.code = 0};
        json_t *ex = json_object_get(rep, "exit");
        x.code = (int)json_integer_value(json_object_get(ex, "code"));
        if (json) {
            json_array_append_new(out, result(cl, a, before, rep));
        } else if (a == WAIT) { /* its abort message is the guest's text */
            const char *m = json_string_value(json_object_get(ex, "message"));
            char msg[TEXT_ESCAPED_MAX(sizeof x.message)];
            snprintf(x.message, sizeof x.message, "%s", m ? m : "");
            printf("%s\n", text_escape(x.message, msg, sizeof msg));
        }
        if (a == WAIT)
            status = x.code;
        json_decref(rep);
        json_decref(before);
    }
    if (json && a == WAIT)
        cli_print_json(json_incref(json_array_get(out, 0)));
    else if (json && (json_array_size(out) || status == 0))
        cli_print_json(json_incref(out));
    json_decref(out);
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
