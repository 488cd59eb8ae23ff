/*
 * plan.h: the protocol between the toolstack and a shell (lightvm-shell).
 *
 * A shell is the process a guest will run in. The toolstack (CLI or
 * daemon) creates it in fresh namespaces and talks to it over a
 * SOCK_SEQPACKET socket at fd LVM_SHELL_FD:
 *
 *   toolstack                         shell
 *   (writes uid/gid maps, cgroups)
 *   PREPARE  ------------------------>  mounts an empty root, drops
 *                                       capabilities, no_new_privs
 *            <------------------------  READY
 *   PLAN + fds ---------------------->  maps guest memory, installs fds,
 *                                       signal handler, rlimits
 *            <------------------------  STARTED (or ERROR)
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

struct lvm_msg_prepare {
    struct lvm_msg_hdr hdr;
    uint32_t monitor; /* enum lvm_monitor_kind */
    uint32_t flags;   /* LVM_PREP_* */
    char root_dir[256]; /* an empty directory to mount the guest's root on */
    char hostname[64];
};

#define LVM_PREP_CGROUPNS (1u << 0) /* unshare the cgroup namespace */

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
#define LVM_PLAN_MAX_BPF 4096       /* instructions */
#define LVM_PLAN_MAX_DATA (96 << 10) /* bytes of inline data */

struct lvm_plan_map {
    uint64_t addr; /* guest address, page aligned */
    uint64_t len;  /* bytes, page aligned */
    uint64_t offset; /* file offset for FILE_* maps */
    uint32_t prot;   /* PROT_READ / PROT_WRITE / PROT_EXEC */
    uint32_t kind;   /* enum lvm_map_kind */
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
    uint32_t reserved;
    char comm[16];            /* process name once the guest runs */
    /* followed by data_len bytes of data */
};

#endif /* LVM_PLAN_H */
