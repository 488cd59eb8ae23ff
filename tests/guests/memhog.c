/*
 * memhog.c: allocates and touches memory in 1 MiB steps until malloc
 * fails or MiB (argv[1], default unlimited) are in use, then reports the
 * total. Under its RAM size the SDK's allocator says no; under a smaller
 * host memory limit the kernel's OOM killer stops it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    long want = argc > 1 ? atol(argv[1]) : -1;
    long mib = 0;
    for (;;) {
        if (want >= 0 && mib >= want)
            break;
        char *p = malloc(1 << 20);
        if (!p)
            break;
        memset(p, 0x5a, 1 << 20);
        mib++;
    }
    printf("memhog: %ld MiB allocated and touched\n", mib);
    return 0;
}
