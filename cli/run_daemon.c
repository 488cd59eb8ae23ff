/*
 * run_daemon.c: `lightvm run` through lightvmd, for every monitor. The
 * daemon creates the guest: a proc or kvm guest in one of its prepared
 * shells, with this terminal (or --console FILE) handed over as its
 * console; a qemu guest under QEMU, whose console is a log in the guest's
 * run directory that is followed here as it grows. Then wait for the
 * guest, say how it ended as the cold path would, and remove its record.
 */
#include "cli/cli.h"
#include "cli/run.h"
#include "toolstack/guest_name.h"
#include "toolstack/qemu/qemu_image.h"
#include "toolstack/host.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/timerfd.h>
#include <unistd.h>

/* A qemu guest's console log, copied to (out) as it grows. */
struct follow {
    int log, in, out;
};

static int follow_open(struct follow *f, const char *path, int out)
{
    f->out = out;
    f->log = open(path, O_RDONLY | O_CLOEXEC);
    f->in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (f->log < 0 || f->in < 0 ||
        inotify_add_watch(f->in, path, IN_MODIFY) < 0)
        return -1;
    return 0;
}

/* Copy what is new; inotify only says when to look again. */
static void follow_copy(struct follow *f)
{
    char buf[65536];
    if (f->in >= 0)
        while (read(f->in, buf, sizeof buf) > 0)
            ;
    for (;;) {
        ssize_t n = read(f->log, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(f->out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                return; /* the reader went away: the guest goes on */
            off += w;
        }
    }
}

static void follow_close(struct follow *f)
{
    if (f->log >= 0)
        close(f->log);
    if (f->in >= 0)
        close(f->in);
}

/* A qemu guest's app readiness, asked of the daemon every 100 ms until it
 * is ready (lightvmd has no event for it). */
struct ready {
    int fd;      /* periodic timer; -1 once ready or not asked */
    uint64_t t0; /* when we asked for the guest */
    struct tinyx_manifest m;
};

static int ready_check(struct ready *r, struct lightvm *c,
                       const struct lightvm_guest *g, const struct run_opts *o)
{
    uint64_t n;
    if (read(r->fd, &n, sizeof n) != sizeof n)
        return 0;
    struct lightvm_guest gi;
    struct lightvm_error e;
    if (lightvm_info(c, g->id, &gi, &e) < 0)
        return 0; /* it exited: the wait reply says how */
    if (!gi.ready) {
        double waited = (double)(host_now_ns() - r->t0) / 1e9;
        if (o->g.wait_ready && waited > o->g.ready_timeout) {
            cli_msg("guest %s not ready after %.0f s: stopping it", g->name,
                    o->g.ready_timeout);
            return -1;
        }
        return 0;
    }
    close(r->fd);
    r->fd = -1;
    const char *accel = !strcmp(gi.accel, "kvm") ? "KVM" : "TCG";
    if (r->m.health != TINYX_HEALTH_TCP) {
        cli_msg("guest %s ready in %.3f s (health command passed; %s)", g->name,
                gi.ready_ms / 1e3, accel);
        return 0;
    }
    char where[64] = "";
    for (int i = 0; i < gi.nports; i++)
        if (gi.ports[i].guest == (int)r->m.health_port)
            snprintf(where, sizeof where, ", host port %d", gi.ports[i].host);
    cli_msg("guest %s ready in %.3f s (TCP port %u answers%s; %s)", g->name,
            gi.ready_ms / 1e3, r->m.health_port, where, accel);
    return 0;
}

/* The guest's name as the cold path would have it: the image's file name
 * without .elf, or a Tinyx image's name. */
static void default_name(const struct run_opts *o, const struct ready *r,
                         int qemu, char *base, size_t len)
{
    char file[PATH_MAX];
    if (qemu) {
        snprintf(file, sizeof file, "%s", r->m.name);
    } else {
        const char *slash = strrchr(o->g.argv[0], '/');
        snprintf(file, sizeof file, "%s", slash ? slash + 1 : o->g.argv[0]);
        char *dot = strrchr(file, '.');
        if (dot && dot != file && !strcmp(dot, ".elf"))
            *dot = 0;
    }
    guest_name_sanitize(file, base, len); /* the daemon's rule */
}

static void show_guest(const struct run_opts *o, const struct lightvm_guest *g,
                       uint64_t t_ask)
{
    if (o->g.asked_auto)
        cli_msg("using the %s monitor", g->monitor);
    if (g->ip[0]) /* as the cold path says it (show_nics) */
        cli_msg("guest %s %s: ip %s/%d mac %s bridge %s tap %s", g->name,
                g->nic, g->ip, g->prefix, g->mac, g->bridge, g->tap);
    else if (g->mac[0])
        cli_msg("guest %s %s: ip by DHCP, mac %s bridge %s tap %s", g->name,
                g->nic, g->mac, g->bridge, g->tap);
    /* lightvmd's side and ours: its phases are in its log when it runs
     * with LIGHTVM_TIMING (daemon/vm_shell.c). */
    if (getenv("LIGHTVM_TIMING"))
        fprintf(stderr,
                "lightvm: timing (us): create %.0f in lightvmd (%s), %.0f "
                "with the request\n",
                g->create_ms * 1e3,
                !strcmp(g->monitor, "qemu") ? "until QEMU is up"
                : g->pooled                 ? "in a pooled shell"
                                            : "in a new shell",
                (double)(host_now_ns() - t_ask) / 1e3);
}

int run_daemon(struct lightvm *c, struct run_opts *o)
{
    struct lightvm_error e;
    struct lvm_err err;
    int qemu = !strcmp(o->g.monitor, "qemu");
    int code = CLI_EXIT_ERROR, console = STDOUT_FILENO;
    struct follow fl = {-1, -1, -1};
    struct ready rd = {.fd = -1};
    struct waitset ws = {-1, -1, 0, 0};
    struct lightvm *w = NULL;
    char image[PATH_MAX];
    if (!realpath(o->g.argv[0], image)) {
        cli_msg("%s: %s", o->g.argv[0], strerror(errno));
        return CLI_EXIT_ERROR;
    }
    if (qemu && tinyx_manifest_load(image, &rd.m, &err) < 0) {
        cli_error(&err);
        return CLI_EXIT_ERROR;
    }
    if (qemu && o->g.wait_ready && rd.m.health == TINYX_HEALTH_NONE) {
        cli_msg("--wait-ready: image %s has no health check (tinyx build "
                "--health)",
                o->g.argv[0]);
        return CLI_EXIT_ERROR;
    }
    if (o->console_path &&
        (console = run_open_console(o->console_path, &err)) < 0) {
        cli_error(&err);
        return CLI_EXIT_ERROR;
    }
    struct guest_paths gp;
    struct lightvm_create_opts co;
    guest_opts_request(&o->g, image, &gp, &co);
    char base[64];
    default_name(o, &rd, qemu, base, sizeof base);
    if (!o->g.name)
        co.name = base;
    /* A qemu guest's arguments are the command to run instead of the
     * image's, as without the daemon. */
    co.args = (const char *const *)o->g.argv + 1;
    co.nargs = o->g.argc - 1;
    if (!qemu) { /* as without the daemon: argv[0] as typed */
        co.argv0 = o->g.argv[0];
        co.console_fd = console;
    }
    struct lightvm_guest g;
    if (waitset_open(&ws, o->timeout, &err) < 0) {
        cli_error(&err);
        goto out;
    }
    uint64_t t_ask = host_now_ns();
    int rc = lightvm_create(c, &co, &g, &e);
    if (rc < 0 && !o->g.name && !strcmp(e.code, "exists")) {
        co.name = NULL; /* the daemon makes a unique one */
        rc = lightvm_create(c, &co, &g, &e);
    }
    if (rc < 0) {
        cli_msg("%s", e.message);
        goto out;
    }
    if (!qemu) { /* the guest has its own copy */
        if (o->console_path)
            close(console);
        console = -1;
    }
    show_guest(o, &g, t_ask);
    if (qemu) {
        struct itimerspec its = {{0, 100000000}, {0, 100000000}};
        rd.t0 = t_ask;
        /* An image without a health check is never "ready". */
        int poll_ready = rd.m.health != TINYX_HEALTH_NONE;
        if (!g.console[0] || follow_open(&fl, g.console, console) < 0 ||
            (poll_ready &&
             ((rd.fd = timerfd_create(CLOCK_MONOTONIC,
                                      TFD_CLOEXEC | TFD_NONBLOCK)) < 0 ||
              timerfd_settime(rd.fd, 0, &its, NULL) < 0))) {
            cli_msg("cannot follow guest %s's console %s: %s", g.name,
                    g.console, strerror(errno));
            lightvm_destroy(c, g.id, NULL, &e);
            goto out;
        }
        follow_copy(&fl);
    }
    w = lightvm_connect(NULL, &e);
    if (!w || lightvm_wait_send(w, g.id, &e) < 0) {
        cli_msg("%s", e.message);
        lightvm_destroy(c, g.id, NULL, &e);
        goto out;
    }
    struct lightvm_exit ex;
    int not_ready = 0, stopped = 0;
    for (;;) {
        struct pollfd p[5] = {{ws.sigfd, POLLIN, 0},
                              {ws.timerfd, POLLIN, 0},
                              {lightvm_fd(w), POLLIN, 0},
                              {fl.in, POLLIN, 0},
                              {rd.fd, POLLIN, 0}};
        if (poll(p, 5, -1) < 0 && errno != EINTR) {
            cli_msg("wait for guest %s: %s", g.name, strerror(errno));
            lightvm_destroy(c, g.id, NULL, &e);
            goto out;
        }
        int what = waitset_event(&ws, p);
        if (what == 1) {
            stopped = 1;
            cli_msg("asking guest %s to power off (interrupt again to kill "
                    "it)",
                    g.name);
            if (lightvm_poweroff(c, g.id, &e) < 0)
                what = 2;
        }
        if ((p[4].revents & POLLIN) && ready_check(&rd, c, &g, o) < 0) {
            not_ready = 1;
            what = 2;
        }
        if (what >= 2)
            lightvm_destroy(c, g.id, NULL, &e);
        if (p[3].revents & POLLIN)
            follow_copy(&fl);
        if (p[2].revents & (POLLIN | POLLHUP)) {
            if (lightvm_wait_reply(w, &ex, &e) < 0) {
                cli_msg("%s", e.message);
                goto out;
            }
            break;
        }
    }
    if (fl.log >= 0)
        follow_copy(&fl); /* what it wrote last */
    /* Remove its record, it is gone; unless lightvmd is to restart it
     * (--restart, and not stopped here): then it stays, as docker's
     * `run --restart` leaves its container. */
    if (o->g.restart && strcmp(o->g.restart, "no") && !stopped && !not_ready &&
        !ws.timed_out)
        cli_msg("guest %s exited; lightvmd restarts it (--restart %s)", g.name,
                o->g.restart);
    else
        lightvm_destroy(c, g.id, NULL, &e);
    code = ex.code;
    if (not_ready) {
        code = CLI_EXIT_ERROR;
    } else if (ws.timed_out) {
        cli_msg("guest %s killed: timeout", g.name);
        code = 124;
    } else if (strcmp(ex.kind, "exited") || (ex.status && !o->quiet)) {
        cli_msg("guest %s %s", g.name, ex.message);
    }
out:
    if (o->console_path && console >= 0)
        close(console);
    follow_close(&fl);
    if (rd.fd >= 0)
        close(rd.fd);
    lightvm_close(w);
    waitset_close(&ws);
    return code;
}
