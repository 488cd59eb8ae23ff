/*
 * abi.h: the lightvm guest ABI, shared by every monitor and every guest.
 *
 * A guest is a static x86_64 ELF linked at LVM_RAM_BASE. It runs unchanged
 * under the `proc` monitor (a sandboxed process) and the `kvm` monitor (a
 * hardware virtual machine); both lay out the same guest addresses:
 *
 *   LVM_MON_BASE      boot info page       read-only, written by the monitor
 *   + 0x1000          device page          read-only, written by the toolstack
 *   + 0x2000          status page          written by the guest, read by the
 *                                          toolstack (exit reason, watchdog)
 *   + 0x3000 ...      monitor-private      (trampoline, page tables); guests
 *                                          must not touch it
 *   LVM_RAM_BASE      guest RAM: ELF image, then heap, a guard page, stack
 *
 * The boot info page tells the guest which binding to use for hypercalls
 * (system calls under seccomp, or port I/O exits), so a guest never
 * hard-codes its monitor. Hypercall numbers and argument blocks below are
 * the same for every binding.
 *
 * LVM_ABI_VERSION must be incremented on any change to a structure, a
 * constant or the meaning of a field in this file.
 */
#ifndef LIGHTVM_ABI_H
#define LIGHTVM_ABI_H

#include <stdint.h>

#define LVM_ABI_VERSION 4

/* ---- Guest address space ------------------------------------------------ */

#define LVM_PAGE_SIZE 4096ULL
#define LVM_MON_BASE 0x3ff00000ULL /* 1 MiB of monitor pages below RAM */
#define LVM_BOOTINFO_ADDR (LVM_MON_BASE + 0x0000)
#define LVM_DEVPAGE_ADDR (LVM_MON_BASE + 0x1000)
#define LVM_STATUS_ADDR (LVM_MON_BASE + 0x2000)
#define LVM_MON_PRIVATE_ADDR (LVM_MON_BASE + 0x3000)
#define LVM_RAM_BASE 0x40000000ULL
#define LVM_RAM_MIN (1ULL << 20)   /* 1 MiB */
#define LVM_RAM_MAX (2ULL << 30)   /* 2 GiB: offsets fit in 31 bits */
#define LVM_STACK_MAX (1ULL << 20) /* stack is min(RAM / 8, 1 MiB) */

/* ---- Boot info ---------------------------------------------------------- */

#define LVM_BOOTINFO_MAGIC 0x4c564249u /* "LVBI" */

/* How the guest makes hypercalls. */
enum lvm_binding {
    LVM_BINDING_PROC = 1, /* raw system calls, checked by a seccomp filter */
    LVM_BINDING_KVM = 2,  /* `outl` of an argument block's address to a port */
};

/* Boot info flags. */
#define LVM_BOOT_FSGSBASE (1u << 0) /* wrfsbase usable: serve TLS set-up */

struct lvm_bootinfo {
    uint32_t magic;       /* LVM_BOOTINFO_MAGIC */
    uint16_t abi_version; /* LVM_ABI_VERSION the monitor speaks */
    uint16_t binding;     /* enum lvm_binding */
    uint32_t flags;       /* LVM_BOOT_* */
    uint32_t reserved0;
    uint64_t ram_base;   /* == LVM_RAM_BASE */
    uint64_t ram_size;   /* bytes of guest RAM */
    uint64_t image_end;  /* first byte after the loaded image, page aligned */
    uint64_t heap_start; /* free RAM for the guest's allocator: */
    uint64_t heap_end;   /*   [heap_start, heap_end) */
    uint64_t stack_top;  /* initial stack pointer region ends here */
    uint64_t stack_size; /* bytes below stack_top reserved for the stack */
    uint64_t boot_ns;   /* monotonic clock when the monitor started the guest */
    uint64_t seed_addr; /* 32 random bytes in the initial stack seeding the
                            guest's random number generator; the SDK
                            erases them once read */
    uint8_t reserved1[24];
    char guest_id[40]; /* toolstack's id of this guest, NUL-terminated */
    char name[64];     /* guest name, NUL-terminated */
    uint32_t cmdline_len;
    char cmdline[3876]; /* argv joined by spaces, NUL-terminated */
};

