/*
 * guest.c: start guests and account for how they end (see guest.h).
 *
 * Starting a guest: attach its devices and fill its device page
 * (devices.c); have its monitor build the launch plan (monitor_*.c);
 * create its cgroup and shell (sandbox.c); send the plan.
 */
#include "toolstack/guest.h"
#include "toolstack/text.h"
#include "toolstack/snapshot.h"
#include "toolstack/audit.h"
#include "toolstack/devices.h"
#include "toolstack/monitor.h"
#include "toolstack/layout.h"
#include "toolstack/policy.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

void guest_new_id(char id[GUEST_ID_LEN + 1])
{
    uint8_t r[GUEST_ID_LEN / 2];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
        uint64_t t = host_now_ns() ^ (uint64_t)getpid() << 32;
        memcpy(r, &t, sizeof r);
    }
    for (size_t i = 0; i < sizeof r; i++)
        snprintf(id + 2 * i, 3, "%02x", r[i]);
}

static void guest_init(struct guest *g)
{
    memset(g, 0, sizeof *g);
    g->create_ns = host_now_ns();
    g->killed_syscall = -1;
    g->control_fd = -1;
    g->dev.fd = -1;
    g->sb.pid = -1;
    g->sb.pidfd = -1;
    g->sb.sock = -1;
}

int guest_prepare(const struct lvm_host *h, const struct guest_class *c,
                  struct guest **out, struct lvm_err *err)
{
    const struct monitor_ops *mon = monitor_of(c->monitor);
    if (!mon)
        return lvm_err_invalid(err, "unknown monitor %u", c->monitor);
    if (mon->available(h, err) < 0)
        return -1;
    struct guest *g = malloc(sizeof *g);
    if (!g)
        return lvm_err_set(err, ENOMEM, "allocate a guest");
    guest_init(g);
    if (c->id)
        snprintf(g->id, sizeof g->id, "%s", c->id);
    else
        guest_new_id(g->id);
    g->monitor = c->monitor;
    g->cpus = c->cpus;
    if (guest_ram_pick(mon->kind, GUEST_KERNEL_TINY, c->ram_size, 0,
                       &g->ram_size, err) < 0)
        goto fail;
    struct guest_mem_need need = {.mon = mon->kind, .ram = g->ram_size};
    g->memory_limit =
        c->memory_limit ? c->memory_limit : guest_memory_limit(&need);
    g->control_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (g->control_fd < 0) {
        lvm_err_set(err, errno, "create the control event channel");
        goto fail;
    }
    if (devpage_create(&g->dev, c->devpage_path, err) < 0)
        goto fail;

    struct cgroup_limits lim = {0};
    lim.memory_max = g->memory_limit;
    guest_cpu_limits(c->cpus, &lim);
    /* The guest is one process; nothing may fork (but the monitor's own
     * kernel tasks, see monitor_ops.pids_max). */
    lim.pids_max = mon->pids_max;
    lim.lean = c->lean;
    if (cgroup_create_at(&g->cg, c->cgroup_parent,
                         c->cgroup_name ? c->cgroup_name : g->id, &lim,
                         err) < 0)
        goto fail;
    g->have_cg = 1;
    g->t_cgroup = host_now_ns();

    struct sandbox_opts so = {
        .shell_fd = h->shell_fd,
        .monitor = mon->kind,
        .uid_base = h->uid_base,
        .root_dir = h->root_dir,
        .hostname = "lightvm",
        .cg = &g->cg,
        .ipc_ns = 1,
        .net_ns = 1,
        .ram_size = g->ram_size,
        .mntns_fd = h->mntns_fd,
        .host_mntns_fd = h->host_mntns_fd,
        .host_cwd_fd = h->host_cwd_fd,
        .evict_kthreads = mon->evict_kthreads,
    };
    /* A kvm shell makes its VM at PREPARE, from a /dev/kvm opened here. */
    int prep_fd = -1;
    if (mon->prepare_fd && (prep_fd = mon->prepare_fd(h, err)) < 0)
        goto fail;
    so.prepare_fd = prep_fd;
    int spawned = sandbox_spawn(&so, &g->sb, err);
    if (prep_fd >= 0)
        close(prep_fd);
    if (spawned < 0)
        goto fail;
    g->t_spawn = host_now_ns();
    *out = g;
    return 0;
fail:
    guest_free(g);
    return -1;
}

