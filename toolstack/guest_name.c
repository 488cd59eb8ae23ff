/*
 * guest_name.c: the rule for guest names (see guest_name.h).
 */
#include "toolstack/guest_name.h"
#include "toolstack/error.h"

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
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > GUEST_NAME_MAX || !alnum(name[0]))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!allowed(name[i]))
            return 0;
    return 1;
}

int guest_name_check(const char *name, struct lvm_err *err)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0)
        return lvm_err_set(err, 0, "name: empty: %s", GUEST_NAME_RULE);
    if (n > GUEST_NAME_MAX)
        return lvm_err_set(err, 0, "name: %zu characters is too long: %s", n,
                           GUEST_NAME_RULE);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (i == 0 ? alnum((char)c) : allowed((char)c))
            continue;
        /* The name itself may hold anything: show the one character. */
        char shown[16];
        if (c > ' ' && c < 127)
            snprintf(shown, sizeof shown, "'%c'", c);
        else
            snprintf(shown, sizeof shown, "byte 0x%02x", c);
        return lvm_err_set(err, 0,
                           "name: character %zu (%s) is not allowed: %s", i + 1,
                           shown, GUEST_NAME_RULE);
    }
    return 0;
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
