/*
 * serve_opts.c: the values `lightvm serve` takes on its command line:
 * addresses, ports, durations, counts and the when-full policy. Each says
 * in one line what is wrong with a value and returns -1.
 */
#include "cli/cli.h"
#include "cli/serve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int serve_parse_port(const char *flag, const char *arg, uint16_t *out)
{
    char *end;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (errno || end == arg || *end || v < 1 || v > 65535) {
        cli_msg("%s: '%s' is not a port (1 to 65535)", flag, arg);
        return -1;
    }
    *out = (uint16_t)v;
    return 0;
}

int serve_parse_listen(const char *arg, struct sockaddr_in *out)
{
    char host[64];
    const char *colon = strrchr(arg, ':');
    const char *port = colon ? colon + 1 : arg;
    size_t hl = colon ? (size_t)(colon - arg) : 0;
    memset(out, 0, sizeof *out);
    out->sin_family = AF_INET;
    if (hl >= sizeof host) {
        cli_msg("--listen: '%.64s...' is not [ADDRESS:]PORT", arg);
        return -1;
    }
    memcpy(host, arg, hl);
    host[hl] = 0;
    if (!colon || !hl) {
        out->sin_addr.s_addr = htonl(INADDR_ANY);
    } else if (inet_pton(AF_INET, host, &out->sin_addr) != 1) {
        cli_msg("--listen: '%s' is not an IPv4 address (in '%s')", host, arg);
        return -1;
    }
    uint16_t p;
    if (serve_parse_port("--listen", port, &p) < 0)
        return -1;
    out->sin_port = htons(p);
    return 0;
}

int serve_parse_duration(const char *flag, const char *arg, int zero,
                         uint64_t *ns)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    double unit = 1e9; /* seconds, as systemd's bare numbers */
    if (!strcmp(end, "ms"))
        unit = 1e6;
    else if (!strcmp(end, "m") || !strcmp(end, "min"))
        unit = 60e9;
    else if (*end && strcmp(end, "s"))
        unit = 0;
    if (errno || end == arg || unit == 0 || !isfinite(v) || v < 0 ||
        v * unit > 86400e9 || (!zero && v == 0)) {
        cli_msg("%s: '%s' is not a duration %s(e.g. 2s, 500ms, 1m; at most "
                "a day)",
                flag, arg, zero ? "" : "above 0 ");
        return -1;
    }
    *ns = (uint64_t)(v * unit);
    return 0;
}

int serve_parse_full(const char *arg, enum serve_full *out)
{
    static const char *const names[] = {"queue", "refuse", "reuse"};
    for (unsigned i = 0; i < 3; i++)
        if (!strcmp(arg, names[i])) {
            *out = (enum serve_full)i;
            return 0;
        }
    const char *s = cli_suggest(arg, strlen(arg), names, 3);
    cli_msg("--when-full: '%s' is not queue, refuse or reuse%s%s%s", arg,
            s ? " (did you mean '" : "", s ? s : "", s ? "'?)" : "");
    return -1;
}
