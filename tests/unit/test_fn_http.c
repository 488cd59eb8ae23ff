/*
 * test_fn_http.c: the function gateway's HTTP request reader
 * (faas/http.c) and its function names (faas/fn_store.c): what a request
 * head gives, when more bytes are needed, and the status and reason for
 * each refusal. Both files are built into this test (faas/faas.mk).
 */
#include "unit.h"

#include "faas/fn_store.c"
#include "faas/http.c"

static struct http_req r;
static const char *why;

static int parse(const char *s)
{
    why = "";
    return http_parse_head(s, strlen(s), 1000, &r, &why);
}

static void refused(const char *s, int status, const char *want)
{
    int st = parse(s);
    if (st != status)
        fail_msg("'%s' gave %d, not %d", s, st, status);
    if (!strstr(why, want))
        fail_msg("'%s' gave '%s', not '%s'", s, why, want);
}

static void test_post(void **state)
{
    (void)state;
    const char *s = "POST /fn/hello?x=1 HTTP/1.1\r\nHost: a\r\n"
                    "Content-Length: 5\r\n\r\nworld";
    assert_int_equal(parse(s), 1);
    assert_string_equal(r.method, "POST");
    assert_string_equal(r.path, "/fn/hello?x=1");
    assert_int_equal(r.minor, 1);
    assert_int_equal(r.keep_alive, 1);
    assert_int_equal(r.content_length, 5);
    assert_int_equal(r.head_len, strlen(s) - 5);
}

static void test_incomplete(void **state)
{
    (void)state;
    const char *s = "POST /fn/a HTTP/1.1\r\nContent-Length: 2\r\n\r\n";
    /* Every proper prefix of a good head asks for more. */
    for (size_t n = 0; n < strlen(s); n++)
        assert_int_equal(http_parse_head(s, n, 1000, &r, &why), 0);
    assert_int_equal(http_parse_head(s, strlen(s), 1000, &r, &why), 1);
}

static void test_keep_alive(void **state)
{
    (void)state;
    assert_int_equal(parse("GET / HTTP/1.0\r\n\r\n"), 1);
    assert_int_equal(r.keep_alive, 0);
    assert_int_equal(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"),
                     1);
    assert_int_equal(r.keep_alive, 1);
    assert_int_equal(parse("GET / HTTP/1.1\r\nConnection: foo, close\r\n\r\n"),
                     1);
    assert_int_equal(r.keep_alive, 0);
    /* Bare LF line ends, and empty lines before the request line. */
    assert_int_equal(parse("\r\n\nGET /x HTTP/1.1\nA: b\n\n"), 1);
    assert_string_equal(r.path, "/x");
}

static void test_expect(void **state)
{
    (void)state;
    assert_int_equal(parse("POST /fn/a HTTP/1.1\r\nContent-Length: 1\r\n"
                           "Expect: 100-continue\r\n\r\n"),
                     1);
    assert_int_equal(r.expect_continue, 1);
    refused("POST /fn/a HTTP/1.1\r\nContent-Length: 1\r\nExpect: x\r\n\r\n",
            417, "Expect");
}

