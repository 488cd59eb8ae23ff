/*
 * fuzz_tinyx_kconfig.c: --app-config fragments.
 */
#include "tinyx/kernel.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct kconfig k;
    struct lvm_err err;
    kconfig_platform(&k);
    if (kconfig_parse(&k, (const char *)data, size, &err) == 0) {
        char key[KERNEL_KEY_LEN + 1];
        free(kconfig_text(&k));
        kconfig_key(&k, key);
    }
    return 0;
}
