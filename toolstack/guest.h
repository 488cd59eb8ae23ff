/*
 * guest.h: start a guest from an image and a spec, control it, and tell
 * how it ended. Used by `lightvm run` and by lightvmd.
 */
#ifndef LVM_TS_GUEST_H
#define LVM_TS_GUEST_H

#include "toolstack/cgroup.h"
#include "toolstack/dev_net.h"
#include "toolstack/devpage.h"
#include "toolstack/error.h"
#include "toolstack/guest_policy.h"
#include "toolstack/host.h"
#include "toolstack/image.h"
#include "toolstack/sandbox.h"

#include <limits.h>
#include <stdint.h>

#define GUEST_MAX_BLOCKS 8
#define GUEST_ID_LEN 16

struct guest_block {
    char name[LVM_DEVNAME_MAX];
    char path[PATH_MAX];
    int readonly;
    int fd; /* opened already (by a daemon, as its client), or -1 */
};

/* A guest that continues from a snapshot instead of booting. */
struct guest_resume {
    int ram_fd; /* the saved RAM: pages at (address - LVM_RAM_BASE), holes
                   elsewhere; mapped copy-on-write, so many guests can
                   share one */
    const struct lvm_status *status; /* its status page when saved */
    uint32_t flags;                  /* LVM_RESUME_* */
};

struct guest_spec {
    const char *name;      /* shown in messages and lists; default image name */
    uint64_t ram_size;     /* bytes of guest RAM; 0: the default */
    uint64_t memory_limit; /* cgroup limit; 0: guest_memory_limit() */
    double cpus;           /* CPU quota in CPUs, 0 for none */
    int argc;
    char *const *argv; /* argv[0] is the guest's name for itself */
    int envc;
    char *const *envp;
    int console_fd;         /* host fd the guest's console writes to */
    uint64_t console_limit; /* bytes, if the console is a file */
    unsigned nblocks;
    struct guest_block blocks[GUEST_MAX_BLOCKS];
    unsigned monitor;          /* enum lvm_monitor_kind */
    struct guest_net_spec net; /* NICs: bridge, addresses (dev_net.h) */
    int lean; /* guest_start: it runs to its end, never paused, no CPU
                 statistics (its cgroup skips the freezer and cpuacct) */
    const struct guest_resume *resume; /* NULL: boot the image */
    int gate_fd; /* > 0: the shell reads one byte from it before the
                    guest's first instruction (an OCI runtime's start);
                    0: none */
};

struct guest {
    char id[GUEST_ID_LEN + 1];
    char name[64];
    unsigned monitor; /* enum lvm_monitor_kind */
    double cpus;
    struct devpage dev;
    int control_fd; /* eventfd: the control device's event channel */
    int have_cg;
    struct cgroup cg;
    struct sandbox sb;
    uint64_t ram_size;
    uint64_t memory_limit;
    uint64_t create_ns, started_ns; /* request, and STARTED from the shell */
    long killed_syscall;            /* seen in an audit record already, or -1 */
    /* Monotonic time at the end of each start phase (LIGHTVM_TIMING=1). */
    uint64_t t_devices, t_plan, t_cgroup, t_spawn, t_launch;
    struct guest_net *net; /* attached NICs, or NULL (dev_net.h) */
};

enum guest_exit_kind {
    GUEST_EXITED,   /* exit(status) */
    GUEST_ABORTED,  /* abort() or an SDK panic */
    GUEST_POLICY,   /* killed by the seccomp policy */
    GUEST_CRASHED,  /* killed by a fault (SIGSEGV, SIGILL, ...) */
    GUEST_OOM,      /* killed by its memory limit */
    GUEST_TIMEOUT,  /* killed by the toolstack's --timeout */
    GUEST_KILLED,   /* killed from outside (destroy) */
    GUEST_SETUP,    /* never reached its first instruction */
    GUEST_WATCHDOG, /* killed: stopped pinging its watchdog */
    GUEST_UNKNOWN,  /* exited while nobody was watching (daemon restart) */
};

struct guest_exit {
    enum guest_exit_kind kind;
    int status;   /* exit status, or the signal number */
    long syscall; /* GUEST_POLICY: the call, or -1 if unknown */
    char detail[600];
    int code;       /* what `lightvm run` exits with */
    char regs[640]; /* kvm crashes: the guest's registers, lines of text */
};

/* Generate a random guest id (GUEST_ID_LEN hex digits). */
void guest_new_id(char id[GUEST_ID_LEN + 1]);

/* What a guest needs before its image is known: the prepare phase. */
struct guest_class {
    uint64_t ram_size;        /* 0: the monitor's default (guest_policy.h) */
    uint64_t memory_limit;    /* 0: RAM plus the monitor's overhead */
    double cpus;              /* CPU quota, 0 for none */
    unsigned monitor;         /* enum lvm_monitor_kind */
    const char *devpage_path; /* file for the device pages, NULL: memfd */
    const char *id;           /* NULL: a new random id */
    int lean; /* run to exit by its creator: no pausing, no CPU stats */
    /* The cgroup: (cgroup_name) under (cgroup_parent), a path relative to
     * the cgroup root (an OCI bundle's cgroupsPath); NULL: the guest's id
     * under $LIGHTVM_CGROUP_PARENT. */
    const char *cgroup_parent, *cgroup_name;
};

/*
 * Prepare phase: a shell in fresh namespaces and its own cgroup, with its
 * device page and control event channel made, waiting for a guest.
 * Everything that does not depend on the image.
 */
int guest_prepare(const struct lvm_host *h, const struct guest_class *c,
                  struct guest **out, struct lvm_err *err);

/* Execute phase: attach (spec)'s devices, build the plan for (img) and
 * start it in the prepared guest (g). spec->ram_size must be the
 * class's. On failure (g) is dead and only fit for guest_free(). */
int guest_launch(const struct lvm_host *h, struct guest *g,
                 const struct image *img, const struct guest_spec *spec,
                 struct lvm_err *err);

/* Both phases: create and start a guest of (img) as (spec) says. */
int guest_start(const struct lvm_host *h, const struct image *img,
                const struct guest_spec *spec, struct guest **out,
                struct lvm_err *err);

/* Ask the guest to power off (or suspend, resume) through its control
 * device. */
int guest_control(struct guest *g, uint32_t request, struct lvm_err *err);

/* SIGKILL the guest. */
int guest_kill(struct guest *g);

/* Drop the fds the toolstack no longer needs once a guest runs (its
 * control eventfd and device-page file): a daemon with thousands of guests
 * keeps one fd each, the pidfd. The control channel is reached through the
 * pidfd when needed. */
void guest_shed_fds(struct guest *g);

/* Reap the guest (it must have exited: poll g->sb.pidfd) and say how it
 * ended. (audit_fd) names the killing system call; (timed_out) says the
 * caller killed it for a timeout. Returns 1 (and an UNKNOWN exit) if the
 * guest is not our child and its new parent has not reaped it yet: the
 * kernel has its status only after that, so ask again a little later. */
int guest_reap(struct guest *g, int audit_fd, int timed_out,
               struct guest_exit *ex, struct lvm_err *err);

/* Release everything the guest held (cgroup, fds, pages). */
void guest_free(struct guest *g);

/* What signal (sig) means, e.g. "SIGSEGV (invalid memory access)". */
const char *guest_signal_name(int sig);

/* A one-line description of (ex), e.g. "killed: forbidden system call
 * openat (257)". */
const char *guest_exit_str(const struct guest_exit *ex, char *buf, size_t len);

#endif
