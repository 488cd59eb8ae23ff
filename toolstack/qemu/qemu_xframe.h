/*
 * qemu_xframe.h: the host's side of a Tinyx guest's exec channel
 * (include/lightvm/tinyx_exec.h): building START, and reading the frames
 * a guest sends, which may be anything (the guest is not trusted).
 */
#ifndef LVM_QEMU_XFRAME_H
#define LVM_QEMU_XFRAME_H

#include "toolstack/error.h"

#include <lightvm/tinyx_exec.h>

#include <stddef.h>
#include <stdint.h>

/* One frame read from the guest. */
struct xframe {
    int type;
    const uint8_t *data; /* into the buffer given to xframe_next */
    size_t len;
};

/* The first frame in (buf, len): its size in bytes (> 0), 0 if the frame
 * is not complete yet, or -1 with (err) if it is malformed (too long, an
 * unknown type, a STARTED or EXIT payload not 4 bytes). Pure. */
long xframe_next(const uint8_t *buf, size_t len, struct xframe *f,
                 struct lvm_err *err);

/* A little-endian 32-bit payload (STARTED, EXIT). */
uint32_t xframe_u32(const struct xframe *f);

/* START for (argv) (argc >= 1), (env) NAME=VALUE, (cwd) and (user) (NULL:
 * the image's), as a whole frame in (out, *len) of at most
 * LVM_XF_HDR + LVM_XF_MAX bytes. -1 with (err) if an item holds a NUL
 * or it does not fit. */
int xframe_start(char *const *argv, int argc, char *const *env, int envc,
                 const char *cwd, const char *user, uint8_t *out, size_t *len,
                 struct lvm_err *err);

/* One command's session on an exec channel (fd, non-blocking, its START
 * frame given): stdin from (in_fd) (-1: none, EOF at once), output to
 * (out_fd) and (err_fd), signals read from (sig_fd) (a signalfd, or -1)
 * passed on to the command. */
struct xsession_result;
struct xsession_io {
    int in_fd, out_fd, err_fd, sig_fd;
    /* called once, when the command started (res->pid) or could not be
     * (res->error): lightvm-runtime's exec --detach returns then */
    void (*on_start)(void *arg, const struct xsession_result *res);
    void *arg;
};
struct xsession_result {
    int code;        /* as a shell would say: its status, 128+signal, 126
                        (could not run), 127 (not found); -1 unknown */
    int pid;         /* in the guest, once started */
    char error[512]; /* the guest's ERROR, or why the session failed */
};
/* 0 once the command's end is known (res->code), -1 if the channel
 * failed first (res->error). */
int qemu_xsession_run(int fd, const uint8_t *start, size_t start_len,
                      const struct xsession_io *io,
                      struct xsession_result *res);

#endif
