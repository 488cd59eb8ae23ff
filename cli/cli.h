/*
 * cli.h: the lightvm command line. Each command lives in cmd_<name>.c,
 * parses its arguments and calls the toolstack library.
 */
#ifndef LVM_CLI_H
#define LVM_CLI_H

#include "toolstack/error.h"

/* Exit statuses shared by all commands (see docs/cli.md). */
#define CLI_EXIT_USAGE 2   /* bad command line */
#define CLI_EXIT_ERROR 125 /* lightvm itself failed: bad image, set-up */

int cmd_run(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_net(int argc, char **argv);

/* Print "lightvm: <err>" on stderr. */
void cli_error(const struct lvm_err *err);

/* Print "lightvm: <fmt>" on stderr. */
void cli_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
