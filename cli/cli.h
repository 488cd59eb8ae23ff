/*
 * cli.h: the lightvm command line. Each command lives in cmd_<name>.c,
 * parses its arguments and calls the toolstack library.
 */
#ifndef LVM_CLI_H
#define LVM_CLI_H

#include "toolstack/error.h"

#include <stddef.h>

/* Exit statuses shared by all commands (see docs/cli.md). */
#define CLI_EXIT_USAGE 2   /* bad command line */
#define CLI_EXIT_ERROR 125 /* lightvm itself failed: bad image, set-up */

int cmd_run(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_create(int argc, char **argv);
int cmd_destroy(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_pause(int argc, char **argv);
int cmd_unpause(int argc, char **argv);
int cmd_poweroff(int argc, char **argv);
int cmd_suspend(int argc, char **argv);
int cmd_resume(int argc, char **argv);
int cmd_wait(int argc, char **argv);
int cmd_console(int argc, char **argv);
int cmd_save(int argc, char **argv);    /* cli/cmd_state.c */
int cmd_restore(int argc, char **argv); /* cli/cmd_state.c */
int cmd_clone(int argc, char **argv);   /* cli/cmd_state.c */
int cmd_migrate(int argc, char **argv); /* cli/cmd_migrate.c */
int cmd_serve(int argc, char **argv);   /* cli/cmd_serve.c */
int cmd_exec(int argc, char **argv);    /* cli/cmd_exec.c */
int cmd_tinyx(int argc, char **argv);   /* cli/cmd_tinyx.c */
int cmd_net(int argc, char **argv);
int cmd_quota(int argc, char **argv);   /* cli/cmd_quota.c */
int cmd_kill(int argc, char **argv);    /* cli/cmd_lifecycle.c */
int cmd_stop(int argc, char **argv);    /* cli/cmd_lifecycle.c */
int cmd_restart(int argc, char **argv); /* cli/cmd_lifecycle.c */
int cmd_port(int argc, char **argv);    /* cli/cmd_lifecycle.c */
int cmd_api(int argc, char **argv);     /* cli/cmd_api.c */
int cmd_version(int argc, char **argv); /* cli/cmd_version.c */
int cmd_fn(int argc, char **argv);      /* faas/cmd_fn.c */

/* 1 if this CLI does host networking itself; 0 in the static build, which
 * hands it to lightvm-net (cli/static_net.c). */
extern const int cli_has_net;
/* Exec lightvm-net with a command's (argc, argv) ("run", ...); returns
 * only on failure, with the exit code. */
int cli_exec_net(int argc, char **argv);

/* getopt_long() that says what is wrong with a bad flag in one line,
 * with the flag meant ("did you mean '--json'?"), and returns '?' then
 * (the caller exits with CLI_EXIT_USAGE). argv[0] is the command's name. */
struct option;
int cli_getopt(int argc, char **argv, const char *shortopts,
               const struct option *longopts);

/* The one of (names) (n of them, NULL entries skipped) that (typed) (its
 * first len bytes) is likely a typo of, or NULL. */
const char *cli_suggest(const char *typed, size_t len, const char *const *names,
                        size_t n);

/* Print "lightvm: <err>" on stderr. */
void cli_error(const struct lvm_err *err);

/* Print "lightvm: <fmt>" on stderr. */
void cli_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* (arg) as a whole number from (min) to (max) into (*out), or -1 after
 * saying so in one line naming (flag). */
int cli_parse_count(const char *flag, const char *arg, unsigned min,
                    unsigned max, unsigned *out);

#endif
