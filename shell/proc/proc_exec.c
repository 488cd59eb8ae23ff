/*
 * proc_exec.c: turn the shell into a proc guest. Maps guest memory as the
 * plan says, installs the guest's fds, its SIGSYS handler and limits, then
 * hands over to the trampoline, which removes the shell and loads the
 * seccomp filter. Every step is checked; any failure is reported to the
 * toolstack before the guest has run a single instruction.
 */
#include "shell/shell.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PAGE 4096ull
#define USER_TOP 0x7ffffffff000ull /* end of the 47-bit user address space */

extern const char lvm_tramp_start[], lvm_tramp_end[];

/* Read by trampoline.S at fixed offsets: keep the order. */
struct proc_tramp_args {
    uint64_t low_addr, low_len;   /* 0, 8 */
    uint64_t high_addr, high_len; /* 16, 24 */
    uint64_t seccomp_flags;       /* 32 */
    uint64_t fprog;               /* 40: struct sock_fprog * */
    uint64_t sp, entry;           /* 48, 56 */
    struct sock_fprog prog;
};
_Static_assert(offsetof(struct proc_tramp_args, entry) == 56, "layout");

#define TRAMP_ARGS_OFF 1024 /* code first, then the arguments */

struct kernel_sigaction {
    uint64_t handler, flags, restorer;
    uint64_t mask;
};

static int in_region(uint64_t a, uint64_t len, uint64_t lo, uint64_t hi)
{
    return a >= lo && len <= hi - lo && a - lo <= hi - lo - len;
}

static void check_plan(const struct lvm_msg_plan *p, int nfds)
{
    if (p->nmaps > LVM_PLAN_MAX_MAPS || p->ncopies > LVM_PLAN_MAX_COPIES ||
        p->nfds > LVM_PLAN_MAX_FDS)
        shell_fail(EINVAL, "plan has too many entries");
    if (p->ram_end <= LVM_RAM_BASE || p->ram_end - LVM_RAM_BASE > LVM_RAM_MAX)
        shell_fail(EINVAL, "plan RAM end out of range");
    for (uint32_t i = 0; i < p->nmaps; i++) {
        const struct lvm_plan_map *m = &p->maps[i];
        if ((m->addr | m->len | m->offset) & (PAGE - 1) || !m->len)
            shell_fail(EINVAL, "map %u not page aligned", i);
        if (!in_region(m->addr, m->len, LVM_MON_BASE, p->ram_end) ||
            in_region(LVM_MON_PRIVATE_ADDR, PAGE, m->addr, m->addr + m->len))
            shell_fail(EINVAL, "map %u outside the guest region", i);
        if (m->kind != LVM_MAP_ANON && (m->fd_index < 0 || m->fd_index >= nfds))
            shell_fail(EINVAL, "map %u names a missing fd", i);
        if (m->prot & ~(unsigned)(PROT_READ | PROT_WRITE | PROT_EXEC) ||
            (m->prot & PROT_WRITE && m->prot & PROT_EXEC))
            shell_fail(EINVAL, "map %u is writable and executable", i);
    }
    for (uint32_t i = 0; i < p->ncopies; i++) {
        const struct lvm_plan_copy *c = &p->copies[i];
        if (c->data_off > p->data_len || c->len > p->data_len - c->data_off)
            shell_fail(EINVAL, "copy %u outside the plan's data", i);
    }
    for (uint32_t i = 0; i < p->nfds; i++)
        if (p->fds[i].fd_index < 0 || p->fds[i].fd_index >= nfds ||
            p->fds[i].target < 0 || p->fds[i].target >= SHELL_HIGH_FD)
            shell_fail(EINVAL, "fd entry %u is invalid", i);
    if (p->bpf_len == 0 || p->bpf_len > LVM_PLAN_MAX_BPF ||
        p->bpf_off > p->data_len ||
        (uint64_t)p->bpf_len * sizeof(struct sock_filter) >
            p->data_len - p->bpf_off)
        shell_fail(EINVAL, "plan has no valid seccomp filter");
}

/* The map containing [a, a + len), or NULL. */
static const struct lvm_plan_map *find_map(const struct lvm_msg_plan *p,
                                           uint64_t a, uint64_t len)
{
    for (uint32_t i = 0; i < p->nmaps; i++)
        if (in_region(a, len, p->maps[i].addr,
                      p->maps[i].addr + p->maps[i].len))
            return &p->maps[i];
    return NULL;
}

