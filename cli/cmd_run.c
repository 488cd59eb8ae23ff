/*
 * cmd_run.c: lightvm run GUEST.elf -- boot a guest in the foreground, show
 * its console, and exit with its status (or say why it was killed).
 */
#include "cli/cli.h"
#include "toolstack/audit.h"
#include "toolstack/guest.h"
#include "toolstack/host.h"
#include "toolstack/layout.h"
#include "toolstack/monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

static const char usage[] =
    "Usage: lightvm run [OPTIONS] GUEST.elf [--] [ARGS...]\n"
    "\n"
    "Boot GUEST.elf as a lightweight VM, stream its console, and exit with\n"
    "its exit status. A guest killed by its sandbox, a limit or a timeout\n"
    "is reported on stderr, with a distinct exit status (see EXIT STATUS in\n"
    "docs/cli.md).\n"
    "\n"
    "Options:\n"
    "  -m, --mem SIZE          guest RAM (default 16M; K, M, G suffixes)\n"
    "      --mem-limit SIZE    host memory limit (default RAM + 4M)\n"
    "      --cpu-quota CPUS    CPU time limit in CPUs, e.g. 0.5 (default none)\n"
    "  -t, --timeout SECONDS   kill the guest after this long\n"
    "  -c, --console FILE      write the console to FILE, not stdout\n"
    "      --console-limit SIZE  most a guest may write to a console file\n"
    "                          (default 16M)\n"
    "  -n, --name NAME         guest name (default: the image's)\n"
    "  -e, --env KEY=VALUE     set an environment variable in the guest\n"
    "  -b, --block NAME=FILE[:ro]  attach FILE as block device NAME\n"
    "      --monitor MONITOR   proc (default): a sandboxed process, on any\n"
    "                          Linux host; kvm: a hardware virtual machine\n"
    "                          (needs /dev/kvm); auto: kvm where /dev/kvm\n"
    "                          works, proc otherwise, and says which\n"
    "  -q, --quiet             say nothing about a normal exit\n"
    "  -h, --help              this text\n"
    "\n"
    "Ctrl-C asks the guest to power off; a second Ctrl-C kills it.\n";

#define MAX_ENV 256

struct run_opts {
    struct guest_spec spec;
    const char *monitor;
    const char *console_path;
    double timeout;
    int quiet;
    char *env[MAX_ENV];
};

static int parse_block(const char *arg, struct guest_block *b)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof b->name)
        return -1;
    memset(b, 0, sizeof *b);
    memcpy(b->name, arg, (size_t)(eq - arg));
    snprintf(b->path, sizeof b->path, "%s", eq + 1);
    size_t n = strlen(b->path);
    if (n > 3 && strcmp(b->path + n - 3, ":ro") == 0) {
        b->path[n - 3] = 0;
        b->readonly = 1;
    }
    return b->path[0] ? 0 : -1;
}

