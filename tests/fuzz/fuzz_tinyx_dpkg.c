/*
 * fuzz_tinyx_dpkg.c: the dpkg status parser, Depends syntax and closure
 * on arbitrary input.
 */
#include "tinyx/dpkg.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int cb(unsigned group, const char *name, void *ctx)
{
    (void)group;
    *(size_t *)ctx += strlen(name);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dpkg_db db;
    struct lvm_err err;
    memset(&db, 0, sizeof db);
    snprintf(db.native_arch, sizeof db.native_arch, "amd64");
    if (dpkg_status_parse(&db, (const char *)data, size, &err) == 0) {
        size_t total = 0;
        for (size_t i = 0; i < db.n; i++) {
            dpkg_depends_each(db.pkgs[i].depends, cb, &total);
            dpkg_depends_each(db.pkgs[i].provides, cb, &total);
        }
        if (db.n)
            db.pkgs[0].mark = 1;
        dpkg_closure(&db);
        dpkg_find(&db, "libc6:amd64");
        dpkg_satisfy(&db, "mail-transport-agent");
    }
    dpkg_db_free(&db);
    return 0;
}
