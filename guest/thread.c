/*
 * thread.c: threads in a guest, as green threads on its one vCPU (kvm) or
 * in its one process (proc). musl's pthread_create makes a `clone`; the
 * SDK answers it with a new thread of its own: a slot here, a stack frame
 * to start from, the thread pointer musl asked for. Threads switch only
 * inside a served system call that blocks (futex wait, nanosleep,
 * sched_yield): there is no timer preemption, so nothing here needs a lock,
 * and a thread that spins without a system call keeps the others waiting.
 *
 * A switch happens inside the SDK's entry path of the blocking thread:
 * under proc the SIGSYS handler, whose ucontext sits on that thread's own
 * stack; under kvm __lvm_syscall_entry's frame, also on its stack. The
 * thread that runs next returns from its own entry (rt_sigreturn of its
 * own ucontext, or the kvm frame), so each thread keeps its registers,
 * FPU state and signal mask where they were saved. A new thread starts
 * from a frame built here (thread_frame.c) that enters user code as if
 * its clone had returned 0.
 */
#include "sdk.h"

#include <errno.h>
#include <lightvm/guest.h>
#include <lightvm/syscalls.h>
#include <time.h>

#define MAX_THREADS 256

enum { T_FREE, T_READY, T_BLOCKED };
enum { WAKE_NONE, WAKE_FUTEX, WAKE_TIMEOUT, WAKE_INTR };

struct lvm_thread {
    uintptr_t sp; /* saved by lvm__ctx_switch while not running */
    int state;
    int tid;
    uintptr_t fs;
    int *clear_tid;            /* CLONE_CHILD_CLEARTID / set_tid_address */
    const volatile int *uaddr; /* the futex it waits on, or 0 */
    uint64_t deadline;         /* monotonic wake-up time, or UINT64_MAX */
    int wake;
    uint64_t cpu_ns, since; /* CPU time used, and since when running */
    int in_syscall;
    void *entry; /* lvm__entry_ctx while it is switched out */
};

static struct lvm_thread threads[MAX_THREADS];
static struct lvm_thread *cur; /* 0 until the first clone */
static int nthreads = 1;
static int next_tid = 2;
static uint16_t thread_binding; /* the binding the threads were made under */
static uintptr_t dead_sp;       /* where an exiting thread's sp goes */
static uint64_t start_ns, idle_ns;

/* What the entry path is serving, per thread (sdk.h). */
void *lvm__entry_ctx;
volatile int lvm__dying;

void lvm__cputime_start(void)
{
    start_ns = lvm__hc->clock_monotonic();
    idle_ns = 0;
}

void lvm__cputime_resumed(uint64_t cpu_ns)
{
    /* Elapsed time in another host's monotonic clock: start again from
     * the CPU time saved with the snapshot. */
    uint64_t now = lvm__hc->clock_monotonic();
    start_ns = now - cpu_ns;
    idle_ns = 0;
    for (int i = 0; i < MAX_THREADS; i++)
        threads[i].since = now;
}

void lvm__cputime_idle(uint64_t ns)
{
    idle_ns += ns;
    if (cur)
        cur->since += ns;
}

uint64_t lvm__cputime_process(void)
{
    uint64_t now = lvm__hc->clock_monotonic();
    uint64_t run = now > start_ns ? now - start_ns : 0;
    return run > idle_ns ? run - idle_ns : 0;
}

uint64_t lvm__cputime_thread(void)
{
    if (!cur)
        return lvm__cputime_process();
    uint64_t now = lvm__hc->clock_monotonic();
    return cur->cpu_ns + (now > cur->since ? now - cur->since : 0);
}

int lvm__thread_count(void)
{
    return nthreads;
}

int lvm__gettid(void)
{
    return cur ? cur->tid : 1;
}

static uintptr_t read_fs_self(void)
{
    uintptr_t tp;
    __asm__ volatile("mov %%fs:0, %0" : "=r"(tp));
    return tp;
}

