/*
 * creds.c: open files as the API client that named them (see creds.h).
 *
 * The filesystem identity (fsuid, fsgid) and the supplementary groups are
 * per-thread in the kernel; the raw system calls change them for the
 * calling thread only (glibc's setgroups would change every thread,
 * including the pool thread). A fsuid other than 0 also clears the
 * thread's file capabilities until it is set back.
 */
#include "daemon/creds.h"
#include "toolstack/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

int creds_of_peer(int fd, struct creds *cr)
{
    memset(cr, 0, sizeof *cr);
    struct ucred uc;
    socklen_t len = sizeof uc;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
        return -1;
    cr->uid = uc.uid;
    cr->gid = uc.gid;
    len = sizeof cr->groups;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, cr->groups, &len) == 0)
        cr->ngroups = (int)(len / sizeof(gid_t));
    return 0;
}

/* Take (cr)'s filesystem identity for this thread; 0, or -1 (then
 * nothing changed). */
struct saved_ids {
    gid_t groups[CREDS_MAX_GROUPS];
    int n;
};

static int become(const struct creds *cr, struct saved_ids *sv,
                  struct lvm_err *err)
{
    sv->n = getgroups(CREDS_MAX_GROUPS, sv->groups);
    if (sv->n < 0 || syscall(SYS_setgroups, cr->ngroups, cr->groups) < 0)
        return lvm_err_set(err, errno, "take the client's groups");
    setfsgid(cr->gid);
    setfsuid(cr->uid);
    return 0;
}

static int took(const struct creds *cr)
{
    return (uid_t)setfsuid((uid_t)-1) == cr->uid &&
           (gid_t)setfsgid((gid_t)-1) == cr->gid;
}

static void unbecome(const struct saved_ids *sv)
{
    setfsuid(0);
    setfsgid(0);
    if (syscall(SYS_setgroups, sv->n, sv->groups) < 0 ||
        (uid_t)setfsuid((uid_t)-1) != 0)
        abort(); /* must not go on with a client's identity */
}

int creds_open_data(const struct creds *cr, const char *path, int writable,
                    struct lvm_err *err)
{
    if (cr->uid == 0)
        return fs_open_data_for_client(path, writable, 1, err);
    struct saved_ids sv;
    if (become(cr, &sv, err) < 0)
        return -1;
    int fd = -1;
    if (!took(cr))
        lvm_err_set(err, EPERM, "take the client's identity");
    else
        fd = fs_open_data_for_client(path, writable, 0, err);
    unbecome(&sv);
    return fd;
}

int creds_call(const struct creds *cr,
               int (*fn)(void *arg, struct lvm_err *err), void *arg,
               struct lvm_err *err)
{
    if (cr->uid == 0)
        return fn(arg, err);
    struct saved_ids sv;
    if (become(cr, &sv, err) < 0)
        return -1;
    int r = !took(cr) ? lvm_err_set(err, EPERM, "take the client's identity")
                      : fn(arg, err);
    unbecome(&sv);
    return r;
}