/* ---- File descriptors ---------------------------------------------------- */

/*
 * The SDK numbers the descriptors of the guest's own file tree (files in
 * guest RAM, never the host's) from LVM_FS_FD_BASE up; every host fd a
 * guest's process holds (console, control, devices' handles) is below it.
 * The proc monitor's filter traps calls on fds at or above it to the SDK.
 */
#define LVM_FS_FD_BASE 256

/* ---- Event channels ----------------------------------------------------- */

/*
 * An event channel is a numbered doorbell from the host to the guest
 * (0..LVM_MAX_EVTCHN-1). A device that can raise events names its channel
 * in the device page; the guest waits for a set of channels with
 * LVM_HC_YIELD and clears a channel with LVM_HC_EVTCHN_CLEAR.
 */
#define LVM_MAX_EVTCHN 64
#define LVM_EVTCHN_NONE 0xffffu

/* ---- Device page (NoXS) ------------------------------------------------- */

#define LVM_DEVPAGE_MAGIC 0x4c564450u /* "LVDP" */
#define LVM_MAX_DEVICES 32
#define LVM_DEVNAME_MAX 16

enum lvm_device_type {
    LVM_DEV_CONSOLE = 1, /* output stream; always present */
    LVM_DEV_CONTROL = 2, /* poweroff / suspend requests; always present */
    LVM_DEV_NET = 3,     /* Ethernet frames */
    LVM_DEV_BLOCK = 4,   /* fixed-size blocks */
};

/* Device flags. */
#define LVM_DEVF_READONLY (1u << 0) /* block: writes are refused */
#define LVM_DEVF_DHCP (1u << 1)     /* net: no static address, use DHCP */

struct lvm_device {
    uint16_t type;   /* enum lvm_device_type */
    uint16_t flags;  /* LVM_DEVF_* */
    uint16_t handle; /* names the device in hypercalls */
    uint16_t evtchn; /* event channel raised by the device, or NONE */
    char name[LVM_DEVNAME_MAX]; /* NUL-terminated, from the manifest */
    union {
        struct {
            uint8_t mac[6];
            uint16_t mtu;
            uint32_t ipv4_addr;    /* network byte order; 0 if DHCP */
            uint32_t ipv4_netmask; /* network byte order */
            uint32_t ipv4_gateway; /* network byte order */
            uint32_t reserved;
        } net;
        struct {
            uint64_t capacity;   /* bytes, a multiple of block_size */
            uint32_t block_size; /* bytes per block (512 or 4096) */
            uint32_t reserved;
        } block;
        uint8_t raw[24];
    } u;
};

/* Requests the toolstack makes through the control device. */
enum lvm_control_request {
    LVM_CTRL_NONE = 0,
    LVM_CTRL_POWEROFF = 1, /* shut down cleanly and exit */
    LVM_CTRL_SUSPEND = 2,  /* reach a quiescent point and acknowledge */
    LVM_CTRL_RESUME = 3,   /* continue after a suspend */
    LVM_CTRL_SNAPSHOT = 4, /* park outside any served call with the CPU
                              context saved in RAM, so that a monitor can
                              save the guest and restore it (under any
                              monitor) at its resume entry */
};

struct lvm_devpage {
    uint32_t magic;       /* LVM_DEVPAGE_MAGIC */
    uint16_t abi_version; /* LVM_ABI_VERSION */
    uint16_t ndevices;    /* entries used in dev[] */
    uint32_t generation;  /* bumped by the toolstack after each update */
    /* Control device state; the toolstack writes request then seq. */
    uint32_t control_request; /* enum lvm_control_request */
    uint32_t control_seq;     /* incremented with every new request */
    uint32_t watchdog_ms;     /* 0: off; else ping at least this often */
    uint32_t reserved[2];
    struct lvm_device dev[LVM_MAX_DEVICES];
};