/* The first clone: the running code becomes thread 1. */
static void threads_init(void)
{
    cur = &threads[0];
    cur->state = T_READY;
    cur->tid = 1;
    /* musl set its thread pointer before it could create a thread; its
     * TCB points to itself (under proc without FSGSBASE the SDK never saw
     * the arch_prctl that set it). */
    cur->fs = lvm__fs_base ? lvm__fs_base : read_fs_self();
    cur->deadline = UINT64_MAX;
    cur->since = lvm__hc->clock_monotonic();
}

void lvm__thread_set_fs(uintptr_t fs)
{
    if (cur)
        cur->fs = fs;
}

int *lvm__thread_set_clear_tid(int *p)
{
    if (cur)
        cur->clear_tid = p;
    else
        threads[0].clear_tid = p; /* kept for the first clone */
    return p;
}

static void switch_to(struct lvm_thread *next)
{
    struct lvm_thread *prev = cur;
    uint64_t now = lvm__hc->clock_monotonic();
    prev->cpu_ns += now > prev->since ? now - prev->since : 0;
    next->since = now;
    prev->in_syscall = lvm__in_syscall;
    prev->entry = lvm__entry_ctx;
    lvm__in_syscall = next->in_syscall;
    lvm__entry_ctx = next->entry;
    cur = next;
    if (next->fs != prev->fs && next->fs && lvm__hc->set_fs(next->fs) < 0)
        lvm__panic("threads: cannot set the thread pointer");
    lvm__fs_base = next->fs;
    lvm__ctx_switch(prev->state == T_FREE ? &dead_sp : &prev->sp, next->sp);
}

static void wake(struct lvm_thread *t, int why)
{
    t->state = T_READY;
    t->wake = why;
    t->uaddr = 0;
    t->deadline = UINT64_MAX;
}

/* Run the next ready thread (round robin after the current one), waiting
 * for the earliest deadline when none is. Returns in the current thread
 * once it is ready again. */
static void schedule(void)
{
    for (;;) {
        if (lvm__dying) /* ending the guest: nothing else may run */
            lvm__hc->abort();
        uint64_t now = lvm__hc->clock_monotonic(), first = UINT64_MAX;
        struct lvm_thread *next = 0;
        int base = (int)(cur - threads);
        for (int i = 1; i <= MAX_THREADS; i++) {
            struct lvm_thread *t = &threads[(base + i) % MAX_THREADS];
            if (t->state == T_BLOCKED && t->deadline <= now)
                wake(t, WAKE_TIMEOUT);
            if (t->state == T_READY && !next)
                next = t;
            if (t->state == T_BLOCKED && t->deadline < first)
                first = t->deadline;
        }
        if (next) {
            if (next != cur)
                switch_to(next);
            return;
        }
        /* Everyone waits. A poweroff or snapshot request interrupts a
         * wait, so that the entry path can act on it. */
        if (lvm_poweroff_requested() || lvm__snapshot_deferred) {
            struct lvm_thread *t = cur;
            for (int i = 0; t->state != T_BLOCKED && i < MAX_THREADS; i++)
                t = &threads[i];
            if (t->state == T_BLOCKED) {
                wake(t, WAKE_INTR);
                continue;
            }
        }
        lvm_yield(first, 0);
        uint64_t after = lvm__hc->clock_monotonic();
        uint64_t idle = after > now ? after - now : 0;
        idle_ns += idle;
        cur->since += idle; /* waiting is no thread's CPU time */
    }
}

/* Block the current thread until woken or (deadline); the wake reason. */
static int block(const volatile int *uaddr, uint64_t deadline)
{
    cur->state = T_BLOCKED;
    cur->uaddr = uaddr;
    cur->deadline = deadline;
    cur->wake = WAKE_NONE;
    schedule();
    return cur->wake;
}

void lvm__thread_sleep_until(uint64_t deadline)
{
    block(0, deadline);
}

long lvm__thread_yield(void)
{
    cur->state = T_READY;
    schedule();
    return 0;
}

static int futex_wake(const volatile int *uaddr, long n)
{
    int woken = 0;
    for (int i = 0; i < MAX_THREADS && woken < n; i++)
        if (threads[i].state == T_BLOCKED && threads[i].uaddr == uaddr) {
            wake(&threads[i], WAKE_FUTEX);
            woken++;
        }
    return woken;
}

