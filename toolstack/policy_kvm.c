/*
 * policy_kvm.c: the kvm monitor's own seccomp filter, in the spirit of
 * Firecracker's per-thread filters. Built here with libseccomp, exported
 * as BPF and sent in the plan; the shell loads it once the VM is set up,
 * just before the guest's first instruction (shell/kvm/kvm_exec.c).
 *
 * From then on the monitor can only run its vCPU and serve the guest's
 * hypercalls on the guest's own fds, with the same argument checks the proc
 * policy makes for a proc guest. It cannot open anything, create memory
 * slots or vCPUs (the VM fd is closed), map memory, fork, or signal: if a
 * guest ever subverted the monitor, it would gain no more than it has.
 * Every rule says why it is there; docs/kvm.md lists them.
 */
#include "toolstack/policy.h"

#include "shell/plan.h"

#include <errno.h>
#include <linux/kvm.h>
#include <seccomp.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define A0 SCMP_A0
#define A1 SCMP_A1
#define A2 SCMP_A2
#define A3 SCMP_A3
#define LOW32 0xffffffffull /* ints travel in 64-bit registers */

#define RULE(ctx, name, n, ...)                                                \
    do {                                                                       \
        int rc_ = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(name), n,     \
                                   __VA_ARGS__);                               \
        if (rc_ < 0)                                                           \
            return lvm_err_set(err, -rc_, "seccomp rule for %s", #name);       \
    } while (0)

static int add_rules(scmp_filter_ctx ctx, const struct policy_params *p,
                     struct lvm_err *err)
{
    const scmp_datum_t vcpu = LVM_KVM_VCPU_FD;
    /* Run the guest: KVM_RUN on the vCPU, the monitor's only KVM fd. */
    RULE(ctx, ioctl, 2, A0(SCMP_CMP_MASKED_EQ, LOW32, vcpu),
         A1(SCMP_CMP_MASKED_EQ, LOW32, KVM_RUN));
    /* Crash reports: read the guest's registers (read-only ioctls). */
    RULE(ctx, ioctl, 2, A0(SCMP_CMP_MASKED_EQ, LOW32, vcpu),
         A1(SCMP_CMP_MASKED_EQ, LOW32, KVM_GET_REGS));
    RULE(ctx, ioctl, 2, A0(SCMP_CMP_MASKED_EQ, LOW32, vcpu),
         A1(SCMP_CMP_MASKED_EQ, LOW32, KVM_GET_SREGS));
    /* Console hypercall: one bounded write to the console fd. */
    RULE(ctx, write, 2, A0(SCMP_CMP_EQ, 1),
         A2(SCMP_CMP_LE, LVM_CONSOLE_WRITE_MAX));
    /* Yield hypercall (and waiting for a full console to drain): poll the
     * guest's event fds, with no change to the signal mask. */
    RULE(ctx, ppoll, 2, A1(SCMP_CMP_LE, LVM_MAX_EVTCHN), A3(SCMP_CMP_EQ, 0));
    /* Clock hypercalls, where the vDSO falls back to the system call. */
    RULE(ctx, clock_gettime, 1, A0(SCMP_CMP_EQ, 0)); /* CLOCK_REALTIME */
    RULE(ctx, clock_gettime, 1, A0(SCMP_CMP_EQ, 1)); /* CLOCK_MONOTONIC */
    /* Event channel clear of the control device: consume its eventfd. */
    if (p->control_fd >= 0)
        RULE(ctx, read, 2, A0(SCMP_CMP_EQ, (scmp_datum_t)p->control_fd),
             A2(SCMP_CMP_EQ, 8));
    for (unsigned i = 0; i < p->ndevices; i++) {
        const struct policy_device *d = &p->dev[i];
        scmp_datum_t fd = (scmp_datum_t)d->fd;
        if (d->type == LVM_DEV_NET) {
            /* Net hypercalls: one Ethernet frame per call on its tap. */
            RULE(ctx, read, 2, A0(SCMP_CMP_EQ, fd),
                 A2(SCMP_CMP_LE, LVM_NET_FRAME_MAX));
            RULE(ctx, write, 2, A0(SCMP_CMP_EQ, fd),
                 A2(SCMP_CMP_LE, LVM_NET_FRAME_MAX));
        } else if (d->type == LVM_DEV_BLOCK && d->capacity >= d->block_size) {
            /* Block hypercalls: one whole block inside the device. */
            uint64_t last = d->capacity - d->block_size;
            RULE(ctx, pread64, 3, A0(SCMP_CMP_EQ, fd),
                 A2(SCMP_CMP_EQ, d->block_size), A3(SCMP_CMP_LE, last));
            if (!d->readonly)
                RULE(ctx, pwrite64, 3, A0(SCMP_CMP_EQ, fd),
                     A2(SCMP_CMP_EQ, d->block_size), A3(SCMP_CMP_LE, last));
        }
    }
    /* The end: the monitor exits once its report is written. */
    int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(exit_group), 0);
    if (rc < 0)
        return lvm_err_set(err, -rc, "seccomp rule for exit_group");
    return 0;
}

int policy_kvm_build(const struct policy_params *p, struct sock_filter **prog,
                     size_t *len, struct lvm_err *err)
{
    if (p->ndevices > POLICY_MAX_DEVICES)
        return lvm_err_invalid(err, "too many devices for the policy");
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
    if (!ctx)
        return lvm_err_set(err, ENOMEM, "seccomp_init");
    int r = -1;
    if (seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) <
            0 ||
        seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2) < 0) {
        lvm_err_invalid(err, "seccomp attributes");
        goto out;
    }
    if (add_rules(ctx, p, err) < 0)
        goto out;
    r = policy_export_bpf(ctx, prog, len, err);
out:
    seccomp_release(ctx);
    return r;
}
