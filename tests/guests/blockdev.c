/*
 * blockdev.c: exercises the block hypercalls. Reads block 0 of disk0,
 * prints its first line, writes a pattern to the last block and block 1,
 * reads them back and checks. With argv[1] == "beyond" it asks for a
 * block past the end, which the SDK must refuse.
 */
#include <lightvm/guest.h>
#include <stdio.h>
#include <string.h>

LVM_MANIFEST(LVM_BLOCK("disk0", 0));

int main(int argc, char **argv)
{
    const struct lvm_device *d = lvm_device_find(LVM_DEV_BLOCK, "disk0");
    if (!d) {
        printf("blockdev: no disk0\n");
        return 1;
    }
    uint64_t cap = d->u.block.capacity, bs = d->u.block.block_size;
    printf("blockdev: capacity %llu bytes, block %llu, %s\n",
           (unsigned long long)cap, (unsigned long long)bs,
           d->flags & LVM_DEVF_READONLY ? "read-only" : "read-write");
    static char buf[4096], chk[4096];
    if (argc > 1 && !strcmp(argv[1], "beyond")) {
        long r = lvm_block_read(d, cap, buf, bs);
        printf("blockdev: read beyond the end: %ld\n", r);
        return r == LVM_EINVAL ? 0 : 1;
    }
    if (lvm_block_read(d, 0, buf, bs) != (long)bs) {
        printf("blockdev: read failed\n");
        return 1;
    }
    buf[bs - 1] = 0;
    char *nl = strchr(buf, '\n');
    if (nl)
        *nl = 0;
    printf("blockdev: block 0 says: %s\n", buf);
    if (d->flags & LVM_DEVF_READONLY) {
        long r = lvm_block_write(d, 0, buf, bs);
        printf("blockdev: write to read-only: %ld\n", r);
        return r < 0 ? 0 : 1;
    }
    for (uint64_t off = bs; off < cap; off = cap - bs) {
        memset(buf, 0, bs);
        snprintf(buf, bs, "lightvm block at %llu\n", (unsigned long long)off);
        if (lvm_block_write(d, off, buf, bs) != (long)bs ||
            lvm_block_read(d, off, chk, bs) != (long)bs ||
            memcmp(buf, chk, bs) != 0) {
            printf("blockdev: write/read back failed at %llu\n",
                   (unsigned long long)off);
            return 1;
        }
        if (off == cap - bs)
            break;
    }
    printf("blockdev: ok\n");
    return 0;
}
