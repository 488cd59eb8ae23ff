/*
 * monitor_proc.c: the proc monitor. The guest runs as the shell process
 * itself, confined by namespaces, limits and a seccomp filter; hypercalls
 * are argument-checked system calls on its own fds.
 */
#include "toolstack/guest.h"
#include "toolstack/layout.h"
#include "toolstack/monitor.h"
#include "toolstack/policy.h"

#include <errno.h>
#include <stdlib.h>

static int proc_available(const struct lvm_host *h, struct lvm_err *err)
{
    (void)h;
    (void)err;
    return 0; /* any Linux host with seccomp and namespaces */
}

static int proc_build_plan(const struct lvm_host *h, const struct image *img,
                           const struct guest_spec *spec, const struct guest *g,
                           struct attach *a, struct lvm_msg_plan **out,
                           size_t *out_len, struct lvm_err *err)
{
    struct plan_builder b;
    struct layout lay;
    if (plan_begin(&b, LVM_MONITOR_PROC, LVM_BINDING_PROC, h, img, spec, g,
                   &lay, err) < 0)
        goto fail;

    struct sock_filter *bpf = NULL;
    size_t bpf_len = 0;
    a->pol.fsgsbase = h->fsgsbase;
    int devp;
    if (policy_proc_build(&a->pol, &bpf, &bpf_len, err) < 0 ||
        plan_filter(&b, bpf, bpf_len, err) < 0 ||
        plan_guest_memory(&b, img, spec, g, a, &lay, &devp, err) < 0)
        goto fail;
    plan_end(&b, img, spec, g, a, &lay);
    *out = b.p;
    *out_len = sizeof *b.p + b.used;
    return 0;
fail:
    free(b.p);
    return -1;
}

const struct monitor_ops monitor_proc = {
    .name = "proc",
    .kind = LVM_MONITOR_PROC,
    .available = proc_available,
    .build_plan = proc_build_plan,
    .pids_max = 1,
};
