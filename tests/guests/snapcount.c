/*
 * snapcount.c: a guest whose every bit of state a snapshot must keep.
 *
 *   snapcount [KIB [MS [sleep|yield|spin|threads]]]
 *
 * At start it fills KIB KiB (default 1024) of heap with bytes from its
 * random number generator and remembers their hash. Every MS
 * milliseconds (default 20), waiting in nanosleep (a served system call:
 * a snapshot taken then restarts it) or in lvm_yield, it checks the
 * buffer against that hash (abort "memory changed" if it differs), counts
 * a tick and prints
 *
 *   tick N hash H resumed R cloned C rand X
 *
 * N continues across a save and restore; R is how many times the guest
 * was restored or cloned (its status page), C whether it is a clone, X
 * a fresh random number (clones of one snapshot must differ). "spin"
 * never yields: a snapshot must give up on it. "threads" sleeps as
 * "sleep" does while two more threads count under a mutex, each in its
 * own nanosleep: a tick aborts ("threads stopped") if they made no
 * progress for 5 ticks, so a snapshot must keep them running too. It
 * exits 0 on poweroff.
 */
#include <lightvm/guest.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

static uint64_t fnv(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long worked;

static void *worker(void *arg)
{
    long ms = *(const long *)arg;
    struct timespec ts = {ms / 2000, (ms % 2000) * 500000};
    for (;;) {
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&lock);
        worked++;
        pthread_mutex_unlock(&lock);
    }
    return 0;
}

int main(int argc, char **argv)
{
    size_t kib = argc > 1 ? strtoul(argv[1], NULL, 10) : 1024;
    long ms = argc > 2 ? atol(argv[2]) : 20;
    const char *mode = argc > 3 ? argv[3] : "sleep";
    size_t len = kib << 10;
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return 2;
    for (size_t at = 0; at < len;) {
        ssize_t n = getrandom(buf + at, len - at > 256 ? 256 : len - at, 0);
        if (n <= 0)
            return 3;
        at += (size_t)n;
    }
    uint64_t want = fnv(buf, len);
    const volatile struct lvm_status *st =
        (const volatile struct lvm_status *)LVM_STATUS_ADDR;
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("start kib %zu hash %016llx\n", kib, (unsigned long long)want);
    int threads = !strcmp(mode, "threads");
    unsigned long seen = 0, still = 0;
    for (int i = 0; i < 2 * threads; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, worker, &ms) != 0)
            return 5;
    }
    for (unsigned long tick = 1; !lvm_poweroff_requested(); tick++) {
        if (!strcmp(mode, "spin")) {
            for (volatile unsigned long i = 0;; i++)
                ;
        } else if (!strcmp(mode, "yield")) {
            uint64_t until = lvm_clock_monotonic() + (uint64_t)ms * 1000000;
            while (lvm_clock_monotonic() < until && !lvm_poweroff_requested())
                lvm_yield(until, 0);
        } else {
            struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
            nanosleep(&ts, NULL);
        }
        if (lvm_poweroff_requested())
            break;
        if (fnv(buf, len) != want)
            lvm_abort("memory changed");
        if (threads) {
            pthread_mutex_lock(&lock);
            still = worked == seen ? still + 1 : 0;
            seen = worked;
            pthread_mutex_unlock(&lock);
            if (still >= 5)
                lvm_abort("threads stopped");
        }
        uint32_t x;
        if (getrandom(&x, sizeof x, 0) != sizeof x)
            return 4;
        printf("tick %lu hash %016llx resumed %u cloned %u rand %08x\n", tick,
               (unsigned long long)want, st->resume_count,
               (st->resume_flags & LVM_RESUME_CLONED) != 0, x);
    }
    return 0;
}
