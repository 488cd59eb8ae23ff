/*
 * fuzz_tinyx_argsplit.c: --cmd and --health command strings.
 */
#include "tinyx/argsplit.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = 0;
    struct argv_list a;
    struct lvm_err err;
    if (argsplit(s, &a, &err) == 0)
        argv_free(&a);
    free(s);
    return 0;
}
