/*
 * idle: yields the CPU until the toolstack tells it to stop (a poweroff
 * through the control device), then exits with status 0. It costs no CPU
 * while it waits.
 */
#include <lightvm/guest.h>
#include <stdio.h>

int main(void)
{
    printf("idle: waiting for poweroff\n");
    for (;;)
        lvm_yield(LVM_FOREVER, 0); /* returns only to run control requests */
}
