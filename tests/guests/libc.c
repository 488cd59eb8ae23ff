/*
 * libc.c: ordinary C inside a guest. Each check exercises a part of musl
 * the SDK must serve (memory, stdio, time, signals, entropy, identity);
 * the guest prints every failure and exits with the number of failures.
 */
#include <errno.h>
#include <lightvm/guest.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static int failures, checks;
#define CHECK(cond)                                                            \
    do {                                                                       \
        checks++;                                                              \
        if (!(cond)) {                                                         \
            failures++;                                                        \
            printf("libc: FAILED %s (line %d)\n", #cond, __LINE__);            \
        }                                                                      \
    } while (0)

static volatile sig_atomic_t got_signal;
static void on_usr1(int sig)
{
    got_signal = sig;
}

static int cmp_int(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

static _Thread_local int tls_value = 42;

int main(int argc, char **argv)
{
    /* stdio and formatting */
    char buf[128];
    snprintf(buf, sizeof buf, "%d %s %.3f %x", 42, "str", 3.14159, 255);
    CHECK(strcmp(buf, "42 str 3.142 ff") == 0);
    CHECK(strtol("-12345", NULL, 10) == -12345);
    CHECK(fabs(sqrt(2.0) - 1.41421356) < 1e-6);
    CHECK(tls_value == 42);
    /* memory: small, large, realloc growth (mremap falls back), free */
    char *small = malloc(32), *big = malloc(8 << 20);
    CHECK(small && big);
    if (big) {
        memset(big, 1, 8 << 20);
        char *bigger = realloc(big, 12 << 20);
        CHECK(bigger && bigger[(8 << 20) - 1] == 1);
        free(bigger);
    }
    free(small);
    int *v = calloc(1000, sizeof *v);
    CHECK(v != NULL);
    for (int i = 0; v && i < 1000; i++)
        v[i] = (i * 7919) % 1000;
    if (v) {
        qsort(v, 1000, sizeof *v, cmp_int);
        CHECK(v[0] == 0 && v[999] == 999);
        free(v);
    }
    /* memory freed and reused comes back zeroed through mmap */
    for (int round = 0; round < 3; round++) {
        unsigned char *p = calloc(1, 1 << 20);
        CHECK(p && p[12345] == 0 && p[(1 << 20) - 1] == 0);
        if (p)
            memset(p, 0xff, 1 << 20);
        free(p);
    }
    /* time: clocks advance, sleeping sleeps */
    struct timespec t0, t1, wall;
    CHECK(clock_gettime(CLOCK_MONOTONIC, &t0) == 0);
    CHECK(clock_gettime(CLOCK_REALTIME, &wall) == 0 &&
          wall.tv_sec > 1600000000);
    CHECK(clock_gettime(CLOCK_BOOTTIME, &t1) == 0);
    CHECK(time(NULL) >= wall.tv_sec);
    struct timespec nap = {0, 20 * 1000 * 1000};
    CHECK(nanosleep(&nap, NULL) == 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double slept = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    CHECK(slept >= 0.020);
    CHECK(usleep(1000) == 0);
    /* identity */
    CHECK(getpid() == 1);
    CHECK(getuid() == 0);
    struct utsname u;
    CHECK(uname(&u) == 0 && strcmp(u.sysname, "lightvm") == 0);
    /* entropy */
    uint64_t r1 = 0, r2 = 0;
    CHECK(getrandom(&r1, sizeof r1, 0) == sizeof r1);
    CHECK(getrandom(&r2, sizeof r2, 0) == sizeof r2);
    CHECK(r1 != r2);
    /* The generator's seed was erased from the stack once read. */
    const uint8_t *seed = (const uint8_t *)lvm_bootinfo()->seed_addr;
    int seed_left = 0;
    for (int i = 0; i < 32; i++)
        seed_left |= seed[i];
    CHECK(seed != NULL && seed_left == 0);
    /* signals to itself */
    CHECK(signal(SIGUSR1, on_usr1) != SIG_ERR);
    CHECK(raise(SIGUSR1) == 0 && got_signal == SIGUSR1);
    /* stdin is empty, stdout is the console */
    CHECK(getchar() == EOF);
    CHECK(write(1, "", 0) == 0);
    /* environment and arguments */
    const char *env = getenv("LIGHTVM_TEST");
    printf("libc: LIGHTVM_TEST=%s argc=%d\n", env ? env : "(unset)", argc);
    if (argc > 1)
        CHECK(env && strcmp(env, argv[1]) == 0);
    printf("libc: %d of %d checks passed\n", checks - failures, checks);
    return failures;
}