/* ---- Status page (guest to toolstack) ----------------------------------- */

#define LVM_STATUS_MAGIC 0x4c565354u /* "LVST" */

enum lvm_exit_reason {
    LVM_EXIT_UNSET = 0,
    LVM_EXIT_NORMAL = 1, /* exit(status) */
    LVM_EXIT_ABORT = 2,  /* abort(), failed assertion, SDK panic */
};

/*
 * The status page is written by the guest, so everything in it is the
 * guest's own claim. The toolstack shows it as such and never trusts it for
 * security decisions.
 */
struct lvm_status {
    uint32_t magic;           /* set by the SDK at start */
    uint32_t control_ack_seq; /* last control_seq the guest acted upon */
    uint64_t first_insn_ns;   /* monotonic clock at the guest's first C code
                                 (after a restore or clone: at its resume
                                 entry; 0 until then) */
    uint64_t watchdog_ns;     /* monotonic clock at the last watchdog ping */
    uint32_t exit_reason;     /* enum lvm_exit_reason */
    int32_t exit_status;
    uint64_t suspended; /* LVM_SUSPENDED_* while parked */
    char message[256];  /* abort message, NUL-terminated */
    /* Written by the toolstack before a restored guest runs, read (and
     * the seed erased) by the SDK at its resume entry. */
    uint32_t resume_flags;   /* LVM_RESUME_*: why the guest is resumed */
    uint32_t resume_count;   /* restores and clones this guest has had */
    uint8_t resume_seed[32]; /* fresh entropy: a restored or cloned guest
                                never repeats another's random numbers */
};

/* status.suspended */
#define LVM_SUSPENDED_PARKED 1   /* LVM_CTRL_SUSPEND */
#define LVM_SUSPENDED_SNAPSHOT 2 /* LVM_CTRL_SNAPSHOT: context saved */

/* status.resume_flags */
#define LVM_RESUME_RESTORED (1u << 0) /* from a saved state (or migrated) */
#define LVM_RESUME_CLONED                                                      \
    (1u << 1) /* one of several copies: new id,
                                         name, MAC and address */
#define LVM_RESUME_HOLD                                                        \
    (1u << 2) /* a migration's destination: park
                                         at once, before any hook, until
                                         LVM_CTRL_RESUME (the migration
                                         committed) or POWEROFF */

/* ---- Hypercalls ----------------------------------------------------------- */

enum lvm_hypercall {
    LVM_HC_CONSOLE_WRITE = 1,
    LVM_HC_CLOCK_MONOTONIC = 2,
    LVM_HC_CLOCK_WALL = 3,
    LVM_HC_YIELD = 4,
    LVM_HC_NET_READ = 5,
    LVM_HC_NET_WRITE = 6,
    LVM_HC_BLOCK_READ = 7,
    LVM_HC_BLOCK_WRITE = 8,
    LVM_HC_EVTCHN_CLEAR = 9,
    LVM_HC_EXIT = 10,
    LVM_HC_ABORT = 11,
    LVM_HC_MAX = 12,
};

/* Hypercall results: >= 0 success (often a byte count), < 0 an error. */
#define LVM_OK 0
#define LVM_EAGAIN (-1) /* nothing to read now */
#define LVM_EINVAL (-2) /* bad handle, size or offset */
#define LVM_EIO (-3)    /* the host side failed */

/* Size limits every monitor enforces. */
#define LVM_CONSOLE_WRITE_MAX 4096u
#define LVM_NET_FRAME_MAX 1518u /* Ethernet frame without FCS, with VLAN tag */

