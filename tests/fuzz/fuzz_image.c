/*
 * fuzz_image.c: libFuzzer target for the guest image loader. Any input
 * must get a clean verdict from image_parse: accepted with a consistent
 * description, or refused with a one-line message; never a memory error.
 *
 *   make fuzz                       # builds build/fuzz/fuzz_image
 *   build/fuzz/fuzz_image -max_total_time=600 tests/fuzz/corpus/image
 */
#include "toolstack/image.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct image_info info;
    struct lvm_err err;
    if (image_parse(data, size, &info, &err) < 0) {
        if (!err.msg[0] || strchr(err.msg, '\n'))
            abort(); /* every refusal is one non-empty line */
        return 0;
    }
    /* What the monitors rely on when an image is accepted. */
    if (info.nsegs == 0 || info.nsegs > IMAGE_MAX_SEGS ||
        info.image_end % 4096 || info.ndevices > LVM_MANIFEST_MAX_DEVICES)
        abort();
    for (unsigned i = 0; i < info.nsegs; i++) {
        const struct image_segment *s = &info.seg[i];
        if (s->vaddr < LVM_RAM_BASE || s->vaddr + s->memsz > info.image_end ||
            s->filesz > s->memsz || s->offset + s->filesz > size)
            abort();
        if (i && s->vaddr < info.seg[i - 1].vaddr + info.seg[i - 1].memsz)
            abort();
    }
    return 0;
}
