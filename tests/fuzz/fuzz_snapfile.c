/*
 * fuzz_snapfile.c: libFuzzer target for the state file reader. Any input
 * must get a clean verdict from snap_read_info: refused with a one-line
 * message, or accepted with tables the RAM copy can trust, in which case
 * snap_read_ram builds the guest's RAM from it without a memory error.
 * Built with FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION, which makes the
 * reader compute but not enforce the checksum (a mutated input would
 * never get past it).
 *
 *   make fuzz                       # builds build/fuzz/fuzz_snapfile
 *   build/fuzz/fuzz_snapfile -max_total_time=600 tests/fuzz/corpus/snapfile
 */
#include "toolstack/snapfile.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int input_fd(const uint8_t *data, size_t size)
{
    static int fd = -1;
    if (fd < 0)
        fd = memfd_create("fuzz_snapfile", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, 0) < 0)
        abort();
    for (size_t off = 0; off < size;) {
        ssize_t n = pwrite(fd, data + off, size - off, (off_t)off);
        if (n <= 0)
            abort();
        off += (size_t)n;
    }
    return fd;
}

/* What the restore path relies on when a file is accepted. */
static void check_accepted(const struct snap_info *info)
{
    const uint64_t ram_pages = info->ram_size / 4096;
    uint64_t next = 0, sum = 0;
    for (uint32_t i = 0; i < info->nruns; i++) {
        const struct snap_run *r = &info->runs[i];
        if (!r->count || r->first < next || r->first > ram_pages ||
            r->count > ram_pages - r->first)
            abort();
        next = r->first + r->count;
        sum += r->count;
    }
    if (sum != info->npages || !info->config ||
        strlen(info->config) != info->config_len ||
        info->config_len > SNAP_CONFIG_MAX ||
        !memchr(info->monitor, 0, sizeof info->monitor) ||
        !memchr(info->guest_id, 0, sizeof info->guest_id))
        abort();
    if (info->kind == SNAP_KIND_QEMU &&
        info->blob_off + info->blob_len > info->file_len)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = input_fd(data, size);
    struct snap_info info;
    struct lvm_err err;
    if (snap_read_info(fd, &info, &err) < 0) {
        if (!err.msg[0] || strchr(err.msg, '\n') || info.config || info.runs)
            abort(); /* one non-empty line, nothing to free */
        return 0;
    }
    check_accepted(&info);
    if (info.kind == SNAP_KIND_UNIKERNEL) {
        int m = snap_read_ram(fd, &info, &err);
        struct stat st;
        if (m < 0 || fstat(m, &st) < 0 || (uint64_t)st.st_size != info.ram_size)
            abort();
        close(m);
    }
    snap_info_free(&info);
    return 0;
}
