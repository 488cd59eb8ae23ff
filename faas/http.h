/*
 * http.h: the function gateway's HTTP/1.1 request reader and response
 * writer. The reader takes bytes as they arrive from an untrusted client
 * and either asks for more, returns a complete request head, or refuses
 * it with the status to answer and a one-line reason. Bodies are framed
 * by Content-Length only (no chunked uploads: 411/501 say so). It uses no
 * allocation and keeps no state between calls: the caller re-reads the
 * head from the start when more bytes came (heads are at most
 * HTTP_HEAD_MAX bytes). Fuzzed by tests/fuzz/fuzz_http.c.
 */
#ifndef LVM_FAAS_HTTP_H
#define LVM_FAAS_HTTP_H
#include <stddef.h>
#include <stdint.h>

#define HTTP_HEAD_MAX 8192 /* request line and headers, bytes */
#define HTTP_METHOD_MAX 16
#define HTTP_PATH_MAX 512

struct http_req {
    char method[HTTP_METHOD_MAX];
    char path[HTTP_PATH_MAX]; /* the request target, as sent */
    int minor;                /* HTTP/1.(minor): 0 or 1 */
    int keep_alive;           /* the connection stays open after it */
    int expect_continue;      /* "Expect: 100-continue" */
    uint64_t content_length;  /* 0 without a body */
    size_t head_len;          /* bytes of the head, its blank line included */
};

/* Parse the request head at the start of (buf, len). Returns 0 if the head
 * is not complete yet, 1 with (*r) filled, or the HTTP status to refuse it
 * with (400, 411, 413, 431, 501, 505) and (*why) a one-line reason. A
 * body longer than (body_max) is refused (413) before it is read. */
int http_parse_head(const char *buf, size_t len, uint64_t body_max,
                    struct http_req *r, const char **why);

/* The reason phrase of (status), "Unknown" for one we never send. */
const char *http_reason(int status);

/* Format a response head for a body of (body_len) bytes into (buf).
 * (extra) is more header lines ("Name: value\r\n"...), or NULL. Returns
 * its length, or -1 if it does not fit. */
int http_format_head(char *buf, size_t cap, int status,
                     const char *content_type, uint64_t body_len,
                     int keep_alive, const char *extra);

#endif
