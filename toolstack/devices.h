/*
 * devices.h: attach a guest's devices to host resources, fill in its
 * device page and record what its policy must allow. Console and control
 * are always present; every device in the manifest must be attached, and
 * nothing that is not in the manifest may be.
 */
#ifndef LVM_TS_DEVICES_H
#define LVM_TS_DEVICES_H

#include "toolstack/monitor.h"

struct guest;
struct guest_spec;

/* Guest fds: 1 and 2 the console, 3 the control eventfd, then devices. */
#define DEV_CONTROL_FD 3
#define DEV_FIRST_FD 4
#define DEV_CONTROL_EVTCHN 0
#define DEV_BLOCK_SIZE 512

int devices_attach(struct guest *g, const struct image *img,
                   const struct guest_spec *spec, struct attach *a,
                   struct lvm_err *err);

/* Close the host fds devices_attach opened (after the plan is sent). */
void devices_release(struct attach *a);

#endif
