/*
 * kvm_hc_console.c: LVM_HC_CONSOLE_WRITE, onto the guest's console fd (1),
 * as the proc binding's write(1, ...) would: one bounded write, partial
 * writes reported as such, a full non-blocking console waited out.
 */
#include "shell/kvm/kvm.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define CONSOLE_FD 1

void kvm_hc_console_write(struct kvm_monitor *m, void *block)
{
    struct lvm_hc_console_write a;
    memcpy(&a, block, sizeof a);
    if (a.len > LVM_CONSOLE_WRITE_MAX) {
        a.ret = LVM_EINVAL;
    } else if (!kvm_mem_ok(m, a.buf, a.len, PROT_READ)) {
        a.ret = LVM_EIO; /* what EFAULT becomes under proc */
    } else {
        for (;;) {
            ssize_t n = write(CONSOLE_FD, (const void *)(uintptr_t)a.buf,
                              (size_t)a.len);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && errno == EAGAIN) {
                struct pollfd p = {.fd = CONSOLE_FD, .events = POLLOUT};
                ppoll(&p, 1, NULL, NULL);
                continue;
            }
            /* EPIPE, EFBIG (the console file's limit): output is lost. */
            a.ret = n < 0 ? LVM_EIO : n;
            break;
        }
    }
    memcpy(block, &a, sizeof a);
}
