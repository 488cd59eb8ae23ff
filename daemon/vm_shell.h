/*
 * vm_shell.h: what the files of the proc and kvm monitors in lightvmd
 * share: vm_shell.c (create, exit, pause, control, records) and
 * vm_shell_snap.c (save, restore, clone).
 */
#ifndef LVM_DAEMON_VM_SHELL_H
#define LVM_DAEMON_VM_SHELL_H

#include "daemon/vm_monitor.h"

/* Saved RAM that restored or cloned guests map copy-on-write; the last
 * of them to go closes it. */
struct snap_base {
    int fd;
    unsigned refs;
};

struct svm_snap; /* a save or clone in progress (vm_shell_snap.c) */

/* A shell guest's state (vm->priv). */
struct svm {
    struct guest *g; /* toolstack state; freed when the guest exits */
    struct cached_image *img;
    int reap_pending; /* adopted: waiting for init to reap it */
    uint64_t reap_deadline;
    json_t *recipe; /* its create request's fields: a state file keeps them
                       to recreate its devices */
    struct snap_base *base; /* the saved RAM it continues from, or NULL */
    struct svm_snap *snap;  /* a save or clone in progress, or NULL */
    json_t *image_key;      /* adopted: the identity (dev, ino, size, mtime)
                          of the image file it runs, recorded at create,
                          so that it is loaded again only if unchanged */
    int migration;          /* SVM_MIGRATION_*: recorded in config.json */
};

/* svm.migration: where a migration stands, for a daemon that restarts */
enum {
    SVM_MIGRATION_NONE,
    SVM_MIGRATION_OUT, /* the source, committing: never runs again
                          unless the user says so */
    SVM_MIGRATION_IN,  /* the destination's copy, held: goes unless the
                          migration commits */
};

/* Its fds in the daemon's loop (vm_watch slots). */
#define SVM_SLOT_SNAP 1 /* the timer that watches for a snapshot's park */
#define SVM_SLOT_MIG 2  /* a migration's thread speaks */

static inline struct svm *svm(const struct vm *v)
{
    return v->priv;
}

static inline struct guest *guest_of(const struct vm *v)
{
    return v->priv ? svm(v)->g : NULL;
}

/* Create a guest as (r) asks, for client (cr), under (vmon): the new
 * guest, inserted, or NULL with the API error code in (*code) and the
 * message in (err). (fd): what came with the request, or -1; not
 * consumed. */
struct vm *shell_make(struct daemon *d, const struct creds *cr,
                      const struct request *r, int fd,
                      const struct vm_monitor *vmon, const char **code,
                      struct lvm_err *err);

void snap_base_put(struct snap_base *b);

/* 0 if cached image (ci), loaded from (path), is the one state (in)
 * needs (same SHA-256 and size); else -1 with both named in (err). */
int shell_same_image(struct cached_image *ci, const struct snap_info *in,
                     const char *path, struct lvm_err *err);

/* The image of adopted guest (v), loaded again from its path as (cr) if
 * that is still the file it was created from. */
int shell_reload_image(struct daemon *d, struct vm *v, const struct creds *cr,
                       struct lvm_err *err);

/* The proc or kvm guest one of whose NICs has (mac), or NULL. */
const struct vm *shell_mac_owner(struct daemon *d, const uint8_t mac[6]);

/* vm_shell_snap.c: the monitors' save and clone, the timer event, and
 * the end of an operation a guest's exit cut short. */
void shell_save(struct daemon *d, struct vm *v, struct waiter *w,
                const struct request *r);
void shell_clone(struct daemon *d, struct vm *src, struct waiter *w,
                 const struct request *r);
void shell_snap_event(struct daemon *d, struct vm *v);
void shell_migrate(struct daemon *d, struct vm *v, struct waiter *w,
                   const struct request *r, int fd);
void shell_mig_event(struct daemon *d, struct vm *v);
void shell_snap_cancel(struct daemon *d, struct vm *v, const char *why);

#endif
