/*
 * vm_shell_snap.h: what save, clone (vm_shell_snap.c) and migration
 * (vm_shell_migrate.c) of proc and kvm guests share: one operation at a
 * time per guest, which starts by asking the guest to park for a
 * snapshot and watching for it.
 */
#ifndef LVM_DAEMON_VM_SHELL_SNAP_H
#define LVM_DAEMON_VM_SHELL_SNAP_H

#include "daemon/vm_shell.h"
#include "toolstack/snapfile.h"

#include <limits.h>

#define SNAP_PARK_TIMEOUT_NS 5000000000ull
#define SNAP_POLL_NS 200000 /* how often the park is looked for */

enum { SNAP_OP_SAVE, SNAP_OP_CLONE, SNAP_OP_MIGRATE };

struct mig_out; /* a migration's sending side (vm_shell_migrate.c) */

struct svm_snap {
    int kind;
    struct waiter *w;
    struct creds cr;
    struct snap_writer wr; /* save: the state file, begun */
    char path[PATH_MAX];
    int leave_running, was_paused;
    unsigned count;
    char stem[64]; /* clone: names are stem-1, stem-2, ... */
    int timerfd;
    struct ep_item ep;
    uint64_t t0, deadline, t_parked;
    int slow;            /* polled every 5 ms now */
    struct mig_out *mig; /* migrate */
};

/* A new operation of (kind) for (w), or NULL (then (w) is answered). */
struct svm_snap *snap_op_new(struct daemon *d, struct waiter *w, int kind);

/* Refuse what cannot be snapshotted now (exited, busy, image gone);
 * answers (w) then and returns -1. (what): "saved", "cloned", ... */
int snap_can(struct daemon *d, struct vm *v, struct waiter *w,
             const char *what);

/* Ask (v) to park and watch for it; (op) becomes its operation. */
int snap_begin(struct daemon *d, struct vm *v, struct svm_snap *op,
               struct lvm_err *err);

/* The guest continues as it was: unparked, frozen again if it was. */
void snap_release_guest(struct vm *v);

/* Forget (v)'s operation (its timer, its file, its migration). */
void snap_free(struct vm *v);

/* What a state file (or a migration's HELLO) says of (v), besides its
 * pages. */
int snap_fill_info(struct vm *v, struct snap_info *info, struct lvm_err *err);

/* With LIGHTVM_FAULT=(name), SIGKILL the daemon here (for the tests of a
 * daemon that dies in the middle of an operation); with (name)-stall,
 * wait here until the file $LIGHTVM_FAULT_RELEASE exists (a migration's
 * thread only: the loop must never wait). */
void fault_point(const char *name);

/* vm_shell_migrate.c */
void mig_out_parked(struct daemon *d, struct vm *v);
void mig_out_free(struct mig_out *m);

#endif
