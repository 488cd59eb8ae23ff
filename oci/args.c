/*
 * args.c: the runc-style argument parser (args.h). Table-driven, with no
 * global state, so that the unit tests and every command share it.
 */
#include "oci/args.h"

#include <stdio.h>
#include <string.h>

static const struct oci_opt *find(const struct oci_opt *opts, const char *name,
                                  size_t len)
{
    for (const struct oci_opt *o = opts; o->name; o++) {
        if (len == 1 && o->alias == name[0])
            return o;
        if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
            return o;
    }
    return NULL;
}

/* A boolean's `=value`: true/false/1/0 (urfave/cli's strconv.ParseBool). */
static int parse_bool(const char *v, int *out)
{
    static const char *const yes[] = {"1", "t", "T", "true", "TRUE", "True"};
    static const char *const no[] = {"0", "f", "F", "false", "FALSE", "False"};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
        if (strcmp(v, yes[i]) == 0)
            return *out = 1, 0;
        if (strcmp(v, no[i]) == 0)
            return *out = 0, 0;
    }
    return -1;
}

int oci_args_parse(int argc, char **argv, const struct oci_opt *opts, int stop,
                   char **pos, int maxpos, int *next, char *err, size_t errlen)
{
    int npos = 0, i = 0, flags_done = 0;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (flags_done || a[0] != '-' || a[1] == 0) {
            if (stop)
                break;
            if (npos == maxpos) {
                snprintf(err, errlen, "unexpected argument: %s", a);
                return -1;
            }
            pos[npos++] = argv[i];
            continue;
        }
        if (strcmp(a, "--") == 0) {
            flags_done = 1;
            if (stop) {
                i++;
                break;
            }
            continue;
        }
        const char *name = a + 1 + (a[1] == '-');
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const struct oci_opt *o = len ? find(opts, name, len) : NULL;
        if (!o) {
            snprintf(err, errlen, "flag provided but not defined: -%.*s",
                     (int)len, name);
            return -1;
        }
        if (!o->has_value) {
            int v = 1;
            if (eq && parse_bool(eq + 1, &v) < 0) {
                snprintf(err, errlen, "invalid boolean value \"%s\" for -%s",
                         eq + 1, o->name);
                return -1;
            }
            if (o->flag)
                *o->flag = v;
            continue;
        }
        const char *v = eq ? eq + 1 : NULL;
        if (!v) {
            if (i + 1 >= argc) {
                snprintf(err, errlen, "flag needs an argument: -%s", o->name);
                return -1;
            }
            v = argv[++i];
        }
        if (o->value)
            *o->value = v;
    }
    if (next)
        *next = i;
    return npos;
}
