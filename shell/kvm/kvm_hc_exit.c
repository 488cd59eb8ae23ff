/*
 * kvm_hc_exit.c: LVM_HC_EXIT and LVM_HC_ABORT, the guest's two ways out.
 * The monitor writes its report and exits with the status a proc guest
 * would have ended with. An abort's message is on the status page, in the
 * guest's own words; when the SDK aborted because it refused a Linux
 * system call ("forbidden system call N", guest/linux.c) the report names
 * the call, as the kernel's audit record does under proc. Under kvm no such
 * call ever reaches the host, so that number is the guest SDK's account.
 */
#include "shell/kvm/kvm.h"

#include <signal.h>
#include <string.h>

#define FORBIDDEN_PREFIX "forbidden system call "

_Noreturn void kvm_hc_exit(struct kvm_monitor *m, void *block)
{
    struct lvm_hc_exit a;
    memcpy(&a, block, sizeof a);
    kvm_report_end(m, LVM_REPORT_EXIT, a.status & 0xff);
}

/* The system call number in the SDK's abort message, or -1. */
static long forbidden_nr(const struct kvm_monitor *m)
{
    char msg[sizeof m->st->message];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = m->st->message[i];
    msg[sizeof msg - 1] = 0;
    size_t pl = strlen(FORBIDDEN_PREFIX);
    if (strncmp(msg, FORBIDDEN_PREFIX, pl) != 0)
        return -1;
    long nr = 0;
    const char *p = msg + pl;
    if (*p < '0' || *p > '9')
        return -1;
    /* x86_64 numbers, and x32 ones (bit 30 set), fit in 31 bits. */
    for (; *p >= '0' && *p <= '9' && nr < (1L << 31); p++)
        nr = nr * 10 + (*p - '0');
    return *p == 0 && nr < (1L << 31) ? nr : -1;
}

_Noreturn void kvm_hc_abort(struct kvm_monitor *m, void *block)
{
    (void)block;
    long nr = forbidden_nr(m);
    if (nr >= 0) {
        m->report->syscall = nr;
        kvm_report_end(m, LVM_REPORT_FORBIDDEN, 128 + SIGSYS);
    }
    kvm_report_end(m, LVM_REPORT_ABORT, 128 + SIGABRT);
}