int guest_launch(const struct lvm_host *h, struct guest *g,
                 const struct image *img, const struct guest_spec *spec,
                 struct lvm_err *err)
{
    const struct monitor_ops *mon = monitor_of(g->monitor);
    if (!mon || spec->monitor != g->monitor)
        return lvm_err_invalid(err, "the guest was prepared for another "
                                    "monitor");
    uint64_t ram =
        spec->ram_size ? spec->ram_size : guest_ram_range(g->monitor, 0).def;
    if (ram != g->ram_size)
        return lvm_err_invalid(err,
                               "the guest was prepared for %llu KiB "
                               "of RAM, not %llu",
                               (unsigned long long)(g->ram_size >> 10),
                               (unsigned long long)(ram >> 10));
    if (spec->console_fd < 0)
        return lvm_err_invalid(err, "no console for the guest");
    snprintf(g->name, sizeof g->name, "%s",
             spec->name && *spec->name ? spec->name : img->name);
    uint64_t t0 = host_now_ns();
    struct guest_spec s = *spec;
    s.ram_size = ram;
    if (!s.net.run_dir)
        s.net.run_dir = h->run_dir;
    struct attach a;
    struct lvm_msg_plan *plan = NULL;
    size_t plan_len = 0;
    int r = -1;
    if (devices_attach(g, img, &s, &a, err) < 0)
        goto out;
    if (s.resume && snapshot_resume_status(g, s.resume, err) < 0)
        goto out;
    g->t_devices = host_now_ns();
    if (mon->build_plan(h, img, &s, g, &a, &plan, &plan_len, err) < 0)
        goto out;
    if (s.gate_fd > 0) {
        int gate = attach_fd(&a, s.gate_fd, -1, err);
        if (gate < 0)
            goto out;
        plan->gate_fd_index = gate;
    }
    g->t_plan = host_now_ns();
    if (sandbox_launch(&g->sb, plan, plan_len, a.fds, a.nfds, err) < 0)
        goto out;
    g->started_ns = g->t_launch = host_now_ns();
    (void)t0;
    r = 0;
out:
    devices_release(&a);
    if (plan) /* it holds the guest's RNG seed */
        explicit_bzero(plan, plan_len);
    free(plan);
    if (r < 0 && g->sb.pid > 0) {
        /* The shell may be half-way through the plan: it must not run. */
        sandbox_close(&g->sb);
        waitpid(g->sb.pid, NULL, __WALL);
        g->sb.pid = -1;
    }
    return r;
}

int guest_start(const struct lvm_host *h, const struct image *img,
                const struct guest_spec *spec, struct guest **out,
                struct lvm_err *err)
{
    if (spec->console_fd < 0)
        return lvm_err_invalid(err, "no console for the guest");
    /* A console file's page cache (all of it, on a tmpfs such as /run)
     * is charged to the guest. */
    struct guest_mem_need need = {
        .mon = spec->monitor,
        .ram = spec->ram_size ? spec->ram_size
                              : guest_ram_range(spec->monitor, 0).def,
        .console_file = guest_console_is_file(spec->console_fd),
        .console_limit = spec->console_limit};
    struct guest_class c = {.ram_size = spec->ram_size,
                            .memory_limit = spec->memory_limit
                                                ? spec->memory_limit
                                                : guest_memory_limit(&need),
                            .cpus = spec->cpus,
                            .monitor = spec->monitor,
                            .lean = spec->lean};
    struct guest *g;
    if (guest_prepare(h, &c, &g, err) < 0)
        return -1;
    if (guest_launch(h, g, img, spec, err) < 0) {
        guest_free(g);
        return -1;
    }
    *out = g;
    return 0;
}

int guest_control(struct guest *g, uint32_t request, struct lvm_err *err)
{
    if (!g->dev.dp)
        return lvm_err_invalid(err, "the guest has no device page");
    devpage_control(g->dev.dp, request);
    int fd = g->control_fd, own = 0;
    if (fd < 0) {
        /* Borrow the guest's own end of its control event channel. */
        fd = (int)syscall(SYS_pidfd_getfd, g->sb.pidfd, DEV_CONTROL_FD, 0);
        if (fd < 0)
            return lvm_err_set(err, errno, "reach the control device");
        own = 1;
    }
    uint64_t one = 1;
    ssize_t n = write(fd, &one, sizeof one);
    int e = errno;
    if (own)
        close(fd);
    if (n != sizeof one)
        return lvm_err_set(err, e, "signal the control device");
    return 0;
}

void guest_shed_fds(struct guest *g)
{
    if (g->control_fd >= 0)
        close(g->control_fd);
    g->control_fd = -1;
    if (g->dev.fd >= 0)
        close(g->dev.fd);
    g->dev.fd = -1;
}

/* Linux 6.15 keeps the exit status of a process for any pidfd holder; a
 * restarted daemon is no longer its guests' parent. */
