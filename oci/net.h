/*
 * net.h: a guest's NIC in its bundle's network namespace (podman's or
 * CNI's): a tap there, bridged with the namespace's interface, which
 * hands the guest its address, MAC and gateway (docs/oci.md,
 * "Networking"). oci/net.c is lightvm-runtime's dev_net_attach(), the
 * toolstack's hook for a manifest's NICs, in place of the bridge-and-
 * lease model of toolstack/dev_net.c (which needs libmnl and a lightvm
 * bridge on the host).
 */
#ifndef LVM_OCI_NET_H
#define LVM_OCI_NET_H

/* The network namespace the next guest's NICs go in: a path (the
 * bundle's linux.namespaces network path), or NULL for none (a guest
 * that needs a NIC is then refused). */
void oci_net_set_namespace(const char *path);

#endif
