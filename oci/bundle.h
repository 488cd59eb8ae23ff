/*
 * bundle.h: what a unikernel bundle's parts become, for create and
 * restore: process.args[0] found in the rootfs (and only there), the
 * console pty for process.terminal, the guest's RAM for a memory limit.
 */
#ifndef LVM_OCI_BUNDLE_H
#define LVM_OCI_BUNDLE_H

#include "oci/config.h"

#include <stddef.h>
#include <stdint.h>

/* Open the regular file (path) inside the rootfs (rootfd) as if it were
 * "/" (openat2 RESOLVE_IN_ROOT); -1 with errno. */
int oci_open_in_root(int rootfd, const char *path);

/* process.args[0] in the rootfs, as execvp would find it (a path,
 * relative to process.cwd, or a name on the process's PATH); the path
 * used goes to (shown). -1 with errno. */
int oci_find_program(int rootfd, const struct oci_config *c, char *shown,
                     size_t len);

/* A pty whose master goes to (socket_path) (runc's SCM_RIGHTS, the pty's
 * name as the message); returns the slave, or -1 with (err). */
int oci_console_pty(const char *socket_path, char *err, size_t errlen);

/* Guest RAM for a memory limit (0: none, then *ram is 0, the default). */
int oci_pick_ram(unsigned kind, uint64_t limit, int console_file, uint64_t *ram,
                 char *err, size_t errlen);

#endif
