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

#endif