static void map_memory(const struct lvm_msg_plan *p, const int *fds)
{
    const char *data = (const char *)(p + 1);
    uint64_t fixup = 0; /* maps made writable for a copy (bit per map) */
    for (uint32_t i = 0; i < p->nmaps; i++) {
        const struct lvm_plan_map *m = &p->maps[i];
        int prot = (int)m->prot, flags = MAP_FIXED_NOREPLACE, fd = -1;
        /* Writable while the plan's data is copied in. */
        for (uint32_t k = 0; k < p->ncopies; k++)
            if (find_map(p, p->copies[k].addr, p->copies[k].len) == m &&
                !(prot & PROT_WRITE)) {
                prot |= PROT_WRITE;
                fixup |= 1ull << i;
            }
        if (m->kind == LVM_MAP_ANON)
            flags |= MAP_PRIVATE | MAP_ANONYMOUS;
        else
            flags |= m->kind == LVM_MAP_FILE_SHARED ? MAP_SHARED : MAP_PRIVATE;
        if (m->kind != LVM_MAP_ANON)
            fd = fds[m->fd_index];
        void *r = mmap((void *)(uintptr_t)m->addr, m->len, prot, flags, fd,
                       (off_t)m->offset);
        if (r == MAP_FAILED)
            shell_fail(errno, "map guest memory at %#llx",
                       (unsigned long long)m->addr);
        if (r != (void *)(uintptr_t)m->addr)
            shell_fail(EEXIST, "guest memory landed at the wrong address");
    }
    for (uint32_t k = 0; k < p->ncopies; k++) {
        const struct lvm_plan_copy *c = &p->copies[k];
        if (!find_map(p, c->addr, c->len))
            shell_fail(EINVAL, "copy %u lands outside guest memory", k);
        memcpy((void *)(uintptr_t)c->addr, data + c->data_off, c->len);
    }
    for (uint32_t i = 0; i < p->nmaps; i++) {
        const struct lvm_plan_map *m = &p->maps[i];
        if ((fixup & (1ull << i)) &&
            mprotect((void *)(uintptr_t)m->addr, m->len, (int)m->prot) < 0)
            shell_fail(errno, "protect guest memory");
    }
}

static struct proc_tramp_args *build_trampoline(const struct lvm_msg_plan *p)
{
    size_t code =
        (size_t)((uintptr_t)lvm_tramp_end - (uintptr_t)lvm_tramp_start);
    size_t bpf_bytes = p->bpf_len * sizeof(struct sock_filter);
    size_t bpf_off =
        (TRAMP_ARGS_OFF + sizeof(struct proc_tramp_args) + 63) & ~(size_t)63;
    size_t len = (bpf_off + bpf_bytes + PAGE - 1) & ~(PAGE - 1);
    if (code > TRAMP_ARGS_OFF)
        shell_fail(ENOMEM, "trampoline too large");
    if (LVM_MON_PRIVATE_ADDR + len > LVM_RAM_BASE)
        shell_fail(ENOMEM, "seccomp filter too large");
    char *page = mmap((void *)LVM_MON_PRIVATE_ADDR, len, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (page == MAP_FAILED || page != (char *)LVM_MON_PRIVATE_ADDR)
        shell_fail(errno, "map the trampoline");
    memcpy(page, lvm_tramp_start, code);
    memcpy(page + bpf_off, (const char *)(p + 1) + p->bpf_off, bpf_bytes);
    struct proc_tramp_args *a = (void *)(page + TRAMP_ARGS_OFF);
    a->low_addr = 0;
    a->low_len = LVM_MON_BASE;
    a->high_addr = p->ram_end;
    a->high_len = USER_TOP - p->ram_end;
    a->seccomp_flags = 0;
    a->prog.len = (unsigned short)p->bpf_len;
    a->prog.filter = (struct sock_filter *)(page + bpf_off);
    a->fprog = (uint64_t)(uintptr_t)&a->prog;
    a->sp = p->stack_pointer;
    a->entry = p->entry;
    if (mprotect(page, len, PROT_READ | PROT_EXEC) < 0)
        shell_fail(errno, "protect the trampoline");
    return a;
}

static void install_signals(const struct lvm_msg_plan *p)
{
    /* libc's sigaction would substitute its own restorer: call the kernel
     * directly, with the guest's restorer and every signal blocked while
     * the handler runs. */
    struct kernel_sigaction sa = {
        .handler = p->sigsys_entry,
        .flags = SA_SIGINFO | SA_RESTORER,
        .restorer = p->sigreturn_entry,
        .mask = ~0ull,
    };
    if (syscall(SYS_rt_sigaction, SIGSYS, &sa, NULL, 8) < 0)
        shell_fail(errno, "install the SIGSYS handler");
    /* A console whose reader has gone must not kill the guest, and a full
     * console file is the guest's problem, reported as EFBIG. */
    struct kernel_sigaction ign = {.handler = (uint64_t)(uintptr_t)SIG_IGN};
    if (syscall(SYS_rt_sigaction, SIGPIPE, &ign, NULL, 8) < 0 ||
        syscall(SYS_rt_sigaction, SIGXFSZ, &ign, NULL, 8) < 0)
        shell_fail(errno, "ignore SIGPIPE and SIGXFSZ");
}

_Noreturn void proc_exec(const struct lvm_msg_plan *p, const int *fds, int nfds)
{
    check_plan(p, nfds);
    map_memory(p, fds);
    struct proc_tramp_args *tramp = build_trampoline(p);
    install_signals(p);
    int gate = shell_take_gate(p, fds, nfds);
    int max_fd = shell_install_fds(p, fds, nfds);
    shell_set_limits(p, max_fd);

    struct lvm_msg_hdr started = {LVM_PLAN_MAGIC, LVM_PLAN_VERSION,
                                  LVM_MSG_STARTED};
    shell_send(&started, sizeof started);
    shell_wait_gate(gate);
    /* From here on only the guest's own fds remain. */
    if (syscall(SYS_close_range, (unsigned)max_fd + 1, ~0u, 0) < 0)
        _exit(126);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    ((void (*)(struct proc_tramp_args *))LVM_MON_PRIVATE_ADDR)(tramp);
    __builtin_unreachable();
}
