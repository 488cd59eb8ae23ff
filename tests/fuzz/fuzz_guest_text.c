/*
 * fuzz_guest_text.c: text a guest writes for the toolstack to read (its
 * status page's abort message): escaping it for a terminal, and reading
 * the SDK's "forbidden system call N" out of it.
 */
#include "toolstack/text.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char msg[256]; /* as the status page's message, NUL-terminated */
    size_t n = size < sizeof msg - 1 ? size : sizeof msg - 1;
    memcpy(msg, data, n);
    msg[n] = 0;
    long nr = text_forbidden_nr(msg);
    if (nr < -1 || nr >= (1L << 31))
        abort();
    char out[TEXT_ESCAPED_MAX(sizeof msg)];
    text_escape(msg, out, sizeof out);
    if (strlen(out) >= sizeof out)
        abort();
    return 0;
}
