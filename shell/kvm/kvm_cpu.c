/*
 * kvm_cpu.c: the vCPU's state at the guest's first instruction: 64-bit long
 * mode entered directly, with no BIOS, firmware or real-mode code.
 *
 *   CR0   PE MP ET NE WP PG       protected mode, paging, FPU/SSE usable
 *   CR4   PAE OSFXSR OSXMMEXCPT   long mode needs PAE; SSE and its
 *         FSGSBASE (OSXSAVE)      exceptions; wrfsbase for the SDK's TLS;
 *                                 XSAVE (AVX...) when the CPU has it
 *   EFER  SCE LME LMA NXE         `syscall`, long mode, no-execute pages
 *   CS    0x23, 64-bit, CPL 3     the guest runs in ring 3 of its VM
 *   SS/DS/ES/FS/GS 0x1b           flat data, bases 0
 *   RFLAGS 0x2                    IOPL 0: no cli, hlt, in or out, except
 *                                 `out` to the hypercall ports, which the
 *                                 TSS's I/O bitmap allows
 *   TR    0x28, a 64-bit TSS      IST1 (exception stack), the I/O bitmap
 *   STAR/LSTAR/SFMASK             `syscall` enters the monitor's
 *                                 trampoline, which returns to ring 3 at
 *                                 the SDK's syscall entry with TF, DF, AC
 *                                 and NT clear
 *   RIP entry, RSP the Linux-style initial stack, every other register 0
 *
 * Why ring 3 and not ring 0: the guest then sees privileged instructions
 * exactly as under proc (a #GP, reported as SIGSEGV), and a KVM that runs
 * guest user mode natively but emulates guest kernel mode (PVM, the
 * software KVM of some cloud VMs, whose emulator has no SSE) runs our
 * guests at full speed. Only the monitor's stubs run at CPL 0.
 *
 * The GDT, TSS and IDT live in the monitor's supervisor pages; accessed
 * bits are preset so that the CPU need not write them.
 */
#include "shell/kvm/kvm.h"

#include <errno.h>
#include <string.h>

#define CR0_PE (1ull << 0)
#define CR0_MP (1ull << 1)
#define CR0_ET (1ull << 4)
#define CR0_NE (1ull << 5)
#define CR0_WP (1ull << 16)
#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)
#define CR4_OSFXSR (1ull << 9)
#define CR4_OSXMMEXCPT (1ull << 10)
#define CR4_FSGSBASE (1ull << 16)
#define CR4_OSXSAVE (1ull << 18)
#define EFER_SCE (1ull << 0)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define EFER_NXE (1ull << 11)

#define MSR_STAR 0xc0000081u
#define MSR_LSTAR 0xc0000082u
#define MSR_CSTAR 0xc0000083u
#define MSR_SFMASK 0xc0000084u
#define MSR_FS_BASE 0xc0000100u
#define MSR_GS_BASE 0xc0000101u
#define MSR_KERNEL_GS_BASE 0xc0000102u
#define MSR_PAT 0x277u
#define PAT_DEFAULT 0x0007040600070406ull /* the architectural reset value */

/* Cleared on `syscall`: TF, IF, DF, IOPL, NT, AC (what Linux masks). */
#define SFMASK 0x47700ull

#define IDT_ENTRIES 256
#define STUB_SIZE 12

/* The TSS, then its I/O bitmap: one bit per port, 0 allows it, up to the
 * last hypercall port and a byte of ones the CPU may read past the end. */
#define TSS_SIZE 0x68
#define IOMAP_PORTS (LVM_HC_PORT_BASE + 16)
#define TSS_LIMIT (TSS_SIZE + IOMAP_PORTS / 8 + 1 - 1)

extern const char kvm_stubs_start[], kvm_stubs_end[];
extern const char kvm_tramp_start[], kvm_tramp_end[], kvm_syscall_target[];

_Static_assert(KVM_TSS_ADDR + TSS_LIMIT + 1 <= KVM_GDT_ADDR + KVM_PAGE,
               "TSS fits the GDT page");

static uint64_t descriptor(uint8_t access, uint8_t flags)
{
    /* Base 0, limit 0xfffff; access byte at bits 40-47, flags at 52-55. */
    return 0xffffull | 0xfull << 48 | (uint64_t)access << 40 |
           (uint64_t)flags << 52;
}

/*
 * The TSS's type in TR: Intel's VMX refuses to enter a guest whose TR is
 * not a busy TSS (11), as after LTR; AMD's SVM checks nothing, and QEMU's
 * emulated CPU (the nested test path) looks up the I/O bitmap only
 * through an available one (9). So: busy unless the CPU is AMD's.
 */
