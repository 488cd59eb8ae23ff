/*
 * vm_image.h: a VM container's root disk: the bundle's rootfs as a
 * read-only erofs image (mkfs.erofs, Debian's erofs-utils), cached by a
 * key over the tree, so that containers of one image share one file
 * (and QEMUs of one image share its page cache). docs/oci.md, "The
 * image cache".
 */
#ifndef LVM_OCI_VM_IMAGE_H
#define LVM_OCI_VM_IMAGE_H

#include <stddef.h>

#define OCI_VM_CACHE_DEFAULT "/var/cache/lightvm/rootfs"

/*
 * The key of the tree at (dirfd): SHA-256 over each entry, in sorted
 * order, of its path, type, mode, owner, and for a file its size and
 * modification time (ns), for a link its target, for a device its
 * number. Directories' times are left out (podman's overlay gives each
 * container a fresh upper directory over the same layers), and so are
 * the paths in (skip) (the destinations of file bind mounts, which the
 * container sees as copies, not as the image has them). 64 hex digits
 * into (key); 0, or -1 with (err).
 */
int oci_vm_tree_key(int dirfd, const char *const *skip, int nskip, char key[65],
                    char *err, size_t errlen);

/* The cache directory: $LIGHTVM_ROOTFS_CACHE or OCI_VM_CACHE_DEFAULT. */
const char *oci_vm_cache_dir(void);

/* The image of (rootfs) for (key): the cached file, or one built now
 * (into a temporary file, renamed: concurrent creates of one image
 * each build and one wins). Its path into (path); 0, or -1 with
 * (err). */
int oci_vm_image(const char *rootfs, const char *key, char *path,
                 size_t pathlen, char *err, size_t errlen);

#endif
