/*
 * kvm_hc_event.c: LVM_HC_YIELD and LVM_HC_EVTCHN_CLEAR. Event channels are
 * the fds the device page names (the control device's eventfd, later net
 * taps); yielding is one ppoll on those in the guest's mask, until its
 * deadline. The monitor waits nowhere else.
 */
#include "shell/kvm/kvm.h"

#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The channel map, rebuilt when the toolstack changes the device page. */
static void refresh(struct kvm_monitor *m)
{
    uint32_t gen = __atomic_load_n(&m->dp->generation, __ATOMIC_ACQUIRE);
    if (m->evtchn_ready && gen == m->evtchn_gen)
        return;
    for (unsigned i = 0; i < LVM_MAX_EVTCHN; i++)
        m->evtchn_fd[i] = -1;
    unsigned n = m->dp->ndevices;
    if (n > LVM_MAX_DEVICES)
        n = LVM_MAX_DEVICES;
    for (unsigned i = 0; i < n; i++) {
        unsigned ch = m->dp->dev[i].evtchn;
        if (ch < LVM_MAX_EVTCHN) {
            m->evtchn_fd[ch] = m->dp->dev[i].handle;
            m->evtchn_type[ch] = m->dp->dev[i].type;
        }
    }
    m->evtchn_gen = gen;
    m->evtchn_ready = 1;
}

void kvm_hc_yield(struct kvm_monitor *m, void *block)
{
    struct lvm_hc_yield a;
    memcpy(&a, block, sizeof a);
    refresh(m);
    struct pollfd pfd[LVM_MAX_EVTCHN];
    unsigned char ch[LVM_MAX_EVTCHN];
    nfds_t n = 0;
    for (unsigned i = 0; i < LVM_MAX_EVTCHN; i++) {
        if ((a.evmask & (1ull << i)) && m->evtchn_fd[i] >= 0) {
            pfd[n] = (struct pollfd){.fd = m->evtchn_fd[i], .events = POLLIN};
            ch[n++] = (unsigned char)i;
        }
    }
    struct timespec ts, *tsp = NULL;
    if (a.deadline_ns != UINT64_MAX) {
        uint64_t now = kvm_now();
        uint64_t rel = a.deadline_ns > now ? a.deadline_ns - now : 0;
        ts.tv_sec = (time_t)(rel / 1000000000ull);
        ts.tv_nsec = (long)(rel % 1000000000ull);
        tsp = &ts;
    }
    int r = ppoll(pfd, n, tsp, NULL);
    a.ready = 0;
    for (nfds_t i = 0; r > 0 && i < n; i++)
        if (pfd[i].revents)
            a.ready |= 1ull << ch[i];
    memcpy(block, &a, sizeof a);
}

void kvm_hc_evtchn_clear(struct kvm_monitor *m, void *block)
{
    struct lvm_hc_evtchn_clear a;
    memcpy(&a, block, sizeof a);
    refresh(m);
    if (a.evtchn >= LVM_MAX_EVTCHN || m->evtchn_fd[a.evtchn] < 0) {
        a.ret = LVM_EINVAL;
    } else {
        if (m->evtchn_type[a.evtchn] == LVM_DEV_CONTROL) {
            uint64_t v; /* an eventfd, non-blocking: reading resets it */
            if (read(m->evtchn_fd[a.evtchn], &v, sizeof v) < 0)
                v = 0;
        }
        a.ret = LVM_OK;
    }
    memcpy(block, &a, sizeof a);
}
