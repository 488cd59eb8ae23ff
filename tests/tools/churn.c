/*
 * churn.c: create and destroy guests through lightvmd, N times in a row,
 * over one connection; prints the median and p90 of each step. The churn
 * test checks the daemon's memory and fds afterwards; bench/ runs it at
 * 100,000.
 *
 *   churn SOCKET GUEST.elf N
 */
#include <lightvm/lightvm.h>

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: churn SOCKET GUEST.elf N\n");
        return 2;
    }
    long n = atol(argv[3]);
    struct lightvm_error e;
    struct lightvm *c = lightvm_connect(argv[1], &e);
    if (!c) {
        fprintf(stderr, "churn: %s\n", e.message);
        return 1;
    }
    double *cr = malloc(sizeof(double) * (size_t)n);
    double *de = malloc(sizeof(double) * (size_t)n);
    int rc = 1;
    if (!cr || !de) {
        fprintf(stderr, "churn: out of memory\n");
        goto out;
    }
    struct lightvm_create_opts o = {.image = argv[2], .console_fd = -1};
    for (long i = 0; i < n; i++) {
        struct lightvm_guest g;
        double t0 = now_ms();
        if (lightvm_create(c, &o, &g, &e) < 0) {
            fprintf(stderr, "churn: create %ld: %s\n", i, e.message);
            goto out;
        }
        double t1 = now_ms();
        if (lightvm_destroy(c, g.id, NULL, &e) < 0) {
            fprintf(stderr, "churn: destroy %ld: %s\n", i, e.message);
            goto out;
        }
        cr[i] = t1 - t0;
        de[i] = now_ms() - t1;
    }
    qsort(cr, (size_t)n, sizeof *cr, cmp);
    qsort(de, (size_t)n, sizeof *de, cmp);
    printf("%ld cycles: create median %.3f ms p90 %.3f ms; destroy median "
           "%.3f ms p90 %.3f ms\n",
           n, cr[n / 2], cr[n * 9 / 10], de[n / 2], de[n * 9 / 10]);
    rc = 0;
out:
    free(cr);
    free(de);
    lightvm_close(c);
    return rc;
}
