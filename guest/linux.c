/*
 * linux.c: the Linux system calls the SDK serves inside the guest.
 *
 * musl is an ordinary Linux libc; it makes a handful of system calls for
 * TLS, memory, stdio, time and signals. None of them may reach the host, so
 * they arrive here instead: under the proc monitor as SIGSYS from the
 * seccomp filter (sigsys.c), under the kvm monitor through the `syscall`
 * entry (start.S), where the monitor's ring-0 trampoline sends it. Under
 * proc the filter sends only the calls listed in toolstack/policy_proc.c
 * here and kills the guest for anything else;
 * under kvm every call lands here, and a call the SDK does not serve stops
 * the guest with its name, as the proc filter would. So that both
 * monitors draw the line in the same place, a call the proc filter traps
 * only for some arguments (read of fd 0, ioctl of fds 0-2, ...) is
 * forbidden here for the others (STDIO_FD below).
 */
#include "sdk.h"

#include <lightvm/guest.h>

#include <errno.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <time.h>

#define GUEST_PID 1

/* fds 0-2, which the proc filter lets through to the SDK for stdio calls. */
#define STDIO_FD(fd) ((fd) >= 0 && (fd) <= 2)

/* Signal dispositions set with rt_sigaction. Signals only ever come from
 * the guest itself (raise, abort), so they are delivered synchronously. */
struct k_sigaction {
    void (*handler)(int);
    unsigned long flags;
    void (*restorer)(void);
    unsigned mask[2];
};
static struct k_sigaction sigact[65];

static void set_timespec(struct timespec *ts, uint64_t ns)
{
    ts->tv_sec = (time_t)(ns / 1000000000ull);
    ts->tv_nsec = (long)(ns % 1000000000ull);
}

static uint64_t clock_ns(long id)
{
    switch (id) {
    case CLOCK_REALTIME:
    case CLOCK_REALTIME_COARSE:
    case 11: /* CLOCK_TAI */ return lvm__hc->clock_wall();
    default: /* MONOTONIC, RAW, COARSE, BOOTTIME, CPU-time clocks */
        return lvm__hc->clock_monotonic();
    }
}

static int valid_clock(long id)
{
    return id >= 0 && id <= 11 && id != 8 && id != 9 && id != 10;
}

static void sleep_until(uint64_t deadline)
{
    while (lvm__hc->clock_monotonic() < deadline) {
        lvm_yield(deadline, 0);
        /* A snapshot request ends the sleep: the call is made again
         * (for its whole length) once the guest continues. */
        if (lvm_poweroff_requested() || lvm__snapshot_deferred)
            return;
    }
}

static long sys_writev(const struct iovec *iov, long cnt)
{
    if (cnt < 0 || cnt > 1024)
        return -EINVAL;
    long total = 0;
    for (long i = 0; i < cnt; i++) {
        if (!iov[i].iov_len)
            continue;
        long r = lvm__hc->console_write(iov[i].iov_base, iov[i].iov_len);
        if (r < 0)
            return total ? total : -EIO;
        total += r;
    }
    return total;
}

/* Default action of a signal nobody handles. */
static long deliver_default(int sig)
{
    switch (sig) {
    case SIGCHLD:
    case SIGURG:
    case SIGWINCH:
    case SIGCONT: return 0;
    case SIGABRT: lvm__panic("abort()");
    default: {
        char buf[48] = "killed by signal ", num[12];
        char *n = lvm__utoa(num + sizeof num, (unsigned long)sig);
        size_t l = lvm__strlen(buf);
        while (*n && l + 1 < sizeof buf)
            buf[l++] = *n++;
        buf[l] = 0;
        lvm__panic(buf);
    }
    }
}

static long sys_kill_self(int sig)
{
    if (sig == 0)
        return 0;
    if (sig < 1 || sig > 64)
        return -EINVAL;
    void (*h)(int) = sigact[sig].handler;
    if (h == SIG_IGN)
        return 0;
    if (h == SIG_DFL || sig == SIGKILL || sig == SIGSTOP)
        return deliver_default(sig);
    if (sigact[sig].flags & SA_RESETHAND)
        sigact[sig].handler = SIG_DFL;
    h(sig);
    return 0;
}

static long sys_rt_sigaction(int sig, const struct k_sigaction *act,
                             struct k_sigaction *old)
{
    if (sig < 1 || sig > 64 || sig == SIGKILL || sig == SIGSTOP)
        return -EINVAL;
    if (old)
        *old = sigact[sig];
    if (act)
        sigact[sig] = *act;
    return 0;
}

