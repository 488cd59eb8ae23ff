/*
 * manifest_default.c: the manifest of a guest that declares no devices. It
 * is linked only when the application has no LVM_MANIFEST of its own.
 */
#include <lightvm/abi.h>
#include <stdint.h>

__attribute__((section(".note.lightvm.manifest"), used, aligned(4)))
const struct {
    uint32_t namesz, descsz, type;
    char name[8];
    struct lvm_manifest m;
} __lvm_manifest_note = {
    8,
    sizeof(struct lvm_manifest),
    LVM_NOTE_MANIFEST,
    LVM_NOTE_OWNER,
    {LVM_MANIFEST_MAGIC, LVM_ABI_VERSION, 0},
};
