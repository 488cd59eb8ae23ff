/*
 * rules.c: parse and match the firewall's rules (rules.h).
 */
#include "rules.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MAX_WORDS 16

struct ctx {
    unsigned line;
    char *err;
    size_t errlen;
};

static int bad(struct ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int bad(struct ctx *c, const char *fmt, ...)
{
    int n = snprintf(c->err, c->errlen, "rules:%u: ", c->line);
    if (n >= 0 && (size_t)n < c->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* A decimal number of at most (max); -1 if (s) is not one. */
static long number(const char *s, long max)
{
    long v = 0;
    if (!*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (*s - '0');
        if (v > max)
            return -1;
    }
    return v;
}

/* "A.B.C.D" into network order. */
static int ip4(const char *s, uint32_t *out)
{
    uint8_t b[4];
    for (int i = 0; i < 4; i++) {
        char part[4];
        size_t n = strcspn(s, ".");
        if (n == 0 || n > 3 || (i < 3 && s[n] != '.') || (i == 3 && s[n]))
            return -1;
        memcpy(part, s, n);
        part[n] = 0;
        long v = number(part, 255);
        if (v < 0)
            return -1;
        b[i] = (uint8_t)v;
        s += n + (i < 3);
    }
    memcpy(out, b, 4);
    return 0;
}

/* "any", "A.B.C.D" or "A.B.C.D/P". */
static int address(struct ctx *c, const char *s, uint32_t *addr, uint32_t *mask)
{
    if (!strcmp(s, "any")) {
        *addr = *mask = 0;
        return 0;
    }
    char a[16];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    long p = slash ? number(slash + 1, 32) : 32;
    if (n >= sizeof a || p < 0)
        return bad(c, "'%s' is not an address (A.B.C.D[/PREFIX] or any)", s);
    memcpy(a, s, n);
    a[n] = 0;
    if (ip4(a, addr) < 0)
        return bad(c, "'%s' is not an address (A.B.C.D[/PREFIX] or any)", s);
    uint32_t m = p == 0 ? 0 : 0xffffffffu << (32 - p);
    uint8_t mb[4] = {(uint8_t)(m >> 24), (uint8_t)(m >> 16), (uint8_t)(m >> 8),
                     (uint8_t)m};
    memcpy(mask, mb, 4);
    *addr &= *mask;
    return 0;
}

/* "P" or "P-Q". */
static int ports(struct ctx *c, const char *s, uint16_t *lo, uint16_t *hi)
{
    char a[6], b[6];
    const char *dash = strchr(s, '-');
    size_t n = dash ? (size_t)(dash - s) : strlen(s);
    if (n >= sizeof a || (dash && strlen(dash + 1) >= sizeof b))
        return bad(c, "'%s' is not a port or range (P or P-Q, 0 to 65535)", s);
    memcpy(a, s, n);
    a[n] = 0;
    snprintf(b, sizeof b, "%s", dash ? dash + 1 : a);
    long l = number(a, 65535), h = number(b, 65535);
    if (l < 0 || h < 0 || h < l)
        return bad(c, "'%s' is not a port or range (P or P-Q, 0 to 65535)", s);
    *lo = (uint16_t)l;
    *hi = (uint16_t)h;
    return 0;
}

/* "10mbit", "500kbit", "1gbit", "2mbyte", "64k": bits or bytes per second
 * (rate) or a size in bytes (!rate). */
static int amount(struct ctx *c, const char *s, int rate, uint64_t *out)
{
    uint64_t v = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++) {
        v = v * 10 + (uint64_t)(*p - '0');
        if (v > 1000000000000ull)
            return bad(c, "'%s' is too large", s);
    }
    if (p == s)
        goto no;
    uint64_t mul = 1;
    if (*p == 'k')
        mul = 1000, p++;
    else if (*p == 'm')
        mul = 1000000, p++;
    else if (*p == 'g')
        mul = 1000000000, p++;
    if (v > 1000000000000ull / mul)
        return bad(c, "'%s' is too large", s);
    if (rate) {
        if (!strcmp(p, "bit"))
            v = v * mul / 8;
        else if (!strcmp(p, "byte"))
            v = v * mul;
        else
            goto no;
    } else {
        if (*p)
            goto no;
        if (mul > 1) /* sizes in k, m, g are 1024-based, like tc's */
            mul = mul == 1000 ? 1024 : mul == 1000000 ? 1048576 : 1073741824;
        v = v * mul;
    }
    if (v == 0)
        return bad(c, "'%s' is zero", s);
    *out = v;
    return 0;
no:
    return bad(c,
               rate ? "'%s' is not a rate (e.g. 10mbit, 500kbit, 2mbyte)"
                    : "'%s' is not a size (e.g. 64k)",
               s);
}

static int proto(const char *s)
{
    return !strcmp(s, "ip")     ? FW_IP
           : !strcmp(s, "tcp")  ? FW_TCP
           : !strcmp(s, "udp")  ? FW_UDP
           : !strcmp(s, "icmp") ? FW_ICMP
                                : -1;
}

/* allow|deny [in|out] PROTO [from A [port P]] [to A [port P]] */
static int rule(struct ctx *c, char **w, int n, struct fw_rules *rs)
{
    if (rs->n == FW_MAX_RULES)
        return bad(c, "more than %d rules", FW_MAX_RULES);
    struct fw_rule r;
    memset(&r, 0, sizeof r);
    r.line = c->line;
    r.allow = !strcmp(w[0], "allow");
    r.sport_hi = r.dport_hi = 65535;
    int i = 1;
    if (i < n && (!strcmp(w[i], "in") || !strcmp(w[i], "out")))
        r.dir = !strcmp(w[i++], "in") ? FW_IN : FW_OUT;
    if (i == n)
        return bad(c, "%s needs a protocol (ip, tcp, udp or icmp)", w[0]);
    int p = proto(w[i]);
    if (p < 0)
        return bad(c, "'%s' is not a protocol (ip, tcp, udp or icmp)", w[i]);
    r.proto = (uint8_t)p;
    i++;
    int seen_from = 0, seen_to = 0;
    while (i < n) {
        int from = !strcmp(w[i], "from");
        if (!from && strcmp(w[i], "to"))
            return bad(c, "'%s' where from or to was expected", w[i]);
        if ((from && seen_from) || (!from && seen_to))
            return bad(c, "'%s' given twice", w[i]);
        if (from && seen_to)
            return bad(c, "from must come before to");
        *(from ? &seen_from : &seen_to) = 1;
        if (++i == n)
            return bad(c, "%s needs an address (or any)", w[i - 1]);
        if (address(c, w[i], from ? &r.src : &r.dst,
                    from ? &r.smask : &r.dmask) < 0)
            return -1;
        i++;
        if (i < n && !strcmp(w[i], "port")) {
            if (r.proto != FW_TCP && r.proto != FW_UDP)
                return bad(c, "ports are for tcp and udp only");
            if (++i == n)
                return bad(c, "port needs a number or range");
            if (ports(c, w[i], from ? &r.sport_lo : &r.dport_lo,
                      from ? &r.sport_hi : &r.dport_hi) < 0)
                return -1;
            i++;
        }
    }
    rs->r[rs->n++] = r;
    return 0;
}

static int statement(struct ctx *c, char **w, int n, struct fw_rules *rs,
                     int *seen_default, int *seen_limit)
{
    if (!strcmp(w[0], "allow") || !strcmp(w[0], "deny"))
        return rule(c, w, n, rs);
    if (!strcmp(w[0], "default")) {
        if (n != 2 || (strcmp(w[1], "allow") && strcmp(w[1], "deny")))
            return bad(c, "default takes allow or deny");
        if ((*seen_default)++)
            return bad(c, "default given twice");
        rs->default_allow = !strcmp(w[1], "allow");
        return 0;
    }
    if (!strcmp(w[0], "limit")) {
        if (n != 2 && !(n == 4 && !strcmp(w[2], "burst")))
            return bad(c, "limit takes RATE [burst SIZE]");
        if ((*seen_limit)++)
            return bad(c, "limit given twice");
        if (amount(c, w[1], 1, &rs->limit_bytes) < 0)
            return -1;
        /* Default burst: 10 ms at the rate, at least two full frames. */
        rs->burst_bytes = rs->limit_bytes / 100;
        if (rs->burst_bytes < 3028)
            rs->burst_bytes = 3028;
        if (n == 4 && amount(c, w[3], 0, &rs->burst_bytes) < 0)
            return -1;
        if (rs->burst_bytes < 1514)
            return bad(c, "burst %s is smaller than one frame (1514 bytes)",
                       w[3]);
        return 0;
    }
    return bad(c, "'%s' is not allow, deny, default or limit", w[0]);
}

int fw_rules_parse(const char *text, size_t len, struct fw_rules *out,
                   char *err, size_t errlen)
{
    struct ctx c = {0, err, errlen};
    memset(out, 0, sizeof *out);
    if (errlen)
        err[0] = 0;
    int seen_default = 0, seen_limit = 0;
    size_t pos = 0;
    while (pos < len && text[pos]) {
        c.line++;
        size_t end = pos;
        while (end < len && text[end] && text[end] != '\n')
            end++;
        if (end - pos >= FW_MAX_LINE)
            return bad(&c, "line longer than %d bytes", FW_MAX_LINE - 1);
        char buf[FW_MAX_LINE];
        memcpy(buf, text + pos, end - pos);
        buf[end - pos] = 0;
        pos = end < len && text[end] == '\n' ? end + 1 : end;
        char *hash = strchr(buf, '#');
        if (hash)
            *hash = 0;
        char *w[MAX_WORDS];
        int n = 0;
        for (char *p = buf; *p;) {
            while (*p == ' ' || *p == '\t' || *p == '\r')
                *p++ = 0;
            if (!*p)
                break;
            if (n == MAX_WORDS)
                return bad(&c, "more than %d words", MAX_WORDS);
            w[n++] = p;
            while (*p && *p != ' ' && *p != '\t' && *p != '\r')
                p++;
        }
        for (int i = 0; i < n; i++)
            for (char *q = w[i]; *q; q++)
                if ((unsigned char)*q < 0x20 || (unsigned char)*q > 0x7e)
                    return bad(&c, "a control or non-ASCII byte");
        if (n && statement(&c, w, n, out, &seen_default, &seen_limit) < 0)
            return -1;
    }
    return 0;
}

static int addr_match(const uint8_t *p, uint32_t addr, uint32_t mask)
{
    uint32_t a;
    memcpy(&a, p, 4);
    return (a & mask) == addr;
}

static int one(const struct fw_rule *r, int dir, const uint8_t *ip, size_t len)
{
    if (r->dir != FW_BOTH && r->dir != dir)
        return 0;
    if (r->proto != FW_IP && ip[9] != r->proto)
        return 0;
    if (!addr_match(ip + 12, r->src, r->smask) ||
        !addr_match(ip + 16, r->dst, r->dmask))
        return 0;
    if (r->proto != FW_TCP && r->proto != FW_UDP)
        return 1;
    int any = r->sport_lo == 0 && r->sport_hi == 65535 && r->dport_lo == 0 &&
              r->dport_hi == 65535;
    if (any)
        return 1;
    /* Ports are in the first fragment only; later fragments never match a
     * port rule (the guest drops fragments anyway). */
    size_t hl = (size_t)(ip[0] & 15) * 4;
    if ((ip[6] & 0x1f) || ip[7] || len < hl + 4)
        return 0;
    unsigned sp = (unsigned)ip[hl] << 8 | ip[hl + 1];
    unsigned dp = (unsigned)ip[hl + 2] << 8 | ip[hl + 3];
    return sp >= r->sport_lo && sp <= r->sport_hi && dp >= r->dport_lo &&
           dp <= r->dport_hi;
}

int fw_rules_allow(const struct fw_rules *rs, int dir, const uint8_t *ip,
                   size_t len)
{
    if (len < 20)
        return 0;
    for (unsigned i = 0; i < rs->n; i++)
        if (one(&rs->r[i], dir, ip, len))
            return rs->r[i].allow;
    return rs->default_allow;
}

int fw_bucket_take(struct fw_bucket *b, const struct fw_rules *rs,
                   uint64_t now_ns, size_t bytes)
{
    if (!rs->limit_bytes)
        return 1;
    if (b->last_ns == 0 || now_ns < b->last_ns) {
        b->tokens = rs->burst_bytes;
        b->last_ns = now_ns;
    }
    uint64_t dt = now_ns - b->last_ns;
    if (dt >= 10000000000ull) { /* idle 10 s or more: full */
        b->tokens = rs->burst_bytes;
        b->last_ns = now_ns;
        dt = 0;
    }
    /* Whole bytes earned in dt; only their time is spent, so the rest of
     * dt still counts next time (exact at any call rate). dt < 10 s and
     * the rate <= 10^12 bytes/s: the product fits in 128 bits. */
    uint64_t earned =
        (uint64_t)((unsigned __int128)dt * rs->limit_bytes / 1000000000u);
    if (earned) {
        b->tokens += earned;
        b->last_ns += (uint64_t)((unsigned __int128)earned * 1000000000u /
                                 rs->limit_bytes);
        if (b->tokens >= rs->burst_bytes) {
            b->tokens = rs->burst_bytes;
            b->last_ns = now_ns;
        }
    }
    if (b->tokens < bytes)
        return 0;
    b->tokens -= bytes;
    return 1;
}
