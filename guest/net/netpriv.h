/*
 * netpriv.h: internals of the SDK's network stack (liblightvm-net.a),
 * shared by its files; not for applications.
 *
 * Everything here runs in one thread: the event loop in stack.c takes
 * frames in through the netif driver (netif.c), runs lwIP's timers and
 * then the callbacks that were deferred (tcp.c, udp.c).
 */
#ifndef LVM_NET_PRIV_H
#define LVM_NET_PRIV_H

#include <lightvm/guest.h>
#include <lightvm/net.h>

#include "lwip/err.h"
#include "lwip/netif.h"

/* Frames taken in per round before timers and callbacks get a turn. */
#define LVM_NET_RX_BUDGET 64

struct lvm_netstack {
    int up;
    const struct lvm_device *dev;
    uint64_t evmask; /* the NIC's event channel */
    struct netif nif;
    struct lvm_net_info info;
    struct lvm_net_counters ctr;
    int more;                  /* the last round hit its budget */
    int stop;                  /* lvm_net_stop() was called */
    uint64_t rx_backoff_until; /* the NIC only fails: do not spin on it */
    uint64_t last_io_ns;       /* a frame went in or out */
    /* Timers (stack.c): next due times, 0 when not running. */
    uint64_t tcp_due, tcp_slow_last, arp_last, dhcp_fine_due, dhcp_coarse_due;
    uint8_t scratch[LVM_NET_FRAME_MAX]; /* frames we must drop, TX copies */
};

extern struct lvm_netstack lvm__net;

/* netif.c: the driver. */
err_t lvm__netif_init(struct netif *nif);
/* Take in up to (budget) frames; returns how many were read (good or
 * bad). Sets lvm__net.more if frames may be left. */
int lvm__netif_input(struct lvm_netstack *s, int budget);

/* stack.c */
int lvm__net_err(err_t e); /* lwIP error -> LVM_NET_E* */
/* After a restore: the NIC again from the device page (the SDK's hook;
 * flags are LVM_RESUME_*). */
void lvm__net_resumed(uint32_t flags);

/* tcp.c, udp.c: run the callbacks deferred to the end of a round. */
void lvm__tcp_reap(void);
void lvm__udp_reap(void);

/* From the SDK (guest/random.c): the guest's random stream. */
void lvm__random_fill(void *buf, size_t len);

#endif
