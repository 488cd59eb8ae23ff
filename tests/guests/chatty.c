/* chatty.c: writes argv[1] KiB to its console. Exits 0 if the console
 * refused some of it (EFBIG: its size limit), 1 if it took everything,
 * 2 on any other error. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    long kib = argc > 1 ? atol(argv[1]) : 1024;
    char line[1024];
    memset(line, 'x', sizeof line - 1);
    line[sizeof line - 1] = '\n';
    for (long i = 0; i < kib; i++) {
        ssize_t n = write(1, line, sizeof line);
        if (n < 0)
            return errno == EFBIG ? 0 : 2;
    }
    return 1;
}
