/*
 * http.c: the gateway's HTTP/1.1 request head reader (RFC 9112), strict
 * where leniency lets requests be smuggled: one Content-Length, no
 * Transfer-Encoding, no folded headers, no bytes outside the grammar. A
 * bare LF ends a line as CRLF does (RFC 9112 section 2.2 allows it).
 */
#include "faas/http.h"

#include <stdio.h>
#include <string.h>

/* RFC 9110 tchar: what a method or a header name is made of. */
static int is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        (c >= '0' && c <= '9'))
        return 1;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Visible characters, space and tab (field values; no controls, no DEL).
 * Bytes >= 0x80 (obs-text) are allowed in values. */
static int is_vchar_ws(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static int ieq(const char *a, size_t alen, const char *b)
{
    size_t n = strlen(b);
    if (alen != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z')
            x = (char)(x - 'A' + 'a');
        if (x != y)
            return 0;
    }
    return 1;
}

/* The next line of (buf) from (*pos): its start and length without the
 * line end. 0 if no line end yet. */
static int next_line(const char *buf, size_t len, size_t *pos,
                     const char **line, size_t *llen)
{
    const char *s = buf + *pos;
    const char *nl = memchr(s, '\n', len - *pos);
    if (!nl)
        return 0;
    size_t n = (size_t)(nl - s);
    *line = s;
    *llen = n > 0 && s[n - 1] == '\r' ? n - 1 : n;
    *pos += n + 1;
    return 1;
}

static int request_line(const char *l, size_t n, struct http_req *r,
                        const char **why)
{
    const char *sp1 = memchr(l, ' ', n);
    if (!sp1 || sp1 == l) {
        *why = "malformed request line";
        return 400;
    }
    size_t mlen = (size_t)(sp1 - l);
    for (size_t i = 0; i < mlen; i++)
        if (!is_tchar((unsigned char)l[i])) {
            *why = "malformed method";
            return 400;
        }
    if (mlen >= sizeof r->method) {
        *why = "method too long";
        return 501;
    }
    const char *t = sp1 + 1, *end = l + n;
    const char *sp2 = memchr(t, ' ', (size_t)(end - t));
    if (!sp2 || sp2 == t) {
        *why = "malformed request line";
        return 400;
    }
    size_t tlen = (size_t)(sp2 - t);
    for (size_t i = 0; i < tlen; i++) {
        unsigned char c = (unsigned char)t[i];
        if (c <= 0x20 || c >= 0x7f) {
            *why = "malformed request target";
            return 400;
        }
    }
    if (t[0] != '/') {
        *why = "the request target must be a path";
        return 400;
    }
    if (tlen >= sizeof r->path) {
        *why = "request target too long";
        return 414;
    }
    const char *v = sp2 + 1;
    size_t vlen = (size_t)(end - v);
    if (vlen != 8 || memcmp(v, "HTTP/", 5) != 0 || v[6] != '.' || v[5] < '0' ||
        v[5] > '9' || v[7] < '0' || v[7] > '9') {
        *why = "malformed HTTP version";
        return 400;
    }
    if (v[5] != '1') {
        *why = "only HTTP/1.x is served";
        return 505;
    }
    memcpy(r->method, l, mlen);
    r->method[mlen] = 0;
    memcpy(r->path, t, tlen);
    r->path[tlen] = 0;
    r->minor = v[7] == '0' ? 0 : 1;
    r->keep_alive = r->minor >= 1;
    return 0;
}

/* A Connection header's comma-separated options. */
static void connection_opts(const char *v, size_t n, struct http_req *r)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t s = i;
        while (i < n && v[i] != ',' && v[i] != ' ' && v[i] != '\t')
            i++;
        if (ieq(v + s, i - s, "close"))
            r->keep_alive = 0;
        else if (ieq(v + s, i - s, "keep-alive"))
            r->keep_alive = 1;
    }
}

