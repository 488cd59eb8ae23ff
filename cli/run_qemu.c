/*
 * run_qemu.c: lightvm run --monitor qemu IMAGE_DIR -- boot a Tinyx image
 * under QEMU in the foreground, stream its console, say when it is ready,
 * and exit with the app's exit status.
 */
#include "cli/cli.h"
#include "monitors/qemu/qemu.h"
#include "monitors/qemu/qemu_image.h"
#include "toolstack/guest_policy.h"
#include "toolstack/host.h"
#include "toolstack/layout.h"

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
    "Usage: lightvm run --monitor qemu [OPTIONS] IMAGE_DIR\n"
    "\n"
    "Boot a Tinyx image (made by 'lightvm tinyx build') under QEMU microvm,\n"
    "KVM-accelerated where /dev/kvm can run it, emulated otherwise. Streams\n"
    "the console and exits with the app's exit status.\n"
    "\n"
    "Options:\n"
    "  -m, --mem SIZE          guest RAM (default: the image's; at least 32M,\n"
    "                          128M with Debian's kernel)\n"
    "      --cpus N            vCPUs (default 1)\n"
    "  -t, --timeout SECONDS   kill the guest after this long (exit 124)\n"
    "  -c, --console FILE      write the console to FILE, not stdout\n"
    "  -p, --publish [ADDR:]HOST:GUEST  forward host TCP port HOST to the\n"
    "                          guest's GUEST (user-mode networking; HOST 0\n"
    "                          picks a free port, named when it is ready)\n"
    "      --net MODE          user (default), tap:IFNAME, tapfd:FD or none\n"
    "      --ip ADDR/PREFIX    the guest's address (tap; user: 10.0.2.15/24)\n"
    "      --gateway ADDR      default route (tap)\n"
    "      --dns ADDR          name server (tap)\n"
    "      --mac MAC           the guest's MAC address\n"
    "  -w, --wait-ready[=SECONDS]  fail (exit 125) unless the image's health\n"
    "                          check passes in time (default 120 s)\n"
    "      --accel ACCEL       auto (default), kvm or tcg\n"
    "      --kernel PATH       boot another kernel than the image's\n"
    "  -n, --name NAME         guest name (default: the image's)\n"
    "  -q, --quiet             quiet kernel; say nothing about a normal exit\n"
    "  -h, --help              this text\n"
    "\n"
    "When the image's health check passes, lightvm says how long the boot\n"
    "took. Ctrl-C asks the guest to power off; a second Ctrl-C kills it.\n";

struct qrun {
    struct qemu_vm_config cfg;
    struct tinyx_manifest m;
    struct tinyx_kernel kernel;
    const char *console_path;
    double timeout, ready_timeout;
    int wait_ready, quiet;
    char tapname[64];
};

static int parse_publish(const char *arg, struct qemu_vm_config *cfg)
{
    if (cfg->nfwd == QEMU_MAX_FWDS ||
        qemu_fwd_parse(arg, &cfg->fwd[cfg->nfwd]) < 0)
        return -1;
    cfg->nfwd++;
    return 0;
}

static int parse_net(const char *arg, struct qrun *q)
{
    if (!strcmp(arg, "user")) {
        q->cfg.net = QEMU_NET_USER;
    } else if (!strcmp(arg, "none")) {
        q->cfg.net = QEMU_NET_NONE;
    } else if (!strncmp(arg, "tap:", 4) && arg[4] &&
               strlen(arg + 4) < sizeof q->tapname) {
        q->cfg.net = QEMU_NET_TAP;
        snprintf(q->tapname, sizeof q->tapname, "%s", arg + 4);
        q->cfg.tap_ifname = q->tapname;
    } else if (!strncmp(arg, "tapfd:", 6)) {
        char *end;
        long fd = strtol(arg + 6, &end, 10);
        if (*end || fd < 0 || fcntl((int)fd, F_GETFD) < 0)
            return -1;
        q->cfg.net = QEMU_NET_TAP;
        q->cfg.tap_fd = (int)fd;
    } else {
        return -1;
    }
    return 0;
}

