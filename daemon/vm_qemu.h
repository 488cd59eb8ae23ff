/*
 * vm_qemu.h: lightvmd's state for a guest under the qemu monitor, shared
 * by vm_qemu_create.c (create, restore), vm_qemu.c (channels, exit),
 * vm_qemu_ops.c (what goes through QMP: start, restore, pause, save) and
 * vm_qemu_adopt.c (after a daemon restart). Internal to those files.
 *
 * QEMU runs detached (toolstack/qemu/qemu.h): it serves QMP and the
 * control channel on unix sockets in the guest's run directory, writes
 * the console and the init's reports to files there, and lives in the
 * guest's cgroup. The daemon holds QEMU's pidfd and a connection to each
 * socket, all in its epoll set.
 */
#ifndef LVM_DAEMON_VM_QEMU_H
#define LVM_DAEMON_VM_QEMU_H

#include "daemon/vm_monitor.h"
#include "toolstack/qemu/qemu.h"
#include "toolstack/qemu/qemu_qmpa.h"
#include "toolstack/qemu/tinyx_manifest.h"
#include "toolstack/snapfile.h"

/* Files of a qemu guest's run directory, besides config.json, exit.json
 * and console.log. */
#define QVM_QMP_SOCK "qmp.sock"
#define QVM_CTL_SOCK "ctl.sock"
#define QVM_CTL_LOG "ctl.log"     /* everything the init reported */
#define QVM_EXEC_SOCK "exec.sock" /* the exec channel (tinyx_exec.h) */
#define QVM_QEMU_LOG "qemu.log"   /* QEMU's stdout and stderr */
#define QVM_READY "ready"         /* ready_ms, once heard */

#define QVM_PIDS_MAX 128 /* QEMU's threads */
#define QVM_MAX_JOIN 8   /* cgroup files QEMU joins (one per v1 hierarchy) */

/* Deadlines for QEMU to answer, in seconds. */
#define QVM_START_S 30    /* from the spawn to QMP's greeting */
#define QVM_QMP_S 10      /* stop, cont */
#define QVM_MIGRATE_S 300 /* save, restore */

enum qop_kind {
    QOP_NONE,
    QOP_START,
    QOP_RESTORE,
    QOP_PAUSE,
    QOP_UNPAUSE,
    QOP_SAVE,
    QOP_ADOPT
};

/* The one QMP-driven operation in progress, and who waits for it. */
struct qop {
    enum qop_kind kind;
    unsigned gen;     /* tells a late reply from the current operation */
    struct waiter *w; /* the client to answer, or NULL */
    uint64_t t0, deadline;
    int fd;          /* restore: the state file, at its blob, until QEMU
                        has it */
    int migrating;   /* a MIGRATION event ends it */
    int was_running; /* save: resume the guest if the save fails */
    int timed_out;
    char path[PATH_MAX];   /* save, restore: the state file */
    struct creds cr;       /* save: whose file it is */
    struct snap_writer wr; /* save: the state file, begun (wr.fd >= 0);
                              QEMU writes its stream into it */
    int leave_running;     /* save: the guest goes on after it */
    uint8_t image_hash[SNAP_HASH_LEN]; /* save: the image's identity */
    uint64_t image_size;
    char image_name[64];
    json_t *saved; /* save: the reply's "saved", once committed */
};

/* Its fds in the daemon's loop, besides QEMU's pidfd (EP_SLOT_PROCESS). */
enum { QVM_SLOT_QMP = 1, QVM_SLOT_CTL };

struct qvm {
    struct daemon *d;
    struct cgroup cg;
    int have_cg;
    int cg_tries;     /* removals of a busy cgroup left to try, after exit */
    int pidfd;        /* QEMU's; -1 once it has gone */
    int child;        /* QEMU is our child (not adopted): reap it */
    struct qmpa *qmp; /* NULL when not connected */
    int ctl_fd;       /* the guest's ttyS1, or -1 */
    struct ep_item ep_qmp, ep_ctl;
    char ctlbuf[512];
    size_t ctllen;
    char *runconf;    /* "args" and "env", sent when the init has booted */
    unsigned volumes; /* its volumes (none after an adoption: see save) */
    struct qemu_guest_state gs;
    uint64_t start_ns; /* spawn, or the start of the restore */
    double ready_ms;   /* from start_ns to the init's "ready"; -1 */
    int kvm;
    struct qemu_fwd fwd[QEMU_MAX_FWDS];
    unsigned nfwd;
    uint64_t console_limit; /* QEMU's soft RLIMIT_FSIZE */
    int restored;
    int saved_stopped;     /* stopped by a save, not unpaused since: QEMU
                          refuses to migrate it again */
    struct guest_net *net; /* its NIC on a bridge ("net"), or NULL */
    /* What a save records (vm_qemu_snap.c): the create request's fields,
     * and the image it booted: its manifest's bytes, and the kernel and
     * initramfs QEMU was given (-1 for an adopted guest: a save then
     * reads the image by its path). */
    json_t *recipe;
    char *manifest;
    size_t manifest_len;
    char image_name[64];
    int kernel_fd, initrd_fd;
    struct qop op;
};

