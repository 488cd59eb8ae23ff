/*
 * kvm_exec.c: the kvm monitor's entry from the shell (see kvm/).
 */
#include "monitors/shell/shell.h"

#include <errno.h>

_Noreturn void kvm_exec(const struct lvm_msg_plan *plan, const int *fds,
                        int nfds)
{
    (void)plan;
    (void)fds;
    (void)nfds;
    shell_fail(ENOSYS, "the kvm monitor is not built into this shell");
}
