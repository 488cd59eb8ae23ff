/*
 * qemu.h: the qemu monitor. Runs a Linux guest (a Tinyx image) under
 * qemu-system-x86_64 -M microvm, KVM-accelerated where /dev/kvm can run it
 * and emulated (TCG) otherwise, and controls it over QMP.
 *
 * Every channel to QEMU is a socketpair made before QEMU starts (fd=N on
 * its command line), so nothing waits for a socket file to appear:
 *   console  the guest's ttyS0, read from qemu_vm.console_fd
 *   control  the guest's ttyS1, where the Tinyx init reports boot, ready
 *            and the app's exit, and takes "poweroff"
 *   qmp      QEMU's machine protocol: pause, resume, save, restore, quit
 * No global state and no exit(): lightvmd can run many of these at once.
 */
#ifndef LVM_QEMU_H
#define LVM_QEMU_H

#include "toolstack/error.h"
#include "toolstack/guest.h"

#include <poll.h>
#include <stdint.h>
#include <sys/types.h>

struct qmp_conn;

#define QEMU_MAX_FWDS 16
#define QEMU_MAX_DISKS 8
#define QEMU_ARGV_MAX 128
#define QEMU_MAX_XNICS 3   /* NICs after the first: GUEST_MAX_NICS - 1 */
#define QEMU_SERIAL_MAX 20 /* virtio-blk's serial is 20 bytes */

enum qemu_accel { QEMU_ACCEL_AUTO, QEMU_ACCEL_KVM, QEMU_ACCEL_TCG };
enum qemu_net { QEMU_NET_NONE, QEMU_NET_USER, QEMU_NET_TAP };

/* A host port forwarded to a guest port (user-mode networking). */
struct qemu_fwd {
    char host_addr[16]; /* "127.0.0.1" unless given */
    uint16_t host_port; /* 0: pick a free one at start (see vm->fwd) */
    uint16_t guest_port;
};

/*
 * A virtio-blk disk. QEMU gets it by fd (-add-fd, /dev/fdset), as it gets
 * its kernel and initramfs: the file is opened by the caller, as the
 * caller, so a confined QEMU (its own uid, an empty root) needs no path
 * to it. The guest finds it by (serial) in /sys/block/vd*\/serial (the
 * Tinyx init's `mount serial:NAME ...`), whatever the device order.
 */
struct qemu_disk {
    const char *path;   /* opened by qemu_vm_start when fd < 0 */
    int fd;             /* >= 0: this open file (read-only or read-write,
                         as (readonly) says); the caller keeps it */
    int readonly;       /* the guest cannot write it (QEMU opens it so) */
    const char *serial; /* [A-Za-z0-9._-], at most QEMU_SERIAL_MAX bytes;
                           NULL or "": "disk<N>" */
    int blockdev;       /* set by the start: a block device (QEMU's
                           host_device driver), not a file */
    int ro_fd;          /* set by the start: a writable disk's read-only
                           twin in QEMU's fd table (QEMU's block layer
                           opens the image both ways), or -1 */
};

struct qemu_vm_config {
    const char *name;   /* for messages */
    const char *qemu;   /* binary; NULL: $LIGHTVM_QEMU or qemu-system-x86_64 */
    const char *kernel; /* vmlinux (PVH) or bzImage */
    const char *initrd;
    const char *append; /* the image's kernel command line words, or NULL */
    int acpi;           /* the kernel has ACPI (Debian's does, tiny does not) */
    uint64_t mem;  /* bytes of guest RAM; 0: the default (guest_policy.h) */
    unsigned cpus; /* 0: 1 */
    enum qemu_accel accel;
    enum qemu_net net;
    struct qemu_fwd fwd[QEMU_MAX_FWDS];
    unsigned nfwd;
    const char *tap_ifname; /* QEMU_NET_TAP: an existing tap device, or */
    int tap_fd;             /* an open tap fd (used when >= 0) */
    char guest_ip[20];      /* "ADDR/PREFIX"; user-mode: 10.0.2.15/24 */
    char gateway[16];       /* user-mode: 10.0.2.2 */
    char dns[16];           /* user-mode: 10.0.2.3 */
    char mac[18];           /* empty: QEMU's default */
    /* NICs after the first (QEMU_NET_TAP with a tap fd only): each a tap
     * fd of the caller's, its MAC and "ADDR/PREFIX" for the Tinyx init,
     * which finds the device by its MAC (tinyx.nic=MAC,ADDR/PREFIX). */
    struct qemu_xnic {
        int tap_fd;
        char mac[18];
        char ip[20];
    } xnic[QEMU_MAX_XNICS];
    unsigned nxnics;
    int quiet;           /* "quiet" kernel: only errors on the console */
    int die_with_parent; /* SIGKILL QEMU if the caller dies */
    struct qemu_disk disks[QEMU_MAX_DISKS]; /* raw images, virtio-blk */
    unsigned ndisks;
    const char *incoming; /* set by qemu_vm_restore: wait for a state */
    /* This run's settings for the Tinyx init ("key value" lines, as in
     * its init.conf: "arg", "env", ...), sent on the control channel
     * once the init reports "boot" (tinyx.cfg=1), or NULL: the image's alone.
     * Only for images whose init reads them (tinyx_manifest.init_config). */
    const char *runtime_conf;
    int exec;    /* give the guest the exec channel (tinyx.exec=1) */
    int exec_fd; /* qemu_vm_start: a listening unix socket QEMU serves
                    the exec channel on (lightvm-runtime's); 0: none */
};

