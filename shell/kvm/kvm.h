/*
 * kvm.h: the kvm monitor's internal API. One file per job: kvm_vm.c (VM,
 * memory slots, vCPU), kvm_cpuid.c, kvm_cpu.c (GDT, TSS, IDT, entry
 * registers), kvm_pagetables.c, kvm_mem.c (guest memory from the plan),
 * kvm_run.c (the exit loop), kvm_hc_*.c (one per hypercall group),
 * kvm_crash.c (reports) and kvm_exec.c (the steps, from the shell).
 *
 * Guest-physical addresses equal the monitor's own virtual addresses: the
 * plan's maps are mapped at their guest addresses in the shell, and each
 * memory slot points at the same address. The guest's page tables map
 * guest-virtual to guest-physical one to one, so one pointer value means
 * the same byte to the guest, to KVM and to the monitor.
 */
#ifndef LVM_KVM_H
#define LVM_KVM_H

#include "shell/plan.h"

#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>

#define KVM_PAGE 4096ull

/*
 * Monitor-private guest pages at LVM_MON_PRIVATE_ADDR, supervisor-only in
 * the guest's page tables, or not mapped at all (the page tables), but for
 * the `syscall` trampoline, which the guest may read and run. The guest
 * runs in ring 3 and no guest instruction ever runs in ring 0 (only the
 * monitor's stubs do), so nothing in the VM can change these pages or load
 * other page tables. (They are not in a read-only memory slot: QEMU's
 * emulated nested paging writes page-table accessed bits even when they
 * are set, and KVM would then emulate the same instruction forever.)
 */
#define KVM_XSTACK_ADDR (LVM_MON_PRIVATE_ADDR + 0x0000) /* RW, IST1 */
#define KVM_GDT_ADDR (LVM_MON_PRIVATE_ADDR + 0x1000)    /* GDT, then TSS */
#define KVM_TSS_ADDR (KVM_GDT_ADDR + 0x80)
#define KVM_IDT_ADDR (LVM_MON_PRIVATE_ADDR + 0x2000)
#define KVM_STUBS_ADDR (LVM_MON_PRIVATE_ADDR + 0x3000)
#define KVM_TRAMP_ADDR (LVM_MON_PRIVATE_ADDR + 0x4000) /* user RX */
#define KVM_PT_ADDR (LVM_MON_PRIVATE_ADDR + 0x5000) /* PML4, PDPT, PDs, PTs */
#define KVM_PT_END LVM_RAM_BASE

/* Segment selectors in the GDT: ring 0 for the monitor's stubs, ring 3
 * (RPL 3) for the guest; kvm_stubs.S repeats the user ones. */
#define KVM_SEL_CODE 0x08
#define KVM_SEL_DATA 0x10
#define KVM_SEL_UDATA 0x1b
#define KVM_SEL_UCODE 0x23
#define KVM_SEL_TSS 0x28

/* The exception stubs report on this port with `outb %al` (kvm_stubs.S). */
#define KVM_FAULT_PORT 0xfe

/* Memory slots: two, since every slot change costs KVM a grace period. */
enum kvm_slot {
    SLOT_RO, /* boot info and device page: read-only to the guest */
    SLOT_RW, /* status page, monitor pages and RAM, up to ram_end */
    NSLOTS,
};

/* One range of guest memory the guest may use, from the plan. */
struct kvm_region {
    uint64_t start, end;
    uint32_t prot; /* PROT_* */
};

#define KVM_MAX_EVTCHN_FDS LVM_MAX_EVTCHN

/* Everything the monitor knows; one per shell. */
struct kvm_monitor {
    int kvm_fd, vm_fd, vcpu_fd;
    struct kvm_run *run;
    size_t run_size;
    int have_memory_fault; /* KVM_CAP_MEMORY_FAULT_INFO */
    uint64_t rw_slot_end;  /* SLOT_RW covers [LVM_STATUS_ADDR, this) */
    uint64_t ram_end;
    uint64_t xcr0; /* XCR0 given to the guest */
    int fsgsbase;  /* CPUID says wrfsbase exists (the SDK needs it) */
    int amd;       /* an AMD (or Hygon) CPU: SVM */

    /* Guest memory from the plan, sorted, non-overlapping. */
    struct kvm_region region[LVM_PLAN_MAX_MAPS];
    unsigned nregions;

    /* The device page (the toolstack's, read-only here) and the report. */
    const volatile struct lvm_devpage *dp;
    volatile struct lvm_status *st;
    volatile struct lvm_monitor_report *report;

    /* Event channel -> fd, from the device page (generation gen). */
    int evtchn_fd[LVM_MAX_EVTCHN];
    uint16_t evtchn_type[LVM_MAX_EVTCHN];
    uint32_t evtchn_gen;
    int evtchn_ready;

