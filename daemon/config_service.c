/*
 * config_service.c: lightvmd's own settings in its configuration file
 * (docs/daemon.md): the API group, the pool's classes and rate, and the
 * connection limits. Each is also a command-line option, which wins, so
 * that a unit file or a test can change one without editing the file.
 * Pure, like the rest of the file's parsing: unit-tested
 * (tests/unit/test_netpolicy.c) and fuzzed (tests/fuzz/fuzz_config.c).
 * The pool's spec is checked here for its shape only; the daemon parses
 * it (pool_parse) and names this file when it is wrong.
 */
#include "daemon/config.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const conn_keys[CONFIG_CONN_KINDS] = {
    [CONFIG_CONN_MAX] = "max",
    [CONFIG_CONN_PER_USER] = "per_user",
    [CONFIG_CONN_ROOT] = "root",
    [CONFIG_CONN_IDLE] = "idle_timeout",
};

int config_service_key(const char *key)
{
    return !strcmp(key, "api_group") || !strcmp(key, "pool") ||
           !strcmp(key, "pool_rate") || !strcmp(key, "connections");
}

/* A group name as getgrnam() would take it (resolved by the daemon). */
static int group_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n >= max)
        return 0;
    for (; *s; s++)
        if (*s == ':' || (unsigned char)*s <= ' ' || *s == 0x7f)
            return 0;
    return 1;
}

static int parse_connections(json_t *o, const char *name,
                             struct config_service *svc, struct lvm_err *err)
{
    if (!json_is_object(o))
        return lvm_err_set(err, 0,
                           "%s: field connections: must be an object "
                           "{\"max\", \"per_user\", \"root\", "
                           "\"idle_timeout\"}",
                           name);
    const char *k;
    json_t *v;
    json_object_foreach (o, k, v) {
        int i = 0;
        while (i < CONFIG_CONN_KINDS && strcmp(k, conn_keys[i]))
            i++;
        char b[48];
        if (i == CONFIG_CONN_KINDS)
            return lvm_err_set(err, 0,
                               "%s: field connections.%s: unknown field", name,
                               config_show(k, b));
        json_int_t n = json_is_integer(v) ? json_integer_value(v) : -1;
        int zero_ok = i == CONFIG_CONN_IDLE; /* 0: never time out */
        if (n < (zero_ok ? 0 : 1) || n > 1000000)
            return lvm_err_set(err, 0,
                               "%s: field connections.%s: must be an integer "
                               "%d to 1000000",
                               name, k, zero_ok ? 0 : 1);
        svc->conn[i] = (unsigned)n;
        svc->conn_set[i] = 1;
    }
    return 0;
}

int config_service_parse(const char *key, json_t *v, const char *name,
                         struct config_service *svc, struct lvm_err *err)
{
    char b[48];
    if (!strcmp(key, "api_group")) {
        const char *s = json_string_value(v);
        if (!s || !group_ok(s, sizeof svc->api_group))
            return lvm_err_set(
                err, 0, "%s: field api_group: must be a group name", name);
        snprintf(svc->api_group, sizeof svc->api_group, "%s", s);
        return 0;
    }
    if (!strcmp(key, "pool")) {
        const char *s = json_string_value(v);
        if (!s || !*s || strlen(s) >= sizeof svc->pool)
            return lvm_err_set(err, 0,
                               "%s: field pool: must be a string like "
                               "\"16M=32,64M=8\" (as --pool), or \"0\"",
                               name);
        for (const char *p = s; *p; p++)
            if ((unsigned char)*p <= ' ' || *p == 0x7f)
                return lvm_err_set(err, 0,
                                   "%s: field pool: '%s' has a space or a "
                                   "control character",
                                   name, config_show(s, b));
        snprintf(svc->pool, sizeof svc->pool, "%s", s);
        return 0;
    }
    if (!strcmp(key, "pool_rate")) {
        double r = json_is_number(v) ? json_number_value(v) : -1;
        if (!(r > 0) || !isfinite(r) || r > 1e6)
            return lvm_err_set(err, 0,
                               "%s: field pool_rate: must be a number of "
                               "shells per second, above 0",
                               name);
        svc->pool_rate = r;
        return 0;
    }
    return parse_connections(v, name, svc, err);
}
