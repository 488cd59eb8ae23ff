/*
 * cmd_console.c: lightvm console [-f] GUEST -- print a daemon guest's
 * console log; with -f, keep following it until the guest exits.
 */
#include "cli/cli.h"
#include "cli/daemon_cmds.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

static int copy_new(int fd)
{
    char buf[65536];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return (int)n;
        if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
            return -1;
        fflush(stdout);
    }
}

int cmd_console(int argc, char **argv)
{
    static const struct option opts[] = {{"follow", no_argument, NULL, 'f'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0, 0, 0, 0}};
    int follow = 0, c;
    while ((c = getopt_long(argc, argv, "fh", opts, NULL)) != -1) {
        if (c == 'f') {
            follow = 1;
        } else {
            FILE *f = c == 'h' ? stdout : stderr;
            fputs("Usage: lightvm console [-f] GUEST\n\n"
                  "Print the guest's console log; -f follows it until the\n"
                  "guest exits.\n",
                  f);
            return c == 'h' ? 0 : CLI_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        cli_msg("console: name one guest");
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
        cli_msg("%s", e.message);
        lightvm_close(cl);
        return CLI_EXIT_ERROR;
    }
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
    int status = copy_new(fd) < 0 ? CLI_EXIT_ERROR : 0;
    if (follow && status == 0 && strcmp(g.state, "exited")) {
        /* Follow: new data (inotify) until the guest exits (wait reply). */
        int in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        if (in < 0 || inotify_add_watch(in, g.console, IN_MODIFY) < 0 ||
            lightvm_wait_send(cl, g.id, &e) < 0) {
            cli_msg("cannot follow %s", g.console);
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
            copy_new(fd);
            if (p[1].revents & (POLLIN | POLLHUP)) {
                struct lightvm_exit x;
                lightvm_wait_reply(cl, &x, &e);
                copy_new(fd); /* whatever it wrote last */
                break;
            }
        }
        if (in >= 0)
            close(in);
    }
    close(fd);
    lightvm_close(cl);
    return status;
}
