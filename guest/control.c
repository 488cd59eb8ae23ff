/*
 * control.c: the control device. The toolstack writes a request and a new
 * sequence number into the device page and raises the control event
 * channel; the guest acts on it the next time it yields and acknowledges
 * the sequence number in its status page.
 */
#include "sdk.h"

#include <lightvm/guest.h>
#include <stdlib.h>

static void (*poweroff_fn)(void *);
static void *poweroff_arg;
static int poweroff_requested;

void lvm_on_poweroff(void (*fn)(void *arg), void *arg)
{
    poweroff_fn = fn;
    poweroff_arg = arg;
}

int lvm_poweroff_requested(void)
{
    return poweroff_requested;
}

uint64_t lvm__control_evmask(void)
{
    const struct lvm_device *d = lvm_device_find(LVM_DEV_CONTROL, 0);
    return lvm_device_evmask(d);
}

volatile int lvm__in_syscall;
volatile int lvm__poweroff_deferred;
static int handler_pending;

_Noreturn void lvm__poweroff_exit(void)
{
    exit(0);
}

/*
 * Inside a served system call (nanosleep, say) libc is not safe to use.
 * The default action, exit(0), then happens as soon as the call returns
 * (the entry path redirects there); an application's handler runs at its
 * next lvm_yield(), and the sleep ends early.
 */
static void do_poweroff(void)
{
    if (poweroff_requested)
        return;
    poweroff_requested = 1;
    if (poweroff_fn && lvm__in_syscall)
        handler_pending = 1;
    else if (poweroff_fn)
        poweroff_fn(poweroff_arg);
    else if (lvm__in_syscall)
        lvm__poweroff_deferred = 1;
    else
        exit(0);
}

void lvm__control_run_pending(void)
{
    if (handler_pending && !lvm__in_syscall) {
        handler_pending = 0;
        poweroff_fn(poweroff_arg);
    }
}

void lvm__control_poll(void)
{
    uint32_t seq = LVM_DP->control_seq;
    if (seq == LVM_ST->control_ack_seq)
        return;
    uint32_t req = LVM_DP->control_request;
    LVM_ST->control_ack_seq = seq;
    switch (req) {
    case LVM_CTRL_POWEROFF: do_poweroff(); break;
    case LVM_CTRL_SUSPEND:
        /* Park until resumed or powered off; the toolstack sees
         * `suspended` and may then freeze or save the guest. */
        LVM_ST->suspended = 1;
        for (;;) {
            /* Parked is not hung: keep the watchdog fed. */
            uint64_t ctrl = lvm__control_evmask();
            uint64_t until = lvm__watchdog_ping_until(UINT64_MAX);
            if (!(lvm__hc->yield(until, ctrl) & ctrl))
                continue;
            lvm__hc->evtchn_clear((unsigned)__builtin_ctzll(ctrl));
            uint32_t s = LVM_DP->control_seq;
            if (s == LVM_ST->control_ack_seq)
                continue;
            LVM_ST->control_ack_seq = s;
            uint32_t r = LVM_DP->control_request;
            if (r == LVM_CTRL_RESUME)
                break;
            if (r == LVM_CTRL_POWEROFF) {
                LVM_ST->suspended = 0;
                do_poweroff();
                return;
            }
        }
        LVM_ST->suspended = 0;
        break;
    default: break;
    }
}