static int parse(int argc, char **argv, struct run_opts *o)
{
    enum { OPT_MEM_LIMIT = 256, OPT_CPU, OPT_CONSOLE_LIMIT, OPT_MONITOR };
    static const struct option opts[] = {
        {"mem", required_argument, NULL, 'm'},
        {"memory", required_argument, NULL, 'm'},
        {"mem-limit", required_argument, NULL, OPT_MEM_LIMIT},
        {"cpu-quota", required_argument, NULL, OPT_CPU},
        {"cpus", required_argument, NULL, OPT_CPU},
        {"timeout", required_argument, NULL, 't'},
        {"console", required_argument, NULL, 'c'},
        {"console-limit", required_argument, NULL, OPT_CONSOLE_LIMIT},
        {"name", required_argument, NULL, 'n'},
        {"env", required_argument, NULL, 'e'},
        {"block", required_argument, NULL, 'b'},
        {"monitor", required_argument, NULL, OPT_MONITOR},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0}};
    struct guest_spec *s = &o->spec;
    o->monitor = "proc";
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, "+m:t:c:n:e:b:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            if (layout_parse_size(optarg, &s->ram_size) < 0) {
                cli_msg("--mem: '%s' is not a size (e.g. 64M)", optarg);
                return -1;
            }
            break;
        case OPT_MEM_LIMIT:
            if (layout_parse_size(optarg, &s->memory_limit) < 0 ||
                s->memory_limit == 0) {
                cli_msg("--mem-limit: '%s' is not a size (e.g. 64M)", optarg);
                return -1;
            }
            break;
        case OPT_CPU:
            errno = 0;
            s->cpus = strtod(optarg, &end);
            if (errno || *end || !(s->cpus > 0) || s->cpus > 1024) {
                cli_msg("--cpu-quota: '%s' is not a number of CPUs (e.g. 0.5)",
                        optarg);
                return -1;
            }
            break;
        case 't':
            errno = 0;
            o->timeout = strtod(optarg, &end);
            if (errno || *end || !(o->timeout > 0) || o->timeout > 1e7) {
                cli_msg("--timeout: '%s' is not a number of seconds", optarg);
                return -1;
            }
            break;
        case 'c':
            o->console_path = optarg;
            break;
        case OPT_CONSOLE_LIMIT:
            if (layout_parse_size(optarg, &s->console_limit) < 0 ||
                s->console_limit == 0) {
                cli_msg("--console-limit: '%s' is not a size", optarg);
                return -1;
            }
            break;
        case 'n':
            if (!*optarg || strlen(optarg) >= 64) {
                cli_msg("--name: 1 to 63 characters");
                return -1;
            }
            s->name = optarg;
            break;
        case 'e':
            if (!strchr(optarg, '=') || optarg[0] == '=') {
                cli_msg("--env: '%s' is not KEY=VALUE", optarg);
                return -1;
            }
            if (s->envc == MAX_ENV) {
                cli_msg("--env: at most %d variables", MAX_ENV);
                return -1;
            }
            o->env[s->envc++] = optarg;
            break;
        case 'b':
            if (s->nblocks == GUEST_MAX_BLOCKS) {
                cli_msg("--block: at most %d block devices", GUEST_MAX_BLOCKS);
                return -1;
            }
            if (parse_block(optarg, &s->blocks[s->nblocks]) < 0) {
                cli_msg("--block: '%s' is not NAME=FILE[:ro] (NAME up to 15 "
                        "characters)",
                        optarg);
                return -1;
            }
            s->nblocks++;
            break;
        case OPT_MONITOR:
            o->monitor = optarg;
            break;
        case 'q':
            o->quiet = 1;
            break;
        case 'h':
            fputs(usage, stdout);
            exit(0);
        default:
            fputs(usage, stderr);
            return -1;
        }
    }
    if (optind >= argc) {
        cli_msg("run: no guest image given (see 'lightvm run --help')");
        return -1;
    }
    /* The guest's argv: the image path, then everything after it. */
    s->argc = argc - optind;
    s->argv = argv + optind;
    if (s->argc > 1 && strcmp(s->argv[1], "--") == 0) {
        /* "--" ends our options, it is not the guest's argument */
        memmove(&argv[optind + 1], &argv[optind + 2],
                sizeof(char *) * (size_t)(argc - optind - 2));
        s->argc--;
    }
    s->envp = o->env;
    return 0;
}

/* Everything the foreground loop waits for. */
struct run_loop {
    struct guest *g;
    int sigfd, timerfd, audit_fd;
    int interrupts, timed_out;
};

static void handle_signal(struct run_loop *l)
{
    struct signalfd_siginfo si;
    while (read(l->sigfd, &si, sizeof si) == sizeof si) {
        if (l->interrupts++ == 0) {
            struct lvm_err err;
            cli_msg("asking guest %s to power off (interrupt again to kill it)",
                    l->g->name);
            if (guest_control(l->g, LVM_CTRL_POWEROFF, &err) < 0)
                guest_kill(l->g);
        } else {
            guest_kill(l->g);
        }
    }
}

