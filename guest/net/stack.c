/*
 * stack.c: the SDK's network stack: bring the NIC up, run the event loop
 * and lwIP's timers.
 *
 * lwIP runs with NO_SYS and no timer module of its own (LWIP_TIMERS 0):
 * this file calls its timer functions when they are due, and only while
 * they have work (TCP connections, DHCP, recent ARP activity). A guest
 * that is idle with a static address so sleeps in one LVM_HC_YIELD until
 * a frame arrives, however long that takes.
 */
#include "netpriv.h"

#include "lvm_hooks.h"
#include "lwip/dhcp.h"
#include "lwip/etharp.h"
#include "lwip/init.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/sys.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "netif/ethernet.h"

#include <stdio.h>
#include <string.h>

#define MS 1000000ull
#define ARP_ACTIVE_NS (6000 * MS) /* ARP retries take 5 ticks of 1 s */

struct lvm_netstack lvm__net;

/* ---- lwIP's platform hooks ----------------------------------------------- */

u32_t sys_now(void)
{
    return (u32_t)(lvm_clock_monotonic() / MS);
}

uint32_t lvm__net_rand(void)
{
    uint32_t r;
    lvm__random_fill(&r, sizeof r);
    return r;
}

u32_t lvm__net_tcp_isn(const ip_addr_t *local_ip, u16_t local_port,
                       const ip_addr_t *remote_ip, u16_t remote_port)
{
    (void)local_ip, (void)local_port, (void)remote_ip, (void)remote_port;
    return lvm__net_rand();
}

void lvm__net_assert(const char *msg, const char *file, int line)
{
    char buf[200];
    snprintf(buf, sizeof buf, "lwIP assertion \"%s\" failed at %s:%d", msg,
             file, line);
    lvm_abort(buf);
}

/* ---- Errors -------------------------------------------------------------- */

int lvm__net_err(err_t e)
{
    switch (e) {
    case ERR_OK: return LVM_NET_OK;
    case ERR_MEM:
    case ERR_BUF: return LVM_NET_ENOMEM;
    case ERR_TIMEOUT: return LVM_NET_ETIMEDOUT;
    case ERR_RTE: return LVM_NET_EHOSTUNREACH;
    case ERR_USE:
    case ERR_ISCONN:
    case ERR_ALREADY: return LVM_NET_EADDRINUSE;
    case ERR_ABRT: return LVM_NET_ECONNABORTED;
    case ERR_RST: return LVM_NET_ECONNRESET;
    case ERR_CLSD:
    case ERR_CONN: return LVM_NET_ENOTCONN;
    case ERR_VAL:
    case ERR_ARG: return LVM_NET_EINVAL;
    default: return LVM_NET_EIO;
    }
}

const char *lvm_net_strerror(int err)
{
    switch (err) {
    case LVM_NET_OK: return "success";
    case LVM_NET_ENOMEM: return "out of network memory";
    case LVM_NET_EINVAL: return "invalid argument";
    case LVM_NET_EADDRINUSE: return "address in use";
    case LVM_NET_ENODEV: return "no such network device";
    case LVM_NET_ETIMEDOUT: return "timed out";
    case LVM_NET_ECONNREFUSED: return "connection refused";
    case LVM_NET_ECONNRESET: return "connection reset by peer";
    case LVM_NET_ECONNABORTED: return "connection aborted";
    case LVM_NET_EHOSTUNREACH: return "no route to host";
    case LVM_NET_ENOTCONN: return "not connected";
    default: return "input/output error";
    }
}

/* ---- Timers -------------------------------------------------------------- */

/* Run the timers that are due; returns when the next one is (UINT64_MAX:
 * none is needed until a frame arrives). */
