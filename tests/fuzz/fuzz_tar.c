/*
 * fuzz_tar.c: the ustar reader behind the guest's file tree (guest/
 * fs_tar.c), on arbitrary bytes: it must never read outside the buffer,
 * and every member it hands over must lie inside it, with a normalised
 * path. Seeds: tests/fuzz/corpus/tar (made with tar cf).
 */
#include "guest/fs_tar.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t *base;
static size_t base_len;

static int check(void *ctx, const struct lvm_tar_entry *e)
{
    (void)ctx;
    const uint8_t *d = e->data;
    if (e->size && (d < base || d + e->size > base + base_len))
        abort();
    if (strlen(e->path) != e->path_len || e->path_len == 0 ||
        e->path[0] == '/' || strstr(e->path, "//") || !strcmp(e->path, "..") ||
        !strncmp(e->path, "../", 3) || strstr(e->path, "/../") ||
        (e->path_len >= 3 && !strcmp(e->path + e->path_len - 3, "/..")))
        abort();
    volatile uint8_t sum = 0;
    for (uint64_t i = 0; i < e->size; i++)
        sum += d[i];
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    base = data;
    base_len = size;
    const char *why;
    lvm_tar_walk(data, size, check, NULL, &why);
    return 0;
}
