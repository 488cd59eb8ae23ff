/*
 * delegate.h: containers lightvm-runtime hands to another OCI runtime
 * (runc, crun): a bundle annotated org.lightvm.delegate=RUNTIME, and a
 * Kubernetes pod's sandbox ("pause") container, which is a Linux program
 * and no lightvm guest. The other runtime keeps its state in its own tree
 * under ours ((root)/delegated); (root)/delegate/ID names the runtime, so
 * every later command on ID goes to it too. docs/oci.md.
 */
#ifndef LVM_OCI_DELEGATE_H
#define LVM_OCI_DELEGATE_H

#include "oci/config.h"

#define OCI_DELEGATE_ANNOTATION "org.lightvm.delegate"

/* The runtime to hand the bundle (c) to, or NULL to run it ourselves. */
const char *oci_delegate_for(const struct oci_config *c);

/* Hand the command (argc, argv) on container (id) to (runtime), writing
 * its marker first. Returns only on failure (after oci_error). */
int oci_delegate_create(const char *runtime, const char *id, int argc,
                        char **argv);

/* Whether (id) was handed to another runtime. */
int oci_delegate_exists(const char *id);

/* If (id) was handed to another runtime, run this command
 * (oci_g.cmd_argv) there and exit with its status; return if it was not. */
void oci_delegate_if_ours(const char *id);

#endif