static uint64_t run_timers(struct lvm_netstack *s, uint64_t now)
{
    uint64_t next = UINT64_MAX;
    /* TCP, fast timer (delayed ACKs, refused data): every 250 ms while a
     * connection is open. Slow timer (retransmission, timeouts, the end
     * of TIME-WAIT): every 500 ms then, and while only TIME-WAIT remains,
     * not before the first of those ends; ticks missed meanwhile are made
     * up at once (lwIP counts time in slow ticks). So a daytime guest
     * sleeps after answering, instead of ticking through TIME-WAIT. */
    const uint64_t fast = TCP_FAST_INTERVAL * MS, slow = TCP_SLOW_INTERVAL * MS;
    if (tcp_active_pcbs || tcp_tw_pcbs) {
        if (!s->tcp_slow_last)
            s->tcp_slow_last = now;
        if (now - s->tcp_slow_last >= slow) {
            uint64_t ticks = (now - s->tcp_slow_last) / slow;
            s->tcp_slow_last += ticks * slow;
            if (ticks > 2 * TCP_MSL / TCP_SLOW_INTERVAL + 1)
                ticks = 2 * TCP_MSL / TCP_SLOW_INTERVAL + 1;
            while (ticks--)
                tcp_slowtmr();
        }
    } else {
        s->tcp_slow_last = 0;
    }
    if (tcp_active_pcbs) {
        if (!s->tcp_due || now >= s->tcp_due) {
            if (s->tcp_due)
                tcp_fasttmr();
            s->tcp_due = now + fast;
        }
        next = s->tcp_due;
        if (s->tcp_slow_last + slow < next)
            next = s->tcp_slow_last + slow;
    } else {
        s->tcp_due = 0;
        /* Only TIME-WAIT left: wake when the first one ends. */
        uint32_t left = UINT32_MAX;
        for (struct tcp_pcb *p = tcp_tw_pcbs; p; p = p->next) {
            uint32_t age = tcp_ticks - p->tmr;
            uint32_t span = 2 * TCP_MSL / TCP_SLOW_INTERVAL + 1;
            uint32_t l = age < span ? span - age : 1;
            if (l < left)
                left = l;
        }
        if (left != UINT32_MAX)
            next = s->tcp_slow_last + (uint64_t)left * slow;
    }
    /* ARP ages entries and retries requests once a second. Ticks missed
     * while idle are made up at once, so entries still expire on time. */
    if (now - s->arp_last >= ARP_TMR_INTERVAL * MS) {
        uint64_t ticks = (now - s->arp_last) / (ARP_TMR_INTERVAL * MS);
        if (ticks > ARP_MAXAGE + 1)
            ticks = ARP_MAXAGE + 1;
        while (ticks--)
            etharp_tmr();
        s->arp_last = now;
    }
    int arp_busy = now - s->last_io_ns < ARP_ACTIVE_NS || tcp_active_pcbs;
    if (arp_busy && s->arp_last + ARP_TMR_INTERVAL * MS < next)
        next = s->arp_last + ARP_TMR_INTERVAL * MS;
    /* DHCP: its fine timer drives requests and retries, the coarse one
     * renewal, of every netif at once. Only while a NIC is configured by
     * DHCP. */
    int dhcp = 0;
    for (int i = 0; i < s->nnics; i++)
        dhcp |= netif_dhcp_data(&s->nic[i].nif) != NULL;
    if (dhcp) {
        if (!s->dhcp_fine_due) {
            s->dhcp_fine_due = now + DHCP_FINE_TIMER_MSECS * MS;
            s->dhcp_coarse_due = now + DHCP_COARSE_TIMER_MSECS * MS;
        }
        if (now >= s->dhcp_fine_due) {
            dhcp_fine_tmr();
            s->dhcp_fine_due = now + DHCP_FINE_TIMER_MSECS * MS;
        }
        if (now >= s->dhcp_coarse_due) {
            dhcp_coarse_tmr();
            s->dhcp_coarse_due = now + DHCP_COARSE_TIMER_MSECS * MS;
        }
        if (s->dhcp_fine_due < next)
            next = s->dhcp_fine_due;
        if (s->dhcp_coarse_due < next)
            next = s->dhcp_coarse_due;
    }
    return next;
}

/* ---- Bringing NICs up ---------------------------------------------------- */

static void update_info(struct lvm_netnic *n)
{
    n->info.addr = ip4_addr_get_u32(netif_ip4_addr(&n->nif));
    n->info.netmask = ip4_addr_get_u32(netif_ip4_netmask(&n->nif));
    n->info.gateway = ip4_addr_get_u32(netif_ip4_gw(&n->nif));
}

/* The NIC called (name) among those up, or NULL. */
static struct lvm_netnic *nic_named(const char *name)
{
    struct lvm_netstack *s = &lvm__net;
    for (int i = 0; i < s->nnics; i++)
        if (!strcmp(s->nic[i].info.nic, name))
            return &s->nic[i];
    return NULL;
}