struct lvm_pidfd_info {
    uint64_t mask, cgroupid;
    uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
    int32_t exit_code;
    uint32_t coredump_mask, spare;
};
#define LVM_PIDFD_GET_INFO _IOWR(0xFF, 11, struct lvm_pidfd_info)
#define LVM_PIDFD_INFO_EXIT (1ull << 3)

/* 0 with the status, 1 if not reaped yet, -1 if the kernel cannot say. */
static int pidfd_exit_status(int pidfd, int *status)
{
    struct lvm_pidfd_info info;
    memset(&info, 0, sizeof info);
    info.mask = LVM_PIDFD_INFO_EXIT;
    if (ioctl(pidfd, LVM_PIDFD_GET_INFO, &info) < 0)
        return -1; /* before Linux 6.15 */
    if (!(info.mask & LVM_PIDFD_INFO_EXIT))
        return 1;
    *status = info.exit_code;
    return 0;
}

int guest_kill(struct guest *g)
{
    if (g->sb.pidfd >= 0)
        return (int)syscall(SYS_pidfd_send_signal, g->sb.pidfd, SIGKILL, NULL,
                            0);
    return g->sb.pid > 0 ? kill(g->sb.pid, SIGKILL) : -1;
}

const char *guest_signal_name(int sig)
{
    switch (sig) {
    case SIGSEGV: return "SIGSEGV (invalid memory access)";
    case SIGBUS: return "SIGBUS (bus error)";
    case SIGILL: return "SIGILL (illegal instruction)";
    case SIGFPE: return "SIGFPE (arithmetic fault)";
    case SIGTRAP: return "SIGTRAP (breakpoint)";
    case SIGKILL: return "SIGKILL";
    case SIGSYS: return "SIGSYS";
    default: return "a signal";
    }
}

int guest_reap(struct guest *g, int audit_fd, int timed_out,
               struct guest_exit *ex, struct lvm_err *err)
{
    memset(ex, 0, sizeof *ex);
    ex->syscall = -1;
    const struct monitor_ops *mon = monitor_of(g->monitor);
    if (!mon)
        return lvm_err_invalid(err, "guest %s: unknown monitor %u", g->id,
                               g->monitor);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    int r;
    do
        r = waitid(P_PIDFD, (id_t)g->sb.pidfd, &si, WEXITED);
    while (r < 0 && errno == EINTR);
    if (r < 0 && errno == ECHILD) {
        /* Not our child: adopted after a daemon restart. */
        int status, k = pidfd_exit_status(g->sb.pidfd, &status);
        if (k != 0) {
            ex->kind = GUEST_UNKNOWN;
            ex->code = 255;
            snprintf(ex->detail, sizeof ex->detail,
                     "exit status unknown (the guest outlived its daemon "
                     "and this kernel keeps no exit status for "
                     "non-children)");
            return k > 0 ? 1 : 0;
        }
        si.si_code = WIFEXITED(status) ? CLD_EXITED : CLD_KILLED;
        si.si_status =
            WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status);
        r = 0;
    }
    if (r < 0)
        return lvm_err_set(err, errno, "wait for guest %s", g->id);
    if (mon->reap_report && mon->reap_report(g, &si, ex))
        return 0;
    volatile struct lvm_status *st = g->dev.st;
    int ran = st->magic == LVM_STATUS_MAGIC;
    if (si.si_code == CLD_EXITED) {
        ex->status = si.si_status;
        ex->code = si.si_status;
        if (!ran && si.si_status == 126) {
            ex->kind = GUEST_SETUP;
            ex->code = 125;
            snprintf(ex->detail, sizeof ex->detail,
                     "the sandbox could not be completed");
        } else if (st->exit_reason == LVM_EXIT_ABORT && si.si_status == 134) {
            ex->kind = GUEST_ABORTED;
            char msg[sizeof st->message];
            for (size_t i = 0; i < sizeof msg; i++)
                msg[i] = st->message[i];
            msg[sizeof msg - 1] = 0;
            snprintf(ex->detail, sizeof ex->detail, "%s", msg);
            /* The SDK ended it for a call it refuses to serve (strict
             * mode, a clone into new namespaces): reported as the
             * filter's kills are, in the guest's own account, as kvm's. */
            long nr = text_forbidden_nr(msg);
            if (nr >= 0) {
                ex->kind = GUEST_POLICY;
                ex->syscall = nr;
                ex->status = SIGSYS;
                ex->code = 128 + SIGSYS;
            }
        } else {
            ex->kind = GUEST_EXITED;
        }
        return 0;
    }
    int sig = si.si_status;
    ex->status = sig;
    ex->code = 128 + sig;
    struct cgroup_stats cs = {0};
    struct lvm_err ignore;
    if (g->have_cg)
        cgroup_stats(&g->cg, &cs, &ignore);
    if (sig == SIGSYS && mon->filters_itself) {
        /* Not the guest: the monitor broke its own filter. */
        long nr =
            g->killed_syscall != -1
                ? g->killed_syscall
                : audit_wait_seccomp(audit_fd, g->sb.pid, 1000, NULL, NULL);
        char name[64];
        ex->kind = GUEST_KILLED;
        snprintf(ex->detail, sizeof ex->detail,
                 "its %s monitor's own seccomp filter (system call %s, a "
                 "lightvm bug)",
                 mon->name,
                 nr >= 0 ? policy_syscall_name(nr, name, sizeof name)
                         : "unknown");
    } else if (sig == SIGSYS) {
        ex->kind = GUEST_POLICY;
        ex->syscall =
            g->killed_syscall != -1
                ? g->killed_syscall
                : audit_wait_seccomp(audit_fd, g->sb.pid, 1000, NULL, NULL);
    } else if (sig == SIGKILL && cs.oom_kills > 0) {
        ex->kind = GUEST_OOM;
        snprintf(ex->detail, sizeof ex->detail, "memory limit %llu KiB",
                 (unsigned long long)(g->memory_limit >> 10));
    } else if (sig == SIGKILL && timed_out) {
        ex->kind = GUEST_TIMEOUT;
        ex->code = 124;
    } else if (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL ||
               sig == SIGFPE || sig == SIGTRAP) {
        ex->kind = GUEST_CRASHED;
        snprintf(ex->detail, sizeof ex->detail, "%s", guest_signal_name(sig));
    } else {
        ex->kind = GUEST_KILLED;
        snprintf(ex->detail, sizeof ex->detail, "%s", guest_signal_name(sig));
    }
    return 0;
}

