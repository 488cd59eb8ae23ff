/*
 * thread_frame.c: the binding-specific parts of threads and of the
 * guest's fatal end: reading the registers of the call being served
 * (clone copies them into the new thread), building the frame a new
 * thread starts from, and leaving a served call for the fatal path.
 *
 * Under proc the call being served is a SIGSYS ucontext (sigsys.c), under
 * kvm a struct lvm_syscall_frame (binding_kvm.c); lvm__entry_ctx points at
 * it while the call runs.
 */
#include "sdk.h"

#include <ucontext.h>

void __lvm_thread_first_proc(void);
void __lvm_thread_first_kvm(void);
void __lvm_fatal_stub(void);
_Noreturn void lvm__sigreturn_to(void *uc);
_Noreturn void lvm__jump_fatal(uintptr_t sp);

static int is_proc(void)
{
    return LVM_BI->binding == LVM_BINDING_PROC;
}

void lvm__entry_uregs(struct lvm_uregs *u)
{
    lvm__memzero(u, sizeof *u);
    if (!lvm__entry_ctx)
        return;
    if (is_proc()) {
        const greg_t *r =
            ((const ucontext_t *)lvm__entry_ctx)->uc_mcontext.gregs;
        *u = (struct lvm_uregs){.rip = (uint64_t)r[REG_RIP],
                                .rsp = (uint64_t)r[REG_RSP],
                                .rflags = (uint64_t)r[REG_EFL],
                                .rax = (uint64_t)r[REG_RAX],
                                .rbx = (uint64_t)r[REG_RBX],
                                .rcx = (uint64_t)r[REG_RCX],
                                .rdx = (uint64_t)r[REG_RDX],
                                .rsi = (uint64_t)r[REG_RSI],
                                .rdi = (uint64_t)r[REG_RDI],
                                .rbp = (uint64_t)r[REG_RBP],
                                .r8 = (uint64_t)r[REG_R8],
                                .r9 = (uint64_t)r[REG_R9],
                                .r10 = (uint64_t)r[REG_R10],
                                .r11 = (uint64_t)r[REG_R11],
                                .r12 = (uint64_t)r[REG_R12],
                                .r13 = (uint64_t)r[REG_R13],
                                .r14 = (uint64_t)r[REG_R14],
                                .r15 = (uint64_t)r[REG_R15]};
        return;
    }
    /* kvm: the frame __lvm_syscall_entry pushed, %rbx and %rbp just
     * below it; r12-r15 are the C code's to keep and not saved (musl's
     * clone needs none of them in the child). */
    const long *f = lvm__entry_ctx;
    u->rdi = (uint64_t)f[1];
    u->rsi = (uint64_t)f[2];
    u->rdx = (uint64_t)f[3];
    u->r10 = (uint64_t)f[4];
    u->r8 = (uint64_t)f[5];
    u->r9 = (uint64_t)f[6];
    u->rflags = (uint64_t)f[7];
    u->rip = (uint64_t)f[8];
    u->rbx = (uint64_t)f[-1];
    u->rbp = (uint64_t)f[-2];
    u->rsp = (uint64_t)(uintptr_t)(f + 9) + 128;
}

uintptr_t lvm__thread_frame(const struct lvm_uregs *u)
{
    /* Below the thread's stack, past a red zone and the room its first
     * instructions need. */
    uintptr_t top = (u->rsp - 512) & ~(uintptr_t)63, arg;
    void (*stub)(void);
    if (is_proc()) {
        ucontext_t *uc =
            (ucontext_t *)((top - sizeof(ucontext_t)) & ~(uintptr_t)63);
        const ucontext_t *parent = lvm__entry_ctx;
        lvm__memzero(uc, sizeof *uc);
        uc->uc_flags = parent->uc_flags;
        uc->uc_stack = parent->uc_stack;
        uc->uc_mcontext = parent->uc_mcontext; /* cs, ss and friends */
        greg_t *r = uc->uc_mcontext.gregs;
        r[REG_RIP] = (greg_t)u->rip, r[REG_RSP] = (greg_t)u->rsp;
        r[REG_EFL] = (greg_t)u->rflags, r[REG_RAX] = (greg_t)u->rax;
        r[REG_RBX] = (greg_t)u->rbx, r[REG_RCX] = (greg_t)u->rcx;
        r[REG_RDX] = (greg_t)u->rdx, r[REG_RSI] = (greg_t)u->rsi;
        r[REG_RDI] = (greg_t)u->rdi, r[REG_RBP] = (greg_t)u->rbp;
        r[REG_R8] = (greg_t)u->r8, r[REG_R9] = (greg_t)u->r9;
        r[REG_R10] = (greg_t)u->r10, r[REG_R11] = (greg_t)u->r11;
        r[REG_R12] = (greg_t)u->r12, r[REG_R13] = (greg_t)u->r13;
        r[REG_R14] = (greg_t)u->r14, r[REG_R15] = (greg_t)u->r15;
        /* No FPU state: the kernel starts the thread with a clean one. */
        uc->uc_mcontext.fpregs = 0;
        /* The kernel's sigset is the first 8 bytes of musl's. */
        __builtin_memcpy(&uc->uc_sigmask, &parent->uc_sigmask, 8);
        arg = (uintptr_t)uc;
        stub = __lvm_thread_first_proc;
    } else {
        struct lvm_uregs *b =
            (struct lvm_uregs *)((top - sizeof *b) & ~(uintptr_t)15);
        *b = *u;
        arg = (uintptr_t)b;
        stub = __lvm_thread_first_kvm;
    }
    /* lvm__ctx_switch's frame: MXCSR and FCW, r15..r12, rbx, rbp, ret. */
    uint64_t *sp = (uint64_t *)(arg & ~(uintptr_t)15) - 8;
    sp[0] = 0x1f80 | (0x37full << 32);
    sp[1] = sp[2] = sp[3] = sp[4] = 0;
    sp[5] = arg;
    sp[6] = 0;
    sp[7] = (uint64_t)(uintptr_t)stub;
    return (uintptr_t)sp;
}

_Noreturn void lvm__leave_to_fatal(void)
{
    if (is_proc()) {
        /* Leave the handler the way it would: rt_sigreturn, so that the
         * signal mask is the guest's again, into the fatal stub below the
         * interrupted code's red zone. */
        ucontext_t *uc = lvm__entry_ctx;
        greg_t *r = uc->uc_mcontext.gregs;
        r[REG_RSP] -= 128;
        r[REG_RIP] = (greg_t)(uintptr_t)__lvm_fatal_stub;
        lvm__sigreturn_to(uc);
    }
    const long *f = lvm__entry_ctx;
    lvm__jump_fatal((uintptr_t)(f + 9));
}
