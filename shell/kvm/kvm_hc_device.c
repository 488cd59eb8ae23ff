/*
 * kvm_hc_device.c: LVM_HC_NET_READ/WRITE and LVM_HC_BLOCK_READ/WRITE on the
 * fds the device page names, with the checks the proc policy makes in its
 * seccomp filter: one frame of at most LVM_NET_FRAME_MAX bytes; one whole,
 * aligned block inside the device, and no writes to a read-only one. The
 * device page is the toolstack's (read-only to the guest), so the guest
 * cannot widen what it names.
 */
#include "shell/kvm/kvm.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* The device of (type) with guest handle (handle), copied, or -1. */
static int find(const struct kvm_monitor *m, unsigned type, uint32_t handle,
                struct lvm_device *out)
{
    unsigned n = m->dp->ndevices;
    if (n > LVM_MAX_DEVICES)
        n = LVM_MAX_DEVICES;
    for (unsigned i = 0; i < n; i++) {
        if (m->dp->dev[i].type != type || m->dp->dev[i].handle != handle)
            continue;
        memcpy(out, (const void *)&m->dp->dev[i], sizeof *out);
        /* Device fds sit above the console and control fds, below the
         * monitor's own. */
        return out->handle > 2 && out->handle < LVM_KVM_VCPU_FD ? 0 : -1;
    }
    return -1;
}

static void net_io(struct kvm_monitor *m, void *block, int write_frame)
{
    struct lvm_hc_io a;
    struct lvm_device d;
    memcpy(&a, block, sizeof a);
    uint64_t len =
        a.len > LVM_NET_FRAME_MAX && !write_frame ? LVM_NET_FRAME_MAX : a.len;
    uint32_t prot = write_frame ? PROT_READ : PROT_READ | PROT_WRITE;
    if (find(m, LVM_DEV_NET, a.handle, &d) < 0 || len > LVM_NET_FRAME_MAX) {
        a.ret = LVM_EINVAL;
    } else if (!kvm_mem_ok(m, a.buf, len, prot)) {
        a.ret = LVM_EIO;
    } else {
        void *buf = (void *)(uintptr_t)a.buf;
        ssize_t r = write_frame ? write(d.handle, buf, (size_t)len)
                                : read(d.handle, buf, (size_t)len);
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            a.ret = LVM_EAGAIN;
        else
            a.ret = r < 0 ? LVM_EIO : r;
    }
    memcpy(block, &a, sizeof a);
}

void kvm_hc_net_read(struct kvm_monitor *m, void *block)
{
    net_io(m, block, 0);
}

void kvm_hc_net_write(struct kvm_monitor *m, void *block)
{
    net_io(m, block, 1);
}

static void block_io(struct kvm_monitor *m, void *block, int write_block)
{
    struct lvm_hc_io a;
    struct lvm_device d;
    memcpy(&a, block, sizeof a);
    uint32_t prot = write_block ? PROT_READ : PROT_READ | PROT_WRITE;
    uint64_t bs = 0, cap = 0;
    if (find(m, LVM_DEV_BLOCK, a.handle, &d) == 0) {
        bs = d.u.block.block_size;
        cap = d.u.block.capacity;
    }
    if (!bs || a.len != bs || a.offset % bs || cap < bs ||
        a.offset > cap - bs || (write_block && d.flags & LVM_DEVF_READONLY)) {
        a.ret = LVM_EINVAL;
    } else if (!kvm_mem_ok(m, a.buf, a.len, prot)) {
        a.ret = LVM_EIO;
    } else {
        void *buf = (void *)(uintptr_t)a.buf;
        ssize_t r;
        do
            r = write_block ? pwrite(d.handle, buf, (size_t)bs, (off_t)a.offset)
                            : pread(d.handle, buf, (size_t)bs, (off_t)a.offset);
        while (r < 0 && errno == EINTR);
        a.ret = r < 0 ? LVM_EIO : r;
    }
    memcpy(block, &a, sizeof a);
}

void kvm_hc_block_read(struct kvm_monitor *m, void *block)
{
    block_io(m, block, 0);
}

void kvm_hc_block_write(struct kvm_monitor *m, void *block)
{
    block_io(m, block, 1);
}
