/*
 * qemu_control.c: messages from the Tinyx init on the control channel
 * (the guest's ttyS1; the protocol is described in tinyx/init/init.c).
 * Pure, and fuzzed with the QMP parser.
 */
#include "toolstack/qemu/qemu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int qemu_control_line(struct qemu_guest_state *gs, const char *line,
                      uint64_t now)
{
    if (strncmp(line, "tinyx ", 6) != 0)
        return -1;
    const char *m = line + 6;
    if (!strncmp(m, "boot ", 5)) {
        gs->booted = 1;
        gs->boot_ms = strtol(m + 5, NULL, 10);
    } else if (!strncmp(m, "started ", 8)) {
        gs->started = 1;
    } else if (!strncmp(m, "ready ", 6)) {
        gs->ready = 1;
        gs->ready_ms = strtol(m + 6, NULL, 10);
        gs->ready_ns = now;
    } else if (!strncmp(m, "exit ", 5)) {
        gs->have_exit = 1;
        gs->signaled = 0;
        gs->exit_status = (int)strtol(m + 5, NULL, 10) & 0xff;
    } else if (!strncmp(m, "signal ", 7)) {
        gs->have_exit = 1;
        gs->signaled = 1;
        gs->exit_status = (int)strtol(m + 7, NULL, 10) & 0x7f;
    } else if (!strncmp(m, "error ", 6)) {
        snprintf(gs->error, sizeof gs->error, "%s", m + 6);
    } else {
        return -1;
    }
    return 0;
}
