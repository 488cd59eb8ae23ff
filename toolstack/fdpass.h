/*
 * fdpass.h: send a message with file descriptors over a unix socket.
 *
 * The toolstack hands a shell its plan and the guest's fds this way, and
 * the qemu monitor hands QEMU tap and listening fds over QMP; one helper
 * keeps the cmsg arithmetic in one place.
 */
#ifndef LVM_TS_FDPASS_H
#define LVM_TS_FDPASS_H

#include <stddef.h>
#include <sys/types.h>

/* The most fds one message carries (a plan's, LVM_PLAN_MAX_FDS). */
#define FDPASS_MAX_FDS 40

/* One sendmsg of (len) bytes of (buf) with (nfds) fds (0 for none) as
 * SCM_RIGHTS, flags MSG_NOSIGNAL | (flags), retried on EINTR. Returns what
 * sendmsg returns: bytes sent (short on a stream socket that is full) or
 * -1 with errno; nfds outside 0..FDPASS_MAX_FDS is -1 with EINVAL. */
ssize_t fdpass_send(int sock, const void *buf, size_t len, const int *fds,
                    int nfds, int flags);

#endif
