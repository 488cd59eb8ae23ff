/*
 * kvm_hc_time.c: LVM_HC_CLOCK_MONOTONIC and LVM_HC_CLOCK_WALL, the host's
 * clocks as they are (the proc binding reads the same two).
 */
#include "shell/kvm/kvm.h"

#include <string.h>
#include <time.h>

static void clock_hc(void *block, clockid_t id)
{
    struct lvm_hc_clock a;
    struct timespec ts;
    if (clock_gettime(id, &ts) < 0)
        a.ns = 0;
    else
        a.ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    memcpy(block, &a, sizeof a);
}

void kvm_hc_clock_monotonic(struct kvm_monitor *m, void *block)
{
    (void)m;
    clock_hc(block, CLOCK_MONOTONIC);
}

void kvm_hc_clock_wall(struct kvm_monitor *m, void *block)
{
    (void)m;
    clock_hc(block, CLOCK_REALTIME);
}
