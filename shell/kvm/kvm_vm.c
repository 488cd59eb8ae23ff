/*
 * kvm_vm.c: the virtual machine, its memory slots and its one vCPU.
 *
 * Done at PREPARE, before any guest is known, so that a pooled shell is a
 * VM ready to take a guest (only the writable slot's size depends on the
 * guest, and it too is made ahead when the toolstack says how much RAM to
 * expect). The whole guest-physical range the ABI allows is reserved as
 * inaccessible memory first; the plan's maps later replace parts of it at
 * the same addresses, which KVM follows (its memory slots name addresses,
 * not pages).
 */
#include "shell/kvm/kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef KVM_CAP_MEMORY_FAULT_INFO
#define KVM_CAP_MEMORY_FAULT_INFO 232
#endif

/* Three pages KVM wants outside guest memory for Intel's real-mode TSS;
 * unused in long mode, set so that no KVM version complains. */
#define TSS_ADDR 0xfffbd000ull

long kvm_ioctl(int fd, unsigned long req, void *arg)
{
    return syscall(SYS_ioctl, (long)fd, (long)req, arg);
}

static void need_cap(struct kvm_monitor *m, long cap, const char *name)
{
    if (kvm_ioctl(m->vm_fd, KVM_CHECK_EXTENSION, (void *)cap) <= 0)
        kvm_fail(ENOTSUP, "KVM lacks %s, which the kvm monitor needs", name);
}

