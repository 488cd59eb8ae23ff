/*
 * policy.h: the seccomp policy of a proc guest. Three classes of system
 * call (docs/security.md lists every rule):
 *   ALLOW  the hypercalls, each checked against the guest's own devices;
 *   TRAP   the Linux calls musl makes, served inside the guest by the SDK
 *          (SIGSYS to the handler named in the guest's ABI note);
 *   KILL   everything else: the kernel kills the whole guest.
 */
#ifndef LVM_TS_POLICY_H
#define LVM_TS_POLICY_H

#include "toolstack/error.h"

#include <linux/filter.h>
#include <stddef.h>
#include <stdint.h>

#define POLICY_MAX_DEVICES 32

struct policy_device {
    unsigned type; /* LVM_DEV_NET or LVM_DEV_BLOCK */
    int fd;        /* the guest's fd for it */
    int readonly;  /* block: no writes */
    uint64_t capacity;
    uint32_t block_size;
};

struct policy_params {
    int control_fd; /* the control device's eventfd, or -1 */
    unsigned ndevices;
    struct policy_device dev[POLICY_MAX_DEVICES];
    int fsgsbase; /* the SDK sets %fs itself: trap arch_prctl */
};

/* Compile the filter for (p) into a malloc'd BPF program. */
int policy_proc_build(const struct policy_params *p, struct sock_filter **prog,
                      size_t *len, struct lvm_err *err);

/* Compile the kvm monitor's own filter (policy_kvm.c) for a guest with the
 * devices in (p) into a malloc'd BPF program. */
int policy_kvm_build(const struct policy_params *p, struct sock_filter **prog,
                     size_t *len, struct lvm_err *err);

/* Export libseccomp filter (ctx) as classic BPF into a malloc'd array:
 * the step both policies end with. */
int policy_export_bpf(void *ctx, struct sock_filter **prog, size_t *len,
                      struct lvm_err *err);

/* The name of x86_64 system call (nr), e.g. "openat", or "syscall-<nr>". */
const char *policy_syscall_name(long nr, char *buf, size_t len);

#endif
