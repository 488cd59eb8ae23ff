/*
 * kvm_run.c: the exit loop. The guest runs until it needs the monitor: a
 * hypercall (an `outl` to port LVM_HC_PORT_BASE + number), a fault
 * delivered to the exception stubs, or something no guest of ours should
 * do (hlt, other port I/O, a touch of memory outside its slots, a triple
 * fault). Hypercalls are served and the guest resumes after its `out`;
 * everything else stops it with a report. Nothing makes the loop wait
 * except the yield hypercall, so a guest can never hang the monitor.
 */
#include "shell/kvm/kvm.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#ifdef KVM_TRACE
#include <stdio.h>
#include <unistd.h>
#endif

#ifndef KVM_EXIT_MEMORY_FAULT
#define KVM_EXIT_MEMORY_FAULT 39
#endif

struct hypercall {
    size_t size; /* of its argument block */
    void (*serve)(struct kvm_monitor *m, void *block);
};

static const struct hypercall hypercalls[LVM_HC_MAX] = {
    [LVM_HC_CONSOLE_WRITE] = {sizeof(struct lvm_hc_console_write),
                              kvm_hc_console_write},
    [LVM_HC_CLOCK_MONOTONIC] = {sizeof(struct lvm_hc_clock),
                                kvm_hc_clock_monotonic},
    [LVM_HC_CLOCK_WALL] = {sizeof(struct lvm_hc_clock), kvm_hc_clock_wall},
    [LVM_HC_YIELD] = {sizeof(struct lvm_hc_yield), kvm_hc_yield},
    [LVM_HC_NET_READ] = {sizeof(struct lvm_hc_io), kvm_hc_net_read},
    [LVM_HC_NET_WRITE] = {sizeof(struct lvm_hc_io), kvm_hc_net_write},
    [LVM_HC_BLOCK_READ] = {sizeof(struct lvm_hc_io), kvm_hc_block_read},
    [LVM_HC_BLOCK_WRITE] = {sizeof(struct lvm_hc_io), kvm_hc_block_write},
    [LVM_HC_EVTCHN_CLEAR] = {sizeof(struct lvm_hc_evtchn_clear),
                             kvm_hc_evtchn_clear},
    [LVM_HC_EXIT] = {sizeof(struct lvm_hc_exit), kvm_hc_exit},
    [LVM_HC_ABORT] = {sizeof(struct lvm_hc_exit), kvm_hc_abort},
};

static void port_io(struct kvm_monitor *m)
{
    const struct kvm_run *r = m->run;
    int out = r->io.direction == KVM_EXIT_IO_OUT;
    if (r->io.port == KVM_FAULT_PORT && out && r->io.size == 1)
        kvm_crash_exception(m);
    unsigned nr = (unsigned)r->io.port - LVM_HC_PORT_BASE;
    if (!out || r->io.size != 4 || r->io.count != 1 ||
        r->io.port < LVM_HC_PORT_BASE || nr >= LVM_HC_MAX ||
        !hypercalls[nr].serve)
        /* What an `in` or `out` is in a proc guest: a protection fault. */
        kvm_crash(m, SIGSEGV,
                  "port I/O outside the hypercalls: %s of %u byte%s %s port "
                  "%#x",
                  out ? "out" : "in", r->io.size, r->io.size == 1 ? "" : "s",
                  out ? "to" : "from", r->io.port);
    uint32_t off;
    memcpy(&off, (const char *)r + r->io.data_offset, sizeof off);
    uint64_t block = LVM_RAM_BASE + off;
    // cppcheck-suppress arrayIndexOutOfBoundsCond ; kvm_crash never returns
    if (!kvm_mem_ok(m, block, hypercalls[nr].size, PROT_READ | PROT_WRITE))
        kvm_crash(m, SIGSEGV,
                  "hypercall %u with its argument block at %#llx, outside "
                  "the guest's writable RAM",
                  nr, (unsigned long long)block);
    hypercalls[nr].serve(m, (void *)(uintptr_t)block);
}

