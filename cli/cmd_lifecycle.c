/*
 * cmd_lifecycle.c: docker's verbs for a guest's life through lightvmd:
 * kill [-s SIGNAL], stop [-t SECONDS] (poweroff, then SIGKILL after the
 * timeout), restart (stop, then the same create request again) and port
 * (its published ports).
 */
#include "cli/cli.h"
#include "cli/daemon_cmds.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "KILL", "SIGKILL", "kill" or "9": the signal number, or -1. */
static int signal_number(const char *s)
{
    char *end;
    long n = strtol(s, &end, 10);
    if (*s && !*end)
        return n >= 1 && n <= 31 ? (int)n : -1;
    if (!strncasecmp(s, "SIG", 3))
        s += 3;
    for (int i = 1; i <= 31; i++) {
        const char *abbrev = sigabbrev_np(i);
        if (abbrev && !strcasecmp(s, abbrev))
            return i;
    }
    return -1;
}

/* The guest (arg) names, looked up: its JSON (its real id and name). */
static json_t *lookup(struct lightvm *cl, const char *cmd, const char *arg)
{
    struct lightvm_error e;
    char ref[160];
    json_t *g = cli_api_guest(cl, cli_guest_ref(arg, ref, sizeof ref), &e);
    if (!g)
        cli_msg("%s %s: %s", cmd, arg, e.message);
    return g;
}

static const char *str(json_t *g, const char *key)
{
    const char *s = json_string_value(json_object_get(g, key));
    return s ? s : "";
}

static int send_signal(struct lightvm *cl, const char *id, int sig,
                       struct lightvm_error *e)
{
    json_t *r = cli_api(
        cl, json_pack("{s:s, s:s, s:i}", "op", "kill", "id", id, "signal", sig),
        e);
    json_decref(r);
    return r ? 0 : -1;
}

int cmd_kill(int argc, char **argv)
{
    static const struct option opts[] = {
        {"signal", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0}};
    int sig = SIGKILL, c;
    while ((c = cli_getopt(argc, argv, "s:h", opts)) != -1) {
        switch (c) {
        case 's':
            sig = signal_number(optarg);
            if (sig == SIGSTOP || sig == SIGCONT || sig == SIGTSTP ||
                sig == SIGTTIN || sig == SIGTTOU) {
                cli_msg("kill: -s '%s': a stop or continue signal (use "
                        "'lightvm pause' and 'unpause')",
                        optarg);
                return CLI_EXIT_USAGE;
            }
            if (sig < 0) {
                cli_msg("kill: -s '%s': not a signal (a name such as TERM or "
                        "SIGHUP, or a number from 1 to 31)",
                        optarg);
                return CLI_EXIT_USAGE;
            }
            break;
        case 'h':
            fputs("Usage: lightvm kill [-s SIGNAL] GUEST...\n\n"
                  "Send each guest's process (its sandbox, or QEMU) a "
                  "signal:\n"
                  "SIGKILL unless -s names another (TERM, HUP, 15...). The "
                  "guest\n"
                  "stays, exited, until 'lightvm rm'.\n\n"
                  "  -s, --signal SIGNAL  the signal (default KILL)\n"
                  "  -h, --help           this text\n",
                  stdout);
            return 0;
        default: return CLI_EXIT_USAGE; /* cli_getopt said why */
        }
    }
    if (optind == argc) {
        cli_msg("kill: name at least one guest (see 'lightvm kill --help')");
        return CLI_EXIT_USAGE;
    }
    struct lightvm *cl = cli_connect();
    if (!cl)
        return CLI_EXIT_ERROR;
    int status = 0;
    for (int i = optind; i < argc; i++) {
        struct lightvm_error e;
        char ref[160];
        if (send_signal(cl, cli_guest_ref(argv[i], ref, sizeof ref), sig, &e) <
            0) {
            cli_msg("kill %s: %s", argv[i], e.message);
            status = CLI_EXIT_ERROR;
            continue;
        }
        printf("%s\n", argv[i]); /* as docker kill: what was named */
    }
    lightvm_close(cl);
    return status;
}

/* Poweroff (g), wait up to (seconds) for it to exit, then SIGKILL it and
 * wait for that. 0 once it has exited. */
