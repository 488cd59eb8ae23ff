/*
 * args.h: runc's command line as its callers really write it (see
 * docs/oci.md): `--flag value`, `--flag=value`, single-dash long flags
 * (go-runc sends `-no-subreaper`), runc's one-letter aliases (`-b`, `-f`,
 * `-a`, `-d`), boolean flags with an optional `=true|false`, flags before
 * or after the positional arguments, and `--` ending the flags.
 */
#ifndef LVM_OCI_ARGS_H
#define LVM_OCI_ARGS_H

#include <stddef.h>

struct oci_opt {
    const char *name;   /* long name without dashes */
    char alias;         /* one-letter alias, or 0 */
    int has_value;      /* 1: takes a value; 0: boolean */
    const char **value; /* where a value goes (has_value), or NULL: ignored */
    int *flag;          /* where a boolean goes, or NULL: ignored */
};

/*
 * Parse argv[0..argc) against (opts), an array ended by a NULL name.
 * Positional arguments go to pos[] (at most maxpos). With (stop) set,
 * parsing ends at the first positional argument (the global flags before
 * the command); *next is then its index. Returns the number of
 * positional arguments, or -1 with a one-line message in (err).
 */
int oci_args_parse(int argc, char **argv, const struct oci_opt *opts, int stop,
                   char **pos, int maxpos, int *next, char *err, size_t errlen);

#endif
