/*
 * guest_name.c: the rule for guest names (see guest_name.h).
 */
#include "toolstack/guest_name.h"

#include <stdio.h>
#include <string.h>

static int alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9');
}

static int allowed(char c)
{
    return alnum(c) || c == '.' || c == '_' || c == '-';
}

int guest_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > GUEST_NAME_MAX || !alnum(name[0]))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!allowed(name[i]))
            return 0;
    return 1;
}

void guest_name_sanitize(const char *s, char *buf, size_t len)
{
    size_t o = 0;
    while (*s && !alnum(*s))
        s++;
    for (; *s && o + 1 < len && o < GUEST_NAME_MAX; s++)
        buf[o++] = allowed(*s) ? *s : '_';
    buf[o] = 0;
    if (!o)
        snprintf(buf, len, "guest");
}
