/*
 * sdk.h: guest SDK internal interfaces (not for applications).
 *
 * Everything reachable from the SIGSYS handler is built with
 * -fno-stack-protector and must not touch %fs: the first served call can
 * arrive before musl has set up the thread pointer.
 */
#ifndef LVM_GUEST_SDK_H
#define LVM_GUEST_SDK_H

#include <lightvm/abi.h>
#include <stddef.h>
#include <stdint.h>

/* How hypercalls are made under the current monitor. */
struct lvm_binding_ops {
    long (*console_write)(const void *buf, size_t len);
    uint64_t (*clock_monotonic)(void);
    uint64_t (*clock_wall)(void);
    uint64_t (*yield)(uint64_t deadline_ns, uint64_t evmask);
    long (*net_read)(unsigned handle, void *buf, size_t len);
    long (*net_write)(unsigned handle, const void *buf, size_t len);
    long (*block_read)(unsigned handle, uint64_t off, void *buf, size_t len);
    long (*block_write)(unsigned handle, uint64_t off, const void *buf,
                        size_t len);
    long (*evtchn_clear)(unsigned evtchn);
    void (*exit)(int status); /* does not return */
    void (*abort)(void);      /* does not return */
    /* Set the thread pointer (%fs base); 0 or a negative errno. */
    long (*set_fs)(uintptr_t base);
};

extern const struct lvm_binding_ops *lvm__hc;
extern const struct lvm_binding_ops lvm__binding_proc;
extern const struct lvm_binding_ops lvm__binding_kvm;

#define LVM_BI ((const struct lvm_bootinfo *)LVM_BOOTINFO_ADDR)
#define LVM_DP ((const volatile struct lvm_devpage *)LVM_DEVPAGE_ADDR)
#define LVM_ST ((volatile struct lvm_status *)LVM_STATUS_ADDR)

/* Entry points (start.S, start.c, sigsys.c, binding_kvm.c). */
struct lvm_syscall_frame;
_Noreturn void __lvm_start_c(long *sp);
long lvm__kvm_syscall(struct lvm_syscall_frame *f);

/* The binding the boot info names (traps on a boot info of another ABI),
 * at start and again after a restore (start.c). */
void lvm__binding_init(void);
/* Binding set-up, called by lvm__binding_init. */
void lvm__proc_init(void);
void lvm__kvm_init(void);

/* Guest memory for brk and mmap, carved from [heap_start, heap_end). */
void lvm__mem_init(uintptr_t start, uintptr_t end);
long lvm__brk(uintptr_t addr);
long lvm__mmap(uintptr_t addr, size_t len, int prot, int flags, int fd,
               long off);
long lvm__munmap(uintptr_t addr, size_t len);
long lvm__madvise(uintptr_t addr, size_t len, int advice);
size_t lvm__mem_free_bytes(void);

/* Random bytes from a ChaCha20 stream keyed by the boot info seed. */
void lvm__random_init(const uint8_t seed[32]);
void lvm__random_fill(void *buf, size_t len);

/* The Linux system calls the SDK serves inside the guest. */
long lvm__linux_syscall(long nr, long a0, long a1, long a2, long a3, long a4,
                        long a5);

/* What the SDK answers for a call it does not serve (unserved.c): the
 * errno policy of include/lightvm/syscalls.h. */
long lvm__unserved(long nr, long a0, long a1, long a2, long a3, long a4,
                   long a5);
/* The file tree's system calls (guest/fs_*.c), tried first by linux.c:
 * the result, or -ENOSYS for a call that is not the tree's. */
long lvm__fs_syscall(long nr, long a0, long a1, long a2, long a3, long a4,
                     long a5);
/* End the guest for the forbidden call (nr), reported by its number. */
_Noreturn void lvm__forbidden(long nr);
int lvm__strict_syscalls(void);
const char *lvm__syscall_name(long nr);
/* 1 if [p, p+len) lies in guest RAM (a pointer a call may use). */
int lvm__user_ok(const void *p, size_t len);
/* Deliver (sig) to the guest itself (linux.c). */
long lvm__kill_self(int sig);

/* Threads (thread.c, thread_frame.c, thread_switch.S). */
struct timespec;
struct lvm_uregs {
    uint64_t rip, rsp, rflags, rax, rbx, rcx, rdx, rsi, rdi, rbp;
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
};
/* The call being served: a ucontext_t (proc) or the kvm entry frame;
 * 0 outside one. */