static void test_refusals(void **state)
{
    (void)state;
    refused("GARBAGE\r\n\r\n", 400, "malformed request line");
    refused("G(T / HTTP/1.1\r\n\r\n", 400, "malformed method");
    refused("GET  HTTP/1.1\r\n\r\n", 400, "malformed request line");
    refused("GET x HTTP/1.1\r\n\r\n", 400, "must be a path");
    refused("GET /\x7f HTTP/1.1\r\n\r\n", 400, "malformed request target");
    refused("GET / HTTP/1.12\r\n\r\n", 400, "malformed HTTP version");
    refused("GET / HTTX/1.1\r\n\r\n", 400, "malformed HTTP version");
    refused("GET / HTTP/2.0\r\n\r\n", 505, "HTTP/1.x");
    refused("GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400, "malformed header line");
    refused("GET / HTTP/1.1\r\n: x\r\n\r\n", 400, "malformed header line");
    refused("GET / HTTP/1.1\r\nA B: x\r\n\r\n", 400, "malformed header name");
    refused("GET / HTTP/1.1\r\nA: \x01\r\n\r\n", 400, "malformed header value");
    refused("GET / HTTP/1.1\r\nA: x\r\n b\r\n\r\n", 400, "folded");
    refused("POST / HTTP/1.1\r\n\r\n", 411, "Content-Length");
    refused("POST / HTTP/1.1\r\nContent-Length: \r\n\r\n", 400,
            "malformed Content-Length");
    refused("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400,
            "malformed Content-Length");
    refused("POST / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n", 400,
            "malformed Content-Length");
    refused("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
            400, "malformed Content-Length");
    refused("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-length: 2\r\n\r\n",
            400, "conflicting");
    refused("POST / HTTP/1.1\r\nContent-Length: 1001\r\n\r\n", 413,
            "too large");
    refused("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 501,
            "Transfer-Encoding");
    refused("VERYLONGMETHODNAME / HTTP/1.1\r\n\r\n", 501, "method too long");
    /* The same Content-Length twice is one length. */
    assert_int_equal(parse("POST / HTTP/1.1\r\nContent-Length: 3\r\n"
                           "Content-Length: 3\r\n\r\n"),
                     1);
}

static void test_sizes(void **state)
{
    (void)state;
    char big[HTTP_HEAD_MAX + 100];
    /* A head without its end, past the limit. */
    memset(big, 'a', sizeof big);
    memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
    assert_int_equal(http_parse_head(big, sizeof big, 1000, &r, &why), 431);
    /* A complete head past the limit. */
    memcpy(big + sizeof big - 4, "\r\n\r\n", 4);
    assert_int_equal(http_parse_head(big, sizeof big, 1000, &r, &why), 431);
    /* A request target past its limit. */
    char path[HTTP_PATH_MAX + 40];
    memset(path, 0, sizeof path);
    memcpy(path, "GET /", 5);
    memset(path + 5, 'p', HTTP_PATH_MAX);
    strcat(path, " HTTP/1.1\r\n\r\n");
    assert_int_equal(parse(path), 414);
}

static void test_format(void **state)
{
    (void)state;
    char b[256];
    int n = http_format_head(b, sizeof b, 404, "application/json", 12, 0,
                             "Allow: POST\r\n");
    assert_true(n > 0);
    assert_non_null(strstr(b, "HTTP/1.1 404 Not Found\r\n"));
    assert_non_null(strstr(b, "Content-Length: 12\r\n"));
    assert_non_null(strstr(b, "Connection: close\r\n"));
    assert_non_null(strstr(b, "Allow: POST\r\n\r\n"));
    assert_int_equal(http_format_head(b, 20, 200, "text/plain", 1, 1, NULL),
                     -1);
    /* The gateway's own refusals: a client past its share, a slow one. */
    n = http_format_head(b, sizeof b, 429, "application/json", 2, 1,
                         "Retry-After: 1\r\n");
    assert_true(n > 0);
    assert_non_null(strstr(b, "HTTP/1.1 429 Too Many Requests\r\n"));
    assert_non_null(strstr(b, "Retry-After: 1\r\n\r\n"));
    assert_null(strstr(b, "Connection: close"));
    assert_string_equal(http_reason(408), "Request Timeout");
    assert_string_equal(http_reason(299), "Unknown");
}

/* A head that arrives a byte at a time asks for more until its blank
 * line, whatever byte it stops at: the gateway's header timeout applies
 * to such a head, and the reader must not take it as complete early. */
static void test_byte_at_a_time(void **state)
{
    (void)state;
    static const char req[] = "POST /fn/x HTTP/1.1\r\nHost: h\r\n"
                              "Content-Length: 3\r\n\r\nabc";
    size_t head = strlen(req) - 3;
    for (size_t n = 0; n < head; n++) {
        why = "";
        assert_int_equal(http_parse_head(req, n, 1000, &r, &why), 0);
    }
    why = "";
    assert_int_equal(http_parse_head(req, head, 1000, &r, &why), 1);
    assert_int_equal(r.head_len, head);
    assert_int_equal(r.content_length, 3);
}

static void test_names(void **state)
{
    (void)state;
    assert_true(fn_name_ok("hello", 5));
    assert_true(fn_name_ok("a.b-c_1", 7));
    assert_false(fn_name_ok("", 0));
    assert_false(fn_name_ok(".x", 2));
    assert_false(fn_name_ok("-x", 2));
    assert_false(fn_name_ok("a..b", 4));
    assert_false(fn_name_ok("a/b", 3));
    assert_false(fn_name_ok("a b", 3));
    char longname[FN_NAME_MAX + 2];
    memset(longname, 'a', sizeof longname);
    assert_true(fn_name_ok(longname, FN_NAME_MAX));
    assert_false(fn_name_ok(longname, FN_NAME_MAX + 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_post),
        cmocka_unit_test(test_incomplete),
        cmocka_unit_test(test_keep_alive),
        cmocka_unit_test(test_expect),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_byte_at_a_time),
    };
    return cmocka_run_group_tests_name("fn_http", tests, NULL, NULL);
}
