/* unit_config.h: parsing lightvmd's config file in unit tests (the
 * network policy's and the quotas'). Include after unit.h. */
#ifndef LVM_UNIT_CONFIG_H
#define LVM_UNIT_CONFIG_H

#include "daemon/config.h"

/* (text) must parse into (c). */
static inline void parse_ok(struct daemon_config *c, const char *text)
{
    struct lvm_err err = {0};
    if (config_parse(text, strlen(text), "t.conf", c, &err) < 0)
        fail_msg("%s", err.msg);
}

/* (text) must be refused with a one-line message containing (want). */
static inline void parse_bad(const char *text, const char *want)
{
    struct daemon_config c;
    struct lvm_err err = {0};
    assert_int_equal(config_parse(text, strlen(text), "t.conf", &c, &err), -1);
    if (!strstr(err.msg, want))
        fail_msg("'%s' lacks '%s'", err.msg, want);
    assert_null(strchr(err.msg, '\n'));
}

#endif
