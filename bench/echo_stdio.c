/* echo_stdio.c: an inetd-style echo (stdin back to stdout until end of
 * file), static: the process and container peers of `lightvm serve`'s
 * echo guest in bench/jit.sh. */
#include <unistd.h>

int main(void)
{
    char buf[4096];
    ssize_t n;
    while ((n = read(0, buf, sizeof buf)) > 0)
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(1, buf + off, (size_t)(n - off));
            if (w <= 0)
                return 1;
            off += w;
        }
    return 0;
}