static long sys_fstat(struct stat *st)
{
    lvm__memzero(st, sizeof *st);
    st->st_mode = S_IFCHR | 0620;
    st->st_blksize = 4096;
    return 0;
}

static long sys_uname(struct utsname *u)
{
    lvm__memzero(u, sizeof *u);
    lvm__strlcpy(u->sysname, "lightvm", sizeof u->sysname);
    lvm__strlcpy(u->nodename, LVM_BI->name[0] ? LVM_BI->name : "guest",
                 sizeof u->nodename);
    lvm__strlcpy(u->release, "1", sizeof u->release);
    lvm__strlcpy(u->version, "lightvm guest ABI 1", sizeof u->version);
    lvm__strlcpy(u->machine, "x86_64", sizeof u->machine);
    return 0;
}

static long sys_sysinfo(struct sysinfo *si)
{
    lvm__memzero(si, sizeof *si);
    si->uptime =
        (long)((lvm__hc->clock_monotonic() - LVM_BI->boot_ns) / 1000000000ull);
    si->totalram = LVM_BI->ram_size;
    si->freeram = lvm__mem_free_bytes();
    si->procs = 1;
    si->mem_unit = 1;
    return 0;
}

static long sys_prlimit(long res, struct rlimit *old)
{
    if (!old)
        return 0;
    old->rlim_cur = old->rlim_max = RLIM_INFINITY;
    if (res == RLIMIT_STACK)
        old->rlim_cur = old->rlim_max = LVM_BI->stack_size;
    else if (res == RLIMIT_NOFILE)
        old->rlim_cur = old->rlim_max = 3;
    return 0;
}

/* Stop the guest for a call it may not make (reached only under kvm: the
 * proc filter kills such a guest itself). */
static _Noreturn void forbidden(long nr)
{
    char msg[64] = "forbidden system call ", num[24];
    char *n = lvm__utoa(num + sizeof num, (unsigned long)nr);
    size_t l = lvm__strlen(msg);
    while (*n && l + 1 < sizeof msg)
        msg[l++] = *n++;
    msg[l] = 0;
    lvm__panic(msg);
}

