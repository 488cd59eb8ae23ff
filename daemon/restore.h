/*
 * restore.h: a restore, or a clone from a state file, before a monitor
 * takes it: the state file is read as the client and checked, and the
 * request the monitor gets is the guest's recipe (the create request its
 * state file carries) with what the client asked for on top. It goes
 * through the operator's policy like any create.
 */
#ifndef LVM_DAEMON_RESTORE_H
#define LVM_DAEMON_RESTORE_H

#include "daemon/daemon.h"
#include "toolstack/snapfile.h"

struct restore_ctx {
    struct request req; /* what the monitor gets */
    struct snap_info info;
    struct guest_resume resume;
    struct snap_base *base;
    int fd; /* the state file */
};

/* Read r->path for (r) (a restore, or a clone of a state file) as (cr)
 * into (x). -1 with the API error code in (*code) and (err). */
int restore_prepare(struct daemon *d, const struct creds *cr,
                    const struct request *r, struct restore_ctx *x,
                    const char **code, struct lvm_err *err);

/* A guest coming in by migration: (info) (moved into x) and its RAM
 * (ram_fd, a memfd; consumed), as (cr)'s restore of it, held before its
 * first instruction (LVM_RESUME_HOLD) until the migration commits. */
int restore_prepare_migration(struct daemon *d, const struct creds *cr,
                              struct snap_info *info, int ram_fd,
                              struct restore_ctx *x, const char **code,
                              struct lvm_err *err);

void restore_done(struct restore_ctx *x);

/* The recipe a state file of (v) carries, as JSON text (malloc'd, or
 * NULL): (recipe), its create request's fields, without those that name
 * that request only, with its image path and name, and (extra)'s fields
 * (consumed; may be NULL) on top. */
char *state_recipe_text(const struct vm *v, const json_t *recipe,
                        json_t *extra);

/* A save's state file, begun and committed with (cr)'s filesystem
 * identity: the file is the client's, where the client may write. */
int state_write_begin(const struct creds *cr, struct snap_writer *wr,
                      const char *path, int force, struct lvm_err *err);
int state_write_commit(const struct creds *cr, struct snap_writer *wr,
                       const struct snap_info *info, struct lvm_err *err);

#endif
