/*
 * errf.c: the runtime's one-line error messages (oci.h: oci_errf).
 */
#include "oci/errf.h"

#include <stdarg.h>
#include <stdio.h>

int oci_errf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    /* One line, whatever the input quoted (jansson's "near" text may
     * hold a newline of config.json; a path may hold anything). */
    for (char *c = err; *c; c++)
        if ((unsigned char)*c < 0x20)
            *c = ' ';
    return -1;
}