const char *guest_exit_str(const struct guest_exit *ex, char *buf, size_t len)
{
    char name[64];
    switch (ex->kind) {
    case GUEST_EXITED:
        snprintf(buf, len, "exited with status %d", ex->status);
        break;
    case GUEST_ABORTED: snprintf(buf, len, "aborted: %s", ex->detail); break;
    case GUEST_POLICY:
        if (ex->syscall >= 0 && (ex->syscall & 0x40000000))
            snprintf(buf, len,
                     "killed: forbidden x32 system call %s (x32 number %ld)",
                     policy_syscall_name(ex->syscall & ~0x40000000L, name,
                                         sizeof name),
                     ex->syscall & ~0x40000000L);
        else if (ex->syscall >= 0)
            snprintf(buf, len, "killed: forbidden system call %s (%ld)",
                     policy_syscall_name(ex->syscall, name, sizeof name),
                     ex->syscall);
        else if (ex->syscall < -1)
            snprintf(buf, len,
                     "killed: forbidden 32-bit system call (int 0x80, i386 "
                     "number %ld)",
                     -2 - ex->syscall);
        else
            snprintf(buf, len,
                     "killed: forbidden system call (which one is "
                     "unknown: kernel audit records unavailable)");
        break;
    case GUEST_CRASHED: snprintf(buf, len, "crashed: %s", ex->detail); break;
    case GUEST_OOM:
        snprintf(buf, len, "killed: out of memory (%s)", ex->detail);
        break;
    case GUEST_TIMEOUT: snprintf(buf, len, "killed: timeout"); break;
    case GUEST_KILLED: snprintf(buf, len, "killed by %s", ex->detail); break;
    case GUEST_SETUP:
        snprintf(buf, len, "failed to start: %s", ex->detail);
        break;
    case GUEST_WATCHDOG:
        snprintf(buf, len, "killed: watchdog expired (%s)", ex->detail);
        break;
    case GUEST_UNKNOWN: snprintf(buf, len, "exited: %s", ex->detail); break;
    }
    return buf;
}

void guest_free(struct guest *g)
{
    if (!g)
        return;
    if (g->sb.pidfd >= 0)
        close(g->sb.pidfd);
    if (g->sb.sock >= 0)
        close(g->sb.sock);
    if (g->have_cg) {
        struct lvm_err ignore;
        cgroup_destroy(&g->cg, &ignore);
    }
    if (g->net) {
        dev_net_release(g);
        free(g->net);
    }
    if (g->dev.dp)
        devpage_destroy(&g->dev);
    if (g->control_fd >= 0)
        close(g->control_fd);
    free(g);
}