long lvm__linux_syscall(long nr, long a0, long a1, long a2, long a3, long a4,
                        long a5)
{
    /* The file tree's calls (guest/fs_syscall.c): -ENOSYS if not its. */
    long fr = lvm__fs_syscall(nr, a0, a1, a2, a3, a4, a5);
    if (fr != -ENOSYS)
        return fr;
    switch (nr) {
    /* stdio: fd 0 is an empty input, fds 1 and 2 are the console. */
    case SYS_read:
    case SYS_readv:
        if (a0 != 0)
            forbidden(nr);
        return 0;
    case SYS_write: {
        if (a0 != 1 && a0 != 2)
            forbidden(nr);
        long r = lvm__hc->console_write((const void *)a1, (size_t)a2);
        return r < 0 ? -EIO : r;
    }
    case SYS_writev:
        if (a0 != 1 && a0 != 2)
            forbidden(nr);
        return sys_writev((const struct iovec *)a1, a2);
    case SYS_ioctl:
        if (!STDIO_FD(a0))
            forbidden(nr);
        if (a1 == TIOCGWINSZ) {
            /* Claiming a terminal makes stdout line-buffered, so output
             * reaches the console line by line. */
            struct winsize *w = (struct winsize *)a2;
            w->ws_row = 25;
            w->ws_col = 80;
            w->ws_xpixel = w->ws_ypixel = 0;
            return 0;
        }
        return -ENOTTY;
    case SYS_close:
    case SYS_fstat:
    case SYS_lseek:
    case SYS_fcntl:
        if (!STDIO_FD(a0))
            forbidden(nr);
        if (nr == SYS_fstat)
            return sys_fstat((struct stat *)a1);
        return nr == SYS_lseek ? -ESPIPE : 0;

    /* Memory. */
    case SYS_brk: return lvm__brk((uintptr_t)a0);
    case SYS_mmap:
        if (a2 & PROT_EXEC)
            forbidden(nr);
        return lvm__mmap((uintptr_t)a0, (size_t)a1, (int)a2, (int)a3, (int)a4,
                         a5);
    case SYS_munmap: return lvm__munmap((uintptr_t)a0, (size_t)a1);
    case SYS_mremap: return -ENOMEM; /* musl falls back to malloc and copy */
    case SYS_madvise: return lvm__madvise((uintptr_t)a0, (size_t)a1, (int)a2);

    /* Threads and identity: one thread, pid 1, root. */
    case SYS_arch_prctl:
        if (a0 != 0x1002 /* ARCH_SET_FS */)
            forbidden(nr);
        {
            long r = lvm__hc->set_fs((uintptr_t)a1);
            if (r == 0)
                lvm__fs_base = (uintptr_t)a1;
            return r;
        }
    case SYS_set_tid_address:
    case SYS_gettid:
    case SYS_getpid: return GUEST_PID;
    case SYS_getppid: return 0;
    case SYS_getuid:
    case SYS_geteuid:
    case SYS_getgid:
    case SYS_getegid: return 0;
    case SYS_futex: return (a1 & 0x7f) == 0 /* FUTEX_WAIT */ ? -EAGAIN : 0;
    case SYS_sched_yield: lvm_yield(0, 0); return 0;
    case SYS_sched_getaffinity:
        if (a1 < 8)
            return -EINVAL;
        lvm__memzero((void *)a2, (size_t)a1);
        *(unsigned char *)a2 = 1;
        return 8;

    /* Signals: delivered synchronously, from the guest to itself. */
    case SYS_rt_sigaction:
        return sys_rt_sigaction((int)a0, (const struct k_sigaction *)a1,
                                (struct k_sigaction *)a2);
    case SYS_rt_sigprocmask:
        if (a2)
            lvm__memzero((void *)a2, 8);
        return 0;
    case SYS_sigaltstack: return 0;
    case SYS_tkill:
        if (a0 != GUEST_PID)
            forbidden(nr);
        return sys_kill_self((int)a1);
    case SYS_tgkill:
        if (a0 != GUEST_PID || a1 != GUEST_PID)
            forbidden(nr);
        return sys_kill_self((int)a2);
    case SYS_kill:
        if (a0 == GUEST_PID || a0 == 0)
            return sys_kill_self((int)a1);
        forbidden(nr);

    /* Time. */
    case SYS_clock_gettime:
        if (!valid_clock(a0))
            return -EINVAL;
        set_timespec((struct timespec *)a1, clock_ns(a0));
        return 0;
    case SYS_clock_getres:
        if (!valid_clock(a0))
            return -EINVAL;
        if (a1)
            set_timespec((struct timespec *)a1, 1);
        return 0;
    case SYS_gettimeofday: {
        if (a0) {
            uint64_t ns = lvm__hc->clock_wall();
            struct timeval *tv = (struct timeval *)a0;
            tv->tv_sec = (time_t)(ns / 1000000000ull);
            tv->tv_usec = (long)(ns % 1000000000ull / 1000);
        }
        return 0;
    }
    case SYS_time: {
        long t = (long)(lvm__hc->clock_wall() / 1000000000ull);
        if (a0)
            *(long *)a0 = t;
        return t;
    }
    case SYS_nanosleep: {
        const struct timespec *ts = (const struct timespec *)a0;
        if (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000)
            return -EINVAL;
        sleep_until(lvm__hc->clock_monotonic() +
                    (uint64_t)ts->tv_sec * 1000000000ull +
                    (uint64_t)ts->tv_nsec);
        return 0;
    }
    case SYS_clock_nanosleep: {
        const struct timespec *ts = (const struct timespec *)a2;
        if (!valid_clock(a0) || ts->tv_sec < 0 || ts->tv_nsec < 0 ||
            ts->tv_nsec >= 1000000000)
            return -EINVAL;
        uint64_t ns =
            (uint64_t)ts->tv_sec * 1000000000ull + (uint64_t)ts->tv_nsec;
        uint64_t now = lvm__hc->clock_monotonic();
        if (a1 & TIMER_ABSTIME) {
            uint64_t base = clock_ns(a0);
            ns = ns > base ? ns - base : 0;
        }
        sleep_until(now + ns);
        return 0;
    }

    /* System information and entropy. */
    case SYS_getrandom: lvm__random_fill((void *)a0, (size_t)a1); return a1;
    case SYS_uname: return sys_uname((struct utsname *)a0);
    case SYS_sysinfo: return sys_sysinfo((struct sysinfo *)a0);
    case SYS_prlimit64:
        return a0 == 0 || a0 == GUEST_PID ? sys_prlimit(a1, (struct rlimit *)a3)
                                          : -ESRCH;
    case SYS_getrlimit: return sys_prlimit(a0, (struct rlimit *)a1);
    case SYS_membarrier: return 0;

    case SYS_exit:
    case SYS_exit_group: lvm_exit((int)a0);
    default: forbidden(nr);
    }
}
