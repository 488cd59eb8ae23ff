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

/* Park until resumed or powered off; 1 if a poweroff ended it. */
static int park(void)
{
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
            return 0;
        if (r == LVM_CTRL_POWEROFF)
            return 1;
    }
}

/* ---- Snapshots ------------------------------------------------------------ */

struct lvm_snap_ctx lvm__snap_ctx;
uintptr_t lvm__restart_rip;
uintptr_t lvm__fs_base;
volatile int lvm__snapshot_deferred;

/*
 * Running again after a restore, in a new monitor that may use the other
 * binding: everything the old one set up outside guest RAM is gone. The
 * binding, the thread pointer, fresh entropy; then the application's
 * hooks (the network stack's re-reads its device).
 */
static uint64_t snap_cpu_ns;  /* the guest's CPU time when saved */
static uint64_t snap_mono_ns; /* and its monotonic clock */

static void resumed(void)
{
    lvm__binding_init();
    if (lvm__fs_base && lvm__hc->set_fs(lvm__fs_base) < 0)
        lvm__panic("resume: cannot set the thread pointer");
    /* After the thread pointer: refusing a move ends the guest through
     * libc (its stdout flushed). */
    lvm__cputime_resumed(snap_cpu_ns);
    lvm__threads_resumed(snap_mono_ns);
    uint8_t seed[32];
    for (int i = 0; i < 32; i++) {
        seed[i] = LVM_ST->resume_seed[i];
        LVM_ST->resume_seed[i] = 0;
    }
    lvm__random_init(seed);
    lvm__memzero(seed, sizeof seed);
    LVM_ST->suspended = 0;
    if (LVM_ST->resume_flags & LVM_RESUME_HOLD) {
        /* A migration's new copy waits for the old one to be gone
         * before it is seen: no packet, no console line, until then. */
        LVM_ST->suspended = LVM_SUSPENDED_SNAPSHOT;
        int off = park();
        LVM_ST->suspended = 0;
        LVM_ST->resume_flags &= ~LVM_RESUME_HOLD;
        if (off)
            do_poweroff();
    }
    /* For the toolstack: when the restored guest ran again. */
    LVM_ST->first_insn_ns = lvm__hc->clock_monotonic();
    lvm__resume_hooks(LVM_ST->resume_flags);
}

/* Save the context and park; returns once resumed here or restored
 * anywhere. */
static void park_for_snapshot(void)
{
    /* The thread pointer: musl keeps it at %fs:0 (its TCB points to
     * itself), set before main, so before any park. Where the CPU lets
     * a guest set it without a system call the SDK never saw it. */
    uintptr_t tp;
    __asm__ volatile("mov %%fs:0, %0" : "=r"(tp));
    lvm__fs_base = tp;
    snap_cpu_ns = lvm__cputime_process();
    snap_mono_ns = lvm__hc->clock_monotonic();
    if (lvm__snap_save(&lvm__snap_ctx)) {
        resumed();
        return;
    }
    LVM_ST->suspended = LVM_SUSPENDED_SNAPSHOT;
    int off = park();
    LVM_ST->suspended = 0;
    if (off)
        do_poweroff();
}

/* __lvm_snapshot_stub: a served call gave way to a snapshot request. */
void lvm__snapshot_stub_park(void);
void lvm__snapshot_stub_park(void)
{
    lvm__snapshot_deferred = 0;
    LVM_ST->control_ack_seq = LVM_DP->control_seq;
    park_for_snapshot();
}

__attribute__((weak)) void lvm__net_resumed(uint32_t flags)
{
    (void)flags;
}

void lvm__resume_hooks(uint32_t flags)
{
    lvm__net_resumed(flags);
}

void lvm__control_poll(void)
{
    uint32_t seq = LVM_DP->control_seq;
    if (seq == LVM_ST->control_ack_seq)
        return;
    uint32_t req = LVM_DP->control_request;
    if (req == LVM_CTRL_SNAPSHOT && lvm__in_syscall) {
        /* Not inside a served call: it ends early and its entry path
         * parks at the `syscall` (acknowledging then), which runs again
         * once the guest continues, wherever that is. */
        lvm__snapshot_deferred = 1;
        return;
    }
    LVM_ST->control_ack_seq = seq;
    switch (req) {
    case LVM_CTRL_POWEROFF: do_poweroff(); break;
    case LVM_CTRL_SUSPEND: {
        /* The toolstack sees `suspended` and may then freeze the guest. */
        LVM_ST->suspended = LVM_SUSPENDED_PARKED;
        int off = park();
        LVM_ST->suspended = 0;
        if (off)
            do_poweroff();
        break;
    }
    case LVM_CTRL_SNAPSHOT: park_for_snapshot(); break;
    default: break;
    }
}
