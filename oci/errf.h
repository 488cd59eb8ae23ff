/*
 * errf.h: the runtime's one-line error messages.
 */
#ifndef LVM_OCI_ERRF_H
#define LVM_OCI_ERRF_H

#include <stddef.h>

/* Format into (err) of (errlen) bytes, control characters made spaces
 * (a message is one line: callers log it as runc does); returns -1. */
int oci_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