/*
 * Argument blocks. Under the kvm binding the guest writes the block into
 * its RAM and issues `outl` of (block address - LVM_RAM_BASE) to port
 * LVM_HC_PORT_BASE + hypercall; results come back in the block. Under the
 * proc binding the SDK makes the equivalent system call directly.
 */
#define LVM_HC_PORT_BASE 0x500

struct lvm_hc_console_write {
    uint64_t buf; /* guest address */
    uint64_t len; /* <= LVM_CONSOLE_WRITE_MAX */
    int64_t ret;
};

struct lvm_hc_clock {
    uint64_t ns; /* out: nanoseconds */
};

struct lvm_hc_yield {
    uint64_t deadline_ns; /* monotonic; UINT64_MAX waits for an event only */
    uint64_t evmask;      /* channels to wait for */
    uint64_t ready;       /* out: channels pending */
};

struct lvm_hc_io {
    uint32_t handle; /* device handle from the device page */
    uint32_t reserved;
    uint64_t offset; /* block only: byte offset, a multiple of block_size */
    uint64_t buf;    /* guest address */
    uint64_t len;    /* net: <= LVM_NET_FRAME_MAX; block: == block_size */
    int64_t ret;
};

struct lvm_hc_evtchn_clear {
    uint32_t evtchn;
    uint32_t reserved;
    int64_t ret;
};

struct lvm_hc_exit {
    int32_t status;
    uint32_t reserved;
};

/* ---- Manifest (in the guest ELF) ------------------------------------------- */

/*
 * Two ELF notes, owner "lightvm", in a PT_NOTE segment:
 *  - LVM_NOTE_ABI, from the SDK: the ABI version the guest was built for
 *    and its entry points for served system calls;
 *  - LVM_NOTE_MANIFEST, from the application: the devices it needs.
 */
#define LVM_NOTE_OWNER "lightvm"
#define LVM_NOTE_ABI 0x4c560001u
#define LVM_NOTE_MANIFEST 0x4c560002u
#define LVM_MANIFEST_MAGIC 0x4c564d46u /* "LVMF" */

struct lvm_abi_note {
    uint32_t abi_version; /* LVM_ABI_VERSION the guest was built against */
    uint32_t reserved;
    uint64_t sigsys_entry;    /* proc: SIGSYS handler serving libc's calls */
    uint64_t sigreturn_entry; /* proc: its signal return trampoline */
    uint64_t syscall_entry;   /* kvm: where a `syscall` is served */
    uint64_t resume_entry;    /* any monitor: where a guest restored from a
                                 snapshot continues (ABI version 3) */
};

struct lvm_manifest_device {
    uint16_t type;  /* LVM_DEV_NET or LVM_DEV_BLOCK */
    uint16_t flags; /* LVM_DEVF_READONLY for a block device it only reads */
    uint32_t reserved;
    char name[LVM_DEVNAME_MAX]; /* NUL-terminated [a-z0-9_-], unique */
};

#define LVM_MANIFEST_MAX_DEVICES (LVM_MAX_DEVICES - 2)

/* The manifest note's descriptor: this header, then ndevices entries. */
struct lvm_manifest {
    uint32_t magic;    /* LVM_MANIFEST_MAGIC */
    uint16_t version;  /* LVM_ABI_VERSION */
    uint16_t ndevices; /* <= LVM_MANIFEST_MAX_DEVICES */
};

#ifndef __cplusplus
_Static_assert(sizeof(struct lvm_bootinfo) == LVM_PAGE_SIZE,
               "boot info is one page");
_Static_assert(sizeof(struct lvm_devpage) <= LVM_PAGE_SIZE,
               "device page fits a page");
_Static_assert(sizeof(struct lvm_status) <= LVM_PAGE_SIZE,
               "status fits a page");
_Static_assert(sizeof(struct lvm_device) == 48, "device entry layout");
_Static_assert(sizeof(struct lvm_manifest_device) == 24,
               "manifest entry layout");
#endif

#endif /* LIGHTVM_ABI_H */
