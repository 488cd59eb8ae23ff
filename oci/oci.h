/*
 * oci.h: lightvm-runtime, an OCI runtime with runc's command line
 * (docs/oci.md). main.c parses the global flags and picks a command; each
 * command is a function over the state directory (state.h) and the
 * toolstack library.
 */
#ifndef LVM_OCI_H
#define LVM_OCI_H

#include <stdarg.h>
#include <stddef.h>
#include <sys/types.h>

#define OCI_VERSION "1.0.2" /* the runtime-spec version we implement */
#define OCI_ROOT_DEFAULT "/run/lightvm-runtime"

struct oci_global {
    const char *root;             /* --root: the state directories */
    const char *log, *log_format; /* --log, --log-format (for a delegate) */
    int debug;
    int systemd_cgroup; /* --systemd-cgroup: cgroupsPath is slice:prefix:name */
    int cmd_argc;       /* the command and its arguments (for a delegate) */
    char **cmd_argv;
};

extern struct oci_global oci_g;

/* --log and --log-format: where errors (and --debug messages) go, as
 * text or JSON lines ({"level","msg","time"}; containerd shows the user
 * the last "error" one). Errors also go to stderr, as runc's do. */
void oci_log_open(const char *path, const char *format);
void oci_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void oci_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A warning: to the log ("level":"warning") and stderr. */
void oci_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Run the hooks of (kind) for (st) in status (s): a failure is an error
 * (returns -1, after oci_error) or, with (warn_only), a warning. */
struct oci_state;
int oci_run_hooks(const struct oci_state *st, const char *kind, int status,
                  int warn_only);

/* The commands: argv[0] is the command's name. Each returns the exit
 * status (0, or 1 after oci_error, as runc). */
int oci_cmd_create(int argc, char **argv);
int oci_cmd_start(int argc, char **argv);
int oci_cmd_kill(int argc, char **argv);
int oci_cmd_delete(int argc, char **argv);
int oci_cmd_pause(int argc, char **argv);
int oci_cmd_state(int argc, char **argv);
int oci_cmd_ps(int argc, char **argv);
int oci_cmd_features(int argc, char **argv);
int oci_cmd_spec(int argc, char **argv);
int oci_cmd_checkpoint(int argc, char **argv);
int oci_cmd_restore(int argc, char **argv);
int oci_cmd_update(int argc, char **argv);
int oci_cmd_exec(int argc, char **argv);
int oci_cmd_run(int argc, char **argv);
int oci_cmd_list(int argc, char **argv);

/* A checkpoint's state file in its --image-path directory. */
#define OCI_CHECKPOINT_FILE "lightvm.state"

/* Parse (argc, argv) (after the command name) against (opts) into at most
 * (maxpos) positionals, needing at least (minpos); reports a bad command
 * line. Returns the count, or -1. */
struct oci_opt;
int oci_cmd_args(int argc, char **argv, const struct oci_opt *opts, char **pos,
                 int minpos, int maxpos, const char *usage);

/* Write (pid) to the pid file (path) (relative to the working directory),
 * whole or not at all. 0, or -1 with (err). */
int oci_write_pid_file(const char *path, pid_t pid, char *err, size_t errlen);

/* A signal by number or name ("9", "KILL", "SIGKILL"); -1 if unknown. */
int oci_parse_signal(const char *s);

#endif