static uint8_t tss_type(const struct kvm_monitor *m)
{
    return m->amd ? 0x9 : 0xb;
}

/* GDT: null, kernel code and data (the stubs), user data and code (the
 * guest), the 16-byte TSS descriptor. Accessed bits set. */
static void write_gdt(const struct kvm_monitor *m)
{
    uint64_t *gdt = (uint64_t *)(uintptr_t)KVM_GDT_ADDR;
    uint64_t tss = KVM_TSS_ADDR;
    gdt[0] = 0;
    gdt[KVM_SEL_CODE / 8] = descriptor(0x9b, 0xa);  /* P DPL0 code; L G */
    gdt[KVM_SEL_DATA / 8] = descriptor(0x93, 0xc);  /* P DPL0 data; DB G */
    gdt[KVM_SEL_UDATA / 8] = descriptor(0xf3, 0xc); /* P DPL3 data */
    gdt[KVM_SEL_UCODE / 8] = descriptor(0xfb, 0xa); /* P DPL3 code, L */
    gdt[KVM_SEL_TSS / 8] = (TSS_LIMIT & 0xffffull) | (tss & 0xffffffull) << 16 |
                           (0x80ull | tss_type(m)) << 40 /* P, TSS */ |
                           ((tss >> 24) & 0xffull) << 56;
    gdt[KVM_SEL_TSS / 8 + 1] = tss >> 32;

    /* 64-bit TSS: IST1 at offset 36, the I/O bitmap's offset at 102. */
    uint8_t *t = (uint8_t *)(uintptr_t)KVM_TSS_ADDR;
    memset(t, 0, TSS_LIMIT + 1);
    uint64_t ist1 = KVM_XSTACK_ADDR + KVM_PAGE;
    memcpy(t + 36, &ist1, sizeof ist1);
    uint16_t iomap = TSS_SIZE;
    memcpy(t + 102, &iomap, sizeof iomap);
    uint8_t *bits = t + TSS_SIZE;
    memset(bits, 0xff, IOMAP_PORTS / 8 + 1);
    /* `outl` to LVM_HC_PORT_BASE + nr touches ports nr..nr+3: allow the
     * hypercall ports from 1 up; the monitor refuses numbers it lacks. */
    for (unsigned port = LVM_HC_PORT_BASE + 1; port < IOMAP_PORTS - 1; port++)
        bits[port / 8] &= (uint8_t) ~(1u << (port % 8));
}

/* IDT: every vector an interrupt gate to its stub, on IST1. Only int3,
 * into and the i386 system call gate (int $0x80) may be raised from the
 * guest's ring 3, as under Linux; any other `int n` is a #GP. */
static void write_idt(void)
{
    // cppcheck-suppress comparePointers ; one section's start and end
    size_t code = (size_t)(kvm_stubs_end - kvm_stubs_start);
    if (code > KVM_PAGE || code < IDT_ENTRIES * STUB_SIZE)
        kvm_fail(EINVAL, "exception stubs do not fit their page");
    memcpy((void *)(uintptr_t)KVM_STUBS_ADDR, kvm_stubs_start, code);
    // cppcheck-suppress comparePointers ; one section's start and end
    code = (size_t)(kvm_tramp_end - kvm_tramp_start);
    if (code > KVM_PAGE)
        kvm_fail(EINVAL, "the syscall trampoline does not fit its page");
    memcpy((void *)(uintptr_t)KVM_TRAMP_ADDR, kvm_tramp_start, code);
    uint64_t *idt = (uint64_t *)(uintptr_t)KVM_IDT_ADDR;
    for (unsigned v = 0; v < IDT_ENTRIES; v++) {
        uint64_t h = KVM_STUBS_ADDR + (uint64_t)v * STUB_SIZE;
        uint64_t dpl = v == 3 || v == 4 || v == 0x80 ? 3 : 0;
        idt[2 * v] = (h & 0xffff) | (uint64_t)KVM_SEL_CODE << 16 |
                     1ull << 32 /* IST1 */ | 0xeull << 40 /* interrupt gate */
                     | dpl << 45 | 1ull << 47 /* P */ |
                     ((h >> 16) & 0xffff) << 48;
        idt[2 * v + 1] = h >> 32;
    }
}

/* Guest address of a symbol of the trampoline once copied. */
static uint64_t tramp_addr(const char *sym)
{
    return KVM_TRAMP_ADDR + (uint64_t)(sym - kvm_tramp_start);
}