static int header(const char *l, size_t n, struct http_req *r, int *have_len,
                  uint64_t body_max, const char **why)
{
    if (l[0] == ' ' || l[0] == '\t') {
        *why = "folded header lines are not accepted";
        return 400;
    }
    const char *colon = memchr(l, ':', n);
    if (!colon || colon == l) {
        *why = "malformed header line";
        return 400;
    }
    size_t nlen = (size_t)(colon - l);
    for (size_t i = 0; i < nlen; i++)
        if (!is_tchar((unsigned char)l[i])) {
            *why = "malformed header name";
            return 400;
        }
    const char *v = colon + 1, *end = l + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    size_t vlen = (size_t)(end - v);
    for (size_t i = 0; i < vlen; i++)
        if (!is_vchar_ws((unsigned char)v[i])) {
            *why = "malformed header value";
            return 400;
        }
    if (ieq(l, nlen, "content-length")) {
        uint64_t x = 0;
        if (vlen == 0) {
            *why = "malformed Content-Length";
            return 400;
        }
        for (size_t i = 0; i < vlen; i++) {
            if (v[i] < '0' || v[i] > '9' || x > (UINT64_MAX - 9) / 10) {
                *why = "malformed Content-Length";
                return 400;
            }
            x = x * 10 + (uint64_t)(v[i] - '0');
        }
        if (*have_len && x != r->content_length) {
            *why = "conflicting Content-Length headers";
            return 400;
        }
        *have_len = 1;
        r->content_length = x;
        if (x > body_max) {
            *why = "request body too large";
            return 413;
        }
    } else if (ieq(l, nlen, "transfer-encoding")) {
        *why = "Transfer-Encoding is not supported; send Content-Length";
        return 501;
    } else if (ieq(l, nlen, "connection")) {
        connection_opts(v, vlen, r);
    } else if (ieq(l, nlen, "expect")) {
        if (!ieq(v, vlen, "100-continue")) {
            *why = "unsupported Expect";
            return 417;
        }
        r->expect_continue = 1;
    }
    return 0;
}

int http_parse_head(const char *buf, size_t len, uint64_t body_max,
                    struct http_req *r, const char **why)
{
    memset(r, 0, sizeof *r);
    size_t pos = 0;
    const char *l;
    size_t n;
    /* RFC 9112 2.2: ignore empty lines before the request line. */
    for (;;) {
        if (pos > HTTP_HEAD_MAX || !next_line(buf, len, &pos, &l, &n)) {
            if (len > HTTP_HEAD_MAX) {
                *why = "request head too large";
                return 431;
            }
            return 0;
        }
        if (n)
            break;
    }
    int st = request_line(l, n, r, why);
    if (st)
        return st;
    int have_len = 0;
    for (;;) {
        if (!next_line(buf, len, &pos, &l, &n)) {
            if (len > HTTP_HEAD_MAX) {
                *why = "request head too large";
                return 431;
            }
            return 0;
        }
        if (pos > HTTP_HEAD_MAX) {
            *why = "request head too large";
            return 431;
        }
        if (n == 0)
            break;
        if ((st = header(l, n, r, &have_len, body_max, why)))
            return st;
    }
    if (!have_len && !strcmp(r->method, "POST")) {
        *why = "a POST needs Content-Length";
        return 411;
    }
    r->head_len = pos;
    return 1;
}

const char *http_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 417: return "Expectation Failed";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

int http_format_head(char *buf, size_t cap, int status,
                     const char *content_type, uint64_t body_len,
                     int keep_alive, const char *extra)
{
    int n = snprintf(
        buf, cap,
        "HTTP/1.1 %d %s\r\nServer: lightvm-fn\r\n"
        "Content-Type: %s\r\nContent-Length: %llu\r\n%s%s\r\n",
        status, http_reason(status), content_type, (unsigned long long)body_len,
        keep_alive ? "" : "Connection: close\r\n", extra ? extra : "");
    return n < 0 || (size_t)n >= cap ? -1 : n;
}