static void wait_exit(struct run_loop *l)
{
    for (;;) {
        struct pollfd p[4] = {{l->g->sb.pidfd, POLLIN, 0},
                              {l->sigfd, POLLIN, 0},
                              {l->timerfd, POLLIN, 0},
                              {l->audit_fd, POLLIN, 0}};
        int r = poll(p, 4, -1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return;
        if (p[3].revents & POLLIN) {
            /* Keep the queue short, and remember our guest's record. */
            long nr = audit_wait_seccomp(l->audit_fd, l->g->sb.pid, 0, NULL,
                                         NULL);
            if (nr != -1)
                l->g->killed_syscall = nr;
        }
        if (p[1].revents & POLLIN)
            handle_signal(l);
        if (p[2].revents & POLLIN) {
            uint64_t n;
            if (read(l->timerfd, &n, sizeof n) == sizeof n) {
                l->timed_out = 1;
                guest_kill(l->g);
            }
        }
        if (p[0].revents & (POLLIN | POLLHUP))
            return;
    }
}

static int open_console(const char *path, struct lvm_err *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return lvm_err_set(err, errno, "open console file %s", path);
    return fd;
}

int cmd_run(int argc, char **argv)
{
    struct run_opts o;
    memset(&o, 0, sizeof o);
    if (parse(argc, argv, &o) < 0)
        return CLI_EXIT_USAGE;

    struct lvm_err err;
    struct lvm_host host;
    struct image *img = NULL;
    struct guest *g = NULL;
    struct run_loop loop = {.sigfd = -1, .timerfd = -1, .audit_fd = -1};
    int code = CLI_EXIT_ERROR, console = -1;

    if (host_init(&host, &err) < 0) {
        cli_error(&err);
        return CLI_EXIT_ERROR;
    }
    const struct monitor_ops *mon = monitor_find(o.monitor, &host);
    if (!mon) {
        if (strcmp(o.monitor, "auto") == 0)
            lvm_err_set(&err, 0, "no monitor can run on this host");
        else
            lvm_err_set(&err, 0, "--monitor: unknown monitor '%s' (available: "
                        "%s, auto)", o.monitor, monitor_names());
        goto fail;
    }
    if (strcmp(o.monitor, "auto") == 0)
        cli_msg("using the %s monitor", mon->name);
    o.spec.monitor = mon->kind;
    if (image_load(o.spec.argv[0], &img, &err) < 0)
        goto fail;
    if (o.console_path) {
        console = open_console(o.console_path, &err);
        if (console < 0)
            goto fail;
        o.spec.console_fd = console;
    } else {
        o.spec.console_fd = STDOUT_FILENO;
    }
    /* Signals arrive through signalfd; the shell unblocks them for itself. */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    loop.sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    loop.audit_fd = audit_open();
    if (o.timeout > 0) {
        loop.timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
        struct itimerspec its = {{0, 0},
                                 {(time_t)o.timeout,
                                  (long)(fmod(o.timeout, 1.0) * 1e9)}};
        if (loop.timerfd < 0 || timerfd_settime(loop.timerfd, 0, &its, NULL) < 0) {
            lvm_err_set(&err, errno, "set up the timeout");
            goto fail;
        }
    }
    if (guest_start(&host, img, &o.spec, &g, &err) < 0)
        goto fail;
    loop.g = g;
    wait_exit(&loop);
    struct guest_exit ex;
    if (guest_reap(g, loop.audit_fd, loop.timed_out, &ex, &err) < 0)
        goto fail;
    if (ex.kind != GUEST_EXITED || (ex.status != 0 && !o.quiet)) {
        char buf[1024];
        cli_msg("guest %s %s", g->name, guest_exit_str(&ex, buf, sizeof buf));
        /* A kvm crash comes with the guest's registers. */
        for (char *line = ex.regs, *nl; *line; line = nl + 1) {
            nl = strchr(line, '\n');
            if (!nl)
                break;
            cli_msg("  %.*s", (int)(nl - line), line);
        }
    }
    code = ex.code;
    goto out;
fail:
    cli_error(&err);
out:
    if (g)
        guest_free(g);
    image_free(img);
    host_fini(&host);
    if (console >= 0)
        close(console);
    if (loop.sigfd >= 0)
        close(loop.sigfd);
    if (loop.timerfd >= 0)
        close(loop.timerfd);
    if (loop.audit_fd >= 0)
        close(loop.audit_fd);
    return code;
}
