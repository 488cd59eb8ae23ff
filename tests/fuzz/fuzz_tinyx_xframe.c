/*
 * fuzz_tinyx_xframe.c: what a guest sends on its exec channel, as
 * `lightvm exec` reads it: a stream of frames, split anywhere.
 */
#include "toolstack/qemu/qemu_xframe.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;
    while (off < size) {
        struct xframe f;
        struct lvm_err err;
        long n = xframe_next(data + off, size - off, &f, &err);
        if (n <= 0)
            break;
        if (f.len > LVM_XF_MAX || f.data != data + off + LVM_XF_HDR ||
            (size_t)n != LVM_XF_HDR + f.len || off + (size_t)n > size)
            abort();
        if (f.type == LVM_XF_EXIT || f.type == LVM_XF_STARTED)
            (void)xframe_u32(&f);
        off += (size_t)n;
    }
    return 0;
}
