/*
 * guest.c: start guests and account for how they end (see guest.h).
 *
 * Starting a proc guest: attach its devices (console, control eventfd,
 * block files) and fill its device page; lay out its memory; build its
 * boot info, initial stack and seccomp filter into a plan; create its
 * cgroup and shell; send the plan. The guest's fds are numbered by the
 * device page: 1 and 2 the console, 3 the control eventfd, then devices.
 */
#include "toolstack/guest.h"
#include "toolstack/audit.h"
#include "toolstack/layout.h"
#include "toolstack/policy.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define CONTROL_GUEST_FD 3
#define FIRST_DEVICE_FD 4
#define CONTROL_EVTCHN 0
#define BLOCK_SIZE 512
#define MEMORY_OVERHEAD (4ull << 20) /* page tables, signal frames, kernel */

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

/* Host resources behind a guest's devices, gathered before the shell. */
struct attach {
    int fds[LVM_PLAN_MAX_FDS]; /* sent with the plan */
    int nfds;
    struct lvm_plan_fd map[LVM_PLAN_MAX_FDS];
    unsigned nmap;
    struct policy_params pol;
};

static int add_fd(struct attach *a, int fd, int target, struct lvm_err *err)
{
    if (a->nfds == LVM_PLAN_MAX_FDS || a->nmap == LVM_PLAN_MAX_FDS)
        return lvm_err_set(err, E2BIG, "too many fds for one guest");
    a->fds[a->nfds] = fd;
    a->map[a->nmap].fd_index = a->nfds;
    a->map[a->nmap].target = target;
    a->nfds++;
    a->nmap++;
    return 0;
}

