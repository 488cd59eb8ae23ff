/* spin.c: burns CPU forever; only a limit or a timeout stops it. */
#include <stdio.h>

int main(void)
{
    printf("spin: spinning\n");
    fflush(stdout);
    volatile unsigned long n = 0;
    for (;;)
        n++;
}
