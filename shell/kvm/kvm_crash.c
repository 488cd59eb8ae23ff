/*
 * kvm_crash.c: how a kvm guest ends, told to the toolstack through the
 * report page (shell/plan.h). A crash names what happened (the
 * exception and its address, the exit KVM gave), the signal the same
 * mistake would have killed a proc guest with, and the registers, so
 * `lightvm run` can say "crashed: SIGSEGV (...): page fault ..." and show
 * where.
 */
#include "shell/kvm/kvm.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define XSTACK_END (KVM_XSTACK_ADDR + KVM_PAGE)
#define FRAME_WORDS 7 /* vector, error, rip, cs, rflags, rsp, ss */

static void save_regs(struct kvm_monitor *m)
{
    struct kvm_regs r;
    struct kvm_sregs s;
    volatile struct lvm_report_regs *o = &m->report->regs;
    if (kvm_ioctl(m->vcpu_fd, KVM_GET_REGS, &r) < 0 ||
        kvm_ioctl(m->vcpu_fd, KVM_GET_SREGS, &s) < 0)
        return;
    o->rip = r.rip, o->rsp = r.rsp, o->rflags = r.rflags;
    o->rax = r.rax, o->rbx = r.rbx, o->rcx = r.rcx, o->rdx = r.rdx;
    o->rsi = r.rsi, o->rdi = r.rdi, o->rbp = r.rbp;
    o->r8 = r.r8, o->r9 = r.r9, o->r10 = r.r10, o->r11 = r.r11;
    o->r12 = r.r12, o->r13 = r.r13, o->r14 = r.r14, o->r15 = r.r15;
    o->cr0 = s.cr0, o->cr2 = s.cr2, o->cr3 = s.cr3, o->cr4 = s.cr4;
    o->efer = s.efer, o->fs_base = s.fs.base, o->gs_base = s.gs.base;
    m->report->have_regs = 1;
}

_Noreturn void kvm_report_end(struct kvm_monitor *m, uint32_t kind, int status)
{
    volatile struct lvm_monitor_report *r = m->report;
    r->kind = kind;
    r->status = status;
    r->times = m->times;
    /* Complete before it is valid: the toolstack checks the magic. */
    __atomic_store_n(&r->magic, LVM_REPORT_MAGIC, __ATOMIC_RELEASE);
    _exit(status);
}

static void set_detail(struct kvm_monitor *m, const char *fmt, va_list ap)
{
    char d[sizeof m->report->detail];
    vsnprintf(d, sizeof d, fmt, ap);
    for (size_t i = 0; i < sizeof d; i++)
        m->report->detail[i] = d[i];
}

_Noreturn void kvm_crash(struct kvm_monitor *m, int signal, const char *fmt,
                         ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_detail(m, fmt, ap);
    va_end(ap);
    save_regs(m);
    m->report->signal = signal;
    kvm_report_end(m, LVM_REPORT_CRASH, 128 + signal);
}

struct vector {
    const char *name;
    int signal; /* what Linux sends a process for the same exception */
};

static const struct vector vectors[32] = {
    [0] = {"divide error (#DE)", SIGFPE},
    [1] = {"debug exception (#DB)", SIGTRAP},
    [2] = {"non-maskable interrupt", SIGSEGV},
    [3] = {"breakpoint (#BP)", SIGTRAP},
    [4] = {"overflow (#OF)", SIGSEGV},
    [5] = {"bound range exceeded (#BR)", SIGSEGV},
    [6] = {"invalid opcode (#UD)", SIGILL},
    [7] = {"device not available (#NM)", SIGSEGV},
    [8] = {"double fault (#DF)", SIGSEGV},
    [10] = {"invalid TSS (#TS)", SIGSEGV},
    [11] = {"segment not present (#NP)", SIGBUS},
    [12] = {"stack-segment fault (#SS)", SIGBUS},
    [13] = {"general protection fault (#GP)", SIGSEGV},
    [14] = {"page fault (#PF)", SIGSEGV},
    [16] = {"x87 floating-point error (#MF)", SIGFPE},
    [17] = {"alignment check (#AC)", SIGBUS},
    [18] = {"machine check (#MC)", SIGBUS},
    [19] = {"SIMD floating-point exception (#XM)", SIGFPE},
    [20] = {"virtualization exception (#VE)", SIGSEGV},
    [21] = {"control protection (#CP)", SIGSEGV},
};

#define PF_PRESENT (1u << 0)
#define PF_WRITE (1u << 1)
#define PF_FETCH (1u << 4)

_Noreturn void kvm_crash_exception(struct kvm_monitor *m)
{
    save_regs(m);
    volatile struct lvm_report_regs *o = &m->report->regs;
    uint64_t sp = o->rsp;
    if (!m->report->have_regs || sp < KVM_XSTACK_ADDR ||
        sp > XSTACK_END - FRAME_WORDS * 8 || sp % 8)
        kvm_crash(m, SIGSEGV, "exception with no readable frame (rsp %#llx)",
                  (unsigned long long)sp);
    uint64_t f[FRAME_WORDS];
    memcpy(f, (const void *)(uintptr_t)sp, sizeof f);
    uint64_t vec = f[0], error = f[1];
    /* The registers as they were at the fault, not in the stub. */
    o->rip = f[2], o->rflags = f[4], o->rsp = f[5];
    /* Some KVMs (PVM) raise #UD for `int n` in ring 3 instead of taking
     * the gate (or a #GP): read the instruction and say what it was. */
    unsigned char insn[2];
    if (vec == 6 && kvm_mem_ok(m, f[2], 2, PROT_READ | PROT_EXEC)) {
        memcpy(insn, (const void *)(uintptr_t)f[2], sizeof insn);
        if (insn[0] == 0xcd)
            vec = insn[1] == 0x80 ? 0x80 : 0x100 + insn[1];
    }
    m->report->signal = SIGSEGV;
    char d[sizeof m->report->detail];
    if (vec == 0x80) {
        /* The i386 system call gate: what proc's filter reports as a
         * forbidden 32-bit system call. */
        m->report->syscall = -2 - (int64_t)(uint32_t)o->rax;
        kvm_report_end(m, LVM_REPORT_FORBIDDEN, 128 + SIGSYS);
    } else if (vec >= 32 || !vectors[vec].name) {
        /* A gate the guest may not use: a #GP, as under Linux. */
        snprintf(d, sizeof d, "software interrupt (int $%#llx) at rip %#llx",
                 (unsigned long long)(vec & 0xff), (unsigned long long)f[2]);
    } else if (vec == 14) {
        snprintf(d, sizeof d, "%s: %s %#llx (%s, error %#llx) at rip %#llx",
                 vectors[vec].name,
                 error & PF_FETCH   ? "instruction fetch from"
                 : error & PF_WRITE ? "write to"
                                    : "read from",
                 (unsigned long long)o->cr2,
                 error & PF_PRESENT ? "not permitted" : "not mapped",
                 (unsigned long long)error, (unsigned long long)f[2]);
    } else if (vec == 13 && error) {
        snprintf(d, sizeof d, "%s, error code %#llx, at rip %#llx",
                 vectors[vec].name, (unsigned long long)error,
                 (unsigned long long)f[2]);
    } else {
        snprintf(d, sizeof d, "%s at rip %#llx", vectors[vec].name,
                 (unsigned long long)f[2]);
    }
    if (vec < 32 && vectors[vec].name)
        m->report->signal = vectors[vec].signal;
    for (size_t i = 0; i < sizeof d; i++)
        m->report->detail[i] = d[i];
    kvm_report_end(m, LVM_REPORT_CRASH, 128 + m->report->signal);
}
