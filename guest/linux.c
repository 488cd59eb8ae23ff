/*
 * linux.c: the Linux system calls the SDK serves inside the guest.
 *
 * musl is an ordinary Linux libc; it makes a handful of system calls for
 * TLS, threads, memory, stdio, time and signals. None of them may reach
 * the host, so they arrive here instead: under the proc monitor as SIGSYS
 * from the seccomp filter (sigsys.c), under the kvm monitor through the
 * `syscall` entry (start.S), where the monitor's ring-0 trampoline sends
 * it. include/lightvm/syscalls.h classes every call for both: under proc
 * the filter (toolstack/policy.c) kills the fatal ones itself and traps
 * the rest here; under kvm every call lands here, and lvm__unserved()
 * draws the same line. So that both monitors agree, a call the proc
 * filter kills only for some arguments (a write to a host fd, mmap with
 * PROT_EXEC, ...) is forbidden here for the same arguments.
 *
 * A call not served below goes to lvm__unserved() (unserved.c): the file
 * tree's hook first (lvm__fs_syscall), then the errno policy.
 */
#include "sdk.h"

#include <lightvm/guest.h>
#include <lightvm/syscalls.h>

#include <errno.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/uio.h>
#include <sys/socket.h>
#include <sys/times.h>
#include <sys/utsname.h>
#include <time.h>

#define GUEST_PID 1

/* fds 0-2, which the proc filter lets through to the SDK for stdio calls. */
#define STDIO_FD(fd) ((fd) >= 0 && (fd) <= 2)
/* The host's fds other than stdio, which only hypercalls may use: a read
 * or write of one is killed by the proc filter. */
#define HOST_FD(fd) ((fd) > 2 && (fd) < LVM_SDK_FD_MIN)

#define UNSERVED() lvm__unserved(nr, a0, a1, a2, a3, a4, a5)

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
    case CLOCK_PROCESS_CPUTIME_ID: return lvm__cputime_process();
    case CLOCK_THREAD_CPUTIME_ID: return lvm__cputime_thread();
    default: /* MONOTONIC, RAW, COARSE, BOOTTIME */
        return lvm__hc->clock_monotonic();
    }
}

static int valid_clock(long id)
{
    return id >= 0 && id <= 11 && id != 8 && id != 9 && id != 10;
}

