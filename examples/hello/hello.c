/* hello: prints its command line with printf, then exits with status 0. */
#include <stdio.h>

int main(int argc, char **argv)
{
    printf("Hello from a lightvm guest!\n");
    for (int i = 0; i < argc; i++)
        printf("argv[%d] = %s\n", i, argv[i]);
    return 0;
}