static const char *region_name(uint64_t gpa)
{
    if (gpa >= LVM_BOOTINFO_ADDR && gpa < LVM_BOOTINFO_ADDR + KVM_PAGE)
        return " (boot info page)";
    if (gpa >= LVM_DEVPAGE_ADDR && gpa < LVM_DEVPAGE_ADDR + KVM_PAGE)
        return " (device page)";
    return "";
}

/* An access KVM could not complete inside a memory slot. */
static _Noreturn void mmio(struct kvm_monitor *m)
{
    uint64_t gpa = m->run->mmio.phys_addr;
    int slot = gpa >= LVM_MON_BASE && gpa < m->ram_end;
    if (m->run->mmio.is_write && slot)
        kvm_crash(m, SIGSEGV, "write to read-only guest memory at %#llx%s",
                  (unsigned long long)gpa, region_name(gpa));
    kvm_crash(m, SIGSEGV, "%s guest-physical %#llx, outside the guest's memory",
              m->run->mmio.is_write ? "write to" : "read from",
              (unsigned long long)gpa);
}

/* KVM_RUN failed with EFAULT: the guest reached memory its slot names but
 * the monitor's mapping refuses (its own page tables bypassed ours). */
static _Noreturn void memory_fault(struct kvm_monitor *m)
{
    if (m->have_memory_fault && m->run->exit_reason == KVM_EXIT_MEMORY_FAULT) {
        uint64_t f[3]; /* flags, gpa, size */
        memcpy(f, m->run->padding, sizeof f);
        kvm_crash(m, SIGSEGV, "invalid access to guest-physical %#llx%s",
                  (unsigned long long)f[1], region_name(f[1]));
    }
    kvm_crash(m, SIGSEGV, "invalid memory access (KVM_RUN: EFAULT)");
}

_Noreturn void kvm_run_loop(struct kvm_monitor *m)
{
    uint64_t t0 = kvm_now();
    for (int first = 1;; first = 0) {
        long r = kvm_ioctl(m->vcpu_fd, KVM_RUN, NULL);
        if (first)
            m->times.first_entry = kvm_now() - t0;
        if (r < 0) {
            /* A signal (the cgroup freezer's, too): the guest resumes where
             * it was once the monitor is thawed. */
            if (errno == EINTR)
                continue;
            if (errno == EFAULT)
                memory_fault(m);
            kvm_fail(errno, "KVM_RUN");
        }
        m->times.exits++;
#ifdef KVM_TRACE
        { /* debugging aid: cc -DKVM_TRACE; not for use under the filter */
            char t[160];
            struct kvm_regs tr;
            kvm_ioctl(m->vcpu_fd, KVM_GET_REGS, &tr);
            int l = snprintf(t, sizeof t, "[exit %u port %#x rip %#llx]\n",
                             m->run->exit_reason, m->run->io.port,
                             (unsigned long long)tr.rip);
            if (m->times.exits < 200)
                write(1, t, (size_t)l);
        }
#endif
        switch (m->run->exit_reason) {
        case KVM_EXIT_IO: port_io(m); break;
        case KVM_EXIT_INTR: break;
        case KVM_EXIT_MMIO: mmio(m);
        case KVM_EXIT_HLT:
            /* No interrupt will ever come: a halted guest is stuck. In a
             * proc guest `hlt` is a protection fault. */
            kvm_crash(m, SIGSEGV,
                      "the guest halted (hlt): nothing can wake "
                      "it");
        case KVM_EXIT_SHUTDOWN:
            kvm_crash(m, SIGSEGV,
                      "triple fault: an exception while "
                      "delivering a double fault");
        case KVM_EXIT_FAIL_ENTRY:
            kvm_crash(m, SIGSEGV,
                      "KVM could not enter the guest (hardware "
                      "reason %#llx)",
                      (unsigned long long)
                          m->run->fail_entry.hardware_entry_failure_reason);
        case KVM_EXIT_INTERNAL_ERROR:
            kvm_crash(m, SIGSEGV, "KVM internal error %u (%s)",
                      m->run->internal.suberror,
                      m->run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION
                          ? "an instruction KVM could not emulate"
                          : "see KVM's documentation");
        default:
            kvm_crash(m, SIGSEGV, "unexpected KVM exit %u",
                      m->run->exit_reason);
        }
    }
}
