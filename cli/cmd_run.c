/*
 * cmd_run.c: lightvm run GUEST.elf -- boot a guest in the foreground, show
 * its console, and exit with its status (or say why it was killed).
 *
 * With lightvmd running, the guest is created by the daemon (in a
 * pre-made shell) and the console fd is handed over, so the guest writes
 * straight to this terminal; without it, lightvm does the whole job
 * itself (the cold path).
 */
#include "cli/cli.h"
#include "cli/guest_opts.h"
#include "toolstack/audit.h"
#include "toolstack/guest.h"
#include "toolstack/guest_name.h"
#include "toolstack/host.h"
#include "toolstack/monitor.h"
#include "toolstack/netaddr.h"

#include <errno.h>
#include <fcntl.h>
#include <lightvm/lightvm.h>
#include <limits.h>
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
    "docs/cli.md). Uses lightvmd when it runs, and works without it.\n"
    "\n"
    "Options:\n" GUEST_OPTS_HELP
    "  -t, --timeout SECONDS   kill the guest after this long\n"
    "  -c, --console FILE      write the console to FILE, not stdout\n"
    "  -q, --quiet             say nothing about a non-zero exit\n"
    "      --no-daemon         do not use lightvmd even if it runs\n"
    "  -h, --help              this text\n"
    "\n"
    "Ctrl-C asks the guest to power off; a second Ctrl-C kills it.\n";

struct run_opts {
    struct guest_opts g;
    const char *console_path;
    double timeout;
    int quiet, no_daemon;
};

static int parse(int argc, char **argv, struct run_opts *o)
{
    enum { OPT_NO_DAEMON = GO_FIRST_FREE };
    static const struct option opts[] = {
        GUEST_LONG_OPTS,
        {"timeout", required_argument, NULL, 't'},
        {"console", required_argument, NULL, 'c'},
        {"quiet", no_argument, NULL, 'q'},
        {"no-daemon", no_argument, NULL, OPT_NO_DAEMON},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0}};
    o->g.monitor = "proc";
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, "+" GUEST_SHORT_OPTS "t:c:qh", opts,
                            NULL)) != -1) {
        int r = guest_opt(c, optarg, &o->g);
        if (r < 0)
            return -1;
        if (r > 0)
            continue;
        switch (c) {
        case 't':
            errno = 0;
            o->timeout = strtod(optarg, &end);
            if (errno || *end || !(o->timeout > 0) || o->timeout > 1e7) {
                cli_msg("--timeout: '%s' is not a number of seconds", optarg);
                return -1;
            }
            break;
        case 'c': o->console_path = optarg; break;
        case 'q': o->quiet = 1; break;
        case OPT_NO_DAEMON: o->no_daemon = 1; break;
        case 'h': fputs(usage, stdout); exit(0);
        default: fputs(usage, stderr); return -1;
        }
    }
    if (guest_opts_rest(argc, argv, &o->g) < 0) {
        cli_msg("run: no guest image given (see 'lightvm run --help')");
        return -1;
    }
    return 0;
}

/* Signals (Ctrl-C) and the timeout, as fds for poll. */
struct waitset {
    int sigfd, timerfd;
    int interrupts, timed_out;
};

static int waitset_open(struct waitset *w, double timeout, struct lvm_err *err)
{
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    w->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    w->timerfd = -1;
    if (timeout > 0) {
        w->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
        struct itimerspec its = {
            {0, 0}, {(time_t)timeout, (long)(fmod(timeout, 1.0) * 1e9)}};
        if (w->timerfd < 0 || timerfd_settime(w->timerfd, 0, &its, NULL) < 0)
            return lvm_err_set(err, errno, "set up the timeout");
    }
    return 0;
}

static void waitset_close(struct waitset *w)
{
    if (w->sigfd >= 0)
        close(w->sigfd);
    if (w->timerfd >= 0)
        close(w->timerfd);
}