int lvm_net_up(const char *nic, uint64_t timeout_ms)
{
    struct lvm_netstack *s = &lvm__net;
    /* NULL is the first NIC up, or the first of the device page. */
    if (!nic && s->up)
        return LVM_NET_OK;
    const struct lvm_device *dev = lvm_device_find(LVM_DEV_NET, nic);
    if (!dev)
        return LVM_NET_ENODEV;
    char name[sizeof s->nic[0].info.nic];
    memcpy(name, dev->name, sizeof name);
    name[sizeof name - 1] = 0;
    if (nic_named(name))
        return LVM_NET_OK;
    if (s->nnics == LVM_NET_NICS_MAX)
        return LVM_NET_ENOMEM;
    struct lvm_netnic *n = &s->nic[s->nnics];
    memset(n, 0, sizeof *n);
    n->dev = dev;
    n->evmask = lvm_device_evmask(dev);
    memcpy(n->info.mac, dev->u.net.mac, sizeof n->info.mac);
    n->info.mtu =
        dev->u.net.mtu >= 576 && dev->u.net.mtu <= 1500 ? dev->u.net.mtu : 1500;
    n->info.dhcp = (dev->flags & LVM_DEVF_DHCP) != 0;
    memcpy(n->info.nic, name, sizeof n->info.nic);

    if (!s->up)
        lwip_init();
    ip4_addr_t addr, mask, gw;
    ip4_addr_set_u32(&addr, n->info.dhcp ? 0 : dev->u.net.ipv4_addr);
    ip4_addr_set_u32(&mask, n->info.dhcp ? 0 : dev->u.net.ipv4_netmask);
    ip4_addr_set_u32(&gw, n->info.dhcp ? 0 : dev->u.net.ipv4_gateway);
    if (!netif_add(&n->nif, &addr, &mask, &gw, n, lvm__netif_init,
                   ethernet_input))
        return LVM_NET_EIO;
    /* The first NIC up has the default route; lwIP sends to the subnet
     * of any other NIC through that NIC. */
    if (!s->up)
        netif_set_default(&n->nif);
    netif_set_link_up(&n->nif);
    netif_set_up(&n->nif);
    s->nnics++;
    uint64_t now = lvm_clock_monotonic();
    if (!s->up)
        s->arp_last = now;
    s->up = 1;
    if (!n->info.dhcp) {
        update_info(n);
        return LVM_NET_OK;
    }
    err_t e = dhcp_start(&n->nif);
    if (e != ERR_OK)
        return lvm__net_err(e);
    uint64_t deadline = now + timeout_ms * MS;
    if (deadline < now)
        deadline = UINT64_MAX;
    while (!dhcp_supplied_address(&n->nif)) {
        if (lvm_clock_monotonic() >= deadline || lvm_poweroff_requested())
            return LVM_NET_ETIMEDOUT;
        lvm_net_poll(deadline);
    }
    update_info(n);
    return LVM_NET_OK;
}

/*
 * After a restore (sdk.h): the device page is the new monitor's. Same
 * NIC names, perhaps new handles and event channels; a clone also has new
 * MACs and addresses. Either way the network learns where the guest is
 * now from a gratuitous ARP on each NIC. Open connections of a restored
 * guest carry on (the peer retransmits what was lost meanwhile); a clone's
 * are its original's and time out.
 */
static void resume_nic(struct lvm_netnic *n, const struct lvm_device *dev,
                       uint32_t flags)
{
    n->dev = dev;
    n->evmask = lvm_device_evmask(dev);
    n->rx_backoff_until = 0;
    /* The device page is the truth: a clone has new MACs and addresses,
     * and a restored or migrated guest's NICs other than the first may
     * too (the toolstack keeps only the first's). The tap's filter passes
     * only the device page's MAC and address. */
    int new_mac = memcmp(n->info.mac, dev->u.net.mac, sizeof n->info.mac);
    memcpy(n->info.mac, dev->u.net.mac, sizeof n->info.mac);
    memcpy(n->nif.hwaddr, dev->u.net.mac, sizeof n->info.mac);
    if (!n->info.dhcp) {
        if (n->info.addr != dev->u.net.ipv4_addr ||
            n->info.netmask != dev->u.net.ipv4_netmask ||
            n->info.gateway != dev->u.net.ipv4_gateway) {
            ip4_addr_t addr, mask, gw;
            ip4_addr_set_u32(&addr, dev->u.net.ipv4_addr);
            ip4_addr_set_u32(&mask, dev->u.net.ipv4_netmask);
            ip4_addr_set_u32(&gw, dev->u.net.ipv4_gateway);
            netif_set_addr(&n->nif, &addr, &mask, &gw);
            update_info(n);
        }
    } else if ((flags & LVM_RESUME_CLONED) || new_mac) {
        dhcp_release_and_stop(&n->nif);
        dhcp_start(&n->nif);
    }
    etharp_gratuitous(&n->nif);
}

void lvm__net_resumed(uint32_t flags)
{
    struct lvm_netstack *s = &lvm__net;
    for (int i = 0; i < s->nnics; i++) {
        struct lvm_netnic *n = &s->nic[i];
        const struct lvm_device *dev =
            lvm_device_find(LVM_DEV_NET, n->info.nic);
        if (dev)
            resume_nic(n, dev, flags);
        else
            lvm_abort("resume: the guest's NIC is gone");
    }
}

