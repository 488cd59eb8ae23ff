/*
 * fuzz_http.c: the function gateway's HTTP request reader (faas/http.c)
 * on arbitrary bytes, as a client sends them: whole, and cut at every
 * length the first byte picks (the gateway parses again as bytes come).
 */
#include "faas/http.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct http_req r;
    const char *why = NULL;
    /* An exact-size copy, so reads past the end are caught. */
    char *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    int st = http_parse_head(buf, size, 1 << 20, &r, &why);
    if (st == 1 && (r.head_len > size || r.head_len == 0))
        abort();
    if (st > 1 && (!why || !*why))
        abort();
    if (size) {
        size_t cut = data[0] % size;
        int st2 = http_parse_head(buf, cut, 1 << 20, &r, &why);
        /* A prefix is never accepted where the whole is refused... */
        if (st2 == 1 && st > 1)
            abort();
    }
    free(buf);
    /* The answers the gateway makes, the refusals with their extra lines
     * (429 and 503 with Retry-After, 408 closing) among them. */
    static const int statuses[] = {200, 400, 404, 405, 408, 413, 429, 503};
    int status = statuses[size ? data[size - 1] % 8 : 0];
    char head[512];
    if (http_format_head(
            head, sizeof head, status, "text/plain", size, status != 408,
            status == 429 || status == 503 ? "Retry-After: 1\r\n" : NULL) < 0)
        abort(); /* they all fit */
    return 0;
}