/* What the guest's init has told us so far. */
struct qemu_guest_state {
    int booted;        /* "boot": the init runs */
    long boot_ms;      /* guest uptime then */
    int started;       /* the app was exec'd */
    int ready;         /* health check passed */
    long ready_ms;     /* guest uptime then */
    uint64_t ready_ns; /* host monotonic time we heard it */
    int have_exit;     /* "exit" or "signal" seen */
    int exit_status;   /* status, or the signal for signaled */
    int signaled;
    char error[256]; /* "error ...": the init could not run the app */
};

struct qemu_vm {
    pid_t pid;            /* QEMU's */
    int pidfd;            /* readable when QEMU has exited */
    int console_fd;       /* the guest's console (ttyS0): read it */
    int ctl_fd;           /* control channel (ttyS1) */
    struct qmp_conn *qmp; /* QMP, capabilities negotiated */
    int log_fd;           /* memfd holding QEMU's stdout and stderr */
    int accel_kvm;        /* 1 if running under KVM */
    int paused;
    uint64_t start_ns;                  /* host monotonic time of the start */
    struct qemu_fwd fwd[QEMU_MAX_FWDS]; /* with the host ports in use */
    unsigned nfwd;
    struct qemu_guest_state gs;
    int console_out;       /* qemu_vm_service copies the console here */
    int killed, timed_out; /* why we ended it, for qemu_vm_reap */
    int exited;            /* QEMU is gone (pidfd readable) */
    char name[64];
    char ctlbuf[512];
    size_t ctllen;
    char *runconf; /* cfg.runtime_conf, until the init has booted */
};

/* Start a guest as (cfg) says; on success *out owns QEMU. The console is
 * copied to (console_out) by qemu_vm_service (-1: the caller reads
 * vm->console_fd itself). */
int qemu_vm_start(const struct qemu_vm_config *cfg, int console_out,
                  struct qemu_vm **out, struct lvm_err *err);

/* Fill (fds) with the descriptors to poll (at most 3) and return how many;
 * hand the result to qemu_vm_service. */
int qemu_vm_pollfds(const struct qemu_vm *vm, struct pollfd *fds);

/* Copy console output, read control messages, notice QEMU's exit. */
void qemu_vm_service(struct qemu_vm *vm, const struct pollfd *fds, int n);

/* Poll and service until the guest reports ready (0), QEMU exits or
 * (timeout_ms) passes (-1 with err set). timeout_ms < 0: no limit. */
int qemu_vm_wait_ready(struct qemu_vm *vm, int timeout_ms, struct lvm_err *err);

/* Poll and service until QEMU exits (0) or (timeout_ms) passes (-1). */
int qemu_vm_wait(struct qemu_vm *vm, int timeout_ms, struct lvm_err *err);

/* Ask the guest's init to stop the app and power off. */
int qemu_vm_poweroff(struct qemu_vm *vm, struct lvm_err *err);

/* SIGKILL QEMU now. (timed_out) is remembered for qemu_vm_reap. */
void qemu_vm_kill(struct qemu_vm *vm, int timed_out);

/* Power off, wait up to (grace_ms), then kill; QEMU is reaped. */
int qemu_vm_stop(struct qemu_vm *vm, int grace_ms, struct lvm_err *err);

