/*
 * creds.h: act as an API client when touching files it names. lightvmd
 * runs as root; a member of the API group must not reach, through it, a
 * file it could not open itself.
 */
#ifndef LVM_DAEMON_CREDS_H
#define LVM_DAEMON_CREDS_H

#include "toolstack/error.h"

#include <sys/types.h>

#define CREDS_MAX_GROUPS 64

struct creds {
    uid_t uid;
    gid_t gid;
    int ngroups;
    gid_t groups[CREDS_MAX_GROUPS];
};

/* The peer's credentials on a connected unix socket. */
int creds_of_peer(int fd, struct creds *cr);

/* Open (path) as fs_open_data() does, with (cr)'s filesystem identity:
 * uid, gid and groups, for this thread only. Block devices only for root. */
int creds_open_data(const struct creds *cr, const char *path, int writable,
                    struct lvm_err *err);

/* fn(arg, err) with (cr)'s filesystem identity (a state file written as
 * the client); its result. */
int creds_call(const struct creds *cr,
               int (*fn)(void *arg, struct lvm_err *err), void *arg,
               struct lvm_err *err);

#endif
