/*
 * fuzz_migstream.c: libFuzzer target for the migration stream's reader and
 * the destination's state machine (toolstack/migstream.c), what a
 * lightvmd runs on bytes from a tenant's connection or its TCP migration
 * port. Any input must end in a clean verdict: frames refused with a
 * one-line message, or applied without a memory error, every page written
 * inside the guest's RAM, and the stages in order.
 *
 * The input is fed in chunks of varying size (its first byte seeds them),
 * as a socket delivers it. A HELLO is accepted with a memfd of its RAM
 * (refused above 64 MiB, as a quota would); END is answered as if the
 * guest were made; COMMIT ends the stream.
 *
 *   make fuzz
 *   build/fuzz/fuzz_migstream -max_total_time=600 tests/fuzz/corpus/migstream
 */
#include "toolstack/migstream.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned seed = data[0];
    data++, size--;
    struct mig_reader rd;
    struct mig_in mi;
    struct lvm_err err;
    mig_reader_init(&rd);
    mig_in_init(&mi);
    size_t off = 0;
    int done = 0;
    while (off < size && !done) {
        seed = seed * 1103515245u + 12345u;
        size_t chunk = 1 + (seed >> 16) % 4099;
        if (chunk > size - off)
            chunk = size - off;
        size_t used = 0;
        while (used < chunk && !done) {
            long k =
                mig_reader_feed(&rd, data + off + used, chunk - used, &err);
            if (k < 0) {
                if (!err.msg[0] || strchr(err.msg, '\n'))
                    abort(); /* a one-line message */
                done = 1;
                break;
            }
            if (k == 0 && !rd.complete)
                abort(); /* no progress */
            used += (size_t)k;
            if (!rd.complete)
                continue;
            struct mig_frame f;
            mig_reader_frame(&rd, &f);
            int ev = mig_in_frame(&mi, &f, -1, &err);
            if (ev < 0) {
                if (!err.msg[0] || strchr(err.msg, '\n'))
                    abort();
                done = 1;
            } else if (ev == MIG_EV_HELLO) {
                if (mi.stage != MIG_IN_DECIDE || !mi.info.config ||
                    mi.info.ram_size % 4096 || !mi.info.ram_size)
                    abort();
                if (mi.info.ram_size > (64u << 20)) {
                    done = 1; /* the daemon's quota would refuse it */
                    break;
                }
                int fd = memfd_create("fuzz_migstream", MFD_CLOEXEC);
                if (fd < 0 || ftruncate(fd, (off_t)mi.info.ram_size) < 0)
                    abort();
                mig_in_accept(&mi, fd);
            } else if (ev == MIG_EV_END) {
                if (!mi.have_state || mi.stage != MIG_IN_MAKE)
                    abort();
                /* Every page landed inside the guest's RAM. */
                struct stat st;
                if (fstat(mi.ram_fd, &st) < 0 ||
                    (uint64_t)st.st_size != mi.info.ram_size)
                    abort();
                mig_in_held(&mi);
            } else if (ev == MIG_EV_COMMIT) {
                if (mi.stage != MIG_IN_COMMITED)
                    abort();
                done = 1;
            }
        }
        off += used;
    }
    mig_reader_free(&rd);
    mig_in_free(&mi);
    return 0;
}