/* Pause and resume the guest's vCPUs (QMP stop / cont). */
int qemu_vm_pause(struct qemu_vm *vm, struct lvm_err *err);
int qemu_vm_resume(struct qemu_vm *vm, struct lvm_err *err);

/* Pause the guest and write its whole state (RAM, devices) to (path); the
 * guest stays paused. qemu_vm_restore needs the same kernel, initrd and
 * devices. */
int qemu_vm_save(struct qemu_vm *vm, const char *path, struct lvm_err *err);

/* Start a guest from a state file written by qemu_vm_save and run it. */
int qemu_vm_restore(const struct qemu_vm_config *cfg, const char *path,
                    int console_out, struct qemu_vm **out, struct lvm_err *err);

/* Reap QEMU (it must have exited) and say how the guest ended, with
 * `lightvm run`'s exit codes (the app's status, 128+signal, 124, 125). */
int qemu_vm_reap(struct qemu_vm *vm, struct guest_exit *ex,
                 struct lvm_err *err);

/* Close everything; kills QEMU if it still runs. */
void qemu_vm_free(struct qemu_vm *vm);

/* ---- a QEMU that outlives its caller (lightvmd) ---------------------- */

/*
 * A daemon's guest must survive the daemon (even kill -9) and be found
 * again by the next one, so nothing ties QEMU to its caller: no
 * PR_SET_PDEATHSIG, no socketpairs. QEMU serves QMP and the control
 * channel on listening unix sockets the caller made (and connects to, as
 * often as it restarts), writes the console to a file itself, and logs
 * what the guest's init reports, so a report made while nobody listened
 * is still on record.
 */
struct qemu_detached {
    int qmp_listen, ctl_listen; /* listening unix sockets, made by the
                                   caller; QEMU inherits them */
    int console_fd;             /* the console file, appended to */
    int ctl_log_fd;             /* the guest's control messages */
    int log_fd;                 /* QEMU's stdout and stderr */
    const int *join_fds;        /* cgroup files QEMU writes "0" to before
                                   exec (cgroup_join_fds) */
    int njoin;
    uint64_t file_limit; /* soft RLIMIT_FSIZE on QEMU's own files; 0: none */
    int kernel_fd, initrd_fd; /* >= 0: boot these files (opened by the
                                 caller, as its client) instead of
                                 opening cfg's paths; -1: the paths */
    int exec_listen;          /* a listening unix socket QEMU serves the exec
                        channel on (cfg->exec), or -1 */
};

/* What the caller keeps of a detached QEMU. */
struct qemu_proc {
    pid_t pid;
    int pidfd;
    int kvm;                            /* accelerated */
    uint64_t start_ns;                  /* monotonic, at the spawn */
    struct qemu_fwd fwd[QEMU_MAX_FWDS]; /* with the host ports in use */
    unsigned nfwd;
};

/* Spawn QEMU for (cfg) (die_with_parent is ignored) with (det)'s channels
 * and return at once: QMP's greeting says when QEMU is up. A tap fd in
 * (cfg) is passed on as for qemu_vm_start. */
int qemu_start_detached(const struct qemu_vm_config *cfg,
                        const struct qemu_detached *det, struct qemu_proc *out,
                        struct lvm_err *err);

/*
 * A NIC on a lightvm bridge, as proc and kvm guests get (toolstack/nic.h:
 * the tap, MAC, lease and anti-spoofing filter entry, recorded in (gn) for
 * nic_release(gn, guest_id) when the guest has gone), and (cfg) set to use
 * it: the tap by fd as virtio-net, the leased MAC (the filter allows only
 * it), and the address, prefix and gateway for the Tinyx init
 * (tinyx.ip=, tinyx.gw=). Every NIC the spec names on its own
 * (ns->nics, --net NAME=BRIDGE) other than net0 comes after it, in that
 * order, as cfg->xnic (tinyx.nic=MAC,ADDR/PREFIX). Port forwards are
 * dropped: they are user-mode networking's. (*tap_fd) and the xnic fds
 * are the caller's to close once QEMU has started (qemu_nic_close).
 * Used by lightvmd (daemon/vm_qemu_net.c); the hook for a cold `lightvm
 * run --monitor qemu --net` (link with libmnl: lightvm-net).
 */
int qemu_nic_attach(struct qemu_vm_config *cfg, struct guest_net *gn,
                    const struct guest_net_spec *ns, const char *guest_id,
                    int *tap_fd, struct lvm_err *err);

/* Close (*tap_fd) and cfg's extra NICs' tap fds (QEMU has its own). */
void qemu_nic_close(struct qemu_vm_config *cfg, int *tap_fd);

