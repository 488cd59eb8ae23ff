/*
 * util.c: small freestanding helpers for code that may run in the SIGSYS
 * handler, where calling into libc is not safe.
 */
#include "sdk.h"

size_t lvm__strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

void lvm__memzero(void *p, size_t n)
{
    volatile unsigned char *c = p;
    while (n && ((uintptr_t)c & 7)) {
        *c++ = 0;
        n--;
    }
    volatile uint64_t *w = (volatile uint64_t *)c;
    for (; n >= 8; n -= 8)
        *w++ = 0;
    c = (volatile unsigned char *)w;
    while (n--)
        *c++ = 0;
}

void lvm__strlcpy(volatile char *dst, const char *src, size_t n)
{
    size_t i = 0;
    if (!n)
        return;
    for (; i + 1 < n && src[i]; i++)
        dst[i] = src[i];
    dst[i] = 0;
}

char *lvm__utoa(char *end, unsigned long v)
{
    *--end = 0;
    do {
        *--end = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return end;
}
