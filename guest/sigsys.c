/*
 * sigsys.c: under the proc monitor, the seccomp filter turns the Linux
 * system calls musl makes (brk, mmap, writev, ...) into SIGSYS, delivered
 * here; the SDK serves each inside the guest and returns its result as the
 * system call's. The monitor installs this handler (named in the ABI note)
 * with every signal blocked, so a forbidden call made while serving one is
 * fatal, as it should be.
 */
#include "sdk.h"

#include <signal.h>
#include <ucontext.h>

void __lvm_sigsys(int sig, siginfo_t *info, void *ucv);

void __lvm_sigsys(int sig, siginfo_t *info, void *ucv)
{
    ucontext_t *uc = ucv;
    greg_t *r = uc->uc_mcontext.gregs;
    (void)sig;
    long nr = info->si_syscall;
    lvm__in_syscall = 1;
    lvm__entry_ctx = uc;
    r[REG_RAX] = lvm__linux_syscall(nr, r[REG_RDI], r[REG_RSI], r[REG_RDX],
                                    r[REG_R10], r[REG_R8], r[REG_R9]);
    lvm__in_syscall = 0;
    lvm__entry_ctx = 0;
    if (lvm__snapshot_deferred && !lvm__poweroff_deferred) {
        /* Give way to the snapshot: park at the `syscall` (2 bytes
         * before the return address), which runs again afterwards. */
        lvm__restart_rip = (uintptr_t)r[REG_RIP] - 2;
        r[REG_RAX] = nr;
        r[REG_RIP] = (greg_t)(uintptr_t)__lvm_snapshot_stub;
    } else if (lvm__poweroff_deferred) {
        /* Return into lvm__poweroff_exit() as if the interrupted code had
         * called it, below its red zone and with the ABI's alignment. */
        greg_t sp = ((r[REG_RSP] - 128) & ~(greg_t)15) - 8;
        r[REG_RSP] = sp;
        r[REG_RIP] = (greg_t)(uintptr_t)lvm__poweroff_exit;
    }
}
