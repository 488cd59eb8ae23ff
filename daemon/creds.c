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

int creds_open_data(const struct creds *cr, const char *path, int writable,
                    struct lvm_err *err)
{
    if (cr->uid == 0)
        return fs_open_data(path, writable, 1, err);
    gid_t saved[CREDS_MAX_GROUPS];
    int nsaved = getgroups(CREDS_MAX_GROUPS, saved);
    if (nsaved < 0 ||
        syscall(SYS_setgroups, cr->ngroups, cr->groups) < 0)
        return lvm_err_set(err, errno, "take the client's groups");
    setfsgid(cr->gid);
    setfsuid(cr->uid);
    int fd = -1;
    if ((uid_t)setfsuid((uid_t)-1) != cr->uid ||
        (gid_t)setfsgid((gid_t)-1) != cr->gid)
        lvm_err_set(err, EPERM, "take the client's identity");
    else
        fd = fs_open_data(path, writable, 0, err);
    setfsuid(0);
    setfsgid(0);
    if (syscall(SYS_setgroups, nsaved, saved) < 0 ||
        (uid_t)setfsuid((uid_t)-1) != 0)
        abort(); /* must not go on with a client's identity */
    return fd;
}
