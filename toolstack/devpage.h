/*
 * devpage.h: a guest's device page and status page (NoXS). The toolstack
 * writes the device page, the guest reads it; the guest writes the status
 * page, the toolstack reads it. Both live in one memfd the toolstack keeps
 * mapped; nothing global is consulted or updated. Its third page is the
 * kvm monitor's report (shell/plan.h), which no guest maps.
 */
#ifndef LVM_TS_DEVPAGE_H
#define LVM_TS_DEVPAGE_H

#include "shell/plan.h"
#include "toolstack/error.h"

#include <lightvm/abi.h>

struct devpage {
    int fd; /* memfd: page 0 devpage, page 1 status, page 2 report */
    struct lvm_devpage *dp; /* toolstack's writable view */
    volatile struct lvm_status *st;
    volatile struct lvm_monitor_report *report; /* kvm monitor's, trusted */
};

#define DEVPAGE_FILE_SIZE (3 * LVM_PAGE_SIZE)
#define DEVPAGE_STATUS_OFFSET LVM_PAGE_SIZE
#define DEVPAGE_REPORT_OFFSET LVM_REPORT_OFFSET

/* Create the pages: in a file at (path) (which must not exist; a daemon
 * keeps it in the guest's run directory, so the pages outlive it), or in a
 * memfd if (path) is NULL. */
int devpage_create(struct devpage *d, const char *path, struct lvm_err *err);

/* Map the pages of an existing guest from its file (after a restart). */
int devpage_open(struct devpage *d, const char *path, struct lvm_err *err);
void devpage_destroy(struct devpage *d);

/* Append (dev) to (dp); assigns nothing, checks room and type. */
int devpage_add(struct lvm_devpage *dp, const struct lvm_device *dev,
                struct lvm_err *err);

/* The device called (name) of (type), or NULL. */
const struct lvm_device *devpage_find(const struct lvm_devpage *dp,
                                      unsigned type, const char *name);

/* Post a control request: the request, then a new sequence number. */
void devpage_control(struct lvm_devpage *dp, uint32_t request);

#endif
