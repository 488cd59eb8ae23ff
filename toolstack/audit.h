/*
 * audit.h: learn which system call got a guest killed.
 *
 * The seccomp filter kills a guest in the kernel (SECCOMP_RET_KILL_PROCESS),
 * so nothing in the guest can hide or fake the attempt. The kernel logs
 * every such kill as an audit record (type 1326, AUDIT_SECCOMP) with the
 * host pid and the system call number; the toolstack reads those records
 * from the audit netlink multicast group. Where audit is unavailable the
 * kill is still reported, without the call's name.
 */
#ifndef LVM_TS_AUDIT_H
#define LVM_TS_AUDIT_H

#include <sys/types.h>

/* A socket subscribed to audit records, or -1 if unavailable. */
int audit_open(void);

/*
 * Read records until one reports a seccomp kill of (pid), or (timeout_ms)
 * pass; returns the system call number or -1. Records for other pids are
 * passed to (other), if given, so a daemon can serve many guests.
 */
long audit_wait_seccomp(int fd, pid_t pid, int timeout_ms,
                        void (*other)(pid_t pid, long nr, void *arg),
                        void *arg);

/* Parse one record's text; returns 0 and fills (pid, nr) for a seccomp
 * kill record. Exposed for tests. */
int audit_parse_seccomp(const char *text, size_t len, pid_t *pid, long *nr);

#endif
