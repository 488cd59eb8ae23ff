/*
 * plan.h: the protocol between the toolstack and a shell (lightvm-shell).
 *
 * A shell is the process a guest will run in. The toolstack (CLI or
 * daemon) creates it in fresh namespaces and talks to it over a
 * SOCK_SEQPACKET socket at fd LVM_SHELL_FD:
 *
 *   toolstack                         shell
 *   (writes uid/gid maps, cgroups)
 *   PREPARE (+ /dev/kvm) ------------>  mounts an empty root, drops
 *                                       capabilities, no_new_privs;
 *                                       kvm: creates the VM, its memory
 *                                       slots and vCPU
 *            <------------------------  READY
 *   PLAN + fds ---------------------->  maps guest memory, installs fds,
 *                                       signal handler, rlimits
 *            <------------------------  STARTED (or ERROR)
 *                                       (a gated plan: blocks until one
 *                                       byte arrives on its gate fd)
 *                                       unmaps itself, loads the seccomp
 *                                       filter, jumps to the guest
 *
 * The toolstack computes everything (layout, boot info, initial stack,
 * filter); the shell only carries it out, so it needs no libraries and
 * holds nothing a guest could use. A pooled shell stops after READY until a
 * guest is created (the daemon's prepare/execute split).
 *
 * Private to lightvm: toolstack and shell are always built together.
 */
#ifndef LVM_PLAN_H
#define LVM_PLAN_H

#include <lightvm/abi.h>
#include <stdint.h>

#define LVM_SHELL_FD 3 /* the control socket, in a new shell */

#define LVM_PLAN_MAGIC 0x4c56504cu /* "LVPL" */
#define LVM_PLAN_VERSION 1

enum lvm_shell_msg {
    LVM_MSG_PREPARE = 1,
    LVM_MSG_READY = 2,
    LVM_MSG_PLAN = 3,
    LVM_MSG_STARTED = 4,
    LVM_MSG_ERROR = 5,
};

enum lvm_monitor_kind {
    LVM_MONITOR_PROC = 1,
    LVM_MONITOR_KVM = 2,
};

struct lvm_msg_hdr {
    uint32_t magic; /* LVM_PLAN_MAGIC */
    uint16_t version;
    uint16_t type; /* enum lvm_shell_msg */
};

/* PREPARE for a kvm shell carries one fd, /dev/kvm, opened by the
 * toolstack: the shell itself can open nothing once its root is empty. */
struct lvm_msg_prepare {
    struct lvm_msg_hdr hdr;
    uint32_t monitor;   /* enum lvm_monitor_kind */
    uint32_t flags;     /* LVM_PREP_* */
    char root_dir[256]; /* an empty directory to mount the guest's root on */
    char hostname[64];
    uint64_t ram_size; /* kvm: RAM slot to create ahead; 0 if not known */
};

#define LVM_PREP_CGROUPNS (1u << 0) /* unshare the cgroup namespace */
#define LVM_PREP_ROOT_READY                                                    \
    (1u << 1) /* the mount namespace it was cloned
                                         into has the empty root already */

struct lvm_msg_error {
    struct lvm_msg_hdr hdr;
    int32_t err; /* errno value, or 0 */
    char msg[244];
};

enum lvm_map_kind {
    LVM_MAP_ANON = 1,         /* zero-filled private memory */
    LVM_MAP_FILE_PRIVATE = 2, /* copy-on-write view of a received fd */
    LVM_MAP_FILE_SHARED = 3,  /* shared view of a received fd */
};

#define LVM_PLAN_MAX_MAPS 40 /* 5 fixed + file and bss per segment */
#define LVM_PLAN_MAX_FDS 40
#define LVM_PLAN_MAX_COPIES 4
#define LVM_PLAN_MAX_BPF 4096        /* instructions */
#define LVM_PLAN_MAX_DATA (96 << 10) /* bytes of inline data */

struct lvm_plan_map {
    uint64_t addr;    /* guest address, page aligned */
    uint64_t len;     /* bytes, page aligned */
    uint64_t offset;  /* file offset for FILE_* maps */
    uint32_t prot;    /* PROT_READ / PROT_WRITE / PROT_EXEC */
    uint32_t kind;    /* enum lvm_map_kind */
    int32_t fd_index; /* index into the received fds, -1 for ANON */
    uint32_t reserved;
};

/* Bytes from the plan's data area copied into guest memory once mapped. */
struct lvm_plan_copy {
    uint64_t addr;
    uint32_t len;
    uint32_t data_off; /* offset into the data area */
};

/* Received fd (fd_index) becomes the guest's fd (target). */
struct lvm_plan_fd {
    int32_t fd_index;
    int32_t target;
};

