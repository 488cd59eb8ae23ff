/*
 * monitor_kvm.c: the kvm monitor. The same guest ELF as under proc, in a
 * hardware virtual machine (/dev/kvm) that the shell creates and runs:
 * long mode set up directly, hypercalls as port I/O exits, the monitor
 * process locked down by its own seccomp filter (policy_kvm.c). See
 * docs/kvm.md and monitors/kvm/.
 */
#include "toolstack/guest.h"
#include "toolstack/layout.h"
#include "toolstack/monitor.h"
#include "toolstack/policy.h"

#include <errno.h>
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
        plan_guest_memory(&b, img, g, a, &lay, &devp, err) < 0)
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
};