static int attach_block(struct guest *g, struct attach *a,
                        const struct guest_block *b,
                        const struct lvm_manifest_device *want, int guest_fd,
                        int *owned, struct lvm_err *err)
{
    int ro = b->readonly || (want->flags & LVM_DEVF_READONLY);
    int fd = open(b->path, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (fd < 0)
        return lvm_err_set(err, errno, "open block device %s (%s)", b->name,
                           b->path);
    *owned = fd;
    struct stat st;
    if (fstat(fd, &st) < 0)
        return lvm_err_set(err, errno, "stat %s", b->path);
    uint64_t size = (uint64_t)st.st_size;
    if (S_ISBLK(st.st_mode)) {
        off_t end = lseek(fd, 0, SEEK_END);
        size = end > 0 ? (uint64_t)end : 0;
    } else if (!S_ISREG(st.st_mode)) {
        return lvm_err_set(err, EINVAL,
                           "block device %s: %s is not a file or a disk",
                           b->name, b->path);
    }
    uint64_t cap = size - size % BLOCK_SIZE;
    if (cap == 0)
        return lvm_err_set(err, EINVAL,
                           "block device %s: %s holds less than one %d-byte "
                           "block",
                           b->name, b->path, BLOCK_SIZE);
    struct lvm_device d;
    memset(&d, 0, sizeof d);
    d.type = LVM_DEV_BLOCK;
    d.flags = ro ? LVM_DEVF_READONLY : 0;
    d.handle = (uint16_t)guest_fd;
    d.evtchn = LVM_EVTCHN_NONE;
    memcpy(d.name, want->name, sizeof d.name);
    d.u.block.capacity = cap;
    d.u.block.block_size = BLOCK_SIZE;
    if (devpage_add(g->dev.dp, &d, err) < 0)
        return -1;
    struct policy_device *pd = &a->pol.dev[a->pol.ndevices++];
    pd->type = LVM_DEV_BLOCK;
    pd->fd = guest_fd;
    pd->readonly = ro;
    pd->capacity = cap;
    pd->block_size = BLOCK_SIZE;
    return add_fd(a, fd, guest_fd, err);
}

/* Console, control and every device in the manifest. */
static int attach_devices(struct guest *g, const struct image *img,
                          const struct guest_spec *spec, struct attach *a,
                          int *owned, int *nowned, struct lvm_err *err)
{
    memset(a, 0, sizeof *a);
    struct lvm_device d;
    memset(&d, 0, sizeof d);
    d.type = LVM_DEV_CONSOLE;
    d.handle = 1;
    d.evtchn = LVM_EVTCHN_NONE;
    snprintf(d.name, sizeof d.name, "console");
    if (devpage_add(g->dev.dp, &d, err) < 0)
        return -1;
    if (add_fd(a, spec->console_fd, 1, err) < 0)
        return -1;
    a->map[a->nmap++] = (struct lvm_plan_fd){a->nfds - 1, 2};

    memset(&d, 0, sizeof d);
    d.type = LVM_DEV_CONTROL;
    d.handle = CONTROL_GUEST_FD;
    d.evtchn = CONTROL_EVTCHN;
    snprintf(d.name, sizeof d.name, "control");
    if (devpage_add(g->dev.dp, &d, err) < 0)
        return -1;
    if (add_fd(a, g->control_fd, CONTROL_GUEST_FD, err) < 0)
        return -1;
    a->pol.control_fd = CONTROL_GUEST_FD;

    int next_fd = FIRST_DEVICE_FD;
    for (unsigned i = 0; i < spec->nblocks; i++) {
        int found = 0;
        for (unsigned j = 0; j < img->info.ndevices; j++)
            found |= img->info.dev[j].type == LVM_DEV_BLOCK &&
                     strcmp(img->info.dev[j].name, spec->blocks[i].name) == 0;
        if (!found)
            return lvm_err_set(err, EINVAL,
                               "the guest's manifest has no block device "
                               "named %s",
                               spec->blocks[i].name);
    }
    for (unsigned j = 0; j < img->info.ndevices; j++) {
        const struct lvm_manifest_device *want = &img->info.dev[j];
        const char *type = image_device_type_name(want->type);
        if (want->type == LVM_DEV_BLOCK) {
            const struct guest_block *b = NULL;
            for (unsigned i = 0; i < spec->nblocks; i++)
                if (strcmp(spec->blocks[i].name, want->name) == 0)
                    b = &spec->blocks[i];
            if (!b)
                return lvm_err_set(err, ENODEV,
                                   "the guest needs block device %s: attach "
                                   "it with --block %s=FILE",
                                   want->name, want->name);
            if (attach_block(g, a, b, want, next_fd++, &owned[(*nowned)++],
                             err) < 0)
                return -1;
        } else {
            return lvm_err_set(err, ENODEV,
                               "the guest needs %s device %s, which this "
                               "toolstack cannot attach yet",
                               type, want->name);
        }
    }
    return 0;
}

/* The plan message: header, then data (boot info, stack, filter). */
static int build_plan(const struct lvm_host *h, const struct image *img,
                      const struct guest_spec *spec, struct guest *g,
                      struct attach *a, struct lvm_msg_plan **out,
                      size_t *out_len, struct lvm_err *err)
{
    struct layout lay;
    if (layout_compute(&img->info, spec->ram_size, &lay, err) < 0)
        return -1;

    struct sock_filter *bpf = NULL;
    size_t bpf_len = 0;
    a->pol.fsgsbase = h->fsgsbase;
    if (policy_proc_build(&a->pol, &bpf, &bpf_len, err) < 0)
        return -1;
    if (bpf_len > LVM_PLAN_MAX_BPF) {
        free(bpf);
        return lvm_err_set(err, E2BIG, "seccomp filter too long");
    }

    size_t cap = sizeof(struct lvm_msg_plan) + LVM_PLAN_MAX_DATA;
    struct lvm_msg_plan *p = calloc(1, cap);
    if (!p) {
        free(bpf);
        return lvm_err_set(err, ENOMEM, "allocate the plan");
    }
    uint8_t *data = (uint8_t *)(p + 1);
    size_t used = 0;

    /* Boot info. */
    uint8_t seed[32];
    struct layout_args la = {.argc = spec->argc, .argv = spec->argv,
                             .envc = spec->envc, .envp = spec->envp,
                             .hwcap = h->hwcap};
    if (getrandom(seed, sizeof seed, 0) != sizeof seed ||
        getrandom(la.random, sizeof la.random, 0) != sizeof la.random) {
        free(bpf);
        free(p);
        return lvm_err_set(err, errno, "getrandom");
    }
    struct lvm_bootinfo *bi = (struct lvm_bootinfo *)(void *)data;
    layout_bootinfo(&lay, LVM_BINDING_PROC, h->fsgsbase ? LVM_BOOT_FSGSBASE : 0,
                    g->id, g->name, spec->argc, spec->argv, seed, host_now_ns(),
                    bi);
    p->copies[p->ncopies++] =
        (struct lvm_plan_copy){LVM_BOOTINFO_ADDR, sizeof *bi, 0};
    used += sizeof *bi;

    /* Initial stack. */
    uint64_t sp;
    size_t stack_len;
    if (layout_stack(&img->info, img->file, &lay, &la, data + used,
                     LVM_PLAN_MAX_DATA - used - bpf_len * sizeof *bpf, &sp,
                     &stack_len, err) < 0) {
        free(bpf);
        free(p);
        return -1;
    }
    p->copies[p->ncopies++] =
        (struct lvm_plan_copy){sp, (uint32_t)stack_len, (uint32_t)used};
    used += stack_len;

    /* Seccomp filter. */
    used = (used + 7) & ~(size_t)7;
    memcpy(data + used, bpf, bpf_len * sizeof *bpf);
    p->bpf_off = (uint32_t)used;
    p->bpf_len = (uint32_t)bpf_len;
    used += bpf_len * sizeof *bpf;
    free(bpf);

    /* Memory: boot info, device and status pages, the image, RAM. */
    int tmpl = a->nfds, devp = a->nfds + 1;
    p->maps[p->nmaps++] = (struct lvm_plan_map){
        LVM_BOOTINFO_ADDR, LVM_PAGE_SIZE, 0, PROT_READ, LVM_MAP_ANON, -1, 0};
    p->maps[p->nmaps++] = (struct lvm_plan_map){
        LVM_DEVPAGE_ADDR, LVM_PAGE_SIZE, 0, PROT_READ, LVM_MAP_FILE_SHARED,
        devp, 0};
    p->maps[p->nmaps++] = (struct lvm_plan_map){
        LVM_STATUS_ADDR, LVM_PAGE_SIZE, DEVPAGE_STATUS_OFFSET,
        PROT_READ | PROT_WRITE, LVM_MAP_FILE_SHARED, devp, 0};
    for (unsigned i = 0; i < img->info.nsegs; i++) {
        const struct image_segment *s = &img->info.seg[i];
        uint64_t lo = s->vaddr & ~(LVM_PAGE_SIZE - 1);
        uint64_t hi = (s->vaddr + s->memsz + LVM_PAGE_SIZE - 1) &
                      ~(LVM_PAGE_SIZE - 1);
        p->maps[p->nmaps++] = (struct lvm_plan_map){
            lo, hi - lo, lo - LVM_RAM_BASE, s->prot, LVM_MAP_FILE_PRIVATE,
            tmpl, 0};
    }
    p->maps[p->nmaps++] = (struct lvm_plan_map){
        lay.heap_start, lay.heap_end - lay.heap_start, 0,
        PROT_READ | PROT_WRITE, LVM_MAP_ANON, -1, 0};
    p->maps[p->nmaps++] = (struct lvm_plan_map){
        lay.stack_bottom, lay.stack_top - lay.stack_bottom, 0,
        PROT_READ | PROT_WRITE, LVM_MAP_ANON, -1, 0};

    p->hdr = (struct lvm_msg_hdr){LVM_PLAN_MAGIC, LVM_PLAN_VERSION,
                                  LVM_MSG_PLAN};
    p->monitor = LVM_MONITOR_PROC;
    p->nfds = a->nmap;
    memcpy(p->fds, a->map, sizeof(struct lvm_plan_fd) * a->nmap);
    p->entry = img->info.entry;
    p->stack_pointer = sp;
    p->sigsys_entry = img->info.abi.sigsys_entry;
    p->sigreturn_entry = img->info.abi.sigreturn_entry;
    p->syscall_entry = img->info.abi.syscall_entry;
    p->rlimit_fsize = spec->console_limit ? spec->console_limit
                                          : GUEST_CONSOLE_LIMIT_DEFAULT;
    p->ram_end = lay.ram_end;
    p->data_len = (uint32_t)used;
    snprintf(p->comm, sizeof p->comm, "lvm-%s", g->name);
    *out = p;
    *out_len = sizeof *p + used;
    return 0;
}

static int start_proc(const struct lvm_host *h, const struct image *img,
                      const struct guest_spec *spec, struct guest *g,
                      struct lvm_err *err)
{
    struct attach a;
    int owned[GUEST_MAX_BLOCKS + 1], nowned = 0, r = -1;
    struct lvm_msg_plan *plan = NULL;
    size_t plan_len = 0;
    if (attach_devices(g, img, spec, &a, owned, &nowned, err) < 0)
        goto out;
    if (build_plan(h, img, spec, g, &a, &plan, &plan_len, err) < 0)
        goto out;
    a.fds[a.nfds++] = img->template_fd;
    a.fds[a.nfds++] = g->dev.fd;

    struct cgroup_limits lim = {0};
    lim.memory_max = g->memory_limit;
    if (spec->cpus > 0) {
        lim.cpu_period_us = 100000;
        lim.cpu_quota_us = (uint64_t)(spec->cpus * 100000.0 + 0.5);
        if (lim.cpu_quota_us < 1000)
            lim.cpu_quota_us = 1000; /* the kernel's minimum */
    }
    lim.pids_max = 1; /* the guest is one process; nothing may fork */
    if (cgroup_create(&g->cg, g->id, &lim, err) < 0)
        goto out;
    g->have_cg = 1;

    struct sandbox_opts so = {
        .shell_fd = h->shell_fd,
        .monitor = LVM_MONITOR_PROC,
        .uid_base = h->uid_base,
        .root_dir = h->root_dir,
        .hostname = g->name,
        .cg = &g->cg,
        .ipc_ns = 1,
        .net_ns = 1,
    };
    if (sandbox_spawn(&so, &g->sb, err) < 0)
        goto out;
    if (sandbox_launch(&g->sb, plan, plan_len, a.fds, a.nfds, err) < 0) {
        sandbox_close(&g->sb);
        waitpid(g->sb.pid, NULL, __WALL);
        g->sb.pid = -1;
        goto out;
    }
    g->started_ns = host_now_ns();
    r = 0;
out:
    for (int i = 0; i < nowned; i++)
        if (owned[i] >= 0)
            close(owned[i]);
    free(plan);
    return r;
}

int guest_start(const struct lvm_host *h, const struct image *img,
                const struct guest_spec *spec, struct guest **out,
                struct lvm_err *err)
{
    if (spec->monitor != LVM_MONITOR_PROC)
        return lvm_err_set(err, EINVAL, "only the proc monitor is available");
    if (spec->console_fd < 0)
        return lvm_err_set(err, EINVAL, "no console for the guest");
    struct guest *g = calloc(1, sizeof *g);
    if (!g)
        return lvm_err_set(err, ENOMEM, "allocate a guest");
    g->create_ns = host_now_ns();
    g->killed_syscall = -1;
    g->control_fd = -1;
    g->dev.fd = -1;
    g->sb.pid = -1;
    g->sb.pidfd = -1;
    g->sb.sock = -1;
    guest_new_id(g->id);
    snprintf(g->name, sizeof g->name, "%s",
             spec->name && *spec->name ? spec->name : img->name);
    g->ram_size = spec->ram_size ? spec->ram_size : GUEST_RAM_DEFAULT;
    g->memory_limit = spec->memory_limit ? spec->memory_limit
                                         : g->ram_size + MEMORY_OVERHEAD;
    struct guest_spec s = *spec;
    s.ram_size = g->ram_size;
    g->control_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (g->control_fd < 0) {
        lvm_err_set(err, errno, "create the control event channel");
        goto fail;
    }
    if (devpage_create(&g->dev, err) < 0)
        goto fail;
    if (start_proc(h, img, &s, g, err) < 0)
        goto fail;
    *out = g;
    return 0;
fail:
    guest_free(g);
    return -1;
}

int guest_control(struct guest *g, uint32_t request, struct lvm_err *err)
{
    devpage_control(g->dev.dp, request);
    uint64_t one = 1;
    if (write(g->control_fd, &one, sizeof one) != sizeof one)
        return lvm_err_set(err, errno, "signal the control device");
    return 0;
}

int guest_kill(struct guest *g)
{
    if (g->sb.pidfd >= 0)
        return (int)syscall(SYS_pidfd_send_signal, g->sb.pidfd, SIGKILL, NULL,
                            0);
    return g->sb.pid > 0 ? kill(g->sb.pid, SIGKILL) : -1;
}

static const char *signame(int sig)
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
    siginfo_t si;
    memset(&si, 0, sizeof si);
    int r;
    do
        r = waitid(P_PIDFD, (id_t)g->sb.pidfd, &si, WEXITED);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return lvm_err_set(err, errno, "wait for guest %s", g->id);
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
        } else if (st->exit_reason == LVM_EXIT_ABORT &&
                   si.si_status == 134) {
            ex->kind = GUEST_ABORTED;
            char msg[sizeof st->message];
            for (size_t i = 0; i < sizeof msg; i++)
                msg[i] = st->message[i];
            msg[sizeof msg - 1] = 0;
            snprintf(ex->detail, sizeof ex->detail, "%s", msg);
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
    if (sig == SIGSYS) {
        ex->kind = GUEST_POLICY;
        ex->syscall = g->killed_syscall != -1
                          ? g->killed_syscall
                          : audit_wait_seccomp(audit_fd, g->sb.pid, 1000, NULL,
                                               NULL);
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
        snprintf(ex->detail, sizeof ex->detail, "%s", signame(sig));
    } else {
        ex->kind = GUEST_KILLED;
        snprintf(ex->detail, sizeof ex->detail, "%s", signame(sig));
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
    case GUEST_ABORTED:
        snprintf(buf, len, "aborted: %s", ex->detail);
        break;
    case GUEST_POLICY:
        if (ex->syscall >= 0)
            snprintf(buf, len, "killed: forbidden system call %s (%ld)",
                     policy_syscall_name(ex->syscall, name, sizeof name),
                     ex->syscall);
        else if (ex->syscall < -1)
            snprintf(buf, len,
                     "killed: forbidden 32-bit system call (int 0x80, i386 "
                     "number %ld)",
                     -2 - ex->syscall);
        else
            snprintf(buf, len, "killed: forbidden system call (which one is "
                               "unknown: kernel audit records unavailable)");
        break;
    case GUEST_CRASHED:
        snprintf(buf, len, "crashed: %s", ex->detail);
        break;
    case GUEST_OOM:
        snprintf(buf, len, "killed: out of memory (%s)", ex->detail);
        break;
    case GUEST_TIMEOUT:
        snprintf(buf, len, "killed: timeout");
        break;
    case GUEST_KILLED:
        snprintf(buf, len, "killed by %s", ex->detail);
        break;
    case GUEST_SETUP:
        snprintf(buf, len, "failed to start: %s", ex->detail);
        break;
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
    if (g->dev.dp)
        devpage_destroy(&g->dev);
    if (g->control_fd >= 0)
        close(g->control_fd);
    free(g);
}
