/*
 * error.h: how the toolstack reports failures.
 *
 * Every function that can fail takes a `struct lvm_err *err`, fills it in
 * and returns -1 (see crun's design-docs/error_handling.md). Callers add
 * context with lvm_err_wrap() and pass it up; the CLI prints it once, the
 * daemon returns it in the API reply. Nothing in the library exits.
 */
#ifndef LVM_TS_ERROR_H
#define LVM_TS_ERROR_H

#define LVM_ERR_MSG_MAX 512

struct lvm_err {
    int code;                  /* errno value, or 0 for a logic error */
    char msg[LVM_ERR_MSG_MAX]; /* one line, no trailing newline */
    int plain;                 /* the message says it all: no strerror */
};

/* Set (err) to (code) and the formatted message; returns -1. */
int lvm_err_set(struct lvm_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A request or input that is wrong (not a system call that failed): code
 * EINVAL, so that the API answers "invalid", but printed without
 * strerror's ": Invalid argument", which would only repeat the message. */
int lvm_err_invalid(struct lvm_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* As lvm_err_set(), for a (code) the API answers by (ENOENT: "not
 * found", ...) whose strerror text would only repeat the message. */
int lvm_err_plain(struct lvm_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefix the message in (err) with formatted context; returns -1. */
int lvm_err_wrap(struct lvm_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The message with the errno text appended when there is one. */
const char *lvm_err_str(const struct lvm_err *err, char *buf, unsigned len);

#endif
