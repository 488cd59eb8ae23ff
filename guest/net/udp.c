/*
 * udp.c: UDP ports over lwIP's raw API (net.h).
 */
#include "netpriv.h"

#include "lwip/pbuf.h"
#include "lwip/udp.h"

#include <stdlib.h>
#include <string.h>

struct lvm_udp {
    struct udp_pcb *pcb; /* NULL once closed */
    lvm_udp_recv_fn fn;
    void *arg;
    struct lvm_udp *next_dead;
};

/* Closed ports are freed at the end of the round, so a receive callback
 * may close its own port. */
static struct lvm_udp *dead;
/* Datagrams that arrive in more than one pbuf are copied here. */
static uint8_t joined[LVM_NET_FRAME_MAX];

void lvm__udp_reap(void)
{
    while (dead) {
        struct lvm_udp *u = dead;
        dead = u->next_dead;
        free(u);
    }
}

static void on_recv(void *arg, struct udp_pcb *pcb, struct pbuf *p,
                    const ip_addr_t *addr, u16_t port)
{
    struct lvm_udp *u = arg;
    (void)pcb;
    if (u && u->pcb && u->fn) {
        const void *buf = p->payload;
        size_t len = p->tot_len;
        if (p->next) {
            len = pbuf_copy_partial(p, joined, sizeof joined, 0);
            buf = joined;
        }
        u->fn(u, buf, len, ip4_addr_get_u32(ip_2_ip4(addr)), port, u->arg);
    }
    pbuf_free(p);
}

int lvm_udp_bind(uint16_t port, lvm_udp_recv_fn fn, void *arg,
                 struct lvm_udp **out)
{
    if (!lvm__net.up)
        return LVM_NET_EINVAL;
    struct lvm_udp *u = calloc(1, sizeof *u);
    struct udp_pcb *pcb = u ? udp_new_ip_type(IPADDR_TYPE_V4) : NULL;
    if (!pcb) {
        free(u);
        return LVM_NET_ENOMEM;
    }
    err_t e = udp_bind(pcb, IP4_ADDR_ANY, port);
    if (e != ERR_OK) {
        udp_remove(pcb);
        free(u);
        return lvm__net_err(e);
    }
    u->pcb = pcb;
    u->fn = fn;
    u->arg = arg;
    udp_recv(pcb, on_recv, u);
    if (out)
        *out = u;
    return LVM_NET_OK;
}

int lvm_udp_sendto(struct lvm_udp *u, const void *buf, size_t len, lvm_ip4_t to,
                   uint16_t port)
{
    if (!u || !u->pcb || len > LVM_UDP_MAX || port == 0)
        return LVM_NET_EINVAL;
    struct pbuf *p = pbuf_alloc(PBUF_TRANSPORT, (u16_t)len, PBUF_RAM);
    if (!p)
        return LVM_NET_ENOMEM;
    memcpy(p->payload, buf, len);
    ip_addr_t addr;
    ip_addr_set_ip4_u32(&addr, to);
    err_t e = udp_sendto(u->pcb, p, &addr, port);
    pbuf_free(p);
    return lvm__net_err(e);
}

uint16_t lvm_udp_port(const struct lvm_udp *u)
{
    return u && u->pcb ? u->pcb->local_port : 0;
}

void lvm_udp_close(struct lvm_udp *u)
{
    if (!u || !u->pcb)
        return;
    udp_remove(u->pcb);
    u->pcb = NULL;
    u->next_dead = dead;
    dead = u;
}
