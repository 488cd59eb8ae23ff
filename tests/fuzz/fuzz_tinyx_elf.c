/*
 * fuzz_tinyx_elf.c: ELF files handed to `tinyx build` (the app and every
 * library it pulls in), through libelf and our dynamic-section reader.
 */
#include "tinyx/elfdeps.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct elf_info info;
    struct lvm_err err;
    if (elf_inspect_mem(data, size, &info, &err) == 0)
        elf_info_free(&info);
    return 0;
}
