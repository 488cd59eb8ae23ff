/*
 * lwipopts.h: how lwIP is configured for lightvm guests.
 *
 * One thread, no OS (NO_SYS): the SDK's event loop feeds frames in and
 * fires timers. Raw (callback) API only, IPv4 only, up to four NICs.
 * Memory is bounded: connections, segments and listeners come from fixed pools,
 * packet data from a fixed heap, so a flood of frames can use up the
 * stack's memory (and be dropped) but never the guest's. The heap is
 * zero-filled BSS: a page costs RAM only once a packet has used it.
 */
#ifndef LVM_LWIPOPTS_H
#define LVM_LWIPOPTS_H

#define NO_SYS 1
#define SYS_LIGHTWEIGHT_PROT 0
#define LWIP_NETCONN 0
#define LWIP_SOCKET 0
#define LWIP_SINGLE_NETIF 0 /* several NICs: one netif each */
/* The SDK runs lwIP's timers itself (stack.c), only while something needs
 * them: an idle guest with a static address never wakes up. */
#define LWIP_TIMERS 0

/* Protocols. */
#define LWIP_IPV4 1
#define LWIP_IPV6 0
#define LWIP_ARP 1
#define LWIP_ETHERNET 1
#define LWIP_ICMP 1
#define LWIP_RAW 0
#define LWIP_UDP 1
#define LWIP_TCP 1
#define LWIP_DHCP 1
#define LWIP_AUTOIP 0
#define LWIP_IGMP 0
#define LWIP_DNS 0
/* No fragments: reassembly is memory an attacker controls, and lightvm's
 * bridge never needs it (MTU 1500 end to end). */
#define IP_REASSEMBLY 0
#define IP_FRAG 0
/* DHCP binds at once (no 0.5 s ARP probe): the toolstack's filter keeps
 * other guests from claiming the address anyway. */
#define DHCP_DOES_ARP_CHECK 0
#define LWIP_DHCP_CHECK_LINK_UP 0
#define ARP_TABLE_SIZE 64
#define ARP_QUEUEING 1
#define MEMP_NUM_ARP_QUEUE 32

/* Memory. */
#define MEM_ALIGNMENT 8
#define MEM_LIBC_MALLOC 0
#define MEMP_MEM_MALLOC 0
#define MEM_SIZE (256 * 1024)
#define MEMP_NUM_PBUF 32
#define PBUF_POOL_SIZE 4 /* the driver takes frames into heap pbufs */
/* lwIP checks TCP_WND against the pbuf pool, which this driver does not
 * use for received frames (they go to the heap, MEM_SIZE). */
#define LWIP_DISABLE_TCP_SANITY_CHECKS 1
#define MEMP_NUM_UDP_PCB 8
#define MEMP_NUM_TCP_PCB 64
#define MEMP_NUM_TCP_PCB_LISTEN 8
#define MEMP_NUM_TCP_SEG 256
#define LWIP_STATS 0

/* TCP. */
#define TCP_MSS 1460
#define TCP_WND (8 * TCP_MSS)
#define TCP_SND_BUF (8 * TCP_MSS)
#define TCP_SND_QUEUELEN (4 * TCP_SND_BUF / TCP_MSS)
#define TCP_QUEUE_OOSEQ 1
#define TCP_OOSEQ_MAX_PBUFS 8 /* per connection */
#define LWIP_TCP_KEEPALIVE 0
/* TIME-WAIT lasts 2 MSL: 60 s, as on Linux (lwIP's default MSL is 60 s). */
#define TCP_MSL 30000UL
#define LWIP_TCP_TIMESTAMPS 0
#define LWIP_WND_SCALE 0
#define LWIP_CALLBACK_API 1
#define TCP_LISTEN_BACKLOG 0
#define SO_REUSE 1 /* a server can listen again while old connections linger */

/* The driver sends each frame from one contiguous buffer. */
#define LWIP_NETIF_TX_SINGLE_PBUF 1
#define LWIP_NETIF_STATUS_CALLBACK 0
#define LWIP_NETIF_LINK_CALLBACK 0
#define LWIP_NETIF_HOSTNAME 0
#define LWIP_NUM_NETIF_CLIENT_DATA 0

#define LWIP_HOOK_FILENAME "lvm_hooks.h"

/* The frame fuzzer checks no checksums, so its inputs reach TCP and DHCP. */
#ifdef LVM_NET_FUZZ
#define CHECKSUM_CHECK_IP 0
#define CHECKSUM_CHECK_UDP 0
#define CHECKSUM_CHECK_TCP 0
#define CHECKSUM_CHECK_ICMP 0
#endif

#endif