    struct lvm_report_times times;
    int started; /* STARTED sent: failures go to the report */
};

extern struct kvm_monitor kvm_mon;

/* Stop: before STARTED an ERROR to the toolstack, after it a MONITOR
 * report. Exits the shell. */
_Noreturn void kvm_fail(int err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Monotonic clock in nanoseconds. */
uint64_t kvm_now(void);

/* ---- kvm_vm.c ----------------------------------------------------------- */

/* Create the VM on (kvm_fd) after checking what it offers; reserve the
 * guest's address range and register its memory slots, with RAM if
 * (ram_size) is known; create vCPU 0 at LVM_KVM_VCPU_FD. */
void kvm_vm_create(struct kvm_monitor *m, int kvm_fd, uint64_t ram_size);

/* Make the writable slot end at (ram_end), the end of the guest's RAM. */
void kvm_vm_ram_slot(struct kvm_monitor *m, uint64_t ram_end);

/* ioctl on a KVM fd with an unsigned request, as the filter expects it. */
long kvm_ioctl(int fd, unsigned long req, void *arg);

/* ---- kvm_cpuid.c -------------------------------------------------------- */

/* Give vCPU 0 the host's supported CPUID, fixed up for one CPU without a
 * local APIC; returns the XSAVE features (XCR0) the guest may enable. */
uint64_t kvm_cpuid_setup(struct kvm_monitor *m);

/* ---- kvm_cpu.c ---------------------------------------------------------- */

/* Write the GDT, TSS, IDT and exception stubs, and put vCPU 0 in 64-bit
 * long mode: segments, control registers, EFER, MSRs, XCR0. */
void kvm_cpu_setup(struct kvm_monitor *m);

/* Set the guest's first instruction, stack and the SDK's `syscall` entry
 * (where the ring-0 trampoline sends a `syscall`). */
void kvm_cpu_entry(struct kvm_monitor *m, uint64_t rip, uint64_t rsp,
                   uint64_t syscall_entry);

/* ---- kvm_pagetables.c --------------------------------------------------- */

/* Build the identity page tables from the guest's regions and the
 * monitor-private pages, at KVM_PT_ADDR (PML4 first). */
void kvm_pagetables_build(struct kvm_monitor *m);

/* ---- kvm_mem.c ---------------------------------------------------------- */

/* Check the plan against the kvm layout and map its memory, with its
 * copies, at the guest addresses; fills m->region. */
void kvm_mem_map(struct kvm_monitor *m, const struct lvm_msg_plan *p,
                 const int *fds, int nfds);

/* Map the report page of (fd) in the monitor only. */
void kvm_mem_map_report(struct kvm_monitor *m, int fd);

/* Non-zero if the guest may access [addr, addr + len) with (prot). */
int kvm_mem_ok(const struct kvm_monitor *m, uint64_t addr, uint64_t len,
               uint32_t prot);

/* ---- kvm_run.c ---------------------------------------------------------- */

/* Run the guest until it ends; does not return. */
_Noreturn void kvm_run_loop(struct kvm_monitor *m);

/* ---- hypercalls (kvm_hc_*.c) -------------------------------------------- */

/* Each serves one hypercall on its argument block (already checked to lie
 * in writable guest RAM) and writes the results back into it. */
void kvm_hc_console_write(struct kvm_monitor *m, void *block);
void kvm_hc_clock_monotonic(struct kvm_monitor *m, void *block);
void kvm_hc_clock_wall(struct kvm_monitor *m, void *block);
void kvm_hc_yield(struct kvm_monitor *m, void *block);
void kvm_hc_evtchn_clear(struct kvm_monitor *m, void *block);
void kvm_hc_net_read(struct kvm_monitor *m, void *block);
void kvm_hc_net_write(struct kvm_monitor *m, void *block);
void kvm_hc_block_read(struct kvm_monitor *m, void *block);
void kvm_hc_block_write(struct kvm_monitor *m, void *block);
_Noreturn void kvm_hc_exit(struct kvm_monitor *m, void *block);
_Noreturn void kvm_hc_abort(struct kvm_monitor *m, void *block);

/* ---- kvm_crash.c -------------------------------------------------------- */

/* Stop the guest: it crashed (signal) as (fmt) says; registers are read
 * from the vCPU and the report is written. */
_Noreturn void kvm_crash(struct kvm_monitor *m, int signal, const char *fmt,
                         ...) __attribute__((format(printf, 3, 4)));

/* A fault delivered to the exception stubs: decode the frame and stop. */
_Noreturn void kvm_crash_exception(struct kvm_monitor *m);

/* Write the report's final fields and exit the shell with (status). */
_Noreturn void kvm_report_end(struct kvm_monitor *m, uint32_t kind, int status);

#endif