int lvm__net_owns(const struct lvm_device *dev)
{
    struct lvm_netstack *s = &lvm__net;
    for (int i = 0; i < s->nnics; i++)
        if (s->nic[i].dev == dev ||
            !strncmp(s->nic[i].info.nic, dev->name, sizeof dev->name))
            return 1;
    return 0;
}

static const struct lvm_net_info *info_of(struct lvm_netnic *n)
{
    if (!n)
        return NULL;
    if (n->info.dhcp)
        update_info(n); /* a lease can change */
    return &n->info;
}

const struct lvm_net_info *lvm_net_info(void)
{
    return info_of(lvm__net.up ? &lvm__net.nic[0] : NULL);
}

const struct lvm_net_info *lvm_net_info_of(const char *nic)
{
    if (!nic)
        return lvm_net_info();
    return info_of(nic_named(nic));
}

void lvm_net_counters(struct lvm_net_counters *out)
{
    memset(out, 0, sizeof *out);
    if (lvm__net.up)
        *out = lvm__net.nic[0].ctr;
}

int lvm_net_counters_of(const char *nic, struct lvm_net_counters *out)
{
    struct lvm_netnic *n = nic ? nic_named(nic) : NULL;
    if (!nic && lvm__net.up)
        n = &lvm__net.nic[0];
    if (!n)
        return LVM_NET_ENODEV;
    *out = n->ctr;
    return LVM_NET_OK;
}

/* ---- The event loop ------------------------------------------------------ */

/* One round: frames from every NIC (each within its own budget),
 * timers, deferred callbacks. Sets (*more) if a NIC may have frames
 * left. */
static int round_once(struct lvm_netstack *s, uint64_t now, uint64_t *next,
                      int *more)
{
    int n = 0;
    *more = 0;
    s->round_ns = now;
    for (int i = 0; i < s->nnics; i++) {
        struct lvm_netnic *c = &s->nic[i];
        c->more = 0;
        if (now < c->rx_backoff_until)
            continue;
        /* Clear first, then drain: a frame that arrives meanwhile raises
         * the channel again (monitors whose channels are edge-triggered). */
        if (c->dev->evtchn < LVM_MAX_EVTCHN)
            lvm_evtchn_clear(c->dev->evtchn);
        int got = lvm__netif_input(c, LVM_NET_RX_BUDGET);
        if (got)
            s->last_io_ns = now;
        n += got;
        *more |= c->more;
    }
    *next = run_timers(s, now);
    lvm__tcp_reap();
    lvm__udp_reap();
    return n;
}

int lvm_net_poll(uint64_t deadline_ns)
{
    struct lvm_netstack *s = &lvm__net;
    if (!s->up) {
        lvm_yield(deadline_ns, 0);
        return LVM_NET_EINVAL;
    }
    int more;
    uint64_t next, now = lvm_clock_monotonic();
    int n = round_once(s, now, &next, &more);
    if (n > 0 || more || s->stop)
        return n;
    /* One wait on the channels of every NIC but those backing off; wake
     * when the first backoff ends. */
    uint64_t wake = next < deadline_ns ? next : deadline_ns;
    uint64_t mask = 0;
    for (int i = 0; i < s->nnics; i++) {
        struct lvm_netnic *c = &s->nic[i];
        if (c->rx_backoff_until <= now) {
            mask |= c->evmask;
        } else if (c->rx_backoff_until < wake) {
            wake = c->rx_backoff_until;
        }
    }
    if (wake > now)
        lvm_yield(wake, mask);
    return round_once(s, lvm_clock_monotonic(), &next, &more);
}

uint64_t lvm_net_now(void)
{
    return lvm__net.round_ns;
}

void lvm_net_stop(void)
{
    lvm__net.stop = 1;
}

void lvm_net_run(void)
{
    struct lvm_netstack *s = &lvm__net;
    s->stop = 0;
    while (!s->stop && !lvm_poweroff_requested())
        lvm_net_poll(LVM_FOREVER);
}

int lvm_net_wait(volatile int *flag, uint64_t timeout_ms)
{
    uint64_t now = lvm_clock_monotonic();
    uint64_t deadline = now + timeout_ms * MS;
    if (deadline < now)
        deadline = UINT64_MAX;
    while (!*flag) {
        if (lvm_clock_monotonic() >= deadline || lvm_poweroff_requested())
            return LVM_NET_ETIMEDOUT;
        lvm_net_poll(deadline);
    }
    return LVM_NET_OK;
}
