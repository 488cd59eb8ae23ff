/*
 * libc: the C library behaves the same under every monitor. Everything it
 * prints is deterministic, so the kvm suite compares it byte for byte with
 * the proc run: printf with floats, malloc large and small, TLS, errno,
 * setjmp, qsort, strtol, math, time and sleep, uname, getrandom, and the
 * FPU/vector registers across the system calls the SDK serves.
 */
#include <lightvm/guest.h>

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

static __thread int tls_counter = 42;
static jmp_buf jb;

static int cmp(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

/* xmm0-15 hold a pattern across one raw system call, served by the SDK. */
static int vectors_survive(long nr, long a0, long a1, long a2, long a3)
{
    unsigned char in[256] __attribute__((aligned(16)));
    unsigned char out[256] __attribute__((aligned(16)));
    for (int i = 0; i < 256; i++)
        in[i] = (unsigned char)(i * 7 + 3);
    memset(out, 0, sizeof out);
    register long r10 __asm__("r10") = a3;
    long ret;
    __asm__ volatile(
#define LD(n) "movdqu " #n "*16(%[i]), %%xmm" #n "\n"
#define ST(n) "movdqu %%xmm" #n ", " #n "*16(%[o])\n"
        LD(0) LD(1) LD(2) LD(3) LD(4) LD(5) LD(6) LD(7) LD(8) LD(9) LD(10)
            LD(11) LD(12) LD(13) LD(14) LD(15) "syscall\n" ST(0) ST(1) ST(2)
                ST(3) ST(4) ST(5) ST(6) ST(7) ST(8) ST(9) ST(10) ST(11) ST(12)
                    ST(13) ST(14) ST(15)
        : "=a"(ret)
        : "a"(nr), "D"(a0), "S"(a1), "d"(a2),
          "r"(r10), [i] "r"(in), [o] "r"(out)
        : "rcx", "r11", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4",
          "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12",
          "xmm13", "xmm14", "xmm15");
#undef LD
#undef ST
    (void)ret;
    return memcmp(in, out, sizeof in) == 0;
}

int main(void)
{
    printf("floats: %.3f %.2e %g\n", 3.14159265, 6.02214076e23, sqrt(2.0));
    printf("math: %.6f %.6f %.6f\n", sin(1.0), exp(1.0), log(10.0));
    char buf[64];
    snprintf(buf, sizeof buf, "%ls|%5d|%-5s|%x", L"wide", 42, "ab", 255);
    printf("snprintf: %s\n", buf);
    printf("strtol: %ld %ld\n", strtol("-123", NULL, 10),
           strtol("ff", NULL, 16));

    errno = 0;
    strtol("99999999999999999999999", NULL, 10);
    printf("errno ERANGE: %d\n", errno == ERANGE);

    int v[8] = {5, 3, 8, 1, 9, 2, 7, 4};
    qsort(v, 8, sizeof v[0], cmp);
    printf("qsort:");
    for (int i = 0; i < 8; i++)
        printf(" %d", v[i]);
    printf("\n");

    tls_counter++;
    printf("tls: %d\n", tls_counter);
    if (setjmp(jb) == 0)
        longjmp(jb, 7);
    printf("setjmp: back\n");

    size_t big = 8u << 20;
    unsigned char *p = malloc(big);
    long sum = 0;
    for (size_t i = 0; p && i < big; i += 4096)
        p[i] = (unsigned char)i, sum += p[i] == (unsigned char)i;
    printf("malloc 8 MiB: %s, %ld pages\n", p ? "ok" : "failed", sum);
    free(p);
    void *small[100];
    for (int i = 0; i < 100; i++)
        small[i] = calloc(1, (size_t)(i * 13 + 1));
    int zero = 1;
    for (int i = 0; i < 100; i++)
        zero &= small[i] && ((unsigned char *)small[i])[i * 13] == 0;
    for (int i = 0; i < 100; i++)
        free(small[i]);
    printf("calloc: %s\n", zero ? "zeroed" : "dirty");

    struct utsname u;
    uname(&u);
    printf("uname: %s %s\n", u.sysname, u.machine);
    unsigned char rnd[32];
    printf("getrandom: %zd\n", getrandom(rnd, sizeof rnd, 0));

    struct timespec t0, t1, d = {0, 20 * 1000 * 1000};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    nanosleep(&d, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms =
        (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    printf("nanosleep 20 ms: %s\n", ms >= 20 ? "at least 20 ms" : "too short");
    printf("time: %s\n", time(NULL) > 1600000000 ? "after 2020" : "wrong");

    struct sigaction old;
    printf("vectors across rt_sigaction: %d\n",
           vectors_survive(SYS_rt_sigaction, SIGUSR1, 0, (long)&old, 8));
    struct timespec ts;
    printf(
        "vectors across clock_gettime: %d\n",
        vectors_survive(SYS_clock_gettime, CLOCK_MONOTONIC, (long)&ts, 0, 0));
    printf("vectors across writev: %d\n",
           vectors_survive(SYS_write, 1, (long)"(write)\n", 8, 0));
    printf("pid %d uid %d\n", (int)getpid(), (int)getuid());
    return 3;
}
