/*
 * binding_kvm.c: hypercalls under the kvm monitor. The guest runs in ring 3
 * of its own virtual machine; a hypercall writes an argument block into
 * guest RAM and does `outl` of its offset from LVM_RAM_BASE to port
 * LVM_HC_PORT_BASE + number (the TSS's I/O bitmap allows those ports and
 * no others). The monitor serves it during the I/O exit and writes results
 * back into the block before the guest resumes.
 *
 * Linux system calls made by musl arrive at __lvm_syscall_entry (the
 * monitor's ring-0 `syscall` trampoline returns there) and are served by
 * linux.c, exactly as the SIGSYS path does under proc.
 */
#include "sdk.h"

static void hypercall(unsigned nr, volatile void *arg)
{
    uint32_t off = (uint32_t)((uintptr_t)arg - LVM_RAM_BASE);
    __asm__ volatile("outl %0, %1"
                     :
                     : "a"(off), "d"((uint16_t)(LVM_HC_PORT_BASE + nr))
                     : "memory");
}

/* Bytes XSAVE needs for the state the monitor enabled, or 0 to use
 * FXSAVE (read by __lvm_syscall_entry). */
unsigned long lvm__xsave_size;

void lvm__kvm_init(void)
{
    unsigned a, b, c, d;
    /* Also called at a restore (control.c), with the saving monitor's
     * value still in RAM: this monitor may not enable XSAVE at all (PVM
     * offers none), and xsave64 is #UD there. */
    lvm__xsave_size = 0;
    __asm__ volatile("cpuid"
                     : "=a"(a), "=b"(b), "=c"(c), "=d"(d)
                     : "a"(1), "c"(0));
    if (c & (1u << 27)) { /* OSXSAVE: the monitor set CR4.OSXSAVE */
        __asm__ volatile("cpuid"
                         : "=a"(a), "=b"(b), "=c"(c), "=d"(d)
                         : "a"(0xd), "c"(0));
        lvm__xsave_size = b; /* for the features XCR0 enables */
    }
    lvm__hc = &lvm__binding_kvm;
}

static long kvm_console_write(const void *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        size_t n = len - done;
        if (n > LVM_CONSOLE_WRITE_MAX)
            n = LVM_CONSOLE_WRITE_MAX;
        volatile struct lvm_hc_console_write a = {
            .buf = (uintptr_t)buf + done, .len = n, .ret = 0};
        hypercall(LVM_HC_CONSOLE_WRITE, &a);
        if (a.ret <= 0)
            return done ? (long)done : LVM_EIO;
        done += (size_t)a.ret;
    }
    return (long)done;
}

static uint64_t kvm_clock_monotonic(void)
{
    volatile struct lvm_hc_clock a = {0};
    hypercall(LVM_HC_CLOCK_MONOTONIC, &a);
    return a.ns;
}

static uint64_t kvm_clock_wall(void)
{
    volatile struct lvm_hc_clock a = {0};
    hypercall(LVM_HC_CLOCK_WALL, &a);
    return a.ns;
}

static uint64_t kvm_yield(uint64_t deadline, uint64_t evmask)
{
    volatile struct lvm_hc_yield a = {.deadline_ns = deadline,
                                      .evmask = evmask};
    hypercall(LVM_HC_YIELD, &a);
    return a.ready;
}

static long kvm_io(unsigned nr, unsigned handle, uint64_t off, const void *buf,
                   size_t len)
{
    volatile struct lvm_hc_io a = {
        .handle = handle, .offset = off, .buf = (uintptr_t)buf, .len = len};
    hypercall(nr, &a);
    return a.ret;
}

static long kvm_net_read(unsigned handle, void *buf, size_t len)
{
    return kvm_io(LVM_HC_NET_READ, handle, 0, buf, len);
}

static long kvm_net_write(unsigned handle, const void *buf, size_t len)
{
    return kvm_io(LVM_HC_NET_WRITE, handle, 0, buf, len);
}

static long kvm_block_read(unsigned handle, uint64_t off, void *buf, size_t len)
{
    return kvm_io(LVM_HC_BLOCK_READ, handle, off, buf, len);
}

static long kvm_block_write(unsigned handle, uint64_t off, const void *buf,
                            size_t len)
{
    return kvm_io(LVM_HC_BLOCK_WRITE, handle, off, buf, len);
}

static long kvm_evtchn_clear(unsigned evtchn)
{
    volatile struct lvm_hc_evtchn_clear a = {.evtchn = evtchn};
    hypercall(LVM_HC_EVTCHN_CLEAR, &a);
    return a.ret;
}

static _Noreturn void kvm_exit(int status)
{
    volatile struct lvm_hc_exit a = {.status = status};
    for (;;)
        hypercall(LVM_HC_EXIT, &a);
}

static _Noreturn void kvm_abort(void)
{
    volatile struct lvm_hc_exit a = {.status = 134};
    for (;;)
        hypercall(LVM_HC_ABORT, &a);
}

static long kvm_set_fs(uintptr_t base)
{
    /* The kvm monitor enables CR4.FSGSBASE (it refuses CPUs without it). */
    __asm__ volatile("wrfsbase %0" ::"r"(base) : "memory");
    return 0;
}

const struct lvm_binding_ops lvm__binding_kvm = {
    .console_write = kvm_console_write,
    .clock_monotonic = kvm_clock_monotonic,
    .clock_wall = kvm_clock_wall,
    .yield = kvm_yield,
    .net_read = kvm_net_read,
    .net_write = kvm_net_write,
    .block_read = kvm_block_read,
    .block_write = kvm_block_write,
    .evtchn_clear = kvm_evtchn_clear,
    .exit = kvm_exit,
    .abort = kvm_abort,
    .set_fs = kvm_set_fs,
};

/* Registers saved by __lvm_syscall_entry, lowest address first. */
struct lvm_syscall_frame {
    long nr, rdi, rsi, rdx, r10, r8, r9, rflags, rip;
};

long lvm__kvm_syscall(struct lvm_syscall_frame *f)
{
    lvm__in_syscall = 1;
    lvm__entry_ctx = f;
    long r =
        lvm__linux_syscall(f->nr, f->rdi, f->rsi, f->rdx, f->r10, f->r8, f->r9);
    lvm__in_syscall = 0;
    lvm__entry_ctx = 0;
    if (lvm__snapshot_deferred && !lvm__poweroff_deferred) {
        /* As sigsys.c: park at the `syscall`, then make it again. */
        lvm__restart_rip = (uintptr_t)f->rip - 2;
        f->rip = (long)(uintptr_t)__lvm_snapshot_stub;
        return f->nr;
    }
    if (lvm__poweroff_deferred)
        f->rip = (long)(uintptr_t)lvm__poweroff_exit;
    return r;
}