/* What happened: 1 interrupt, 2 a second interrupt, 3 timeout, 0 none. */
static int waitset_event(struct waitset *w, const struct pollfd *p)
{
    int what = 0;
    if (p[0].revents & POLLIN) {
        struct signalfd_siginfo si;
        while (read(w->sigfd, &si, sizeof si) == sizeof si)
            what = ++w->interrupts == 1 ? 1 : 2;
    }
    if (w->timerfd >= 0 && (p[1].revents & POLLIN)) {
        uint64_t n;
        if (read(w->timerfd, &n, sizeof n) == sizeof n) {
            w->timed_out = 1;
            what = 3;
        }
    }
    return what;
}

static int open_console(const char *path, struct lvm_err *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return lvm_err_set(err, errno, "open console file %s", path);
    return fd;
}

/* ---- Through lightvmd ---------------------------------------------------- */

static int run_daemon(struct lightvm *c, struct run_opts *o)
{
    struct lightvm_error e;
    struct lvm_err err;
    int code = CLI_EXIT_ERROR, console = STDOUT_FILENO;
    char image[PATH_MAX];
    if (!realpath(o->g.argv[0], image)) {
        cli_msg("%s: %s", o->g.argv[0], strerror(errno));
        return CLI_EXIT_ERROR;
    }
    if (o->console_path &&
        (console = open_console(o->console_path, &err)) < 0) {
        cli_error(&err);
        return CLI_EXIT_ERROR;
    }
    char paths[GUEST_MAX_BLOCKS][PATH_MAX];
    struct lightvm_block blocks[GUEST_MAX_BLOCKS];
    for (unsigned i = 0; i < o->g.nblocks; i++) {
        /* The daemon resolves paths from its own directory. */
        if (!realpath(o->g.blocks[i].path, paths[i]))
            snprintf(paths[i], sizeof paths[i], "%s", o->g.blocks[i].path);
        blocks[i] = (struct lightvm_block){o->g.blocks[i].name, paths[i],
                                           o->g.blocks[i].readonly};
    }
    /* As without the daemon: argv[0] as typed, and the image's name as
     * the guest's unless a guest has it already. */
    char file[PATH_MAX], base[GUEST_NAME_MAX + 1];
    const char *slash = strrchr(o->g.argv[0], '/');
    snprintf(file, sizeof file, "%s", slash ? slash + 1 : o->g.argv[0]);
    char *dot = strrchr(file, '.');
    if (dot && dot != file && !strcmp(dot, ".elf"))
        *dot = 0;
    guest_name_sanitize(file, base, sizeof base); /* the daemon's rule */
    struct lightvm_create_opts co = {
        .image = image,
        .argv0 = o->g.argv[0],
        .name = o->g.name ? o->g.name : base,
        .mem = o->g.mem,
        .mem_limit = o->g.mem_limit,
        .cpus = o->g.cpus,
        .args = (const char *const *)o->g.argv + 1,
        .nargs = o->g.argc - 1,
        .env = (const char *const *)o->g.env,
        .nenv = o->g.nenv,
        .blocks = blocks,
        .nblocks = (int)o->g.nblocks,
        .monitor = o->g.monitor,
        .console_fd = console,
        .console_limit = o->g.console_limit,
        .watchdog_ms = o->g.watchdog_ms,
    };
    struct guest_opts_net_buf nb;
    guest_opts_net(&o->g, &co.net, &nb);
    struct waitset ws = {-1, -1, 0, 0};
    struct lightvm *w = NULL;
    struct lightvm_guest g;
    if (waitset_open(&ws, o->timeout, &err) < 0) {
        cli_error(&err);
        goto out;
    }
    int rc = lightvm_create(c, &co, &g, &e);
    if (rc < 0 && !o->g.name && !strcmp(e.code, "exists")) {
        co.name = NULL; /* the daemon makes a unique one */
        rc = lightvm_create(c, &co, &g, &e);
    }
    if (rc < 0) {
        cli_msg("%s", e.message);
        goto out;
    }
    if (o->console_path)
        close(console);
    console = -1;
    if (strcmp(o->g.monitor, "auto") == 0)
        cli_msg("using the %s monitor", g.monitor);
    if (g.ip[0]) /* as the cold path says it (show_nics) */
        cli_msg("guest %s %s: ip %s/%d mac %s bridge %s tap %s", g.name, g.nic,
                g.ip, g.prefix, g.mac, g.bridge, g.tap);
    else if (g.mac[0])
        cli_msg("guest %s %s: ip by DHCP, mac %s bridge %s tap %s", g.name,
                g.nic, g.mac, g.bridge, g.tap);
    w = lightvm_connect(NULL, &e);
    if (!w || lightvm_wait_send(w, g.id, &e) < 0) {
        cli_msg("%s", e.message);
        lightvm_destroy(c, g.id, NULL, &e);
        goto out;
    }
    struct lightvm_exit ex;
    for (;;) {
        struct pollfd p[3] = {{ws.sigfd, POLLIN, 0},
                              {ws.timerfd, POLLIN, 0},
                              {lightvm_fd(w), POLLIN, 0}};
        if (poll(p, 3, -1) < 0 && errno != EINTR) {
            cli_msg("wait for guest %s: %s", g.name, strerror(errno));
            lightvm_destroy(c, g.id, NULL, &e);
            goto out;
        }
        int what = waitset_event(&ws, p);
        if (what == 1) {
            cli_msg("asking guest %s to power off (interrupt again to kill "
                    "it)",
                    g.name);
            if (lightvm_poweroff(c, g.id, &e) < 0)
                what = 2;
        }
        if (what >= 2)
            lightvm_destroy(c, g.id, NULL, &e);
        if (p[2].revents & (POLLIN | POLLHUP)) {
            if (lightvm_wait_reply(w, &ex, &e) < 0) {
                cli_msg("%s", e.message);
                goto out;
            }
            break;
        }
    }
    lightvm_destroy(c, g.id, NULL, &e); /* remove its record; it is gone */
    code = ex.code;
    if (ws.timed_out) {
        cli_msg("guest %s killed: timeout", g.name);
        code = 124;
    } else if (strcmp(ex.kind, "exited") || (ex.status && !o->quiet)) {
        cli_msg("guest %s %s", g.name, ex.message);
    }
out:
    if (o->console_path && console >= 0)
        close(console);
    lightvm_close(w);
    waitset_close(&ws);
    return code;
}

