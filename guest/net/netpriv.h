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

/* NICs lwIP serves at once (the toolstack gives a guest at most four). */
#define LVM_NET_NICS_MAX 4

/* One NIC served by lwIP: its own netif, counters and RX backoff, so a
 * flood or a broken NIC costs only its own budget. */
struct lvm_netnic {
    const struct lvm_device *dev;
    uint64_t evmask; /* the NIC's event channel */
    struct netif nif;
    struct lvm_net_info info;
    struct lvm_net_counters ctr;
    int more;                  /* the last round hit its budget */
    uint64_t rx_backoff_until; /* the NIC only fails: do not spin on it */
};

struct lvm_netstack {
    int up;    /* at least one NIC is up (nic[0], the default netif) */
    int nnics; /* NICs up, in the order lvm_net_up() brought them up */
    struct lvm_netnic nic[LVM_NET_NICS_MAX];
    int stop;            /* lvm_net_stop() was called */
    uint64_t last_io_ns; /* a frame went in or out */
    uint64_t round_ns;   /* the clock at the start of the last round */
    /* Timers (stack.c): next due times, 0 when not running. lwIP's
     * timers serve every netif at once. */
    uint64_t tcp_due, tcp_slow_last, arp_last, dhcp_fine_due, dhcp_coarse_due;
    uint8_t scratch[LVM_NET_FRAME_MAX]; /* frames we must drop, TX copies */
};

extern struct lvm_netstack lvm__net;

/* netif.c: the driver. */
err_t lvm__netif_init(struct netif *nif);
/* Take in up to (budget) frames from NIC (n); returns how many were read
 * (good or bad). Sets n->more if frames may be left. */
int lvm__netif_input(struct lvm_netnic *n, int budget);

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

/* From the SDK (guest/api.c): frame I/O that lvm_net_read()/write() refuse
 * on a NIC the stack serves; and the check they ask this library. */
long lvm__net_frame_read(const struct lvm_device *dev, void *buf, size_t len);
long lvm__net_frame_write(const struct lvm_device *dev, const void *buf,
                          size_t len);
int lvm__net_owns(const struct lvm_device *dev);

#endif