static int stop_one(struct lightvm *cl, const char *cmd, json_t *g,
                    double seconds)
{
    const char *id = str(g, "id");
    if (!strcmp(str(g, "state"), "exited"))
        return 0;
    /* The wait first, made sure of by a request answered after it on the
     * same connection: an --rm guest is gone as soon as it exits. The
     * poweroff and the kill go on a second connection. */
    struct lightvm_error e;
    struct lightvm_guest now;
    struct lightvm *k = NULL;
    if (lightvm_wait_send(cl, id, &e) < 0 || lightvm_info(cl, id, &now, &e) < 0)
        goto fail;
    if (!(k = cli_connect()))
        return -1;
    json_t *r =
        cli_api(k, json_pack("{s:s, s:s}", "op", "poweroff", "id", id), &e);
    json_decref(r);
    if (!r && strcmp(e.code, "invalid")) /* invalid: exiting already */
        goto fail;
    struct pollfd p = {lightvm_fd(cl), POLLIN, 0};
    int n;
    do
        n = poll(&p, 1, (int)(seconds * 1000));
    while (n < 0 && errno == EINTR);
    /* Not powered off in time: SIGKILL (an exit meanwhile is no error). */
    if (n == 0 && send_signal(k, id, SIGKILL, &e) < 0 &&
        strcmp(e.code, "invalid"))
        goto fail;
    lightvm_close(k);
    k = NULL;
    struct lightvm_exit x;
    if (lightvm_wait_reply(cl, &x, &e) < 0)
        goto fail;
    return 0;
fail:
    lightvm_close(k);
    cli_msg("%s %s: %s", cmd, str(g, "name"), e.message);
    return -1;
}

static int parse_timeout(const char *cmd, int argc, char **argv,
                         double *seconds)
{
    static const struct option opts[] = {
        {"time", required_argument, NULL, 't'},
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0}};
    int c;
    char *end;
    while ((c = cli_getopt(argc, argv, "t:h", opts)) != -1) {
        switch (c) {
        case 't':
            errno = 0;
            *seconds = strtod(optarg, &end);
            if (errno || *end || end == optarg || !(*seconds >= 0) ||
                *seconds > 86400) {
                cli_msg("%s: -t '%s': want seconds from 0 to 86400", cmd,
                        optarg);
                return -1;
            }
            break;
        case 'h':
            printf("Usage: lightvm %s [-t SECONDS] GUEST...\n\n%s\n\n"
                   "  -t, --time SECONDS  how long to wait for the poweroff "
                   "(default 10)\n"
                   "  -h, --help          this text\n",
                   cmd,
                   strcmp(cmd, "stop")
                       ? "Stop each guest as 'lightvm stop' does, remove it "
                         "and create it\nagain from the same request: the "
                         "same name, image and options,\na new id (printed)."
                       : "Ask each guest to power off (its control device); "
                         "kill it if it\nhas not exited after SECONDS. It "
                         "stays, exited, until 'lightvm rm'.");
            return 1;
        default: return -1; /* cli_getopt said why */
        }
    }
    if (optind == argc) {
        cli_msg("%s: name at least one guest (see 'lightvm %s --help')", cmd,
                cmd);
        return -1;
    }
    return 0;
}

int cmd_stop(int argc, char **argv)
{
    double seconds = 10;
    int r = parse_timeout("stop", argc, argv, &seconds);
    if (r)
        return r > 0 ? 0 : CLI_EXIT_USAGE;
    struct lightvm *cl = cli_connect();
    if (!cl)
        return CLI_EXIT_ERROR;
    int status = 0;
    for (int i = optind; i < argc; i++) {
        json_t *g = lookup(cl, "stop", argv[i]);
        if (!g || stop_one(cl, "stop", g, seconds) < 0)
            status = CLI_EXIT_ERROR;
        else
            printf("%s\n", argv[i]);
        json_decref(g);
    }
    lightvm_close(cl);
    return status;
}

/* The request that made (g), to make it again: its recipe, with its name
 * (a default one too), as a new create. */
static json_t *recipe_of(struct lightvm *cl, json_t *g, struct lightvm_error *e)
{
    json_t *r = cli_api(
        cl, json_pack("{s:s, s:s}", "op", "recipe", "id", str(g, "id")), e);
    json_t *recipe = r ? json_deep_copy(json_object_get(r, "recipe")) : NULL;
    json_decref(r);
    if (r && !json_is_object(recipe)) {
        snprintf(e->message, sizeof e->message, "lightvmd sent no recipe");
        json_decref(recipe);
        return NULL;
    }
    if (!recipe)
        return NULL;
    if (!strcmp(json_string_value(json_object_get(recipe, "console"))
                    ? json_string_value(json_object_get(recipe, "console"))
                    : "",
                "fd")) {
        snprintf(e->message, sizeof e->message,
                 "its console is a terminal's ('lightvm run' in the "
                 "foreground): run it again there");
        json_decref(recipe);
        return NULL;
    }
    const char *op = json_string_value(json_object_get(recipe, "op"));
    if (op && strcmp(op, "create")) {
        /* Restored or cloned: its recipe names a state file, which a
         * create cannot take. Said before anything is stopped. */
        snprintf(e->message, sizeof e->message,
                 "it was made by %s from a state file, not created: restore "
                 "it again with 'lightvm %s'",
                 op, op);
        json_decref(recipe);
        return NULL;
    }
    json_object_del(recipe, "tag");
    json_object_set_new(recipe, "op", json_string("create"));
    json_object_set_new(recipe, "name", json_string(str(g, "name")));
    return recipe;
}

