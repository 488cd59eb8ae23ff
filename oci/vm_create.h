/*
 * vm_create.h: `create` of a bundle that is not a unikernel: its rootfs
 * boots as a Tinyx-style Linux VM under the qemu monitor (docs/oci.md,
 * "Any other rootfs: a VM"). The container's process is a supervisor
 * (oci/vm_super.c): this process's child, in the container's cgroup,
 * parent of QEMU, waiting at the gate like a unikernel's shell.
 */
#ifndef LVM_OCI_VM_CREATE_H
#define LVM_OCI_VM_CREATE_H

#include "oci/config.h"
#include "oci/state.h"

#include <stddef.h>

/* 1 if the bundle is to boot as a VM: annotation org.lightvm.monitor
 * "qemu", or no such annotation and a process.args[0] (open at (exe))
 * that is no lightvm guest; 0 for a unikernel. */
int oci_vm_wanted(const struct oci_config *c, int exe);

/* Everything for the VM of the bundle (config file (cfg_path), rootfs
 * at (rootfs)), then its supervisor, started and waiting at (gate_fd);
 * its console is (console). Fills st->pid, pid_start and monitor. 0, or
 * -1 with a one-line message in (err). */
int oci_vm_create(struct oci_state *st, const struct oci_config *c,
                  const char *cfg_path, const char *rootfs, int gate_fd,
                  int console, char *err, size_t errlen);

/* The files create leaves in a VM container's state directory, for
 * delete (NULL-terminated). */
extern const char *const oci_vm_state_files[];

/* The exec channel's socket in the state directory, which QEMU serves
 * (include/lightvm/tinyx_exec.h; oci/cmd_exec.c connects to it). */
#define OCI_VM_EXEC_SOCK "exec.sock"
struct sockaddr_un;
struct lvm_err;
/* Its address, through /proc/self/fd of (*dirfd) (the caller closes it):
 * a state directory's path may be longer than a socket's. */
int oci_vm_exec_addr(const struct oci_state *st, int *dirfd,
                     struct sockaddr_un *a, struct lvm_err *e);
/* A listening socket there (0600), or -1 with (e). */
int oci_vm_exec_listen(const struct oci_state *st, struct lvm_err *e);

#endif
