/*
 * api.c: the SDK's public API (lightvm/guest.h) over the current binding.
 */
#include "sdk.h"

#include <lightvm/guest.h>
#include <stdio.h>
#include <string.h>

const struct lvm_bootinfo *lvm_bootinfo(void)
{
    return LVM_BI;
}

const volatile struct lvm_devpage *lvm_devpage(void)
{
    return LVM_DP;
}

const struct lvm_device *lvm_device_find(enum lvm_device_type type,
                                         const char *name)
{
    unsigned n = LVM_DP->ndevices;
    if (n > LVM_MAX_DEVICES)
        n = LVM_MAX_DEVICES;
    for (unsigned i = 0; i < n; i++) {
        const struct lvm_device *d = (const struct lvm_device *)&LVM_DP->dev[i];
        if (d->type != type)
            continue;
        if (!name || strncmp(d->name, name, LVM_DEVNAME_MAX) == 0)
            return d;
    }
    return 0;
}

long lvm_console_write(const void *buf, size_t len)
{
    return lvm__hc->console_write(buf, len);
}

uint64_t lvm_clock_monotonic(void)
{
    return lvm__hc->clock_monotonic();
}

uint64_t lvm_clock_wall(void)
{
    return lvm__hc->clock_wall();
}

uint64_t lvm_device_evmask(const struct lvm_device *dev)
{
    if (!dev || dev->evtchn >= LVM_MAX_EVTCHN)
        return 0;
    return 1ull << dev->evtchn;
}

uint64_t lvm_yield(uint64_t deadline_ns, uint64_t evmask)
{
    lvm__control_run_pending();
    uint64_t ctrl = lvm__control_evmask();
    for (;;) {
        /* A guest that yields is alive; one that spins is not. */
        uint64_t until = lvm__watchdog_ping_until(deadline_ns);
        uint64_t ready = lvm__hc->yield(until, evmask | ctrl);
        if (ready & ctrl) {
            lvm__hc->evtchn_clear((unsigned)__builtin_ctzll(ctrl));
            lvm__control_poll();
            return ready & evmask; /* let the caller see the request */
        }
        if ((ready & evmask) || until == deadline_ns ||
            lvm__hc->clock_monotonic() >= deadline_ns)
            return ready & evmask;
    }
}

void lvm_evtchn_clear(unsigned evtchn)
{
    lvm__hc->evtchn_clear(evtchn);
}

/* Without the network library no NIC is the stack's (its stack.c has the
 * real one). */
__attribute__((weak)) int lvm__net_owns(const struct lvm_device *dev)
{
    (void)dev;
    return 0;
}

long lvm__net_frame_read(const struct lvm_device *dev, void *buf, size_t len)
{
    if (!dev || dev->type != LVM_DEV_NET)
        return LVM_EINVAL;
    return lvm__hc->net_read(dev->handle, buf, len);
}

long lvm__net_frame_write(const struct lvm_device *dev, const void *buf,
                          size_t len)
{
    if (!dev || dev->type != LVM_DEV_NET || len > LVM_NET_FRAME_MAX)
        return LVM_EINVAL;
    return lvm__hc->net_write(dev->handle, buf, len);
}

/* A frame the app took from lwIP's NIC would be lost to the stack, one it
 * sent would bypass it: a NIC lwIP serves is the stack's alone. */
long lvm_net_read(const struct lvm_device *dev, void *buf, size_t len)
{
    if (dev && lvm__net_owns(dev))
        return LVM_EBUSY;
    return lvm__net_frame_read(dev, buf, len);
}

long lvm_net_write(const struct lvm_device *dev, const void *buf, size_t len)
{
    if (dev && lvm__net_owns(dev))
        return LVM_EBUSY;
    return lvm__net_frame_write(dev, buf, len);
}

static long block_io(const struct lvm_device *dev, uint64_t off, void *buf,
                     size_t len, int write)
{
    if (!dev || dev->type != LVM_DEV_BLOCK)
        return LVM_EINVAL;
    uint64_t bs = dev->u.block.block_size, cap = dev->u.block.capacity;
    if (!bs || off % bs || len % bs || off > cap || len > cap - off)
        return LVM_EINVAL;
    if (write && (dev->flags & LVM_DEVF_READONLY))
        return LVM_EINVAL;
    /* One block per hypercall: the monitor checks each against the device. */
    for (size_t done = 0; done < len; done += bs) {
        char *p = (char *)buf + done;
        long r = write ? lvm__hc->block_write(dev->handle, off + done, p, bs)
                       : lvm__hc->block_read(dev->handle, off + done, p, bs);
        if (r != (long)bs)
            return r < 0 ? r : LVM_EIO;
    }
    return (long)len;
}

long lvm_block_read(const struct lvm_device *dev, uint64_t offset, void *buf,
                    size_t len)
{
    return block_io(dev, offset, buf, len, 0);
}

long lvm_block_write(const struct lvm_device *dev, uint64_t offset,
                     const void *buf, size_t len)
{
    return block_io(dev, offset, (void *)buf, len, 1);
}

uint64_t lvm__watchdog_ping_until(uint64_t deadline_ns)
{
    uint32_t wd = LVM_DP->watchdog_ms;
    if (!wd)
        return deadline_ns;
    uint64_t now = lvm__hc->clock_monotonic();
    LVM_ST->watchdog_ns = now;
    uint64_t ping = now + (uint64_t)wd * 500000ull;
    return ping < deadline_ns ? ping : deadline_ns;
}

void lvm_watchdog_ping(void)
{
    LVM_ST->watchdog_ns = lvm__hc->clock_monotonic();
}

_Noreturn void lvm_exit(int status)
{
    LVM_ST->exit_reason = LVM_EXIT_NORMAL;
    LVM_ST->exit_status = status;
    lvm__hc->exit(status);
    __builtin_unreachable();
}

/*
 * The guest's end by the SDK (a forbidden call, abort(), a fatal signal,
 * an SDK error): the reason goes to the status page, what the program left
 * in stdout's buffer to the console, then the monitor reports the abort.
 * Flushing runs libc, which is not safe inside a served call (under proc
 * its writev would be trapped with SIGSYS blocked): the call is left
 * first, as a return into __lvm_fatal_stub. No other thread runs again,
 * and a second failure while flushing ends the guest at once.
 */
_Noreturn void lvm__fatal_exit(void)
{
    fflush(stdout);
    lvm__hc->abort();
    __builtin_unreachable();
}

_Noreturn void lvm__panic(const char *msg)
{
    if (lvm__dying)
        lvm__hc->abort();
    lvm__strlcpy(LVM_ST->message, msg, sizeof LVM_ST->message);
    LVM_ST->exit_reason = LVM_EXIT_ABORT;
    LVM_ST->exit_status = 134;
    lvm__dying = 1;
    if (lvm__in_syscall && lvm__entry_ctx)
        lvm__leave_to_fatal();
    lvm__fatal_exit();
}

_Noreturn void lvm_abort(const char *message)
{
    lvm__panic(message ? message : "lvm_abort()");
}