static void set_slot(struct kvm_monitor *m, unsigned slot, uint64_t gpa,
                     uint64_t size, uint32_t flags)
{
    struct kvm_userspace_memory_region r = {
        .slot = slot,
        .flags = flags,
        .guest_phys_addr = gpa,
        .memory_size = size,
        .userspace_addr = gpa, /* guest-physical == monitor-virtual */
    };
    if (kvm_ioctl(m->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
        kvm_fail(errno, "KVM memory slot %u at %#llx (%llu bytes)", slot,
                 (unsigned long long)gpa, (unsigned long long)size);
}

void kvm_vm_ram_slot(struct kvm_monitor *m, uint64_t ram_end)
{
    if (m->rw_slot_end == ram_end)
        return;
    if (m->rw_slot_end) /* a slot's size cannot change: delete it first */
        set_slot(m, SLOT_RW, LVM_STATUS_ADDR, 0, 0);
    set_slot(m, SLOT_RW, LVM_STATUS_ADDR, ram_end - LVM_STATUS_ADDR, 0);
    m->rw_slot_end = ram_end;
}

static void reserve_memory(void)
{
    /* [LVM_MON_BASE, LVM_RAM_BASE + LVM_RAM_MAX): nothing else of the
     * shell may live there; proc relies on the same range being free. */
    uint64_t len = LVM_RAM_BASE + LVM_RAM_MAX - LVM_MON_BASE;
    void *p =
        mmap((void *)(uintptr_t)LVM_MON_BASE, len, PROT_NONE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE,
             -1, 0);
    if (p == MAP_FAILED || p != (void *)(uintptr_t)LVM_MON_BASE)
        kvm_fail(errno ? errno : EEXIST, "reserve the guest's address range");
    /* The monitor-private pages are the monitor's own anonymous memory. */
    p = mmap((void *)(uintptr_t)LVM_MON_PRIVATE_ADDR,
             LVM_RAM_BASE - LVM_MON_PRIVATE_ADDR, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (p == MAP_FAILED)
        kvm_fail(errno, "map the monitor's guest pages");
}

static void create_vcpu(struct kvm_monitor *m)
{
    long size = kvm_ioctl(m->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, NULL);
    if (size < (long)sizeof(struct kvm_run))
        kvm_fail(errno, "KVM_GET_VCPU_MMAP_SIZE");
    int fd = (int)kvm_ioctl(m->vm_fd, KVM_CREATE_VCPU, (void *)0);
    if (fd < 0)
        kvm_fail(errno, "create the vCPU (KVM_CREATE_VCPU)");
    /* At the fd number the monitor's seccomp filter names. */
    if (fd != LVM_KVM_VCPU_FD) {
        if (dup3(fd, LVM_KVM_VCPU_FD, O_CLOEXEC) < 0)
            kvm_fail(errno, "move the vCPU fd");
        close(fd);
    }
    m->vcpu_fd = LVM_KVM_VCPU_FD;
    m->run_size = (size_t)size;
    m->run = mmap(NULL, m->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
                  m->vcpu_fd, 0);
    if (m->run == MAP_FAILED)
        kvm_fail(errno, "map the vCPU's kvm_run area");
}

void kvm_vm_create(struct kvm_monitor *m, int kvm_fd, uint64_t ram_size)
{
    uint64_t t0 = kvm_now();
    m->kvm_fd = kvm_fd;
    long v = kvm_ioctl(kvm_fd, KVM_GET_API_VERSION, NULL);
    if (v != KVM_API_VERSION)
        kvm_fail(ENOTSUP, "KVM API version %ld, expected %d", v,
                 KVM_API_VERSION);
    m->vm_fd = (int)kvm_ioctl(kvm_fd, KVM_CREATE_VM, (void *)0);
    if (m->vm_fd < 0)
        kvm_fail(errno, "create the VM (KVM_CREATE_VM)");
    need_cap(m, KVM_CAP_USER_MEMORY, "user memory slots");
    need_cap(m, KVM_CAP_READONLY_MEM, "read-only memory slots");
    need_cap(m, KVM_CAP_EXT_CPUID, "KVM_SET_CPUID2");
    if (kvm_ioctl(m->vm_fd, KVM_CHECK_EXTENSION, (void *)KVM_CAP_NR_MEMSLOTS) <
        NSLOTS)
        kvm_fail(ENOTSUP, "KVM offers fewer than %d memory slots", NSLOTS);
    m->have_memory_fault = kvm_ioctl(m->vm_fd, KVM_CHECK_EXTENSION,
                                     (void *)KVM_CAP_MEMORY_FAULT_INFO) > 0;
    if (kvm_ioctl(m->vm_fd, KVM_CHECK_EXTENSION, (void *)KVM_CAP_SET_TSS_ADDR) >
        0)
        kvm_ioctl(m->vm_fd, KVM_SET_TSS_ADDR, (void *)TSS_ADDR);
    uint64_t t1 = kvm_now();
    m->times.vm = t1 - t0;

    reserve_memory();
    /* The device page must be read-only to the guest whatever its page
     * tables say; writes there end in an MMIO exit, reported. */
    set_slot(m, SLOT_RO, LVM_BOOTINFO_ADDR, LVM_STATUS_ADDR - LVM_BOOTINFO_ADDR,
             KVM_MEM_READONLY);
    int known = ram_size >= LVM_RAM_MIN && ram_size <= LVM_RAM_MAX &&
                ram_size % KVM_PAGE == 0;
    kvm_vm_ram_slot(m, known ? LVM_RAM_BASE + ram_size : LVM_RAM_BASE);
    uint64_t t2 = kvm_now();
    m->times.slots = t2 - t1;

    create_vcpu(m);
    m->xcr0 = kvm_cpuid_setup(m);
    uint64_t t3 = kvm_now();
    m->times.vcpu = t3 - t2;
    /* Linux 6.13+ starts a per-VM worker task (huge page recovery) on the
     * first KVM_RUN, as a child of the monitor: it must exist before the
     * limits (RLIMIT_NPROC 0) that keep the monitor from ever creating a
     * process. An immediate exit makes it without entering the guest. */
    m->run->immediate_exit = 1;
    long r = kvm_ioctl(m->vcpu_fd, KVM_RUN, NULL);
    m->run->immediate_exit = 0;
    if (r == 0 || errno != EINTR)
        kvm_fail(r == 0 ? EPROTO : errno, "first KVM_RUN (immediate exit)");
    m->times.worker = kvm_now() - t3;
}