extern void *lvm__entry_ctx;
/* Set once the guest is being ended: no thread switch any more. */
extern volatile int lvm__dying;
long lvm__thread_clone(unsigned long flags, uintptr_t stack, int *ptid,
                       int *ctid, uintptr_t tls);
_Noreturn void lvm__thread_exit(int status);
long lvm__futex(int *uaddr, long op, long val, const struct timespec *ts,
                int *uaddr2, long val3);
long lvm__thread_kill(long tid, int sig);
int lvm__thread_count(void);
int lvm__gettid(void);
void lvm__thread_set_fs(uintptr_t fs);
int *lvm__thread_set_clear_tid(int *p);
void lvm__thread_sleep_until(uint64_t deadline);
long lvm__thread_yield(void);
/* After a restore: refuse a move between monitor types with threads,
 * rebase the waiting threads' deadlines from (saved_ns), the monotonic
 * clock when the guest was saved. */
void lvm__threads_resumed(uint64_t saved_ns);
void lvm__entry_uregs(struct lvm_uregs *u);
uintptr_t lvm__thread_frame(const struct lvm_uregs *u);
void lvm__ctx_switch(uintptr_t *save, uintptr_t next_sp);
_Noreturn void lvm__leave_to_fatal(void);
_Noreturn void lvm__fatal_exit(void);
/* CPU time: the process's (elapsed minus idle) and the thread's. */
void lvm__cputime_start(void);
void lvm__cputime_resumed(uint64_t cpu_ns);
uint64_t lvm__cputime_process(void);
/* Time the guest spent waiting (one thread asleep): not CPU time. */
void lvm__cputime_idle(uint64_t ns);
uint64_t lvm__cputime_thread(void);

/* Control device: act on a pending request, if any. */
void lvm__control_poll(void);
/* Set while a served system call runs; a default poweroff that arrives
 * then makes the entry path return into lvm__poweroff_exit(). */
extern volatile int lvm__in_syscall;
extern volatile int lvm__poweroff_deferred;
_Noreturn void lvm__poweroff_exit(void);
void lvm__control_run_pending(void);
uint64_t lvm__control_evmask(void);

/* Snapshots (control.c, snapshot.S). The context a restored guest
 * continues from; offsets are snapshot.S's. */
struct lvm_snap_ctx {
    uint64_t rbx, rbp, r12, r13, r14, r15, rsp, rip; /* 0..56 */
    uint32_t mxcsr;                                  /* 64 */
    uint16_t fcw;                                    /* 68 */
    uint16_t pad;
};
extern struct lvm_snap_ctx lvm__snap_ctx;
/* 0 when saved, 1 when __lvm_resume comes back through it. */
int lvm__snap_save(struct lvm_snap_ctx *ctx) __attribute__((returns_twice));
void __lvm_resume(void);
void __lvm_snapshot_stub(void);
/* The `syscall` a deferred snapshot restarts (__lvm_snapshot_stub). */
extern uintptr_t lvm__restart_rip;
/* Set while a snapshot request waits for a served call to end. */
extern volatile int lvm__snapshot_deferred;
/* The thread pointer, set again after a restore. */
extern uintptr_t lvm__fs_base;
/* After a restore: the parts of the SDK that hold host state. */
void lvm__resume_hooks(uint32_t flags);
void lvm__net_resumed(uint32_t flags);
/* The network library's: is (dev) a NIC it serves (weak in api.c)? */
int lvm__net_owns(const struct lvm_device *dev);
/* Frame I/O without that check, for the network library itself. */
long lvm__net_frame_read(const struct lvm_device *dev, void *buf, size_t len);
long lvm__net_frame_write(const struct lvm_device *dev, const void *buf,
                          size_t len);

/* Ping the watchdog, if the guest has one, and return the earlier of
 * (deadline_ns) and the next time it must be pinged (half its period). */
uint64_t lvm__watchdog_ping_until(uint64_t deadline_ns);

/* Write a message and the reason to the status page, then abort. */
_Noreturn void lvm__panic(const char *msg);

/* Freestanding helpers safe in the SIGSYS handler. */
size_t lvm__strlen(const char *s);
void lvm__memzero(void *p, size_t n);
void lvm__strlcpy(volatile char *dst, const char *src, size_t n);
char *lvm__utoa(char *end,
                unsigned long v); /* writes backwards, returns start */

#endif
