/*
 * block: reads and writes its block device through the SDK, and checks the
 * monitor's bounds: a read past the end, a write of a partial block, a
 * read into read-only memory. Prints only what both monitors must agree
 * on. Attach a device of at least 4 KiB as disk0.
 */
#include <lightvm/guest.h>

#include <stdio.h>
#include <string.h>

LVM_MANIFEST(LVM_BLOCK("disk0", 0));

int main(void)
{
    const struct lvm_device *d = lvm_device_find(LVM_DEV_BLOCK, "disk0");
    if (!d) {
        printf("no disk0\n");
        return 1;
    }
    uint64_t cap = d->u.block.capacity, bs = d->u.block.block_size;
    printf("disk0: %llu bytes in %llu-byte blocks\n", (unsigned long long)cap,
           (unsigned long long)bs);
    static char buf[4096], back[4096];
    for (unsigned i = 0; i < sizeof buf; i++)
        buf[i] = (char)('a' + i % 26);
    printf("write 2 blocks at 1024: %ld\n",
           lvm_block_write(d, 1024, buf, 2 * bs));
    memset(back, 0, sizeof back);
    printf("read them back: %ld, %s\n", lvm_block_read(d, 1024, back, 2 * bs),
           memcmp(buf, back, 2 * bs) ? "different" : "same");
    printf("read past the end: %ld\n", lvm_block_read(d, cap, back, bs));
    printf("partial block: %ld\n", lvm_block_write(d, 0, buf, bs / 2));
    printf("read into the device page: %ld\n",
           lvm_block_read(d, 0, (void *)(uintptr_t)LVM_DEVPAGE_ADDR, bs));
    printf("read into the boot info: %ld\n",
           lvm_block_read(d, 0, (void *)(uintptr_t)LVM_BOOTINFO_ADDR, bs));
    return 0;
}
