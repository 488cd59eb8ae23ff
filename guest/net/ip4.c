/*
 * ip4.c: IPv4 address text (net.h).
 */
#include "netpriv.h"

#include <stdio.h>

int lvm_ip4_parse(const char *s, lvm_ip4_t *ip)
{
    uint32_t v = 0;
    for (int part = 0; part < 4; part++) {
        unsigned n = 0, digits = 0;
        while (*s >= '0' && *s <= '9') {
            n = n * 10 + (unsigned)(*s++ - '0');
            if (++digits > 3 || n > 255)
                return LVM_NET_EINVAL;
        }
        if (!digits || (part < 3 && *s++ != '.'))
            return LVM_NET_EINVAL;
        v = v << 8 | n;
    }
    if (*s)
        return LVM_NET_EINVAL;
    *ip = __builtin_bswap32(v); /* to network byte order (x86_64) */
    return LVM_NET_OK;
}

char *lvm_ip4_str(lvm_ip4_t ip, char buf[LVM_IP4_STRLEN])
{
    const uint8_t *b = (const uint8_t *)&ip;
    snprintf(buf, LVM_IP4_STRLEN, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
    return buf;
}