static void sleep_until(uint64_t deadline)
{
    if (lvm__thread_count() > 1) {
        lvm__thread_sleep_until(deadline);
        return;
    }
    uint64_t now;
    while ((now = lvm__hc->clock_monotonic()) < deadline) {
        lvm_yield(deadline, 0);
        uint64_t after = lvm__hc->clock_monotonic();
        lvm__cputime_idle(after > now ? after - now : 0);
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

long lvm__kill_self(int sig)
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

int lvm__user_ok(const void *p, size_t len)
{
    uintptr_t a = (uintptr_t)p, lo = LVM_BI->ram_base,
              hi = LVM_BI->ram_base + LVM_BI->ram_size;
    return a >= lo && a <= hi && len <= hi - a;
}

#define USER(p, len)                                                           \
    do {                                                                       \
        if (!lvm__user_ok((const void *)(p), (len)))                           \
            return -EFAULT;                                                    \
    } while (0)

/* times(): CPU time in clock ticks (100 a second, musl's CLK_TCK). */
static long sys_times(struct tms *t)
{
    uint64_t tick = 10000000ull;
    if (t) {
        USER(t, sizeof *t);
        lvm__memzero(t, sizeof *t);
        t->tms_utime = (clock_t)(lvm__cputime_process() / tick);
    }
    return (long)((lvm__hc->clock_monotonic() - LVM_BI->boot_ns) / tick);
}

static long sys_getrusage(long who, struct rusage *ru)
{
    if (who != RUSAGE_SELF && who != RUSAGE_THREAD && who != RUSAGE_CHILDREN)
        return -EINVAL;
    USER(ru, sizeof *ru);
    lvm__memzero(ru, sizeof *ru);
    if (who == RUSAGE_CHILDREN)
        return 0;
    uint64_t ns =
        who == RUSAGE_SELF ? lvm__cputime_process() : lvm__cputime_thread();
    ru->ru_utime.tv_sec = (time_t)(ns / 1000000000ull);
    ru->ru_utime.tv_usec = (suseconds_t)(ns % 1000000000ull / 1000);
    ru->ru_maxrss = (long)((LVM_BI->ram_size - lvm__mem_free_bytes()) >> 10);
    return 0;
}

static long sys_futex(long a0, long a1, long a2, long a3, long a4, long a5)
{
    return lvm__futex((int *)a0, a1, a2, (const struct timespec *)a3, (int *)a4,
                      a5);
}

/* mmap, mprotect, pkey_mprotect: executable memory is fatal (the proc
 * filter kills it); guest RAM has no other protections to change, so a
 * stack guard's PROT_NONE is accepted and not enforced. */
#define EXEC_FATAL(nr, prot)                                                   \
    do {                                                                       \
        if ((prot)&PROT_EXEC)                                                  \
            lvm__forbidden(nr);                                                \
    } while (0)

/* socket, socketpair: raw and packet sockets are fatal, as in the proc
 * filter; the others are refused (the network is the SDK's own stack). */
static int raw_socket(long domain, long type)
{
    int t = (int)(type & 0xf);
    return domain == AF_PACKET || t == SOCK_RAW || t == SOCK_PACKET ||
           (t != SOCK_STREAM && t != SOCK_DGRAM && t != SOCK_SEQPACKET &&
            t != SOCK_RDM && t != 6 /* SOCK_DCCP */);
}

long lvm__linux_syscall(long nr, long a0, long a1, long a2, long a3, long a4,
                        long a5)
{
    /* The file tree's calls (guest/fs_syscall.c): -ENOSYS if not its. */
    long fr = lvm__fs_syscall(nr, a0, a1, a2, a3, a4, a5);
    if (fr != -ENOSYS)
        return fr;
    switch (nr) {
    /* stdio: fd 0 is an empty input, fds 1 and 2 are the console; the
     * host's other fds are the hypercalls' alone. */
    case SYS_read:
        if (a0 == 0)
            return 0;
        if (HOST_FD(a0) || a0 == 1 || a0 == 2)
            lvm__forbidden(nr);
        return UNSERVED();
    case SYS_readv: return a0 == 0 ? 0 : UNSERVED();
    case SYS_write: {
        if (a0 != 1 && a0 != 2) {
            if (a0 == 0 || HOST_FD(a0))
                lvm__forbidden(nr);
            return UNSERVED();
        }
        USER(a1, (size_t)a2);
        long r = lvm__hc->console_write((const void *)a1, (size_t)a2);
        return r < 0 ? -EIO : r;
    }
    case SYS_pread64:
    case SYS_pwrite64:
        if (a0 >= 0 && a0 < LVM_SDK_FD_MIN)
            lvm__forbidden(nr);
        return UNSERVED();
    case SYS_writev:
        if (a0 != 1 && a0 != 2)
            return UNSERVED();
        USER(a1, (size_t)a2 * sizeof(struct iovec));
        return sys_writev((const struct iovec *)a1, a2);
    case SYS_ioctl:
        if (!STDIO_FD(a0))
            return UNSERVED();
        if (a1 == TIOCGWINSZ) {
            /* Claiming a terminal makes stdout line-buffered, so output
             * reaches the console line by line. */
            USER(a2, sizeof(struct winsize));
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
            return UNSERVED();
        if (nr == SYS_fstat) {
            USER(a1, sizeof(struct stat));
            return sys_fstat((struct stat *)a1);
        }
        return nr == SYS_lseek ? -ESPIPE : 0;

    /* Memory. */
    case SYS_brk: return lvm__brk((uintptr_t)a0);
    case SYS_mmap:
        EXEC_FATAL(nr, a2);
        return lvm__mmap((uintptr_t)a0, (size_t)a1, (int)a2, (int)a3, (int)a4,
                         a5);
    case SYS_mprotect:
    case SYS_pkey_mprotect:
        EXEC_FATAL(nr, a2);
        if (a0 & 4095)
            return -EINVAL;
        return lvm__user_ok((void *)a0, (size_t)a1) ? 0 : -ENOMEM;
    case SYS_munmap: return lvm__munmap((uintptr_t)a0, (size_t)a1);
    case SYS_mremap: return -ENOMEM; /* musl falls back to malloc and copy */
    case SYS_madvise: return lvm__madvise((uintptr_t)a0, (size_t)a1, (int)a2);

    /* Threads and identity: pid 1, root, green threads (thread.c). */
    case SYS_arch_prctl:
        if (a0 != 0x1002 /* ARCH_SET_FS */)
            lvm__forbidden(nr);
        {
            long r = lvm__hc->set_fs((uintptr_t)a1);
            if (r == 0) {
                lvm__fs_base = (uintptr_t)a1;
                lvm__thread_set_fs((uintptr_t)a1);
            }
            return r;
        }
    case SYS_clone: {
        /* A thread is served; a new process is not (-ENOSYS). */
        long r = lvm__thread_clone((unsigned long)a0, (uintptr_t)a1, (int *)a2,
                                   (int *)a3, (uintptr_t)a4);
        return r == -ENOSYS ? UNSERVED() : r;
    }
    case SYS_set_tid_address:
        lvm__thread_set_clear_tid((int *)a0);
        return lvm__gettid();
    case SYS_gettid: return lvm__gettid();
    case SYS_getpid: return GUEST_PID;
    case SYS_getppid: return 0;
    case SYS_getpgrp:
    case SYS_getpgid:
    case SYS_getsid: return GUEST_PID;
    case SYS_getuid:
    case SYS_geteuid:
    case SYS_getgid:
    case SYS_getegid:
    case SYS_getgroups: return 0;
    case SYS_getresuid:
    case SYS_getresgid:
        USER(a0, 4);
        USER(a1, 4);
        USER(a2, 4);
        *(unsigned *)a0 = *(unsigned *)a1 = *(unsigned *)a2 = 0;
        return 0;
    case SYS_umask: return 022;
    case SYS_futex: return sys_futex(a0, a1, a2, a3, a4, a5);
    case SYS_set_robust_list: return 0; /* no process dies under a lock */
    case SYS_sched_yield:
        if (lvm__thread_count() > 1)
            return lvm__thread_yield();
        lvm_yield(0, 0);
        return 0;
    case SYS_sched_getaffinity:
        if (a1 < 8)
            return -EINVAL;
        USER(a2, (size_t)a1);
        lvm__memzero((void *)a2, (size_t)a1);
        *(unsigned char *)a2 = 1;
        return 8;
    case SYS_getcpu:
        if (a0) {
            USER(a0, 4);
            *(unsigned *)a0 = 0;
        }
        if (a1) {
            USER(a1, 4);
            *(unsigned *)a1 = 0;
        }
        return 0;
    case SYS_membarrier:
        /* One CPU: every barrier is already there. MEMBARRIER_CMD_QUERY
         * answers the commands musl may use. */
        return a0 == 0 ? 1 | 8 | 16 /* GLOBAL, PRIVATE_EXPEDITED(+REG) */ : 0;

    /* Signals: delivered synchronously, from the guest to itself. */
    case SYS_rt_sigaction:
        if (a1)
            USER(a1, sizeof(struct k_sigaction));
        if (a2)
            USER(a2, sizeof(struct k_sigaction));
        return sys_rt_sigaction((int)a0, (const struct k_sigaction *)a1,
                                (struct k_sigaction *)a2);
    case SYS_rt_sigprocmask:
        if (a2) {
            USER(a2, 8);
            lvm__memzero((void *)a2, 8);
        }
        return 0;
    case SYS_sigaltstack: return 0;
    case SYS_tkill:
        if (a0 <= 0 || a0 >= LVM_TID_LIMIT)
            lvm__forbidden(nr);
        return lvm__thread_kill(a0, (int)a1);
    case SYS_tgkill:
        if (a0 != GUEST_PID || a1 <= 0 || a1 >= LVM_TID_LIMIT)
            lvm__forbidden(nr);
        return lvm__thread_kill(a1, (int)a2);
    case SYS_kill:
        if (a0 == GUEST_PID || a0 == 0)
            return lvm__kill_self((int)a1);
        lvm__forbidden(nr);

    /* Time. */
    case SYS_clock_gettime:
        if (!valid_clock(a0))
            return -EINVAL;
        USER(a1, sizeof(struct timespec));
        set_timespec((struct timespec *)a1, clock_ns(a0));
        return 0;
    case SYS_clock_getres:
        if (!valid_clock(a0))
            return -EINVAL;
        if (a1) {
            USER(a1, sizeof(struct timespec));
            set_timespec((struct timespec *)a1, 1);
        }
        return 0;
    case SYS_gettimeofday: {
        if (a0) {
            USER(a0, sizeof(struct timeval));
            uint64_t ns = lvm__hc->clock_wall();
            struct timeval *tv = (struct timeval *)a0;
            tv->tv_sec = (time_t)(ns / 1000000000ull);
            tv->tv_usec = (long)(ns % 1000000000ull / 1000);
        }
        return 0;
    }
    case SYS_time: {
        long t = (long)(lvm__hc->clock_wall() / 1000000000ull);
        if (a0) {
            USER(a0, sizeof(long));
            *(long *)a0 = t;
        }
        return t;
    }
    case SYS_times: return sys_times((struct tms *)a0);
    case SYS_getrusage: return sys_getrusage(a0, (struct rusage *)a1);
    case SYS_nanosleep: {
        USER(a0, sizeof(struct timespec));
        const struct timespec *ts = (const struct timespec *)a0;
        if (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000)
            return -EINVAL;
        sleep_until(lvm__hc->clock_monotonic() +
                    (uint64_t)ts->tv_sec * 1000000000ull +
                    (uint64_t)ts->tv_nsec);
        return 0;
    }
    case SYS_clock_nanosleep: {
        USER(a2, sizeof(struct timespec));
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
    case SYS_getrandom:
        USER(a0, (size_t)a1);
        lvm__random_fill((void *)a0, (size_t)a1);
        return a1;
    case SYS_uname:
        USER(a0, sizeof(struct utsname));
        return sys_uname((struct utsname *)a0);
    case SYS_sysinfo:
        USER(a0, sizeof(struct sysinfo));
        return sys_sysinfo((struct sysinfo *)a0);
    case SYS_prlimit64:
        if (a3)
            USER(a3, sizeof(struct rlimit));
        return a0 == 0 || a0 == GUEST_PID ? sys_prlimit(a1, (struct rlimit *)a3)
                                          : -ESRCH;
    case SYS_getrlimit:
        if (a1)
            USER(a1, sizeof(struct rlimit));
        return sys_prlimit(a0, (struct rlimit *)a1);
    case SYS_getcwd:
        if (a1 < 2)
            return -ERANGE;
        USER(a0, 2);
        ((char *)a0)[0] = '/', ((char *)a0)[1] = 0;
        return 2;

    case SYS_ppoll:
        /* The yield hypercall under proc, allowed there for up to 64 fds
         * and no signal mask; the rest is killed, as here. A guest has no
         * pollable fds of its own: a ppoll of none is a sleep. */
        if (a3 || (unsigned long)a1 > LVM_MAX_EVTCHN)
            lvm__forbidden(nr);
        if (a1 || !a2)
            return UNSERVED();
        USER(a2, sizeof(struct timespec));
        {
            const struct timespec *ts = (const struct timespec *)a2;
            if (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000)
                return -EINVAL;
            sleep_until(lvm__hc->clock_monotonic() +
                        (uint64_t)ts->tv_sec * 1000000000ull +
                        (uint64_t)ts->tv_nsec);
        }
        return 0;
    case SYS_socket:
    case SYS_socketpair:
        if (raw_socket(a0, a1))
            lvm__forbidden(nr);
        return UNSERVED();

    case SYS_exit: lvm__thread_exit((int)a0);
    case SYS_exit_group: lvm_exit((int)a0);
    default: return UNSERVED();
    }
}