static int copy_addr(char *dst, size_t len, const char *src, const char *opt)
{
    if (strlen(src) >= len || strchr(src, ' ') || !*src) {
        cli_msg("%s: '%s' is not an address", opt, src);
        return -1;
    }
    snprintf(dst, len, "%s", src);
    return 0;
}

static int parse(int argc, char **argv, struct qrun *q)
{
    enum {
        OPT_CPUS = 256,
        OPT_NET,
        OPT_IP,
        OPT_GW,
        OPT_DNS,
        OPT_MAC,
        OPT_ACCEL,
        OPT_KERNEL,
        OPT_MONITOR
    };
    static const struct option opts[] = {
        {"mem", required_argument, NULL, 'm'},
        {"memory", required_argument, NULL, 'm'},
        {"cpus", required_argument, NULL, OPT_CPUS},
        {"timeout", required_argument, NULL, 't'},
        {"console", required_argument, NULL, 'c'},
        {"publish", required_argument, NULL, 'p'},
        {"net", required_argument, NULL, OPT_NET},
        {"ip", required_argument, NULL, OPT_IP},
        {"gateway", required_argument, NULL, OPT_GW},
        {"dns", required_argument, NULL, OPT_DNS},
        {"mac", required_argument, NULL, OPT_MAC},
        {"wait-ready", optional_argument, NULL, 'w'},
        {"accel", required_argument, NULL, OPT_ACCEL},
        {"kernel", required_argument, NULL, OPT_KERNEL},
        {"name", required_argument, NULL, 'n'},
        {"monitor", required_argument, NULL, OPT_MONITOR},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0}};
    struct qemu_vm_config *cfg = &q->cfg;
    cfg->net = QEMU_NET_USER;
    cfg->tap_fd = -1;
    q->ready_timeout = 120;
    const char *kernel = NULL, *name = NULL;
    uint64_t mem = 0;
    int c;
    char *end;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+m:t:c:p:w::n:qh", opts, NULL)) !=
           -1) {
        switch (c) {
        case 'm':
            if (layout_parse_size(optarg, &mem) < 0 || !mem) {
                cli_msg("--mem: '%s' is not a size (e.g. 128M)", optarg);
                return -1;
            }
            break;
        case OPT_CPUS:
            cfg->cpus = (unsigned)strtoul(optarg, &end, 10);
            if (*end || cfg->cpus < 1 || cfg->cpus > GUEST_QEMU_VCPUS_MAX) {
                cli_msg("--cpus: '%s' is not 1 to %d", optarg,
                        GUEST_QEMU_VCPUS_MAX);
                return -1;
            }
            break;
        case 't':
            errno = 0;
            q->timeout = strtod(optarg, &end);
            if (errno || *end || !(q->timeout > 0) || q->timeout > 1e7) {
                cli_msg("--timeout: '%s' is not a number of seconds", optarg);
                return -1;
            }
            break;
        case 'c': q->console_path = optarg; break;
        case 'p':
            if (parse_publish(optarg, cfg) < 0) {
                cli_msg("--publish: '%s' is not [ADDR:]HOSTPORT:GUESTPORT "
                        "(at most %d)",
                        optarg, QEMU_MAX_FWDS);
                return -1;
            }
            break;
        case OPT_NET:
            if (parse_net(optarg, q) < 0) {
                cli_msg("--net: '%s': use user, tap:IFNAME, tapfd:FD or none",
                        optarg);
                return -1;
            }
            break;
        case OPT_IP:
            if (copy_addr(cfg->guest_ip, sizeof cfg->guest_ip, optarg, "--ip") <
                0)
                return -1;
            break;
        case OPT_GW:
            if (copy_addr(cfg->gateway, sizeof cfg->gateway, optarg,
                          "--gateway") < 0)
                return -1;
            break;
        case OPT_DNS:
            if (copy_addr(cfg->dns, sizeof cfg->dns, optarg, "--dns") < 0)
                return -1;
            break;
        case OPT_MAC:
            if (copy_addr(cfg->mac, sizeof cfg->mac, optarg, "--mac") < 0)
                return -1;
            break;
        case 'w':
            q->wait_ready = 1;
            if (optarg) {
                q->ready_timeout = strtod(optarg, &end);
                if (*end || !(q->ready_timeout > 0)) {
                    cli_msg("--wait-ready: '%s' is not a number of seconds",
                            optarg);
                    return -1;
                }
            }
            break;
        case OPT_ACCEL:
            if (!strcmp(optarg, "kvm"))
                cfg->accel = QEMU_ACCEL_KVM;
            else if (!strcmp(optarg, "tcg"))
                cfg->accel = QEMU_ACCEL_TCG;
            else if (!strcmp(optarg, "auto"))
                cfg->accel = QEMU_ACCEL_AUTO;
            else {
                cli_msg("--accel: '%s': use auto, kvm or tcg", optarg);
                return -1;
            }
            break;
        case OPT_KERNEL: kernel = optarg; break;
        case 'n': {
            struct lvm_err e;
            if (guest_name_check(optarg, &e) < 0) {
                cli_msg("--%s", e.msg);
                return -1;
            }
            name = optarg;
            break;
        }
        case OPT_MONITOR:
            if (strcmp(optarg, "qemu")) {
                cli_msg("--monitor: '%s' cannot run a Tinyx image (use qemu)",
                        optarg);
                return -1;
            }
            break;
        case 'q': q->quiet = 1; break;
        case 'h': fputs(usage, stdout); exit(0);
        default: fputs(usage, stderr); return -1;
        }
    }
    if (optind != argc - 1) {
        cli_msg("run: give one Tinyx image directory (see 'lightvm run "
                "--monitor qemu --help')");
        return -1;
    }
    struct lvm_err err;
    if (tinyx_manifest_load(argv[optind], &q->m, &err) < 0) {
        cli_error(&err);
        return -2;
    }
    /* The image's settings, then ours on top. */
    struct qemu_vm_config img;
    qemu_config_from_image(&q->m, &img);
    cfg->name = name ? name : q->m.name;
    cfg->kernel = img.kernel;
    cfg->initrd = img.initrd;
    cfg->acpi = img.acpi;
    cfg->quiet = q->quiet;
    cfg->die_with_parent = 1;
    if (kernel) {
        if (kernel_from_path(kernel, &q->kernel, &err) < 0) {
            cli_error(&err);
            return -2;
        }
        cfg->kernel = q->kernel.path;
        cfg->acpi = q->kernel.acpi;
    }
    const char *kind = kernel ? q->kernel.kind : q->m.kernel.kind;
    if (guest_ram_pick(GUEST_MON_QEMU, guest_kernel_of(kind), mem, img.mem,
                       &cfg->mem, &err) < 0) {
        cli_msg("--%s", err.msg);
        return -1;
    }
    if (q->wait_ready && q->m.health == TINYX_HEALTH_NONE) {
        cli_msg("--wait-ready: image %s has no health check (tinyx build "
                "--health)",
                argv[optind]);
        return -1;
    }
    return 0;
}

