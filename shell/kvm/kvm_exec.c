/*
 * kvm_exec.c: the kvm monitor's two steps, called by the shell.
 *
 * kvm_prepare (at PREPARE, guest unknown): the VM, its memory slots, the
 * vCPU with its CPUID, GDT, IDT and long-mode registers. A pooled shell
 * waits here, a VM ready to take any guest.
 *
 * kvm_exec (at PLAN): the guest's memory and page tables, its entry
 * registers, its fds and limits; then STARTED, and the lockdown: every fd
 * but the guest's and the vCPU's closed, every signal blocked, and the
 * monitor's own seccomp filter (built by the toolstack,
 * toolstack/policy_kvm.c) loaded before the guest's first instruction.
 */
#include "shell/kvm/kvm.h"
#include "shell/shell.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct kvm_monitor kvm_mon = {.kvm_fd = -1, .vm_fd = -1, .vcpu_fd = -1};
static int prepared;

uint64_t kvm_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

_Noreturn void kvm_fail(int err, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct kvm_monitor *m = &kvm_mon;
    if (!m->started || !m->report)
        shell_fail(err, "kvm: %s", msg);
    char d[sizeof m->report->detail];
    snprintf(d, sizeof d, "%s: %s", msg, strerror(err));
    for (size_t i = 0; i < sizeof d; i++)
        m->report->detail[i] = d[i];
    kvm_report_end(m, LVM_REPORT_MONITOR, 125);
}

/* Keep an fd of the monitor's out of the range guest fds are put in. */
static int move_high(int fd)
{
    int h = fcntl(fd, F_DUPFD_CLOEXEC, SHELL_HIGH_FD);
    if (h < 0)
        kvm_fail(errno, "move a monitor fd");
    close(fd);
    return h;
}

void kvm_prepare(int kvm_fd, uint64_t ram_size)
{
    struct kvm_monitor *m = &kvm_mon;
    kvm_vm_create(m, move_high(kvm_fd), ram_size);
    m->vm_fd = move_high(m->vm_fd);
    kvm_cpu_setup(m);
    prepared = 1;
}

static void check_entry(const struct kvm_monitor *m,
                        const struct lvm_msg_plan *p)
{
    if (!kvm_mem_ok(m, p->entry, 1, PROT_READ | PROT_EXEC) ||
        !kvm_mem_ok(m, p->syscall_entry, 1, PROT_READ | PROT_EXEC))
        kvm_fail(EINVAL, "entry points are not in the guest's code");
    if (!kvm_mem_ok(m, p->stack_pointer, 8, PROT_READ | PROT_WRITE))
        kvm_fail(EINVAL, "initial stack is not in writable guest memory");
}

/* No library code from here on: only what the filter allows. */
static void lockdown(const struct lvm_msg_plan *p, int max_fd)
{
    struct kvm_monitor *m = &kvm_mon;
    struct sock_fprog prog = {
        .len = (unsigned short)p->bpf_len,
        .filter = (struct sock_filter *)((char *)(p + 1) + p->bpf_off),
    };
    /* Only the guest's fds and the vCPU remain: not /dev/kvm, not the VM
     * (no new memory slots or vCPUs), not the socket to the toolstack. */
    if (syscall(SYS_close_range, (unsigned)max_fd + 1,
                (unsigned)LVM_KVM_VCPU_FD - 1, 0) < 0 ||
        syscall(SYS_close_range, (unsigned)LVM_KVM_VCPU_FD + 1, ~0u, 0) < 0)
        kvm_fail(errno, "close the monitor's set-up fds");
    m->kvm_fd = m->vm_fd = -1;
    shell_sock = -1;
    /* Signals stop nothing in the monitor: the toolstack uses SIGKILL, the
     * cgroup freezer needs no signal, and a terminal's Ctrl-C goes to the
     * toolstack, which asks the guest to power off. */
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
        kvm_fail(errno, "load the monitor's seccomp filter");
}

_Noreturn void kvm_exec(const struct lvm_msg_plan *p, const int *fds, int nfds)
{
    struct kvm_monitor *m = &kvm_mon;
    if (!prepared)
        shell_fail(EPROTO, "kvm plan for a shell not prepared for kvm");
    uint64_t t0 = kvm_now();
    kvm_mem_map(m, p, fds, nfds);
    kvm_mem_map_report(m, fds[p->report_fd_index]);
    memset((void *)m->report, 0, sizeof *m->report);
    check_entry(m, p);
    kvm_vm_ram_slot(m, p->ram_end);
    kvm_pagetables_build(m);
    kvm_cpu_entry(m, p->entry, p->stack_pointer, p->syscall_entry);

    /* A console whose reader has gone must not kill the monitor, and a
     * full console file is the guest's problem, reported as EFBIG. */
    struct sigaction ign = {.sa_handler = SIG_IGN};
    if (sigaction(SIGPIPE, &ign, NULL) < 0 ||
        sigaction(SIGXFSZ, &ign, NULL) < 0)
        kvm_fail(errno, "ignore SIGPIPE and SIGXFSZ");
    int gate = shell_take_gate(p, fds, nfds);
    int max_fd = shell_install_fds(p, fds, nfds);
    shell_set_limits(p, max_fd);
    m->times.plan = kvm_now() - t0;

    struct lvm_msg_hdr started = {LVM_PLAN_MAGIC, LVM_PLAN_VERSION,
                                  LVM_MSG_STARTED};
    shell_send(&started, sizeof started);
    shell_wait_gate(gate);
    m->started = 1;
    lockdown(p, max_fd);
    kvm_run_loop(m);
}
