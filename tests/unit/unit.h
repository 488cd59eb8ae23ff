/* unit.h: shared includes and helpers for the cmocka unit tests. */
#ifndef LVM_UNIT_H
#define LVM_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A built test guest, read whole; $LIGHTVM_TEST_GUESTS or build/... */
static inline void *unit_read_guest(const char *name, size_t *len)
{
    const char *dir = getenv("LIGHTVM_TEST_GUESTS");
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir ? dir : "build/tests/guests",
             name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s (build the tests first)", path);
    char *buf = malloc(8 << 20);
    assert_non_null(buf);
    *len = fread(buf, 1, 8 << 20, f);
    fclose(f);
    return buf;
}

#endif
