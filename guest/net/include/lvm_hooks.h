/*
 * lvm_hooks.h: lwIP hooks (LWIP_HOOK_FILENAME).
 */
#ifndef LVM_LWIP_HOOKS_H
#define LVM_LWIP_HOOKS_H

#include "lwip/ip_addr.h"

/* lwIP's default initial sequence number is a counter: predictable, so an
 * off-path host could inject into a guest's connections. Draw it from the
 * SDK's random stream instead (RFC 6528's goal, without the hash). */
u32_t lvm__net_tcp_isn(const ip_addr_t *local_ip, u16_t local_port,
                       const ip_addr_t *remote_ip, u16_t remote_port);
#define LWIP_HOOK_TCP_ISN lvm__net_tcp_isn

#endif
