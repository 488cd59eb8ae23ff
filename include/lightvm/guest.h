/*
 * guest.h: the lightvm guest SDK, the API a unikernel application sees.
 *
 * Ordinary C works in a guest (printf, malloc, string.h, stdlib, math):
 * the SDK starts musl and serves the few Linux system calls it makes inside
 * the guest. This header adds what only a guest has: its devices, event
 * channels, the control device and the raw hypercalls.
 *
 * Declare the devices a guest needs once, at file scope:
 *
 *     LVM_MANIFEST(LVM_NET("net0"), LVM_BLOCK("disk0", LVM_DEVF_READONLY));
 *
 * A guest without LVM_MANIFEST gets an empty manifest (console and control
 * only). The toolstack refuses to start a guest whose manifest names a
 * device it has not attached.
 */
#ifndef LIGHTVM_GUEST_H
#define LIGHTVM_GUEST_H

#include <lightvm/abi.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Manifest ------------------------------------------------------------ */

#define LVM_NET(n)                                                             \
    {                                                                          \
        .type = LVM_DEV_NET, .flags = 0, .reserved = 0, .name = n              \
    }
#define LVM_BLOCK(n, fl)                                                       \
    {                                                                          \
        .type = LVM_DEV_BLOCK, .flags = (fl), .reserved = 0, .name = n         \
    }

/* A read-only block device holding a tar archive that the SDK merges into
 * the guest's file tree at its first file call (docs/sdk.md): declare
 * LVM_FILES_BLOCK in the manifest, attach `--block files=tree.tar`. */
#define LVM_FS_BLOCK "files"
#define LVM_FILES_BLOCK LVM_BLOCK(LVM_FS_BLOCK, LVM_DEVF_READONLY)

#define LVM__NDEV(...)                                                         \
    (sizeof((struct lvm_manifest_device[]){__VA_ARGS__}) /                     \
     sizeof(struct lvm_manifest_device))

/* Emits the manifest note (owner "lightvm", type LVM_NOTE_MANIFEST). */
#define LVM_MANIFEST(...)                                                      \
    __attribute__((section(".note.lightvm.manifest"), used, aligned(4)))       \
    const struct {                                                             \
        uint32_t namesz, descsz, type;                                         \
        char name[8];                                                          \
        struct lvm_manifest m;                                                 \
        struct lvm_manifest_device d[LVM__NDEV(__VA_ARGS__)];                  \
    } __lvm_manifest_note = {                                                  \
        8,                                                                     \
        sizeof(struct lvm_manifest) +                                          \
            LVM__NDEV(__VA_ARGS__) * sizeof(struct lvm_manifest_device),       \
        LVM_NOTE_MANIFEST,                                                     \
        LVM_NOTE_OWNER,                                                        \
        {LVM_MANIFEST_MAGIC, LVM_ABI_VERSION, LVM__NDEV(__VA_ARGS__)},         \
        {__VA_ARGS__}}

/* ---- Boot info and devices ------------------------------------------------ */

/* The boot info page the monitor wrote (never NULL in a running guest). */
const struct lvm_bootinfo *lvm_bootinfo(void);

/* The device page, read-only, kept current by the toolstack. */
const volatile struct lvm_devpage *lvm_devpage(void);

/* The device of (type) called (name), or the first of that type if (name)
 * is NULL; NULL if the guest has none. */
const struct lvm_device *lvm_device_find(enum lvm_device_type type,
                                         const char *name);

/* ---- Hypercalls ---------------------------------------------------------- */

/* Write (len) bytes of (buf) to the console; returns bytes written or < 0. */
long lvm_console_write(const void *buf, size_t len);

/* Monotonic and wall-clock time in nanoseconds. */
uint64_t lvm_clock_monotonic(void);
uint64_t lvm_clock_wall(void);

#define LVM_FOREVER UINT64_MAX

/*
 * Give up the CPU until the monotonic clock reaches (deadline_ns) or one of
 * the event channels in (evmask) fires; returns the mask of pending
 * channels (0 on timeout). Control requests (poweroff) are handled here as
 * a side effect, whatever the mask.
 */
uint64_t lvm_yield(uint64_t deadline_ns, uint64_t evmask);

/* Clear a pending event channel. */
void lvm_evtchn_clear(unsigned evtchn);

/* Event channel bit of a device, 0 if it raises none. */
uint64_t lvm_device_evmask(const struct lvm_device *dev);

/* Receive one frame into (buf); returns its length, LVM_EAGAIN or < 0:
 * LVM_EBUSY on a NIC the SDK's network stack serves (lvm_net_up() in
 * net.h), whose frames are the stack's. */
#define LVM_EBUSY (-16)
long lvm_net_read(const struct lvm_device *dev, void *buf, size_t len);

/* Send one frame of (len) <= LVM_NET_FRAME_MAX bytes (LVM_EBUSY as above). */
long lvm_net_write(const struct lvm_device *dev, const void *buf, size_t len);

/* Read or write (len) bytes at byte (offset); both must be multiples of the
 * device's block size. Returns (len) or < 0. */
long lvm_block_read(const struct lvm_device *dev, uint64_t offset, void *buf,
                    size_t len);
long lvm_block_write(const struct lvm_device *dev, uint64_t offset,
                     const void *buf, size_t len);

/* ---- Control device ------------------------------------------------------ */

/* Called once when the toolstack asks the guest to power off; the default
 * (no handler) is exit(0). A handler that returns leaves the guest running
 * and lvm_poweroff_requested() true; it should make main() return soon. */
void lvm_on_poweroff(void (*fn)(void *arg), void *arg);

/* Non-zero once a poweroff has been requested. */
int lvm_poweroff_requested(void);

/* Tell the toolstack's watchdog this guest is alive. */
void lvm_watchdog_ping(void);

/* ---- Leaving ------------------------------------------------------------- */

/* Exit now with (status), without running atexit handlers. */
_Noreturn void lvm_exit(int status);

/* Stop with an abort; (message) is shown by the toolstack. */
_Noreturn void lvm_abort(const char *message);

#endif /* LIGHTVM_GUEST_H */