struct lvm_msg_plan {
    struct lvm_msg_hdr hdr;
    uint32_t monitor; /* enum lvm_monitor_kind */
    uint32_t nmaps, ncopies, nfds;
    struct lvm_plan_map maps[LVM_PLAN_MAX_MAPS];
    struct lvm_plan_copy copies[LVM_PLAN_MAX_COPIES];
    struct lvm_plan_fd fds[LVM_PLAN_MAX_FDS];
    uint64_t entry;           /* first guest instruction */
    uint64_t stack_pointer;   /* initial %rsp: argc, argv, envp, auxv */
    uint64_t sigsys_entry;    /* proc: handler for served system calls */
    uint64_t sigreturn_entry; /* proc: its restorer */
    uint64_t syscall_entry;   /* kvm: LSTAR */
    uint64_t rlimit_fsize;    /* bytes a guest may write to a console file */
    uint64_t ram_end;         /* end of guest RAM */
    uint32_t bpf_len;         /* seccomp filter instructions in data */
    uint32_t bpf_off;         /* offset of the filter in data */
    uint32_t data_len;        /* bytes of data following this struct */
    int32_t report_fd_index;  /* kvm: fd with the report page, or -1 */
    int32_t gate_fd_index;    /* fd to read one byte from before the first
                                 guest instruction (after STARTED), or -1:
                                 the OCI runtime's create/start split */
    char comm[16];            /* process name once the guest runs */
    /* followed by data_len bytes of data */
};

/* ---- kvm monitor -------------------------------------------------------- */

/* The kvm monitor keeps its vCPU at this fd, so that the toolstack can name
 * it in the monitor's seccomp filter before the shell exists. */
#define LVM_KVM_VCPU_FD 1000

/*
 * The monitor's report: how a kvm guest ended, written by the monitor (not
 * the guest) into a page of the device-page memfd that is never mapped
 * into the guest, just before the monitor exits. The toolstack reads it
 * when it reaps the shell. Under proc the kernel is the witness (exit
 * status, signal, audit record); under kvm the monitor is.
 */
#define LVM_REPORT_MAGIC 0x4c565250u          /* "LVRP" */
#define LVM_REPORT_OFFSET (2 * LVM_PAGE_SIZE) /* in the device-page memfd */

enum lvm_report_kind {
    LVM_REPORT_NONE = 0,
    LVM_REPORT_EXIT = 1,      /* exit hypercall: status */
    LVM_REPORT_ABORT = 2,     /* abort hypercall (message on status page) */
    LVM_REPORT_FORBIDDEN = 3, /* the SDK refused a Linux call: syscall */
    LVM_REPORT_CRASH = 4,     /* fault, triple fault, bad exit: signal */
    LVM_REPORT_MONITOR = 5,   /* the monitor failed after STARTED */
};

/* Guest registers when the report was made (CRASH). */
struct lvm_report_regs {
    uint64_t rip, rsp, rflags;
    uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp;
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
    uint64_t cr0, cr2, cr3, cr4, efer;
    uint64_t fs_base, gs_base;
};

/* Set-up timings in nanoseconds, for benchmarks (bench/kvm). */
struct lvm_report_times {
    uint64_t vm;          /* KVM_CREATE_VM and its checks */
    uint64_t slots;       /* reserving guest memory, its memory slots */
    uint64_t vcpu;        /* KVM_CREATE_VCPU, kvm_run, CPUID */
    uint64_t worker;      /* immediate-exit KVM_RUN (KVM's worker task) */
    uint64_t cpu_state;   /* GDT, IDT, registers, MSRs (at PREPARE) */
    uint64_t plan;        /* mapping the plan's memory, page tables */
    uint64_t first_entry; /* first KVM_RUN until its first exit */
    uint64_t exits;       /* exits served until the guest ended */
};

struct lvm_monitor_report {
    uint32_t magic;  /* LVM_REPORT_MAGIC once complete */
    uint32_t kind;   /* enum lvm_report_kind */
    int32_t status;  /* the shell's exit status */
    int32_t signal;  /* CRASH: the signal a proc guest would have died of */
    int64_t syscall; /* FORBIDDEN: x86_64 number; i386 (int 0x80): -2 - nr */
    uint32_t have_regs;
    uint32_t reserved;
    struct lvm_report_regs regs;
    struct lvm_report_times times;
    char detail[512]; /* CRASH, MONITOR: what happened, one line */
};

#ifndef __cplusplus
_Static_assert(sizeof(struct lvm_monitor_report) <= LVM_PAGE_SIZE,
               "the report fits its page");
#endif

#endif /* LVM_PLAN_H */