int cmd_restart(int argc, char **argv)
{
    double seconds = 10;
    int r = parse_timeout("restart", argc, argv, &seconds);
    if (r)
        return r > 0 ? 0 : CLI_EXIT_USAGE;
    struct lightvm *cl = cli_connect();
    if (!cl)
        return CLI_EXIT_ERROR;
    int status = 0;
    for (int i = optind; i < argc; i++) {
        struct lightvm_error e;
        json_t *g = lookup(cl, "restart", argv[i]);
        /* The guest is made again by this client, as this client: root
         * restarting a member's guest would make it root's, its files
         * (a block device the member named) opened as root. */
        json_int_t owner = json_integer_value(json_object_get(g, "owner"));
        if (g && owner != (json_int_t)getuid()) {
            cli_msg("restart %s: it is uid %lld's guest, and a restart "
                    "makes it anew as you (uid %u) from its own request: "
                    "its owner restarts it (or give it --restart)",
                    argv[i], (long long)owner, (unsigned)getuid());
            json_decref(g);
            status = CLI_EXIT_ERROR;
            continue;
        }
        json_t *recipe = g ? recipe_of(cl, g, &e) : NULL;
        if (g && !recipe)
            cli_msg("restart %s: %s", argv[i], e.message);
        json_t *gone = NULL, *made = NULL;
        if (recipe && stop_one(cl, "restart", g, seconds) == 0) {
            /* Its name is free once it is removed. */
            /* (An --rm guest is gone already; else a create of the same
             * name says what is in the way.) */
            gone = cli_api(
                cl,
                json_pack("{s:s, s:s}", "op", "destroy", "id", str(g, "id")),
                &e);
            made = cli_api(cl, json_incref(recipe), &e);
            if (!made)
                cli_msg("restart %s: %s", argv[i], e.message);
        }
        json_t *guest = json_object_get(made, "guest");
        if (guest)
            printf("%s\n", str(guest, "id"));
        else
            status = CLI_EXIT_ERROR;
        json_decref(made);
        json_decref(gone);
        json_decref(recipe);
        json_decref(g);
    }
    lightvm_close(cl);
    return status;
}

int cmd_port(int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0, 0, 0, 0}};
    int json = 0, c;
    while ((c = cli_getopt(argc, argv, "h", opts)) != -1) {
        switch (c) {
        case 'j': json = 1; break;
        case 'h':
            fputs("Usage: lightvm port [--json] GUEST [PORT[/tcp]]\n\n"
                  "The guest's published ports (-p, qemu guests), as\n"
                  "'GUEST/tcp -> ADDR:HOST', or the host side of PORT.\n",
                  stdout);
            return 0;
        default: return CLI_EXIT_USAGE; /* cli_getopt said why */
        }
    }
    if (argc - optind < 1 || argc - optind > 2) {
        cli_msg("port: name one guest, and a port if you like (see "
                "'lightvm port --help')");
        return CLI_EXIT_USAGE;
    }
    long want = 0;
    if (argc - optind == 2) {
        char *end;
        want = strtol(argv[optind + 1], &end, 10);
        if ((*end && strcmp(end, "/tcp")) || want < 1 || want > 65535) {
            cli_msg("port: '%s' is not a TCP port (1 to 65535)",
                    argv[optind + 1]);
            return CLI_EXIT_USAGE;
        }
    }
    struct lightvm *cl = cli_connect();
    if (!cl)
        return CLI_EXIT_ERROR;
    json_t *g = lookup(cl, "port", argv[optind]);
    lightvm_close(cl);
    if (!g)
        return CLI_EXIT_ERROR;
    json_t *out = json_array(), *p;
    size_t i;
    json_array_foreach (json_object_get(g, "ports"), i, p) {
        long gp = (long)json_integer_value(json_object_get(p, "guest"));
        if (want && gp != want)
            continue;
        json_t *o = json_deep_copy(p);
        json_object_set_new(o, "protocol", json_string("tcp"));
        json_array_append_new(out, o);
        if (!json)
            printf("%ld/tcp -> %s:%lld\n", gp, str(p, "host_addr"),
                   (long long)json_integer_value(json_object_get(p, "host")));
    }
    json_decref(g);
    int none = want && json_array_size(out) == 0;
    if (json)
        cli_print_json(out);
    else
        json_decref(out);
    if (none) {
        cli_msg("port: %s publishes no port %ld", argv[optind], want);
        return CLI_EXIT_ERROR;
    }
    return 0;
}
