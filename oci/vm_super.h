/*
 * vm_super.h: a VM container's supervisor, its pid-file process
 * (docs/oci.md, "The pid-file process of a VM container"). Forked by
 * `create`, it stays behind when the runtime exits: the caller's
 * subreaper (conmon, containerd's shim) inherits it. In the container's
 * cgroup, it waits at the gate (exec.fifo) until `start`, then runs QEMU
 * as its child (QEMU dies with it), copies the console, relays signals
 * to the app through the init's control channel ("kill SIG") and exits
 * with the app's exit status ("tinyx exit STATUS"), 128+N for a signal.
 */
#ifndef LVM_OCI_VM_SUPER_H
#define LVM_OCI_VM_SUPER_H

#include "toolstack/qemu/qemu.h"

struct oci_vm_super {
    struct qemu_vm_config cfg; /* what to boot */
    int gate_fd;               /* read one byte before booting */
    int console;               /* where the console goes */
    int ready_fd;              /* written once in the cgroup, then closed */
};

/* Run the supervisor (in the forked child); never returns. */
void oci_vm_supervise(struct oci_vm_super *s) __attribute__((noreturn));

#endif
