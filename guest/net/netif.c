/*
 * netif.c: lwIP's network interface driver over the NIC hypercalls.
 *
 * One hypercall moves one Ethernet frame: LVM_HC_NET_READ takes a frame
 * the host sent (under the proc monitor, a read() of the guest's tap fd),
 * LVM_HC_NET_WRITE sends one. Frames come straight into an lwIP heap
 * buffer and go out from lwIP's own buffer: no copies on the way.
 */
#include "netpriv.h"

#include "lwip/etharp.h"
#include "lwip/pbuf.h"
#include "netif/ethernet.h"

#include <string.h>

static err_t lvm_linkoutput(struct netif *nif, struct pbuf *p)
{
    struct lvm_netnic *n = nif->state;
    struct lvm_netstack *s = &lvm__net;
    const void *frame = p->payload;
    if (p->tot_len > LVM_NET_FRAME_MAX) {
        n->ctr.tx_dropped++;
        return ERR_OK; /* a lost frame, as on a real wire */
    }
    if (p->next) { /* a chain (rare with LWIP_NETIF_TX_SINGLE_PBUF) */
        pbuf_copy_partial(p, s->scratch, p->tot_len, 0);
        frame = s->scratch;
    }
    long r = lvm__net_frame_write(n->dev, frame, p->tot_len);
    if (r == (long)p->tot_len) {
        n->ctr.tx_frames++;
        n->ctr.tx_bytes += p->tot_len;
    } else {
        n->ctr.tx_dropped++; /* TCP retransmits; UDP is best effort */
    }
    s->last_io_ns = lvm_clock_monotonic();
    return ERR_OK;
}

err_t lvm__netif_init(struct netif *nif)
{
    struct lvm_netnic *n = nif->state;
    nif->name[0] = 'e';
    nif->name[1] = 'n';
    nif->output = etharp_output;
    nif->linkoutput = lvm_linkoutput;
    nif->mtu = n->info.mtu;
    nif->hwaddr_len = ETH_HWADDR_LEN;
    memcpy(nif->hwaddr, n->info.mac, ETH_HWADDR_LEN);
    nif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP |
                 NETIF_FLAG_ETHERNET | NETIF_FLAG_LINK_UP;
    return ERR_OK;
}

/*
 * A read may fail (LVM_EIO) or, from a monitor that reports a frame's
 * full length, claim more bytes than fit: both are counted and dropped.
 * A tap cuts a frame over the buffer's size short (and says so by
 * nothing); such a frame, like every other however malformed, goes to
 * lwIP, whose input paths check lengths and checksums themselves and
 * drop it by its IP length.
 */
int lvm__netif_input(struct lvm_netnic *s, int budget)
{
    int n = 0, errors = 0;
    s->more = 0;
    while (n < budget) {
        struct pbuf *p = pbuf_alloc(PBUF_RAW, LVM_NET_FRAME_MAX, PBUF_RAM);
        /* Out of memory: still take the frame, to drop it. */
        void *buf = p ? p->payload : lvm__net.scratch;
        long r = lvm__net_frame_read(s->dev, buf, LVM_NET_FRAME_MAX);
        if (r == LVM_EAGAIN) {
            if (p)
                pbuf_free(p);
            return n;
        }
        n++;
        if (r < 0)
            errors++;
        if (r < SIZEOF_ETH_HDR || r > (long)LVM_NET_FRAME_MAX || !p) {
            s->ctr.rx_dropped++;
            if (p)
                pbuf_free(p);
            continue;
        }
        s->ctr.rx_frames++;
        s->ctr.rx_bytes += (uint64_t)r;
        pbuf_realloc(p, (u16_t)r);
        if (s->nif.input(p, &s->nif) != ERR_OK)
            pbuf_free(p);
    }
    s->more = 1;
    /* Nothing but failures: the NIC is gone or broken. Stop polling it for
     * a moment rather than spin (its event channel stays raised). */
    if (errors == n)
        s->rx_backoff_until = lvm_clock_monotonic() + 10 * 1000000ull;
    return n;
}
