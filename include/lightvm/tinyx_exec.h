/*
 * tinyx_exec.h: the exec channel of a Tinyx guest (`lightvm exec`).
 *
 * A virtio serial port named "lightvm.exec" joins the host to the guest's
 * init. QEMU serves it as a unix socket, one client at a time; a client
 * (the CLI, given the socket by lightvmd) runs one command per connection:
 *
 *   host -> guest  START (once), then STDIN data, EOF, SIGNAL
 *   guest -> host  STARTED, STDOUT and STDERR data, then EXIT or ERROR
 *
 * Every message is a frame: a 4-byte header (type, flags (0), payload
 * length, little-endian) and at most LVM_XF_MAX payload bytes. START's
 * payload is NUL-terminated items: "a:ARG" (the command and its
 * arguments, in order, at least one), "e:NAME=VALUE" (environment, over
 * the image's), "w:DIR" (working directory), "u:USER[:GROUP]" (names or
 * numbers; default: the app's user). When the client goes away, the
 * command's process group is killed.
 *
 * Both ends treat what they read as hostile: the guest controls what it
 * sends, and lightvmd never reads this channel at all.
 */
#ifndef LIGHTVM_TINYX_EXEC_H
#define LIGHTVM_TINYX_EXEC_H

#include <stddef.h>
#include <stdint.h>

#define LVM_XF_PORT "lightvm.exec"
#define LVM_XF_HDR 4
#define LVM_XF_MAX 4096 /* payload bytes of one frame */

enum lvm_xf_type {
    /* host -> guest */
    LVM_XF_START = 1,  /* items, see above */
    LVM_XF_STDIN = 2,  /* data for the command's stdin */
    LVM_XF_EOF = 3,    /* close its stdin */
    LVM_XF_SIGNAL = 4, /* 1 byte: a signal for its process group */
    /* guest -> host */
    LVM_XF_STARTED = 16, /* 4 bytes: its pid in the guest */
    LVM_XF_STDOUT = 17,
    LVM_XF_STDERR = 18,
    LVM_XF_EXIT = 19,  /* 4 bytes: its wait status */
    LVM_XF_ERROR = 20, /* text: why it did not start */
};

/* Write a frame header for (type) and (len) payload bytes into (h). */
static inline void lvm_xf_header(uint8_t h[LVM_XF_HDR], int type, size_t len)
{
    h[0] = (uint8_t)type;
    h[1] = 0;
    h[2] = (uint8_t)(len & 0xff);
    h[3] = (uint8_t)(len >> 8);
}

/* The payload length a header announces. */
static inline size_t lvm_xf_len(const uint8_t h[LVM_XF_HDR])
{
    return (size_t)h[2] | (size_t)h[3] << 8;
}

#endif
