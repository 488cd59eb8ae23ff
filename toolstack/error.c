/*
 * error.c: error reporting for the toolstack (see error.h).
 */
#include "toolstack/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int lvm_err_set(struct lvm_err *err, int code, const char *fmt, ...)
{
    if (!err)
        return -1;
    err->code = code;
    err->plain = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return -1;
}

static int set_plain(struct lvm_err *err, int code, const char *fmt, va_list ap)
{
    if (!err)
        return -1;
    err->code = code;
    err->plain = 1;
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    return -1;
}

int lvm_err_invalid(struct lvm_err *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_plain(err, EINVAL, fmt, ap);
    va_end(ap);
    return -1;
}

int lvm_err_plain(struct lvm_err *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_plain(err, code, fmt, ap);
    va_end(ap);
    return -1;
}

int lvm_err_wrap(struct lvm_err *err, const char *fmt, ...)
{
    if (!err)
        return -1;
    char prefix[LVM_ERR_MSG_MAX], old[LVM_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    snprintf(err->msg, sizeof err->msg, "%s: %s", prefix, old);
    return -1;
}

const char *lvm_err_str(const struct lvm_err *err, char *buf, unsigned len)
{
    if (err->code > 0 && !err->plain)
        snprintf(buf, len, "%s: %s", err->msg, strerror(err->code));
    else
        snprintf(buf, len, "%s", err->msg);
    return buf;
}
