/* pause.c: an idle static program (the container peer of an idle guest). */
#include <unistd.h>

int main(void)
{
    for (;;)
        pause();
}