/* Blocking deadline of a futex wait: relative for FUTEX_WAIT, absolute on
 * the chosen clock for FUTEX_WAIT_BITSET; -1 if the timespec is bad. */
static int64_t futex_deadline(const struct timespec *ts, int absolute,
                              int realtime)
{
    if (!ts)
        return (int64_t)(UINT64_MAX >> 1);
    if (!lvm__user_ok(ts, sizeof *ts) || ts->tv_sec < 0 || ts->tv_nsec < 0 ||
        ts->tv_nsec >= 1000000000)
        return -1;
    uint64_t ns = (uint64_t)ts->tv_sec * 1000000000ull + (uint64_t)ts->tv_nsec;
    uint64_t now = lvm__hc->clock_monotonic();
    if (absolute) {
        uint64_t base = realtime ? lvm__hc->clock_wall() : now;
        ns = ns > base ? ns - base : 0;
    }
    return (int64_t)(now + ns);
}

long lvm__futex(int *uaddr, long op, long val, const struct timespec *ts,
                int *uaddr2, long val3)
{
    int cmd = (int)(op & ~(128 /* PRIVATE */ | 256 /* CLOCK_REALTIME */));
    if (!lvm__user_ok(uaddr, sizeof *uaddr))
        return -EFAULT;
    switch (cmd) {
    case 0: /* FUTEX_WAIT */
    case 9: /* FUTEX_WAIT_BITSET */ {
        if (*(volatile int *)uaddr != (int)val)
            return -EAGAIN;
        int64_t dl = futex_deadline(ts, cmd == 9, (op & 256) != 0);
        if (dl < 0)
            return -EINVAL;
        if (!cur)
            threads_init();
        int why = block(uaddr, (uint64_t)dl >= UINT64_MAX >> 1 ? UINT64_MAX
                                                               : (uint64_t)dl);
        return why == WAKE_FUTEX     ? 0
               : why == WAKE_TIMEOUT ? -ETIMEDOUT
                                     : -EINTR;
    }
    case 1: /* FUTEX_WAKE */
    case 10: /* FUTEX_WAKE_BITSET */ return cur ? futex_wake(uaddr, val) : 0;
    case 3: /* FUTEX_REQUEUE */
    case 4: /* FUTEX_CMP_REQUEUE */ {
        if (cmd == 4 && *(volatile int *)uaddr != (int)val3)
            return -EAGAIN;
        if (!cur)
            return 0;
        if (!lvm__user_ok(uaddr2, sizeof *uaddr2))
            return -EFAULT;
        int n = futex_wake(uaddr, val), moved = 0;
        long limit = (long)(uintptr_t)ts; /* val2 travels in the timeout */
        for (int i = 0; i < MAX_THREADS && moved < limit; i++)
            if (threads[i].state == T_BLOCKED && threads[i].uaddr == uaddr) {
                threads[i].uaddr = uaddr2;
                moved++;
            }
        return cmd == 4 ? n + moved : n;
    }
    default: return -ENOSYS; /* PI futexes, WAKE_OP: musl uses neither */
    }
}

/* clone: what musl's pthread_create asks for, and nothing else. */
#define CLONE_VM 0x00000100
#define CLONE_FS 0x00000200
#define CLONE_FILES 0x00000400
#define CLONE_SIGHAND 0x00000800
#define CLONE_THREAD 0x00010000
#define CLONE_SYSVSEM 0x00040000
#define CLONE_SETTLS 0x00080000
#define CLONE_PARENT_SETTID 0x00100000
#define CLONE_CHILD_CLEARTID 0x00200000
#define CLONE_DETACHED 0x00400000
#define CLONE_CHILD_SETTID 0x01000000
#define CLONE_NEWNS 0x00020000
#define CLONE_NAMESPACES 0x7e020080 /* CLONE_NEW*: NS, CGROUP, UTS, ... */
#define THREAD_FLAGS                                                           \
    (CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |        \
     CLONE_SYSVSEM)
#define OPTIONAL_FLAGS                                                         \
    (CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID |               \
     CLONE_DETACHED | CLONE_CHILD_SETTID)

