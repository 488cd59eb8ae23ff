/*
 * monitor_kvm.c: the kvm monitor. The same guest ELF as under proc, in a
 * hardware virtual machine (/dev/kvm) that the shell creates and runs:
 * long mode set up directly, hypercalls as port I/O exits, the monitor
 * process locked down by its own seccomp filter (policy_kvm.c). See
 * docs/kvm.md and shell/kvm/.
 */
#include "toolstack/guest.h"
#include "toolstack/layout.h"
#include "toolstack/monitor.h"
#include "toolstack/policy.h"

#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* $LIGHTVM_KVM_DEVICE moves /dev/kvm (tests use it to take KVM away). */
static const char *kvm_device(void)
{
    const char *d = getenv("LIGHTVM_KVM_DEVICE");
    return d && *d ? d : "/dev/kvm";
}

/* Open KVM for a shell, checking it is the API the monitor speaks. */
static int kvm_open(const struct lvm_host *h, struct lvm_err *err)
{
    (void)h;
    const char *path = kvm_device();
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return lvm_err_set(err, errno,
                           "the kvm monitor cannot open %s (no hardware "
                           "virtualization here? --monitor proc runs "
                           "everywhere)",
                           path);
    int v = ioctl(fd, KVM_GET_API_VERSION, 0);
    if (v != KVM_API_VERSION) {
        close(fd);
        return lvm_err_set(err, ENOTSUP, "%s speaks KVM API %d, not %d", path,
                           v, KVM_API_VERSION);
    }
    if (ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_READONLY_MEM) <= 0 ||
        ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY) <= 0) {
        close(fd);
        return lvm_err_set(err, ENOTSUP,
                           "%s lacks read-only memory slots, which the kvm "
                           "monitor needs for the device page",
                           path);
    }
    return fd;
}

static int kvm_available(const struct lvm_host *h, struct lvm_err *err)
{
    int fd = kvm_open(h, err);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

static void format_regs(const volatile struct lvm_report_regs *r, char *buf,
                        size_t len)
{
#define X(v) ((unsigned long long)(v))
    snprintf(buf, len,
             "rip %016llx rsp %016llx rflags %08llx\n"
             "rax %016llx rbx %016llx rcx %016llx rdx %016llx\n"
             "rsi %016llx rdi %016llx rbp %016llx r8  %016llx\n"
             "r9  %016llx r10 %016llx r11 %016llx r12 %016llx\n"
             "r13 %016llx r14 %016llx r15 %016llx\n"
             "cr0 %08llx cr2 %016llx cr3 %08llx cr4 %08llx efer %llx "
             "fs.base %llx\n",
             X(r->rip), X(r->rsp), X(r->rflags), X(r->rax), X(r->rbx),
             X(r->rcx), X(r->rdx), X(r->rsi), X(r->rdi), X(r->rbp), X(r->r8),
             X(r->r9), X(r->r10), X(r->r11), X(r->r12), X(r->r13), X(r->r14),
             X(r->r15), X(r->cr0), X(r->cr2), X(r->cr3), X(r->cr4), X(r->efer),
             X(r->fs_base));
#undef X
}

static void copy_volatile(char *dst, const volatile char *src, size_t len)
{
    for (size_t i = 0; i < len; i++)
        dst[i] = src[i];
    dst[len - 1] = 0;
}

/*
 * How a kvm guest ended, from the report its monitor wrote (the guest
 * cannot write it: the page is never mapped into the VM). Returns 1 if
 * (ex) is filled in, 0 if there is no report (the monitor was killed, or
 * never got that far) and the process's fate says it all.
 */
static int kvm_reap_report(const struct guest *g, const siginfo_t *si,
                           struct guest_exit *ex)
{
    const volatile struct lvm_monitor_report *rp = g->dev.report;
    if (si->si_code != CLD_EXITED || !rp ||
        __atomic_load_n(&rp->magic, __ATOMIC_ACQUIRE) != LVM_REPORT_MAGIC)
        return 0;
    ex->status = rp->status;
    ex->code = rp->status;
    char text[sizeof rp->detail];
    switch (rp->kind) {
    case LVM_REPORT_EXIT: ex->kind = GUEST_EXITED; return 1;
    case LVM_REPORT_ABORT:
        ex->kind = GUEST_ABORTED;
        copy_volatile(text, g->dev.st->message, sizeof g->dev.st->message);
        snprintf(ex->detail, sizeof ex->detail, "%s", text);
        return 1;
    case LVM_REPORT_FORBIDDEN:
        ex->kind = GUEST_POLICY;
        ex->syscall = rp->syscall >= -1 - 4096 ? rp->syscall : -1;
        ex->status = SIGSYS;
        ex->code = 128 + SIGSYS;
        return 1;
    case LVM_REPORT_CRASH:
        ex->kind = GUEST_CRASHED;
        ex->status = rp->signal;
        ex->code = 128 + rp->signal;
        copy_volatile(text, rp->detail, sizeof rp->detail);
        snprintf(ex->detail, sizeof ex->detail, "%s: %s",
                 guest_signal_name(rp->signal), text);
        if (rp->have_regs)
            format_regs(&rp->regs, ex->regs, sizeof ex->regs);
        return 1;
    case LVM_REPORT_MONITOR:
        ex->kind = GUEST_KILLED;
        copy_volatile(text, rp->detail, sizeof rp->detail);
        snprintf(ex->detail, sizeof ex->detail,
                 "its kvm monitor, which failed: %s", text);
        return 1;
    default: return 0;
    }
}

static int kvm_build_plan(const struct lvm_host *h, const struct image *img,
                          const struct guest_spec *spec, const struct guest *g,
                          struct attach *a, struct lvm_msg_plan **out,
                          size_t *out_len, struct lvm_err *err)
{
    struct plan_builder b;
    struct layout lay;
    if (plan_begin(&b, LVM_MONITOR_KVM, LVM_BINDING_KVM, h, img, spec, g, &lay,
                   err) < 0)
        goto fail;

    /* The filter is the monitor's own, not the guest's: the guest makes
     * no system calls at all. */
    struct sock_filter *bpf = NULL;
    size_t bpf_len = 0;
    int devp;
    if (policy_kvm_build(&a->pol, &bpf, &bpf_len, err) < 0 ||
        plan_filter(&b, bpf, bpf_len, err) < 0 ||
        plan_guest_memory(&b, img, spec, g, a, &lay, &devp, err) < 0)
        goto fail;
    plan_end(&b, img, spec, g, a, &lay);
    b.p->report_fd_index = devp; /* its third page: the monitor's report */
    *out = b.p;
    *out_len = sizeof *b.p + b.used;
    return 0;
fail:
    free(b.p);
    return -1;
}

const struct monitor_ops monitor_kvm = {
    .name = "kvm",
    .kind = LVM_MONITOR_KVM,
    .available = kvm_available,
    .build_plan = kvm_build_plan,
    .prepare_fd = kvm_open,
    .reap_report = kvm_reap_report,
    /* KVM adds a worker task of its own to the guest's process (Linux
     * 6.13 and later), and brings it into the guest's cgroup. */
    .pids_max = 2,
    .evict_kthreads = 1,
    /* A guest's forbidden call is a port I/O exit the monitor reports;
     * SIGSYS can only be the monitor breaking its own filter. */
    .filters_itself = 1,
};
