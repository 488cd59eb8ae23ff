/*
 * cmd_console.c: lightvm console (logs) [-f] [--tail N] GUEST -- print a
 * daemon guest's console log; with -f, keep following it until the guest
 * exits. --json wraps what is printed in JSON objects, one per line.
 */
#include "cli/cli.h"
#include "cli/daemon_cmds.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
    "Usage: lightvm console [-f] [--tail N] [--json] GUEST\n"
    "       lightvm logs [-f] [--tail N] [--json] GUEST\n\n"
    "Print the guest's console log.\n\n"
    "  -f, --follow   go on printing what it writes until it exits\n"
    "  -n, --tail N   start with its last N lines only\n"
    "      --json     {\"id\", \"output\"} objects, one per line; with -f,\n"
    "                 one per chunk written, then {\"id\", \"exit\"}\n"
    "  -h, --help     this text\n";

struct out {
    int json;
    const char *id;
};

static int emit(const struct out *o, const char *buf, size_t n)
{
    if (o->json) {
        cli_print_json(json_pack("{s:s, s:o}", "id", o->id, "output",
                                 cli_json_text(buf, n)));
        return 0;
    }
    if (fwrite(buf, 1, n, stdout) != n)
        return -1;
    fflush(stdout);
    return 0;
}

static int copy_new(int fd, const struct out *o)
{
    char buf[65536];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return (int)n;
        if (emit(o, buf, (size_t)n) < 0)
            return -1;
    }
}

/* Seek (fd) to the start of its last (lines) lines. */
static void seek_tail(int fd, long lines)
{
    struct stat st;
    if (fstat(fd, &st) < 0 || st.st_size == 0)
        return;
    char buf[4096];
    off_t end = st.st_size, pos = end;
    long seen = 0;
    while (pos > 0) {
        size_t n = pos > (off_t)sizeof buf ? sizeof buf : (size_t)pos;
        pos -= (off_t)n;
        if (pread(fd, buf, n, pos) != (ssize_t)n)
            break;
        for (size_t i = n; i-- > 0;) {
            /* The newline ending the last line does not count. */
            if (buf[i] == '\n' && pos + (off_t)i != end - 1 &&
                ++seen == lines) {
                lseek(fd, pos + (off_t)i + 1, SEEK_SET);
                return;
            }
        }
    }
    lseek(fd, 0, SEEK_SET);
}

static int follow(struct lightvm *cl, int fd, const struct lightvm_guest *g,
                  const struct out *o)
{
    /* New data (inotify) until the guest exits (the wait reply). */
    struct lightvm_error e;
    int in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK), status = 0;
    if (in < 0 || inotify_add_watch(in, g->console, IN_MODIFY) < 0 ||
        lightvm_wait_send(cl, g->id, &e) < 0) {
        cli_msg("cannot follow %s", g->console);
        status = CLI_EXIT_ERROR;
    }
    while (status == 0) {
        struct pollfd p[2] = {{in, POLLIN, 0}, {lightvm_fd(cl), POLLIN, 0}};
        if (poll(p, 2, -1) < 0 && errno != EINTR)
            break;
        if (p[0].revents & POLLIN) {
            char ev[4096];
            while (read(in, ev, sizeof ev) > 0)
                ;
        }
        copy_new(fd, o);
        if (p[1].revents & (POLLIN | POLLHUP)) {
            struct lightvm_exit x;
            int rc = lightvm_wait_reply(cl, &x, &e);
            copy_new(fd, o); /* whatever it wrote last */
            if (rc == 0 && o->json)
                cli_print_json(json_pack("{s:s, s:{s:s, s:i, s:i, s:s}}", "id",
                                         o->id, "exit", "kind", x.kind,
                                         "status", x.status, "code", x.code,
                                         "message", x.message));
            break;
        }
    }
    if (in >= 0)
        close(in);
    return status;
}

int cmd_console(int argc, char **argv)
{
    static const struct option opts[] = {{"follow", no_argument, NULL, 'f'},
                                         {"tail", required_argument, NULL, 'n'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0, 0, 0, 0}};
    int follow_it = 0, c;
    long tail = -1;
    struct out o = {0, NULL};
    char *end;
    while ((c = cli_getopt(argc, argv, "fn:h", opts)) != -1) {
        switch (c) {
        case 'f': follow_it = 1; break;
        case 'j': o.json = 1; break;
        case 'n':
            errno = 0;
            tail = strtol(optarg, &end, 10);
            if (!strcmp(optarg, "all")) {
                tail = -1;
            } else if (errno || *end || end == optarg || tail < 0) {
                cli_msg("%s: --tail '%s': want a number of lines (or all)",
                        argv[0], optarg);
                return CLI_EXIT_USAGE;
            }
            break;
        case 'h': fputs(usage, stdout); return 0;
        default: return CLI_EXIT_USAGE; /* cli_getopt said why */
        }
    }
    if (optind != argc - 1) {
        cli_msg("%s: name one guest (see 'lightvm %s --help')", argv[0],
                argv[0]);
        return CLI_EXIT_USAGE;
    }
    struct lightvm *cl = cli_connect();
    if (!cl)
        return CLI_EXIT_ERROR;
    struct lightvm_error e;
    struct lightvm_guest g;
    char ref[160];
    if (lightvm_info(cl, cli_guest_ref(argv[optind], ref, sizeof ref), &g, &e) <
        0) {
        cli_msg("%s %s: %s", argv[0], argv[optind], e.message);
        lightvm_close(cl);
        return CLI_EXIT_ERROR;
    }
    o.id = g.id;
    if (!g.console[0]) {
        cli_msg("guest %s has no console log (its console went to the "
                "client that started it)",
                g.name);
        lightvm_close(cl);
        return CLI_EXIT_ERROR;
    }
    int fd = open(g.console, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        cli_msg("open %s: %s", g.console, strerror(errno));
        lightvm_close(cl);
        return CLI_EXIT_ERROR;
    }
    if (tail == 0)
        lseek(fd, 0, SEEK_END);
    else if (tail > 0)
        seek_tail(fd, tail);
    int status = 0;
    if (o.json && !follow_it) { /* one object: the whole log */
        char *buf = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&buf, &len);
        char chunk[65536];
        ssize_t n;
        while (m && (n = read(fd, chunk, sizeof chunk)) > 0)
            fwrite(chunk, 1, (size_t)n, m);
        if (m && fclose(m) == 0)
            emit(&o, buf, len);
        else
            status = CLI_EXIT_ERROR;
        free(buf);
    } else {
        status = copy_new(fd, &o) < 0 ? CLI_EXIT_ERROR : 0;
    }
    if (follow_it && status == 0 && strcmp(g.state, "exited"))
        status = follow(cl, fd, &g, &o);
    else if (follow_it && status == 0 && o.json && g.exit.kind[0])
        cli_print_json(json_pack("{s:s, s:{s:s, s:i, s:i, s:s}}", "id", g.id,
                                 "exit", "kind", g.exit.kind, "status",
                                 g.exit.status, "code", g.exit.code, "message",
                                 g.exit.message));
    close(fd);
    lightvm_close(cl);
    return status;
}
