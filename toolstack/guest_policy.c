/*
 * guest_policy.c: a guest's defaults and limits (see guest_policy.h and
 * the table in docs/cli.md). Pure but for one fstat.
 */
#include "toolstack/guest_policy.h"
#include "shell/plan.h"

#include <lightvm/abi.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

_Static_assert((int)GUEST_MON_PROC == (int)LVM_MONITOR_PROC, "proc's kind");
_Static_assert((int)GUEST_MON_KVM == (int)LVM_MONITOR_KVM, "kvm's kind");

#define MiB (1ull << 20)
#define GiB (1ull << 30)

/* Debian's kernel panics unpacking a redis image's initramfs (21 MB of
 * files) in 96 MiB and boots it in 112 MiB; left to itself it settles at
 * about 130 MiB. A tiny kernel needs little beyond the initramfs. QEMU
 * takes up to 64 GiB; the unikernel ABI fixes 1 MiB to 2 GiB. */
static const struct guest_ram_range ram_unikernel = {16 * MiB, LVM_RAM_MIN,
                                                     LVM_RAM_MAX};
static const struct guest_ram_range ram_qemu_tiny = {128 * MiB, 32 * MiB,
                                                     GUEST_RAM_ANY_MAX};
static const struct guest_ram_range ram_qemu_stock = {256 * MiB, 128 * MiB,
                                                      GUEST_RAM_ANY_MAX};

struct guest_ram_range guest_ram_range(unsigned mon, enum guest_kernel kernel)
{
    if (mon != GUEST_MON_QEMU)
        return ram_unikernel;
    return kernel == GUEST_KERNEL_STOCK ? ram_qemu_stock : ram_qemu_tiny;
}

static const char *mon_name(unsigned mon, enum guest_kernel kernel)
{
    return mon == GUEST_MON_KVM    ? "a kvm guest"
           : mon != GUEST_MON_QEMU ? "a proc guest"
           : kernel == GUEST_KERNEL_STOCK
               ? "a qemu guest booting Debian's kernel"
               : "a qemu guest";
}

/* (v) bytes as "N MiB", or "N KiB" when it is not whole MiB. */
static const char *size_str(uint64_t v, char *buf, size_t len)
{
    if (v >= 64 * GiB && v % GiB == 0) /* beyond every monitor's range */
        snprintf(buf, len, "%llu GiB", (unsigned long long)(v / GiB));
    else if (v % MiB)
        snprintf(buf, len, "%llu KiB", (unsigned long long)(v >> 10));
    else
        snprintf(buf, len, "%llu MiB", (unsigned long long)(v / MiB));
    return buf;
}

int guest_ram_pick(unsigned mon, enum guest_kernel kernel, uint64_t asked,
                   uint64_t suggested, uint64_t *ram, struct lvm_err *err)
{
    struct guest_ram_range r = guest_ram_range(mon, kernel);
    uint64_t v = asked ? asked : suggested ? suggested : r.def;
    char a[32], b[32];
    if (v < r.min || v > r.max)
        return lvm_err_set(
            err, 0, "mem: %s needs %s %s, not %s%s", mon_name(mon, kernel),
            v < r.min ? "at least" : "at most",
            size_str(v < r.min ? r.min : r.max, a, sizeof a),
            asked ? "" : "the image's ", size_str(v, b, sizeof b));
    *ram = v;
    return 0;
}

uint64_t guest_memory_limit(const struct guest_mem_need *n)
{
    uint64_t limit = n->ram;
    if (n->console_file)
        limit += guest_console_limit(n->console_limit, 0);
    if (n->mon != GUEST_MON_QEMU)
        return limit + GUEST_MEMORY_OVERHEAD;
    /* QEMU's copies of the kernel and initramfs; it refuses files larger
     * than guest RAM, so they never cost more than that. */
    uint64_t files = n->kernel_size + n->initrd_size;
    limit += files < n->ram ? files : n->ram;
    return limit + (n->kernel == GUEST_KERNEL_STOCK ? GUEST_QEMU_OVERHEAD_STOCK
                                                    : GUEST_QEMU_OVERHEAD_TINY);
}

int guest_console_is_file(int fd)
{
    struct stat st;
    return fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

uint64_t guest_console_limit(uint64_t asked, int log)
{
    return asked ? asked
           : log ? GUEST_CONSOLE_LIMIT_LOG
                 : GUEST_CONSOLE_LIMIT_FILE;
}

void guest_cpu_limits(double cpus, struct cgroup_limits *lim)
{
    if (!(cpus > 0))
        return;
    if (cpus > GUEST_CPUS_MAX)
        cpus = GUEST_CPUS_MAX;
    lim->cpu_period_us = GUEST_CPU_PERIOD_US;
    lim->cpu_quota_us = (uint64_t)(cpus * (double)GUEST_CPU_PERIOD_US + 0.5);
    if (lim->cpu_quota_us < GUEST_CPU_QUOTA_MIN_US)
        lim->cpu_quota_us = GUEST_CPU_QUOTA_MIN_US;
}

unsigned guest_qemu_vcpus(double cpus)
{
    if (!(cpus > 1))
        return 1; /* also a tiny kernel's most: it has no SMP */
    return cpus >= GUEST_QEMU_VCPUS_MAX ? GUEST_QEMU_VCPUS_MAX
                                        : (unsigned)ceil(cpus);
}

unsigned guest_mon_of(const char *name)
{
    return !strcmp(name, "proc")   ? GUEST_MON_PROC
           : !strcmp(name, "kvm")  ? GUEST_MON_KVM
           : !strcmp(name, "qemu") ? GUEST_MON_QEMU
                                   : 0;
}

enum guest_kernel guest_kernel_of(const char *kind)
{
    return kind && !strcmp(kind, "stock") ? GUEST_KERNEL_STOCK
                                          : GUEST_KERNEL_TINY;
}
