/*
 * ticker: prints "tick N" every 5 ms (sleeping in between: the yield
 * hypercall with a deadline) until the toolstack asks it to power off,
 * then says so and exits 0. For pause, timeout and poweroff tests.
 */
#include <lightvm/guest.h>

#include <stdio.h>
#include <time.h>

static void on_poweroff(void *arg)
{
    (void)arg;
}

int main(void)
{
    lvm_on_poweroff(on_poweroff, NULL);
    struct timespec ts = {0, 5 * 1000 * 1000};
    for (unsigned n = 0; !lvm_poweroff_requested(); n++) {
        printf("tick %u\n", n);
        nanosleep(&ts, NULL);
    }
    printf("ticker: poweroff\n");
    return 0;
}
