/*
 * crash.c: faults a guest can hit on its own: `crash.elf KIND` with KIND
 * null (read address 0), ud2 (invalid instruction), abort, assert,
 * divide (integer division by zero), stack (unbounded recursion).
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile int zero;

static int recurse(int n)
{
    volatile char pad[4096];
    pad[0] = (char)n;
    if (zero == 0) /* always true; hides the recursion from the compiler */
        return recurse(n + 1) + pad[0];
    return pad[0];
}

int main(int argc, char **argv)
{
    const char *k = argc > 1 ? argv[1] : "null";
    printf("crash: %s\n", k);
    fflush(stdout);
    if (!strcmp(k, "null"))
        return *(volatile int *)0;
    if (!strcmp(k, "ud2"))
        __builtin_trap();
    if (!strcmp(k, "abort"))
        abort();
    if (!strcmp(k, "assert"))
        assert(zero == 1);
    if (!strcmp(k, "divide")) {
        /* In assembly: C lets the compiler drop a division by zero. */
        int q, d = zero;
        __asm__ volatile("cltd; idivl %2" : "=a"(q) : "a"(1), "r"(d) : "rdx");
        return q;
    }
    if (!strcmp(k, "stack"))
        return recurse(0);
    return 2;
}