/* What is known when QEMU has gone, for qemu_exit_describe. */
struct qemu_exit_facts {
    const struct qemu_guest_state *gs; /* the init's reports */
    int killed, timed_out;             /* the caller sent SIGKILL */
    int have_status;                   /* QEMU's wait status is known: */
    int wait_code, wait_status;        /* si_code, si_status of waitid() */
    unsigned long long oom_kills;      /* its cgroup's OOM kills */
    const char *log_line;              /* QEMU's last message, or NULL */
};

/* How the guest ended, with `lightvm run`'s exit codes. Pure. */
void qemu_exit_describe(const struct qemu_exit_facts *f, struct guest_exit *ex);

/* The last non-empty line QEMU wrote to (log_fd) (its stdout and stderr),
 * for error messages; "" if none. */
void qemu_last_log_line(int log_fd, char *buf, size_t len);

/* Parse "[ADDR:]HOST:GUEST" (a port forward; HOST 0 picks a free port).
 * 0, or -1 if it is not one. Pure. */
int qemu_fwd_parse(const char *s, struct qemu_fwd *f);

/* Seconds from start to the guest's ready message, or -1. */
double qemu_vm_ready_seconds(const struct qemu_vm *vm);

/* ---- pieces, exported for tests and the daemon ---------------------- */

/* 1 if KVM can run an ordinary Linux guest here, else 0 with the reason
 * in (why). */
int qemu_kvm_usable(char *why, size_t len);

/* The host's TSC frequency in kHz (for tsc_early_khz= under TCG), or 0. */
unsigned long qemu_host_tsc_khz(void);

/* Fds a QEMU command line refers to. */
struct qemu_fds {
    int console, ctl, qmp, tap; /* tap: -1 for none or by name */
    /* For a QEMU that outlives its caller (lightvmd): ctl and qmp are
     * listening sockets QEMU serves, one client at a time (server=on,
     * wait=off), so that a restarted caller can connect again; the console
     * is a file QEMU appends to (console_file: the fd (console) is one);
     * what the guest says on the control channel is also appended to the
     * file (ctl_log) (0: none; QEMU's fd 0 is /dev/null), whether or not
     * anyone is connected. */
    int listen;
    int console_file;
    int ctl_log;
    int exec; /* the exec channel (include/lightvm/tinyx_exec.h): a
                 virtio serial port on this fd; 0: none */
    int xtap; /* the extra NICs' taps (cfg->xnic) are this fd and the
                 next ones */
};

/* QEMU's argv for (cfg) with the fds QEMU will inherit; (kvm) picks the
 * accelerator, (tsc_khz) is used under TCG. Strings live in (storage). */
struct qemu_argv {
    char *argv[QEMU_ARGV_MAX + 1];
    int argc;
    char storage[8192];
    size_t used;
};
int qemu_build_argv(const struct qemu_vm_config *cfg,
                    const struct qemu_fds *fds, int kvm, unsigned long tsc_khz,
                    struct qemu_argv *a, struct lvm_err *err);

/* This run's settings for the Tinyx init (qemu_vm_config.runtime_conf):
 * the command (argc > 0: it replaces the image's) and environment
 * variables (NAME=VALUE, over the image's), as "key value" lines in a new
 * string (*out, free() it). -1 with one line in (err) naming what is
 * wrong: a newline in a value, a bad variable name, too much in all. */
int qemu_runtime_conf(char *const *argv, int argc, char *const *env, int envc,
                      char **out, struct lvm_err *err);

/* Send (conf) and its end on the control channel (fd), before anything
 * else goes there. */
int qemu_send_runtime_conf(int fd, const char *conf, struct lvm_err *err);
/* 1 if (s) can be a disk's serial (struct qemu_disk), else 0. Pure. */
int qemu_disk_serial_ok(const char *s);

/* Parse one control-channel line from the guest into (gs); 0 if it was a
 * Tinyx message, -1 if not. (now_ns) stamps "ready". */
int qemu_control_line(struct qemu_guest_state *gs, const char *line,
                      uint64_t now_ns);

/* Host-side TCP probe: 1 if (addr):(port) accepts a connection that the
 * far end keeps open for (hold_ms). User-mode networking accepts on the
 * host before the guest listens and then drops the connection; holding
 * tells the two apart. */
int qemu_tcp_probe(const char *addr, uint16_t port, int hold_ms);

#endif
