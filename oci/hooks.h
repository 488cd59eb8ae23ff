/*
 * hooks.h: the bundle's hooks (runtime-spec config.md "POSIX-platform
 * Hooks") that make sense for a guest, run in the runtime's namespaces:
 * createRuntime and prestart at create (the guest at its gate; a failure
 * fails the create), poststart after start and poststop after delete
 * (a failure is logged, and ignored, as the spec says). createContainer
 * and startContainer run "in the container namespace", which a guest
 * does not have: a bundle that names them is refused.
 */
#ifndef LVM_OCI_HOOKS_H
#define LVM_OCI_HOOKS_H

#include <stddef.h>

/* Check the hooks object (JSON text, or NULL); -1 with (err) naming the
 * bad field. */
int oci_hooks_check(const char *hooks, char *err, size_t errlen);

/* Run the hooks of (kind) in order, each with (state) (the container's
 * state JSON) on its stdin, its args and env, within its timeout. Returns
 * 0, or -1 with (err) at the first that fails (the rest are not run). */
int oci_hooks_run(const char *hooks, const char *kind, const char *state,
                  char *err, size_t errlen);

#endif
