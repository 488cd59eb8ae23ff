/*
 * vm_conf.h: a bundle booted as a Tinyx-style VM (docs/oci.md, "Any
 * other rootfs: a VM"): what its config.json becomes in the VM. The
 * Tinyx init's configuration (tinyx/init: one "key value" per line) that
 * mounts the root image and its writable layer, switches into it and
 * runs process; the file bind mounts to copy into the writable layer.
 * Pure: no files are read here.
 */
#ifndef LVM_OCI_VM_CONF_H
#define LVM_OCI_VM_CONF_H

#include <stddef.h>
#include <stdint.h>

/* The Tinyx init's limits (tinyx/init/init.h): more is refused here, at
 * create, rather than by the init at boot. */
#define OCI_VM_MAX_FILES 16
#define OCI_VM_MAX_ARGS 64
#define OCI_VM_MAX_ENV 64
#define OCI_VM_MAX_MOUNTS 32 /* with the 3 of the root */
#define OCI_VM_MAX_GROUPS 32
#define OCI_VM_MAX_RLIMITS 16
#define OCI_VM_ROOT_SERIAL "lvm-root" /* the root image's virtio serial */

/* A file bind mount: copied at create, a snapshot (not live). */
struct oci_vm_file {
    char *source;      /* the host file */
    char *destination; /* in the container */
};

struct oci_vm_conf {
    char *init_conf; /* the init's configuration text (malloc'd) */
    size_t len;
    struct oci_vm_file files[OCI_VM_MAX_FILES]; /* in the initramfs as
                                                   /files/N */
    int nfiles;
};

/* Map config.json (json, len) to (out): process (args, env, cwd, user,
 * rlimits), hostname, root.readonly and mounts. Mounts: proc, sysfs,
 * cgroup and mqueue at their usual places, and the /dev tmpfs, are the
 * guest's own; other tmpfs and devpts mounts are made in the guest; a
 * bind of a file is copied; /dev/shm is a tmpfs whatever it is bound to;
 * any other mount (a directory bind) is refused, naming it. 0, or -1
 * with a one-line message in (err). Free with oci_vm_conf_free. */
int oci_vm_conf_build(const char *json, size_t len, struct oci_vm_conf *out,
                      char *err, size_t errlen);
void oci_vm_conf_free(struct oci_vm_conf *c);

#endif
