/*
 * progress.h: what Tinyx shows while it works (docs/tinyx.md,
 * "Progress"): a line per stage with the time elapsed since the command
 * started, and during the kernel's compile a progress line redrawn in
 * place on a terminal, or a plain line every PROGRESS_PLAIN_S seconds
 * when the output is a file or a pipe. A NULL stream is --quiet.
 */
#ifndef LVM_TINYX_PROGRESS_H
#define LVM_TINYX_PROGRESS_H

#include "toolstack/error.h"

#include <stdio.h>

#define PROGRESS_PLAIN_S 15

/* "PREFIX: [m:ss] TEXT" on (f) (nothing if NULL); the clock starts at the
 * first call of the process. */
void progress_say(FILE *f, const char *prefix, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Run (argv) (a make) with its output going to (log_fd) and, summed up,
 * to (f): the files compiled so far and the last one. */
int progress_run(char *const argv[], int log_fd, FILE *f, const char *prefix,
                 struct lvm_err *err);

#endif
