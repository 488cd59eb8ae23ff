/*
 * idrange.h: check that the host ids guests run as belong to nobody else.
 *
 * Each guest's root maps to host uid and gid (base + its pid). That range
 * must hold no user or group of the host and no subordinate ids given to
 * users for their own containers (/etc/subuid, /etc/subgid): a guest that
 * shared an id with them could reach their files and processes.
 */
#ifndef LVM_TS_IDRANGE_H
#define LVM_TS_IDRANGE_H

#include "toolstack/error.h"

#include <stdint.h>

/* Files to read; tests point these elsewhere. */
struct idrange_files {
    const char *passwd, *group, *subuid, *subgid;
};

extern const struct idrange_files idrange_host_files;

/* 0 if [base, base + count) is free in (f) (missing files are empty),
 * else -1 with (err) naming the first owner found. */
int idrange_check(const struct idrange_files *f, uint64_t base, uint64_t count,
                  struct lvm_err *err);

#endif