static struct kvm_segment seg(uint16_t sel, uint8_t type, uint8_t l, uint8_t db)
{
    return (struct kvm_segment){.base = 0,
                                .limit = 0xffffffff,
                                .selector = sel,
                                .type = type,
                                .present = 1,
                                .dpl = sel & 3,
                                .db = db,
                                .s = 1,
                                .l = l,
                                .g = 1};
}

static void set_sregs(struct kvm_monitor *m)
{
    struct kvm_sregs s;
    if (kvm_ioctl(m->vcpu_fd, KVM_GET_SREGS, &s) < 0)
        kvm_fail(errno, "KVM_GET_SREGS");
    s.cs = seg(KVM_SEL_UCODE, 0xb, 1, 0);
    s.ds = s.es = s.fs = s.gs = s.ss = seg(KVM_SEL_UDATA, 0x3, 0, 1);
    s.tr = (struct kvm_segment){.base = KVM_TSS_ADDR,
                                .limit = TSS_LIMIT,
                                .selector = KVM_SEL_TSS,
                                .type = tss_type(m),
                                .present = 1};
    s.gdt.base = KVM_GDT_ADDR;
    s.gdt.limit = KVM_SEL_TSS + 16 - 1;
    s.idt.base = KVM_IDT_ADDR;
    s.idt.limit = IDT_ENTRIES * 16 - 1;
    s.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
    s.cr3 = KVM_PT_ADDR;
    s.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT | CR4_FSGSBASE;
    if (m->xcr0)
        s.cr4 |= CR4_OSXSAVE;
    s.efer = EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE;
    if (kvm_ioctl(m->vcpu_fd, KVM_SET_SREGS, &s) < 0)
        kvm_fail(errno, "KVM_SET_SREGS (long mode)%s",
                 m->fsgsbase ? ""
                             : ": the CPU may lack FSGSBASE, which the SDK "
                               "needs for its thread pointer");
}

static void set_msr(struct kvm_monitor *m, uint32_t index, uint64_t value)
{
    struct {
        struct kvm_msrs h;
        struct kvm_msr_entry e;
    } msr = {.h = {.nmsrs = 1}, .e = {.index = index, .data = value}};
    if (kvm_ioctl(m->vcpu_fd, KVM_SET_MSRS, &msr) != 1)
        kvm_fail(errno ? errno : EINVAL, "set MSR %#x", index);
}

void kvm_cpu_setup(struct kvm_monitor *m)
{
    uint64_t t0 = kvm_now();
    write_gdt(m);
    write_idt();
    set_sregs(m);
    /* `syscall` loads CS from STAR[47:32] and SS from the next selector,
     * and jumps to the trampoline; it never uses sysret (STAR[63:48]). */
    set_msr(m, MSR_STAR, (uint64_t)KVM_SEL_CODE << 32);
    set_msr(m, MSR_LSTAR, KVM_TRAMP_ADDR);
    set_msr(m, MSR_CSTAR, 0);
    set_msr(m, MSR_SFMASK, SFMASK);
    set_msr(m, MSR_FS_BASE, 0);
    set_msr(m, MSR_GS_BASE, 0);
    set_msr(m, MSR_KERNEL_GS_BASE, 0);
    set_msr(m, MSR_PAT, PAT_DEFAULT);
    if (m->xcr0) {
        struct kvm_xcrs x = {.nr_xcrs = 1,
                             .xcrs = {{.xcr = 0, .value = m->xcr0}}};
        if (kvm_ioctl(m->vcpu_fd, KVM_SET_XCRS, &x) < 0)
            kvm_fail(errno, "set XCR0 to %#llx", (unsigned long long)m->xcr0);
    }
    m->times.cpu_state = kvm_now() - t0;
}

void kvm_cpu_entry(struct kvm_monitor *m, uint64_t rip, uint64_t rsp,
                   uint64_t syscall_entry)
{
    /* The trampoline's target: in its page, which the guest cannot write. */
    memcpy((void *)(uintptr_t)tramp_addr(kvm_syscall_target), &syscall_entry,
           sizeof syscall_entry);
    /* Like the proc trampoline: every register zero but the two. */
    struct kvm_regs r;
    memset(&r, 0, sizeof r);
    r.rip = rip;
    r.rsp = rsp;
    r.rflags = 0x2; /* reserved bit 1; interrupts off: none are delivered */
    if (kvm_ioctl(m->vcpu_fd, KVM_SET_REGS, &r) < 0)
        kvm_fail(errno, "KVM_SET_REGS");
}