struct loop {
    struct qemu_vm *vm;
    struct qrun *q;
    int sigfd, timerfd, readyfd;
    int interrupts, reported;
};

static void on_signal(struct loop *l)
{
    struct signalfd_siginfo si;
    while (read(l->sigfd, &si, sizeof si) == sizeof si) {
        struct lvm_err err;
        if (l->interrupts++ == 0) {
            cli_msg("asking guest %s to power off (interrupt again to kill "
                    "it)",
                    l->vm->name);
            if (qemu_vm_poweroff(l->vm, &err) < 0)
                qemu_vm_kill(l->vm, 0);
        } else {
            qemu_vm_kill(l->vm, 0);
        }
    }
}

/* The guest said it is ready: confirm from the host when the health port
 * is published, then say how long it took. */
static void on_ready(struct loop *l)
{
    struct qemu_vm *vm = l->vm;
    l->reported = 1;
    struct itimerspec off = {{0, 0}, {0, 0}};
    timerfd_settime(l->readyfd, 0, &off, NULL);
    struct lvm_err err;
    if (qemu_vm_wait_answer(vm, &l->q->m, 10000, &err) < 0) {
        cli_error(&err);
        return;
    }
    double secs = (double)(host_now_ns() - vm->start_ns) / 1e9;
    uint16_t hp = l->q->m.health == TINYX_HEALTH_TCP
                      ? qemu_vm_host_port(vm, (uint16_t)l->q->m.health_port)
                      : 0;
    char where[64] = "";
    if (hp)
        snprintf(where, sizeof where, ", host port %u", hp);
    if (l->q->m.health == TINYX_HEALTH_TCP)
        cli_msg("guest %s ready in %.3f s (TCP port %u answers%s; %s)",
                vm->name, secs, l->q->m.health_port, where,
                vm->accel_kvm ? "KVM" : "TCG");
    else
        cli_msg("guest %s ready in %.3f s (health command passed; %s)",
                vm->name, secs, vm->accel_kvm ? "KVM" : "TCG");
}

