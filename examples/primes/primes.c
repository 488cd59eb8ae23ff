/*
 * primes: real CPU work inside a guest. Counts the primes below N (default
 * 10,000,000) with a sieve of Eratosthenes in malloc'd memory and prints the
 * count and the time it took; the exit status is 0 when the count matches
 * pi(N) for the known values.
 */
#include <lightvm/guest.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long count_primes(long n, unsigned char *composite)
{
    memset(composite, 0, (size_t)n);
    long count = 0;
    for (long i = 2; i < n; i++) {
        if (composite[i])
            continue;
        count++;
        for (long j = i * i; j < n; j += i)
            composite[j] = 1;
    }
    return count;
}

static long known_pi(long n)
{
    switch (n) {
    case 100: return 25;
    case 1000: return 168;
    case 1000000: return 78498;
    case 10000000: return 664579;
    default: return -1;
    }
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 10000000;
    if (n < 2 || n > 100000000) {
        fprintf(stderr, "primes: N must be in [2, 100000000]\n");
        return 2;
    }
    unsigned char *sieve = malloc((size_t)n);
    if (!sieve) {
        fprintf(stderr, "primes: cannot allocate %ld bytes\n", n);
        return 3;
    }
    uint64_t t0 = lvm_clock_monotonic();
    long count = count_primes(n, sieve);
    uint64_t t1 = lvm_clock_monotonic();
    free(sieve);
    printf("primes below %ld: %ld (%.1f ms)\n", n, count, (t1 - t0) / 1e6);
    long want = known_pi(n);
    if (want >= 0 && want != count) {
        fprintf(stderr, "primes: expected %ld\n", want);
        return 1;
    }
    return 0;
}
