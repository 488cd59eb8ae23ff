/*
 * fuzz_tinyx_manifest.c: an image directory's manifest.json.
 */
#include "toolstack/qemu/tinyx_manifest.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tinyx_manifest m;
    struct lvm_err err;
    tinyx_manifest_parse((const char *)data, size, "/img", &m, &err);
    return 0;
}