/* ---- Without a daemon ---------------------------------------------------- */

/* Tell the user where the guest's NICs are. */
static void show_nics(const struct guest *g)
{
    for (unsigned i = 0; g->net && i < g->net->n; i++) {
        const struct guest_nic *n = &g->net->nic[i];
        char ip[16], mac[18];
        netaddr_mac_str(n->mac, mac);
        if (n->addr)
            cli_msg("guest %s %s: ip %s/%u mac %s bridge %s tap %s", g->name,
                    n->dev, netaddr_ip4_str(n->addr, ip),
                    (unsigned)__builtin_popcount(n->netmask), mac, n->bridge,
                    n->tap);
        else
            cli_msg("guest %s %s: ip by DHCP, mac %s bridge %s tap %s", g->name,
                    n->dev, mac, n->bridge, n->tap);
    }
}

static int run_cold(struct run_opts *o)
{
    struct lvm_err err;
    struct lvm_host host;
    struct image *img = NULL;
    struct guest *g = NULL;
    struct waitset ws = {-1, -1, 0, 0};
    int code = CLI_EXIT_ERROR, console = -1, audit_fd = -1;

    if (host_init(&host, &err) < 0) {
        cli_error(&err);
        return CLI_EXIT_ERROR;
    }
    const struct monitor_ops *mon = monitor_find(o->g.monitor, &host);
    if (!mon) {
        if (strcmp(o->g.monitor, "auto") == 0)
            lvm_err_set(&err, 0, "no monitor can run on this host");
        else
            lvm_err_set(&err, 0,
                        "--monitor: unknown monitor '%s' (available: %s, "
                        "auto)",
                        o->g.monitor, monitor_names());
        goto fail;
    }
    if (strcmp(o->g.monitor, "auto") == 0)
        cli_msg("using the %s monitor", mon->name);
    if (image_load(o->g.argv[0], &img, &err) < 0)
        goto fail;
    struct guest_spec spec = {
        .name = o->g.name,
        .ram_size = o->g.mem,
        .memory_limit = o->g.mem_limit,
        .cpus = o->g.cpus,
        .argc = o->g.argc,
        .argv = o->g.argv,
        .envc = o->g.nenv,
        .envp = o->g.env,
        .console_fd = STDOUT_FILENO,
        .console_limit = o->g.console_limit,
        .nblocks = o->g.nblocks,
        .monitor = mon->kind,
        .net = o->g.net,
        .lean = 1, /* run to exit: nothing pauses it or reads its CPU time */
    };
    memcpy(spec.blocks, o->g.blocks, sizeof spec.blocks);
    if (o->console_path) {
        console = open_console(o->console_path, &err);
        if (console < 0)
            goto fail;
        spec.console_fd = console;
    }
    if (waitset_open(&ws, o->timeout, &err) < 0)
        goto fail;
    audit_fd = audit_open();
    uint64_t t_begin = host_now_ns();
    if (guest_start(&host, img, &spec, &g, &err) < 0)
        goto fail;
    show_nics(g);
    if (getenv("LIGHTVM_TIMING"))
        fprintf(stderr,
                "lightvm: timing (us): cgroup %.0f, shell %.0f (prepare); "
                "devices %.0f, plan %.0f, launch %.0f (execute)\n",
                (g->t_cgroup - t_begin) / 1e3, (g->t_spawn - g->t_cgroup) / 1e3,
                (g->t_devices - g->t_spawn) / 1e3,
                (g->t_plan - g->t_devices) / 1e3,
                (g->t_launch - g->t_plan) / 1e3);
    for (;;) {
        struct pollfd p[4] = {{ws.sigfd, POLLIN, 0},
                              {ws.timerfd, POLLIN, 0},
                              {g->sb.pidfd, POLLIN, 0},
                              {audit_fd, POLLIN, 0}};
        if (poll(p, 4, -1) < 0 && errno != EINTR)
            break;
        if (p[3].revents & POLLIN) {
            /* Keep the queue short, and remember our guest's record. */
            long nr = audit_wait_seccomp(audit_fd, g->sb.pid, 0, NULL, NULL);
            if (nr != -1)
                g->killed_syscall = nr;
        }
        int what = waitset_event(&ws, p);
        if (what == 1) {
            cli_msg("asking guest %s to power off (interrupt again to kill "
                    "it)",
                    g->name);
            if (guest_control(g, LVM_CTRL_POWEROFF, &err) < 0)
                guest_kill(g);
        } else if (what >= 2) {
            guest_kill(g);
        }
        if (p[2].revents & (POLLIN | POLLHUP))
            break;
    }
    struct guest_exit ex;
    if (guest_reap(g, audit_fd, ws.timed_out, &ex, &err) < 0)
        goto fail;
    if (ex.kind != GUEST_EXITED || (ex.status != 0 && !o->quiet)) {
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
    if (audit_fd >= 0)
        close(audit_fd);
    waitset_close(&ws);
    return code;
}

int cmd_run(int argc, char **argv)
{
    /* Tinyx images run under the qemu monitor (cli/run_qemu.c). */
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
        if (!strcmp(argv[i], "--monitor=qemu") ||
            (!strcmp(argv[i], "--monitor") && i + 1 < argc &&
             !strcmp(argv[i + 1], "qemu")))
            return cmd_run_qemu(argc, argv);
    struct run_opts o;
    memset(&o, 0, sizeof o);
    if (parse(argc, argv, &o) < 0)
        return CLI_EXIT_USAGE;
    if (!o.no_daemon && !getenv("LIGHTVM_NO_DAEMON")) {
        struct lightvm_error e;
        struct lightvm *c = lightvm_connect(NULL, &e);
        if (c) {
            int code = run_daemon(c, &o);
            lightvm_close(c);
            return code;
        }
    }
    if (o.g.net.enabled && !cli_has_net)
        return cli_exec_net(argc, argv); /* the static CLI has no netlink */
    return run_cold(&o);
}