static inline struct qvm *qvm_of(const struct vm *v)
{
    return v->priv;
}

/* vm_qemu.c */
/* A new qvm for (v) with nothing open. */
struct qvm *qvm_new(struct daemon *d, struct vm *v);
/* SIGKILL QEMU; its exit is handled when its pidfd says so. */
int qvm_kill(struct vm *v);
/* Connect to the guest's QMP and control sockets and watch them. */
int qvm_connect(struct vm *v, struct lvm_err *err);
/* Close both connections. */
void qvm_disconnect(struct qvm *q);
/* A control-channel line, from the socket or the log. */
void qvm_control_line(struct vm *v, const char *line, int live);
/* Re-read everything the init reported, from ctl.log. */
void qvm_replay_ctl_log(struct vm *v);
/* A connection to the guest's exec channel (include/lightvm/tinyx_exec.h)
 * for `lightvm exec`, in (*fd): the daemon hands it to the client and
 * never reads it. */
int qvm_exec_channel(struct vm *v, int *fd, struct lvm_err *err);
/* Set QEMU's soft RLIMIT_FSIZE (0: none). */
int qvm_file_limit(struct vm *v, uint64_t limit);

/* vm_qemu_ops.c */
/* Begin (kind) for (w) (may be NULL) with the first QMP command. */
int qop_start(struct vm *v, enum qop_kind kind, struct waiter *w,
              struct lvm_err *err);
/* QEMU has gone: answer whoever waits for an operation. (reported): the
 * guest had been reported created. */
void qop_abort(struct vm *v, const char *why);
/* Give back what (op) holds (a state file's temporary is removed) and
 * reset it to no operation (its gen too). */
void qop_clear(struct qop *op);
/* A QMP event. */
void qop_event(void *arg, const struct qmp_msg *m);
/* The monitor's pause and save (vm_monitor.h). */
void qvm_pause(struct daemon *d, struct vm *v, struct waiter *w, int pause);
void qvm_save(struct daemon *d, struct vm *v, struct waiter *w,
              const struct request *r);

/* vm_qemu_create.c */
void qvm_create(struct daemon *d, struct waiter *w, const struct request *r,
                int fd);

/* A Tinyx image directory as a client reads it. */
struct qvm_image {
    struct tinyx_manifest m;
    char *text; /* manifest.json's bytes */
    size_t len;
    int kernel_fd, initrd_fd;
};
/* Open image (dir) as (cr): its manifest read and parsed, its kernel and
 * initramfs open. On failure (im) holds nothing. */
int qvm_image_open(const char *dir, const struct creds *cr,
                   struct qvm_image *im, struct lvm_err *err);
void qvm_image_close(struct qvm_image *im);

/* vm_qemu_snap.c: state files (docs/snapshot-format.md) */
/* Begin a save of (v) into r->path as (cr) (q->op): the image's identity
 * taken, the state file's temporary made, ready for QEMU's stream. -1
 * with (err) (EEXIST: the file exists) and nothing left behind. */
int qvm_save_begin(struct vm *v, const struct request *r,
                   const struct creds *cr, struct lvm_err *err);
/* QEMU's stream is complete in the temporary: finish the state file and
 * set q->op.saved. -1 with (err) if it could not be made (q->op's end
 * removes the temporary). */
int qvm_save_commit(struct vm *v, struct lvm_err *err);
/* Restore: (r->state) against image (im) and the request; -1 with one
 * line in (err) if they do not go together. */
int qvm_restore_check(const struct request *r, const struct qvm_image *im,
                      struct lvm_err *err);
/* What (v) holds for a later save: (r)'s recipe, (im)'s manifest and
 * files (taken from (im): it no longer holds them). */
void qvm_keep_image(struct vm *v, const struct request *r,
                    struct qvm_image *im);

/* vm_qemu_net.c */
/* 0 if the request's "net" goes with the rest of it; else why not. */
int qvm_net_check(const struct request *r, struct lvm_err *err);
/* Attach the NIC "net" asks for (none: 0, *tap_fd -1) and set (cfg) to
 * hand QEMU its tap (*tap_fd: close it once QEMU has it). What was made
 * is in q->net, for qvm_net_release() even on failure. */
int qvm_net_attach(struct daemon *d, struct vm *v, const struct request *r,
                   struct qemu_vm_config *cfg, int *tap_fd,
                   struct lvm_err *err);
/* Release its tap, lease and filter entry (QEMU has gone). */
void qvm_net_release(struct vm *v);

/* vm_qemu_adopt.c */
void qvm_recover(struct daemon *d, struct vm *v, json_t *cfg, int alive);

#endif
