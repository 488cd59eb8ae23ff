/*
 * binding_proc.c: hypercalls under the proc monitor. Each is one Linux
 * system call on a file descriptor the device page names; the seccomp
 * filter allows exactly these calls with these arguments.
 */
#include "sdk.h"
#include "syscall.h"

#include <errno.h>
#include <poll.h>
#include <sys/syscall.h>
#include <time.h>

#define CONSOLE_FD 1

/* Event channel -> file descriptor, from the device page. */
static int evtchn_fd[LVM_MAX_EVTCHN];
/* Event channel -> device type (to know how to clear it). */
static uint16_t evtchn_type[LVM_MAX_EVTCHN];

void lvm__proc_init(void)
{
    for (unsigned i = 0; i < LVM_MAX_EVTCHN; i++)
        evtchn_fd[i] = -1;
    unsigned n = LVM_DP->ndevices;
    if (n > LVM_MAX_DEVICES)
        n = LVM_MAX_DEVICES;
    for (unsigned i = 0; i < n; i++) {
        unsigned ch = LVM_DP->dev[i].evtchn;
        if (ch < LVM_MAX_EVTCHN) {
            evtchn_fd[ch] = LVM_DP->dev[i].handle;
            evtchn_type[ch] = LVM_DP->dev[i].type;
        }
    }
    lvm__hc = &lvm__binding_proc;
}

static long proc_console_write(const void *buf, size_t len)
{
    const char *p = buf;
    size_t done = 0;
    while (done < len) {
        size_t n = len - done;
        if (n > LVM_CONSOLE_WRITE_MAX)
            n = LVM_CONSOLE_WRITE_MAX;
        long r = lvm__sc3(SYS_write, CONSOLE_FD, (long)(p + done), (long)n);
        if (r == -EINTR)
            continue;
        if (r == -EAGAIN) {
            /* A non-blocking console: wait until it drains. */
            struct pollfd pfd = {.fd = CONSOLE_FD, .events = POLLOUT};
            lvm__sc5(SYS_ppoll, (long)&pfd, 1, 0, 0, 8);
            continue;
        }
        if (r <= 0) /* EPIPE and friends: output is lost, like a serial line */
            return done ? (long)done : LVM_EIO;
        done += (size_t)r;
    }
    return (long)done;
}

static uint64_t proc_clock(long id)
{
    struct timespec ts;
    if (lvm__sc2(SYS_clock_gettime, id, (long)&ts) < 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t proc_clock_monotonic(void)
{
    return proc_clock(CLOCK_MONOTONIC);
}

static uint64_t proc_clock_wall(void)
{
    return proc_clock(CLOCK_REALTIME);
}

static uint64_t proc_yield(uint64_t deadline, uint64_t evmask)
{
    struct pollfd pfd[LVM_MAX_EVTCHN];
    unsigned char ch[LVM_MAX_EVTCHN];
    unsigned n = 0;
    for (unsigned i = 0; i < LVM_MAX_EVTCHN; i++) {
        if ((evmask & (1ull << i)) && evtchn_fd[i] >= 0) {
            pfd[n].fd = evtchn_fd[i];
            pfd[n].events = POLLIN;
            pfd[n].revents = 0;
            ch[n++] = (unsigned char)i;
        }
    }
    struct timespec ts, *tsp = 0;
    if (deadline != UINT64_MAX) {
        uint64_t now = proc_clock_monotonic();
        uint64_t rel = deadline > now ? deadline - now : 0;
        ts.tv_sec = (time_t)(rel / 1000000000ull);
        ts.tv_nsec = (long)(rel % 1000000000ull);
        tsp = &ts;
    }
    long r = lvm__sc5(SYS_ppoll, (long)pfd, n, (long)tsp, 0, 8);
    uint64_t ready = 0;
    for (unsigned i = 0; r > 0 && i < n; i++)
        if (pfd[i].revents)
            ready |= 1ull << ch[i];
    return ready;
}

static long proc_net_read(unsigned handle, void *buf, size_t len)
{
    if (len > LVM_NET_FRAME_MAX)
        len = LVM_NET_FRAME_MAX;
    long r = lvm__sc3(SYS_read, handle, (long)buf, (long)len);
    if (r == -EAGAIN || r == -EINTR)
        return LVM_EAGAIN;
    return r < 0 ? LVM_EIO : r;
}

static long proc_net_write(unsigned handle, const void *buf, size_t len)
{
    if (len > LVM_NET_FRAME_MAX)
        return LVM_EINVAL;
    long r = lvm__sc3(SYS_write, handle, (long)buf, (long)len);
    if (r == -EAGAIN || r == -EINTR)
        return LVM_EAGAIN;
    return r < 0 ? LVM_EIO : r;
}

static long proc_block_read(unsigned handle, uint64_t off, void *buf,
                            size_t len)
{
    long r = lvm__sc4(SYS_pread64, handle, (long)buf, (long)len, (long)off);
    return r < 0 ? LVM_EIO : r;
}

static long proc_block_write(unsigned handle, uint64_t off, const void *buf,
                             size_t len)
{
    long r = lvm__sc4(SYS_pwrite64, handle, (long)buf, (long)len, (long)off);
    return r < 0 ? LVM_EIO : r;
}

static long proc_evtchn_clear(unsigned evtchn)
{
    if (evtchn >= LVM_MAX_EVTCHN || evtchn_fd[evtchn] < 0)
        return LVM_EINVAL;
    if (evtchn_type[evtchn] == LVM_DEV_CONTROL) {
        uint64_t v; /* an eventfd: reading resets it */
        lvm__sc3(SYS_read, evtchn_fd[evtchn], (long)&v, 8);
    }
    return LVM_OK;
}

static _Noreturn void proc_exit(int status)
{
    for (;;)
        lvm__sc1(SYS_exit_group, status);
}

/* 128 + SIGABRT, as a shell would report an aborted program. */
static _Noreturn void proc_abort(void)
{
    proc_exit(134);
}

static long proc_set_fs(uintptr_t base)
{
    if (LVM_BI->flags & LVM_BOOT_FSGSBASE) {
        __asm__ volatile("wrfsbase %0" ::"r"(base) : "memory");
        return 0;
    }
    return lvm__sc2(SYS_arch_prctl, 0x1002 /* ARCH_SET_FS */, (long)base);
}

const struct lvm_binding_ops lvm__binding_proc = {
    .console_write = proc_console_write,
    .clock_monotonic = proc_clock_monotonic,
    .clock_wall = proc_clock_wall,
    .yield = proc_yield,
    .net_read = proc_net_read,
    .net_write = proc_net_write,
    .block_read = proc_block_read,
    .block_write = proc_block_write,
    .evtchn_clear = proc_evtchn_clear,
    .exit = proc_exit,
    .abort = proc_abort,
    .set_fs = proc_set_fs,
};
