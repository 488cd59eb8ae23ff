/*
 * guest_policy.h: a guest's defaults and limits, in one place for every
 * caller (the CLI, lightvmd, tinyx build): RAM per monitor, the host
 * memory limit, the CPU quota, console limits and names. The table in
 * docs/cli.md ("Defaults and limits") says the same; keep them together.
 * (The seccomp policy is policy.h.)
 */
#ifndef LVM_TS_GUEST_POLICY_H
#define LVM_TS_GUEST_POLICY_H

#include "toolstack/cgroup.h"
#include "toolstack/error.h"

#include <stdint.h>

/* Monitors as the policy tells them apart. proc and kvm are the values of
 * enum lvm_monitor_kind, so a guest's (monitor) field passes as is. */
enum guest_mon {
    GUEST_MON_PROC = 1, /* LVM_MONITOR_PROC */
    GUEST_MON_KVM = 2,  /* LVM_MONITOR_KVM */
    GUEST_MON_QEMU = 3,
};

/* The kernel a qemu guest's image boots (tinyx manifest "kernel.kind"). */
enum guest_kernel {
    GUEST_KERNEL_TINY,  /* built by `lightvm tinyx kernel` */
    GUEST_KERNEL_STOCK, /* Debian's, the fallback without a tiny one */
};

/* Guest RAM, bytes. */
struct guest_ram_range {
    uint64_t def, min, max;
};

/* The RAM range of monitor (mon); for qemu, of an image booting (kernel).
 * An unknown monitor gets proc's. */
struct guest_ram_range guest_ram_range(unsigned mon, enum guest_kernel kernel);

/*
 * The RAM a guest gets: (asked) if not 0, else (suggested) (a Tinyx
 * image's memory_bytes) if not 0, else the default. 0, or -1 with (err)
 * naming the option ("mem") when it is outside the range.
 */
int guest_ram_pick(unsigned mon, enum guest_kernel kernel, uint64_t asked,
                   uint64_t suggested, uint64_t *ram, struct lvm_err *err);

/* What a guest costs its host besides RAM, for its memory limit. */
struct guest_mem_need {
    unsigned mon;             /* enum guest_mon */
    uint64_t ram;             /* bytes of guest RAM */
    int console_file;         /* its console is a file: the page cache of
                                up to (console_limit) is charged to it */
    uint64_t console_limit;   /* that file's limit; 0: the default */
    uint64_t kernel_size;     /* qemu: its kernel and initramfs files */
    uint64_t initrd_size;     /*   (QEMU keeps a copy of each) */
    enum guest_kernel kernel; /* qemu: which kernel it boots */
};

/* Host memory a proc or kvm guest's process costs beyond its RAM: page
 * tables, signal frames, kernel objects. */
/* The most RAM any monitor takes (qemu's), for parsers that do not know
 * the monitor yet; each monitor checks its own range. */
#define GUEST_RAM_ANY_MAX (64ull << 30)

#define GUEST_MEMORY_OVERHEAD (4ull << 20)
/* Host memory QEMU costs beyond guest RAM, the kernel and initramfs and
 * the console: its heap, the TCG translation cache, user-mode
 * networking's buffers. A tiny kernel: measured at up to about 40 MiB
 * (redis under load, TCG). Debian's kernel runs far more code: 76 MiB
 * after boot and 200 redis requests (TCG; 55 MiB of it translation
 * cache), see docs/cli.md. */
#define GUEST_QEMU_OVERHEAD_TINY (64ull << 20)
#define GUEST_QEMU_OVERHEAD_STOCK (128ull << 20)

/* The default memory limit of (n)'s guest (its cgroup's memory.max):
 * RAM + the monitor's overhead + the console's page cache if it is a
 * file + (qemu) the kernel and initramfs, at most RAM's worth (QEMU
 * refuses larger ones). */
uint64_t guest_memory_limit(const struct guest_mem_need *n);

/* 1 if (fd) is a regular file (a console whose page cache the guest pays
 * for), 0 if not (a terminal, a pipe) or not open. */
int guest_console_is_file(int fd);

/* Console limits: the most a guest may write to its console file. A
 * daemon guest's log lives in the run directory (a tmpfs on most hosts),
 * so its default is small. */
#define GUEST_CONSOLE_LIMIT_FILE (16ull << 20) /* run -c FILE, an fd */
#define GUEST_CONSOLE_LIMIT_LOG (1ull << 20)   /* lightvmd's console.log */
#define GUEST_CONSOLE_LIMIT_MAX (1ull << 30)

/* (asked) if not 0, else the default for a daemon log (log) or a file. */
uint64_t guest_console_limit(uint64_t asked, int log);

/* CPU quota: (cpus) CPUs of time per period. The kernel refuses a quota
 * below 1 ms. */
#define GUEST_CPU_PERIOD_US 100000ull
#define GUEST_CPU_QUOTA_MIN_US 1000ull
#define GUEST_CPUS_MAX 1024
#define GUEST_QEMU_VCPUS_MAX 64

/* Set (lim)'s CPU period and quota for (cpus) (0 or less: none), leaving
 * the rest of (lim) alone. */
void guest_cpu_limits(double cpus, struct cgroup_limits *lim);

/* The vCPUs a qemu guest with a quota of (cpus) gets: as many as the
 * quota can use, rounded up, 1 to GUEST_QEMU_VCPUS_MAX. */
unsigned guest_qemu_vcpus(double cpus);

/* Names: toolstack/guest_name.h. */
#include "toolstack/guest_name.h"

/* The kernel of a Tinyx manifest's kernel.kind ("tiny", "stock"). */
enum guest_kernel guest_kernel_of(const char *kind);

/* The monitor called (name) ("proc", "kvm", "qemu"), or 0. */
unsigned guest_mon_of(const char *name);

#endif
