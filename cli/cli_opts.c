/*
 * cli_opts.c: the command line's mistakes, said in one line each. Every
 * command parses its flags with cli_getopt(), which names a bad flag and
 * suggests the one meant ("did you mean --json?"); main.c does the same
 * for commands with cli_suggest().
 */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Edit distance (insert, delete, substitute, swap two neighbours) between
 * (a) and the first (blen) bytes of (b), capped at 9. */
static int distance(const char *a, const char *b, size_t blen)
{
    size_t alen = strlen(a);
    if (alen > 30 || blen > 30)
        return 9;
    int d[32][32];
    for (size_t i = 0; i <= alen; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= blen; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= alen; i++)
        for (size_t j = 1; j <= blen; j++) {
            int sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            int del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
            int m = sub < del ? sub : del;
            m = m < ins ? m : ins;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
                a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < m)
                m = d[i - 2][j - 2] + 1;
            d[i][j] = m;
        }
    return d[alen][blen] > 9 ? 9 : d[alen][blen];
}

const char *cli_suggest(const char *typed, size_t len, const char *const *names,
                        size_t n)
{
    const char *best = NULL;
    int bestd = len <= 3 ? 1 : 2; /* farther is a guess, not a typo */
    for (size_t i = 0; i < n; i++) {
        if (!names[i])
            continue;
        int dist = distance(names[i], typed, len);
        if (dist <= bestd && (!best || dist < bestd)) {
            best = names[i];
            bestd = dist;
        }
    }
    return best;
}

/* The long option (longopts) closest to "--(typed)" (len bytes). */
static const char *suggest_long(const char *typed, size_t len,
                                const struct option *longopts)
{
    const char *names[128] = {NULL};
    size_t n = 0;
    for (; longopts && longopts->name && n < 128; longopts++)
        names[n++] = longopts->name;
    return cli_suggest(typed, len, names, n);
}

static int bad_flag(const char *cmd, int c, int argc, char **argv,
                    const struct option *longopts)
{
    const char *tok = optind > 0 && optind - 1 < argc ? argv[optind - 1] : "";
    int is_long = !strncmp(tok, "--", 2) && tok[2];
    char shortname[3] = {'-', (char)optopt, 0};
    if (c == ':') {
        if (is_long)
            cli_msg("%s: flag '%.*s' needs a value (see 'lightvm %s --help')",
                    cmd, (int)strcspn(tok, "="), tok, cmd);
        else
            cli_msg("%s: flag '%s' needs a value (see 'lightvm %s --help')",
                    cmd, shortname, cmd);
        return '?';
    }
    if (!is_long) {
        cli_msg("%s: unknown flag '%s' (see 'lightvm %s --help')", cmd,
                shortname, cmd);
        return '?';
    }
    size_t len = strcspn(tok + 2, "=");
    if (optopt) { /* a known flag given a value it does not take */
        cli_msg("%s: flag '%.*s' takes no value", cmd, (int)len + 2, tok);
        return '?';
    }
    size_t prefixed = 0;
    for (const struct option *o = longopts; o && o->name; o++)
        prefixed += !strncmp(o->name, tok + 2, len);
    const char *s = suggest_long(tok + 2, len, longopts);
    if (prefixed > 1)
        cli_msg("%s: flag '%.*s' is ambiguous (see 'lightvm %s --help')", cmd,
                (int)len + 2, tok, cmd);
    else if (s)
        cli_msg("%s: unknown flag '%.*s' (did you mean '--%s'?)", cmd,
                (int)len + 2, tok, s);
    else
        cli_msg("%s: unknown flag '%.*s' (see 'lightvm %s --help')", cmd,
                (int)len + 2, tok, cmd);
    return '?';
}

int cli_getopt(int argc, char **argv, const char *shortopts,
               const struct option *longopts)
{
    /* ':' first (after a '+'): a missing value is told apart. */
    char spec[128];
    int plus = shortopts[0] == '+';
    snprintf(spec, sizeof spec, "%s:%s", plus ? "+" : "", shortopts + plus);
    opterr = 0;
    int c = getopt_long(argc, argv, spec, longopts, NULL);
    if (c == '?' || c == ':')
        return bad_flag(argv[0], c, argc, argv, longopts);
    return c;
}

int cli_parse_count(const char *flag, const char *arg, unsigned min,
                    unsigned max, unsigned *out)
{
    char *end;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (errno || end == arg || *end || v < (long)min || v > (long)max) {
        cli_msg("%s: '%s' is not a number from %u to %u", flag, arg, min, max);
        return -1;
    }
    *out = (unsigned)v;
    return 0;
}
