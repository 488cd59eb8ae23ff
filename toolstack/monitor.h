/*
 * monitor.h: one struct monitor_ops per unikernel monitor. A monitor turns
 * an image, a spec and the guest's attached devices into a launch plan for
 * lightvm-shell (shell/plan.h); the toolstack above is the same
 * for all of them.
 */
#ifndef LVM_TS_MONITOR_H
#define LVM_TS_MONITOR_H

#include "shell/plan.h"
#include "toolstack/error.h"
#include "toolstack/host.h"
#include "toolstack/image.h"
#include "toolstack/policy.h"

#include <signal.h>
#include <stddef.h>

struct guest;
struct guest_exit;
struct guest_spec;

/* Host resources behind a guest's devices, gathered before the plan. */
struct attach {
    int fds[LVM_PLAN_MAX_FDS]; /* sent with the plan, in this order */
    int nfds;
    struct lvm_plan_fd map[LVM_PLAN_MAX_FDS]; /* received fd -> guest fd */
    unsigned nmap;
    struct policy_params pol;    /* the devices, as the policy sees them */
    int owned[LVM_PLAN_MAX_FDS]; /* fds to close once the plan is sent */
    int nowned;
};

struct monitor_ops {
    const char *name; /* as in --monitor NAME */
    unsigned kind;    /* enum lvm_monitor_kind */
    /* 0 if this host can run it, else -1 with the reason in (err). */
    int (*available)(const struct lvm_host *h, struct lvm_err *err);
    /* Build the plan; extra fds it needs are appended to (a). */
    int (*build_plan)(const struct lvm_host *h, const struct image *img,
                      const struct guest_spec *spec, const struct guest *g,
                      struct attach *a, struct lvm_msg_plan **plan, size_t *len,
                      struct lvm_err *err);
    /* The fd a shell needs at PREPARE, opened by the toolstack (kvm:
     * /dev/kvm), or -1 with (err) set. NULL if the monitor needs none. */
    int (*prepare_fd)(const struct lvm_host *h, struct lvm_err *err);
    /* How the guest ended, from a report the monitor wrote: 1 if (ex)
     * is filled in, 0 if there is none. NULL: the process's fate says
     * it all. */
    int (*reap_report)(const struct guest *g, const siginfo_t *si,
                       struct guest_exit *ex);
    unsigned pids_max;  /* tasks in the guest's cgroup */
    int evict_kthreads; /* its VM brings a kernel thread into the guest's
                           cgroup: move it out once the shell is READY */
    int filters_itself; /* SIGSYS is its own filter's, never the guest's */
};

extern const struct monitor_ops monitor_proc;
extern const struct monitor_ops monitor_kvm;

/* The monitor called (name), or NULL. "auto" picks the best available. */
const struct monitor_ops *monitor_find(const char *name,
                                       const struct lvm_host *h);

/* The monitor of (kind), or NULL. */
const struct monitor_ops *monitor_of(unsigned kind);

/* Names of every monitor --monitor takes, for messages: "proc, kvm,
 * qemu". */
const char *monitor_names(void);

/* Shared plan-building steps (plan.c). */
struct layout;
struct plan_builder {
    struct lvm_msg_plan *p;
    uint8_t *data;
    size_t used;
};

/* Start a plan for (kind) with boot info and the initial stack. */
int plan_begin(struct plan_builder *b, unsigned kind, uint16_t binding,
               const struct lvm_host *h, const struct image *img,
               const struct guest_spec *spec, const struct guest *g,
               struct layout *lay, struct lvm_err *err);

/* Append (len) bytes to the plan's data area; returns the offset or -1. */
long plan_data(struct plan_builder *b, const void *data, size_t len);

/* Add the standard memory maps: boot info, device and status pages, the
 * image from its template (fd index (tmpl)), heap and stack; the memory
 * it writes from the saved RAM at fd index (ram) if it is not -1. */
int plan_memory(struct plan_builder *b, const struct image *img,
                const struct layout *lay, int tmpl, int devp, int ram,
                struct lvm_err *err);

/* Put the seccomp filter (bpf, bpf_len) in the plan and free it. */
struct sock_filter;
int plan_filter(struct plan_builder *b, struct sock_filter *bpf, size_t bpf_len,
                struct lvm_err *err);

/* Attach the image template and the device pages and add the standard
 * maps (plan_memory); (*devp) is the device pages' fd index. */
int plan_guest_memory(struct plan_builder *b, const struct image *img,
                      const struct guest_spec *spec, const struct guest *g,
                      struct attach *a, const struct layout *lay, int *devp,
                      struct lvm_err *err);

/* Finish: fds, entry points, sizes. */
void plan_end(struct plan_builder *b, const struct image *img,
              const struct guest_spec *spec, const struct guest *g,
              const struct attach *a, const struct layout *lay);

/* Add fd (fd) to be sent with the plan; returns its index or -1. */
int attach_fd(struct attach *a, int fd, int target, struct lvm_err *err);

#endif
