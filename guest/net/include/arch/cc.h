/*
 * arch/cc.h: lwIP's platform definitions for lightvm guests (and for the
 * host build of the frame fuzzer, which defines LVM_NET_HOSTED).
 */
#ifndef LVM_LWIP_ARCH_CC_H
#define LVM_LWIP_ARCH_CC_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define BYTE_ORDER LITTLE_ENDIAN /* x86_64 only */

/* Diagnostics go to the console; lwIP only prints with LWIP_DEBUG. */
#define LWIP_PLATFORM_DIAG(x)                                                  \
    do {                                                                       \
        printf x;                                                              \
    } while (0)

/* An lwIP assertion is a broken invariant inside the stack, never a bad
 * packet: stop the guest with the message, where the toolstack shows it. */
void lvm__net_assert(const char *msg, const char *file, int line);
#define LWIP_PLATFORM_ASSERT(x) lvm__net_assert((x), __FILE__, __LINE__)

/* Random numbers for ports and DHCP transaction ids. */
uint32_t lvm__net_rand(void);
#define LWIP_RAND() lvm__net_rand()

#endif