static struct lvm_thread *free_slot(void)
{
    for (int i = 0; i < MAX_THREADS; i++)
        if (threads[i].state == T_FREE && &threads[i] != cur)
            return &threads[i];
    return 0;
}

static int new_tid(void)
{
    for (;;) {
        int tid = next_tid++;
        if (next_tid >= LVM_TID_LIMIT)
            next_tid = 2;
        int used = 0;
        for (int i = 0; i < MAX_THREADS && !used; i++)
            used = threads[i].state != T_FREE && threads[i].tid == tid;
        if (!used)
            return tid;
    }
}

long lvm__thread_clone(unsigned long flags, uintptr_t stack, int *ptid,
                       int *ctid, uintptr_t tls)
{
    /* A new namespace is what unshare asks for, and fatal as unshare. */
    if (flags & CLONE_NAMESPACES)
        lvm__forbidden(56);
    if ((flags & (CLONE_VM | CLONE_THREAD)) != (CLONE_VM | CLONE_THREAD))
        return -ENOSYS; /* a new process: there is only one */
    if ((flags & THREAD_FLAGS) != THREAD_FLAGS ||
        (flags & ~(unsigned long)(THREAD_FLAGS | OPTIONAL_FLAGS)))
        return -EINVAL;
    if (!stack || !lvm__user_ok((void *)(stack - 4096), 4096))
        return -EINVAL; /* the frame it starts from goes below its stack */
    if (((flags & CLONE_PARENT_SETTID) && !lvm__user_ok(ptid, sizeof *ptid)) ||
        ((flags & (CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID)) &&
         !lvm__user_ok(ctid, sizeof *ctid)))
        return -EFAULT;
    if (!cur)
        threads_init();
    struct lvm_thread *t = free_slot();
    if (!t)
        return -EAGAIN;
    struct lvm_uregs u;
    lvm__entry_uregs(&u);
    u.rsp = stack;
    u.rax = 0;
    *t = (struct lvm_thread){0};
    t->tid = new_tid();
    t->fs = (flags & CLONE_SETTLS) ? tls : cur->fs;
    t->clear_tid = (flags & CLONE_CHILD_CLEARTID) ? ctid : 0;
    t->deadline = UINT64_MAX;
    t->sp = lvm__thread_frame(&u);
    t->state = T_READY;
    nthreads++;
    thread_binding = LVM_BI->binding;
    if (flags & CLONE_PARENT_SETTID)
        *ptid = t->tid;
    if (flags & CLONE_CHILD_SETTID)
        *ctid = t->tid;
    return t->tid;
}

_Noreturn void lvm__thread_exit(int status)
{
    if (!cur || nthreads <= 1)
        lvm_exit(status);
    if (cur->clear_tid && lvm__user_ok(cur->clear_tid, sizeof(int))) {
        *(volatile int *)cur->clear_tid = 0;
        futex_wake(cur->clear_tid, 1);
    }
    nthreads--;
    cur->state = T_FREE;
    schedule();
    __builtin_unreachable();
}

long lvm__thread_kill(long tid, int sig)
{
    if (tid <= 0)
        return -EINVAL;
    if (tid == lvm__gettid())
        return lvm__kill_self(sig);
    for (int i = 0; cur && i < MAX_THREADS; i++)
        if (threads[i].state != T_FREE && threads[i].tid == tid)
            /* Signals between threads would need an interrupted thread's
             * context: only the null signal (is it alive?) is served. */
            return sig == 0 ? 0 : -ENOSYS;
    return -ESRCH;
}

void lvm__threads_resumed(uint64_t saved_ns)
{
    if (nthreads > 1 && thread_binding != LVM_BI->binding)
        lvm__panic("resume: a guest with several threads cannot move to "
                   "another monitor type");
    /* Deadlines are in the saving host's monotonic clock: keep the time
     * each still had to wait when the guest was saved. */
    uint64_t now = lvm__hc->clock_monotonic();
    for (int i = 0; i < MAX_THREADS; i++) {
        struct lvm_thread *t = &threads[i];
        if (t->state != T_BLOCKED || t->deadline == UINT64_MAX)
            continue;
        uint64_t left = t->deadline > saved_ns ? t->deadline - saved_ns : 0;
        t->deadline = now + left;
    }
}
