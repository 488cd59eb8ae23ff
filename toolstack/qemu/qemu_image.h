/*
 * qemu_image.h: a qemu_vm_config for a Tinyx image directory.
 */
#ifndef LVM_QEMU_IMAGE_H
#define LVM_QEMU_IMAGE_H

#include "toolstack/qemu/qemu.h"
#include "toolstack/qemu/tinyx_manifest.h"
#include "toolstack/snapfile.h"

/* Fill (cfg) to boot image (m): its kernel and initramfs, its suggested
 * memory, user-mode networking with the health-check port forwarded from
 * a free host port (see vm->fwd once started). Strings point into (m). */
void qemu_config_from_image(const struct tinyx_manifest *m,
                            struct qemu_vm_config *cfg);

/* The host port forwarded to guest port (guest_port) of (vm), or 0. */
uint16_t qemu_vm_host_port(const struct qemu_vm *vm, uint16_t guest_port);

/* Wait until the image's TCP health port answers through its forward,
 * after the guest's own check passed; 0, or -1 on timeout. */
int qemu_vm_wait_answer(struct qemu_vm *vm, const struct tinyx_manifest *m,
                        int timeout_ms, struct lvm_err *err);

/* The identity of a Tinyx image, as a state file records it (docs/tinyx.md,
 * "Saving a guest"): what the guest boots and what describes it.
 *
 *   hash = SHA-256( SHA-256(manifest.json) || SHA-256(kernel) ||
 *                   SHA-256(initramfs) )
 *   size = the three files' sizes added up
 *
 * (manifest, len): manifest.json's bytes as read; (kernel_fd) and
 * (initrd_fd) are read whole with pread (their positions do not move). */
int tinyx_image_identity(const void *manifest, size_t len, int kernel_fd,
                         int initrd_fd, uint8_t hash[SNAP_HASH_LEN],
                         uint64_t *size, struct lvm_err *err);

#endif
