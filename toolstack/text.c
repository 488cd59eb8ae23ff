/*
 * text.c: escaping text from guests and clients for terminals and logs
 * (see text.h).
 */
#include "toolstack/text.h"

#include <stdio.h>
#include <string.h>

/* The length of the valid UTF-8 character at (p) (2 to 4), or 0 if
 * there is none: overlong forms and surrogates are invalid too. */
static size_t utf8_len(const unsigned char *p)
{
    unsigned char c = p[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf; /* the second byte's range */
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        lo = c == 0xe0 ? 0xa0 : 0x80; /* overlong */
        hi = c == 0xed ? 0x9f : 0xbf; /* surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        lo = c == 0xf0 ? 0x90 : 0x80; /* overlong */
        hi = c == 0xf4 ? 0x8f : 0xbf; /* past U+10FFFF */
    } else
        return 0;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return n;
}

/* Whether the valid character at (p) of (n) bytes is one a terminal acts
 * on: a C1 control, or a bidirectional override that reorders the line. */
static int steers(const unsigned char *p, size_t n)
{
    if (n == 2)
        return p[0] == 0xc2 && p[1] <= 0x9f;
    if (n == 3 && p[0] == 0xe2 && p[1] == 0x80)
        return p[2] >= 0xaa && p[2] <= 0xae;
    if (n == 3 && p[0] == 0xe2 && p[1] == 0x81)
        return p[2] >= 0xa6 && p[2] <= 0xa9;
    return 0;
}

const char *text_escape(const char *s, char *buf, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0;
    while (*p) {
        char piece[17]; /* at most four escaped bytes */
        size_t n = 0, take;
        if (*p == '\\') {
            memcpy(piece, "\\\\", 2);
            n = 2;
            take = 1;
        } else if (*p >= 0x20 && *p < 0x7f) {
            piece[n++] = (char)*p;
            take = 1;
        } else if (*p >= 0x80 && (take = utf8_len(p)) && !steers(p, take)) {
            memcpy(piece, p, take);
            n = take;
        } else {
            /* One byte, or a whole C1 or override character. */
            take = *p >= 0x80 && utf8_len(p) ? utf8_len(p) : 1;
            for (size_t i = 0; i < take; i++)
                n += (size_t)snprintf(piece + n, sizeof piece - n, "\\x%02x",
                                      p[i]);
        }
        if (o + n >= len)
            break;
        memcpy(buf + o, piece, n);
        o += n;
        p += take;
    }
    buf[o] = 0;
    return buf;
}

long text_forbidden_nr(const char *msg)
{
    static const char prefix[] = "forbidden system call ";
    if (strncmp(msg, prefix, sizeof prefix - 1) != 0)
        return -1;
    const char *p = msg + sizeof prefix - 1;
    long nr = 0;
    if (*p < '0' || *p > '9')
        return -1;
    for (; *p >= '0' && *p <= '9' && nr < (1L << 31); p++)
        nr = nr * 10 + (*p - '0');
    return *p == 0 && nr < (1L << 31) ? nr : -1;
}