static void run_loop(struct loop *l)
{
    struct qemu_vm *vm = l->vm;
    while (!vm->exited) {
        struct pollfd p[6];
        int n = qemu_vm_pollfds(vm, p);
        p[n++] = (struct pollfd){l->sigfd, POLLIN, 0};
        p[n++] = (struct pollfd){l->timerfd, POLLIN, 0};
        p[n++] = (struct pollfd){l->readyfd, POLLIN, 0};
        int r = poll(p, (nfds_t)n, -1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return;
        qemu_vm_service(vm, p, 3);
        if (p[3].revents & POLLIN)
            on_signal(l);
        uint64_t x;
        if ((p[4].revents & POLLIN) && read(l->timerfd, &x, sizeof x) > 0)
            qemu_vm_kill(vm, 1);
        if ((p[5].revents & POLLIN) && read(l->readyfd, &x, sizeof x) > 0 &&
            !vm->gs.ready) {
            cli_msg("guest %s not ready after %.0f s: stopping it", vm->name,
                    l->q->ready_timeout);
            qemu_vm_kill(vm, 0);
            l->reported = -1;
        }
        if (vm->gs.ready && !l->reported && !vm->exited)
            on_ready(l);
    }
}

static int arm(int fd, double secs)
{
    struct itimerspec its = {{0, 0},
                             {(time_t)secs, (long)(fmod(secs, 1.0) * 1e9)}};
    return timerfd_settime(fd, 0, &its, NULL);
}

int cmd_run_qemu(int argc, char **argv)
{
    struct qrun *q = calloc(1, sizeof *q);
    if (!q)
        return CLI_EXIT_ERROR;
    int pr = parse(argc, argv, q);
    if (pr < 0) {
        free(q);
        return pr == -2 ? CLI_EXIT_ERROR : CLI_EXIT_USAGE;
    }
    struct lvm_err err;
    struct loop l = {.q = q, .sigfd = -1, .timerfd = -1, .readyfd = -1};
    int code = CLI_EXIT_ERROR, console = STDOUT_FILENO;
    if (q->console_path) {
        console = open(q->console_path,
                       O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (console < 0) {
            lvm_err_set(&err, errno, "open console file %s", q->console_path);
            goto fail;
        }
    }
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN); /* a closed console pipe must not kill us */
    l.sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    l.timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    l.readyfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (l.sigfd < 0 || l.timerfd < 0 || l.readyfd < 0 ||
        (q->timeout > 0 && arm(l.timerfd, q->timeout) < 0) ||
        (q->wait_ready && arm(l.readyfd, q->ready_timeout) < 0)) {
        lvm_err_set(&err, errno, "set up signals and timers");
        goto fail;
    }
    if (qemu_vm_start(&q->cfg, console, &l.vm, &err) < 0)
        goto fail;
    run_loop(&l);
    struct guest_exit ex;
    if (qemu_vm_reap(l.vm, &ex, &err) < 0)
        goto fail;
    if (l.reported < 0) {
        code = CLI_EXIT_ERROR;
        goto out;
    }
    if (ex.kind != GUEST_EXITED || (ex.status != 0 && !q->quiet)) {
        char buf[512];
        cli_msg("guest %s %s", l.vm->name,
                guest_exit_str(&ex, buf, sizeof buf));
    }
    code = ex.code;
    goto out;
fail:
    cli_error(&err);
out:
    qemu_vm_free(l.vm);
    if (console != STDOUT_FILENO && console >= 0)
        close(console);
    if (l.sigfd >= 0)
        close(l.sigfd);
    if (l.timerfd >= 0)
        close(l.timerfd);
    if (l.readyfd >= 0)
        close(l.readyfd);
    free(q);
    return code;
}
