/*
 * run_cold.c: `lightvm run` of a proc or kvm guest without lightvmd: the
 * prepare and execute phases back to back in this process (the cold path),
 * then wait for the guest with its pidfd, signals, the timeout and the
 * kernel's audit records.
 */
#include "cli/cli.h"
#include "cli/run.h"
#include "toolstack/audit.h"
#include "toolstack/guest.h"
#include "toolstack/host.h"
#include "toolstack/monitor.h"
#include "toolstack/netaddr.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

int run_cold(struct run_opts *o)
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
        console = run_open_console(o->console_path, &err);
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
