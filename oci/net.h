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

#include "toolstack/error.h"

/* What a VM container's virtio-net gets from the namespace. */
struct oci_net_lease {
    int tap_fd;       /* the tap in the namespace; the caller closes it */
    char ip[20];      /* "ADDR/PREFIX" */
    char gateway[16]; /* "" if the namespace has no default route */
    char mac[18];     /* the interface's old MAC, now the guest's */
    int mtu;
};

/* The same plumbing for a VM container (oci/vm_create.c): the tap, the
 * bridge and the interface's address, MAC and gateway, for QEMU's
 * virtio-net and the Tinyx init's tinyx.ip=/tinyx.gw=. 1 with (out)
 * filled, 0 if (path) is NULL or its namespace has no IPv4 interface
 * (podman --network none: the guest gets no NIC), -1 on error. */
int oci_net_take(const char *path, struct oci_net_lease *out,
                 struct lvm_err *err);

#endif
