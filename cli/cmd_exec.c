/*
 * cmd_exec.c: lightvm exec -- run a command in a running Tinyx guest, as
 * `docker exec` does in a container. lightvmd hands over a connection to
 * the guest's exec channel (include/lightvm/tinyx_exec.h) and is out of
 * the way: this process and the guest's init speak frames directly.
 */
#include "cli/cli.h"
#include "cli/daemon_cmds.h"
#include "toolstack/qemu/qemu_xframe.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
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

/* The channel is non-blocking both ways: a command that neither reads
 * its stdin nor stops writing must not wedge us against the guest. */
struct xsess {
    int fd; /* the channel */
    int in_open;
    uint8_t buf[2 * (LVM_XF_HDR + LVM_XF_MAX)]; /* from the guest */
    size_t len;
    uint8_t out[2 * (LVM_XF_HDR + LVM_XF_MAX)]; /* to the guest */
    size_t outlen;
    int code;    /* once known, >= 0 */
    int started; /* STARTED or ERROR came: frames before are an earlier
                    client's, still on their way */
};

/* Queue a frame for the guest; -1 if the queue is full. */
static int queue_frame(struct xsess *s, int type, const void *data, size_t len)
{
    if (s->outlen + LVM_XF_HDR + len > sizeof s->out)
        return -1;
    lvm_xf_header(s->out + s->outlen, type, len);
    if (len)
        memcpy(s->out + s->outlen + LVM_XF_HDR, data, len);
    s->outlen += LVM_XF_HDR + len;
    return 0;
}

/* Send what is queued, as far as the channel takes it; -1 if it closed. */
static int flush_out(struct xsess *s)
{
    while (s->outlen) {
        ssize_t n = send(s->fd, s->out, s->outlen, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return 0;
        if (n <= 0)
            return -1;
        memmove(s->out, s->out + n, s->outlen - (size_t)n);
        s->outlen -= (size_t)n;
    }
    return 0;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* What the guest said; sets s->code once the command is over. */
static void on_frame(struct xsess *s, const struct xframe *f)
{
    if (f->type == LVM_XF_STARTED || f->type == LVM_XF_ERROR)
        s->started = 1;
    if (!s->started)
        return;
    switch (f->type) {
    case LVM_XF_STDOUT: write_all(STDOUT_FILENO, f->data, f->len); break;
    case LVM_XF_STDERR: write_all(STDERR_FILENO, f->data, f->len); break;
    case LVM_XF_EXIT: {
        int st = (int)xframe_u32(f);
        s->code = WIFEXITED(st)     ? WEXITSTATUS(st)
                  : WIFSIGNALED(st) ? 128 + WTERMSIG(st)
                                    : CLI_EXIT_ERROR;
        break;
    }
    case LVM_XF_ERROR: {
        char msg[LVM_XF_MAX + 1];
        size_t n = 0;
        for (size_t i = 0; i < f->len; i++) /* printable only: one line */
            if (f->data[i] >= 0x20 && f->data[i] < 0x7f)
                msg[n++] = (char)f->data[i];
        msg[n] = 0;
        cli_msg("exec: %s", msg);
        s->code = strstr(msg, "No such file or directory") &&
                          !strstr(msg, "cannot change directory")
                      ? 127
                      : 126;
        break;
    }
    default: break; /* STARTED */
    }
}

/* Read what the guest sent; -1 if the channel closed or lied. */
static int on_channel(struct xsess *s)
{
    ssize_t n = recv(s->fd, s->buf + s->len, sizeof s->buf - s->len, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return 0;
    if (n <= 0) {
        cli_msg("exec: the guest closed the exec channel (it stopped?)");
        return -1;
    }
    s->len += (size_t)n;
    size_t off = 0;
    while (s->code < 0) {
        struct xframe f;
        struct lvm_err err;
        long used = xframe_next(s->buf + off, s->len - off, &f, &err);
        if (used < 0) {
            cli_error(&err);
            return -1;
        }
        if (used == 0)
            break;
        on_frame(s, &f);
        off += (size_t)used;
    }
    memmove(s->buf, s->buf + off, s->len - off);
    s->len -= off;
    return 0;
}

static void on_stdin(struct xsess *s)
{
    uint8_t b[LVM_XF_MAX];
    ssize_t n = read(STDIN_FILENO, b, sizeof b);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n > 0) {
        queue_frame(s, LVM_XF_STDIN, b, (size_t)n); /* room: see session */
        return;
    }
    queue_frame(s, LVM_XF_EOF, NULL, 0);
    s->in_open = 0;
}

static int session(int fd, const uint8_t *start, size_t start_len,
                   int interactive)
{
    struct xsess s = {.fd = fd, .in_open = interactive, .code = -1};
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
    if (sfd < 0) {
        cli_msg("exec: signalfd: %s", strerror(errno));
        return CLI_EXIT_ERROR;
    }
    memcpy(s.out, start, start_len);
    s.outlen = start_len;
    if (!interactive)
        queue_frame(&s, LVM_XF_EOF, NULL, 0);
    while (s.code < 0) {
        /* stdin is read only when a whole frame of it fits the queue */
        int want_in = s.in_open && s.outlen == 0;
        struct pollfd p[3] = {{fd, POLLIN | (s.outlen ? POLLOUT : 0), 0},
                              {sfd, POLLIN, 0},
                              {STDIN_FILENO, POLLIN, 0}};
        if (poll(p, want_in ? 3 : 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if ((p[0].revents & POLLOUT) && flush_out(&s) < 0) {
            cli_msg("exec: the guest closed the exec channel");
            break;
        }
        if ((p[0].revents & (POLLIN | POLLHUP | POLLERR)) && on_channel(&s) < 0)
            break;
        if (p[1].revents & POLLIN) {
            /* Passed on to the command's process group, as a terminal
             * would; the guest reports how it ended. */
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof si) == sizeof si) {
                uint8_t sig = (uint8_t)si.ssi_signo;
                queue_frame(&s, LVM_XF_SIGNAL, &sig, 1);
            }
        }
        if (want_in && p[2].revents)
            on_stdin(&s);
        if (s.outlen && flush_out(&s) < 0) {
            cli_msg("exec: the guest closed the exec channel");
            break;
        }
    }
    close(sfd);
    return s.code >= 0 ? s.code : CLI_EXIT_ERROR;
}

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
    rc = session(fd, start, start_len, interactive);
    close(fd);
    return rc;
}
