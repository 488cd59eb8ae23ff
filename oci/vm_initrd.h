/*
 * vm_initrd.h: a VM container's initramfs, written at create into its
 * state directory: the Tinyx init as /init, the kernel modules a stock
 * kernel needs (virtio-mmio, -blk, -net, erofs, overlay) at their
 * /lib/modules paths, the init's configuration, and the file bind mounts
 * as /files/N. An uncompressed newc cpio: the kernel unpacks it without
 * a decompressor, and it is small (about 1 MB with a stock kernel's
 * modules, 100 KB without).
 */
#ifndef LVM_OCI_VM_INITRD_H
#define LVM_OCI_VM_INITRD_H

#include "oci/vm_conf.h"

#include <stddef.h>

/* Write the initramfs to (path): (init) (the init binary's host path),
 * the (nmods) modules (host paths, load order) listed in the init's
 * configuration as "module" lines before (vc)'s text, and (vc)'s files
 * (each at most 1 MiB, a regular file). 0, or -1 with (err) naming
 * what failed. */
int oci_vm_initrd_write(const char *path, const char *init, char *const *mods,
                        size_t nmods, const struct oci_vm_conf *vc, char *err,
                        size_t errlen);

#endif
