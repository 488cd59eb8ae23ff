/*
 * net.c: a guest's NIC in its bundle's network namespace (net.h).
 *
 * The namespace's interface (eth0: a veth from podman or CNI) holds the
 * container's address. The guest takes it over: a tap and a bridge are
 * made in the namespace, the interface becomes a mere port of the bridge
 * (its address removed, its MAC replaced by a fresh one), and the guest
 * gets the interface's old MAC, address, netmask and default gateway in
 * its device page. Frames then flow veth <-> bridge <-> tap <-> guest, and
 * the peer keeps talking to the same MAC and address. All with ioctls on
 * sockets made inside the namespace (no netlink library: the runtime
 * stays static).
 */
#include "oci/net.h"
#include "toolstack/dev_net.h"
#include "toolstack/devices.h"
#include "toolstack/guest.h"
#include "toolstack/monitor.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#define OCI_TAP "lvmtap0"
#define OCI_BRIDGE "lvmbr0"

static const char *netns_path;
static int attached; /* NICs attached by this process: one guest, one NIC */

void oci_net_set_namespace(const char *path)
{
    netns_path = path;
}

/* The namespace's interface: the first one up, not loopback, with an
 * IPv4 address. */
struct ns_iface {
    char name[IF_NAMESIZE];
    uint8_t mac[6];
    uint32_t addr, netmask, gateway; /* network order */
    int mtu;
};

static int iface_ipv4(int s, const char *name, unsigned long req, uint32_t *v)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
    if (ioctl(s, req, &ifr) < 0)
        return -1;
    *v = ((struct sockaddr_in *)&ifr.ifr_addr)->sin_addr.s_addr;
    return 0;
}

/* The default route's gateway through (name), from /proc/net/route (the
 * reading thread's namespace: ours, after setns). */
static uint32_t default_gateway(const char *name)
{
    FILE *f = fopen("/proc/net/route", "re");
    if (!f)
        return 0;
    char line[256], ifn[IF_NAMESIZE + 1];
    unsigned dst, gw, flags;
    uint32_t r = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "%16s %x %x %x", ifn, &dst, &gw, &flags) == 4 &&
            dst == 0 && strcmp(ifn, name) == 0 && (flags & 0x2 /* G */)) {
            r = gw; /* already in network order, as the kernel prints it */
            break;
        }
    fclose(f);
    return r;
}

static int find_iface(int s, struct ns_iface *out, struct lvm_err *err)
{
    struct if_nameindex *all = if_nameindex();
    if (!all)
        return lvm_err_set(err, errno, "list the network interfaces");
    int found = 0;
    for (struct if_nameindex *i = all; i->if_index && !found; i++) {
        struct ifreq ifr;
        memset(&ifr, 0, sizeof ifr);
        snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", i->if_name);
        if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0 || (ifr.ifr_flags & IFF_LOOPBACK))
            continue;
        memset(out, 0, sizeof *out);
        snprintf(out->name, sizeof out->name, "%s", i->if_name);
        if (iface_ipv4(s, out->name, SIOCGIFADDR, &out->addr) < 0 ||
            iface_ipv4(s, out->name, SIOCGIFNETMASK, &out->netmask) < 0)
            continue;
        if (ioctl(s, SIOCGIFHWADDR, &ifr) < 0)
            continue;
        memcpy(out->mac, ifr.ifr_hwaddr.sa_data, 6);
        out->mtu = ioctl(s, SIOCGIFMTU, &ifr) == 0 ? ifr.ifr_mtu : 1500;
        out->gateway = default_gateway(out->name);
        found = 1;
    }
    if_freenameindex(all);
    if (!found)
        return lvm_err_set(err, ENODEV,
                           "the bundle's network namespace has no interface "
                           "with an IPv4 address");
    return 0;
}

static int set_up(int s, const char *name, struct lvm_err *err)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
        return lvm_err_set(err, errno, "read the flags of %s", name);
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
        return lvm_err_set(err, errno, "bring %s up", name);
    return 0;
}

static int bridge_add(int s, const char *port, struct lvm_err *err)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", OCI_BRIDGE);
    ifr.ifr_ifindex = (int)if_nametoindex(port);
    if (!ifr.ifr_ifindex || ioctl(s, SIOCBRADDIF, &ifr) < 0)
        return lvm_err_set(err, errno, "add %s to bridge %s", port, OCI_BRIDGE);
    return 0;
}

/* In the namespace: the tap, the bridge, the interface handed over. */
static int plumb(struct ns_iface *ifc, int *tap_fd, struct lvm_err *err)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return lvm_err_set(err, errno, "socket");
    int tap = -1, r = -1;
    if (find_iface(s, ifc, err) < 0)
        goto out;
    tap = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (tap < 0) {
        lvm_err_set(err, errno, "open /dev/net/tun");
        goto out;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, OCI_TAP);
    /* As toolstack/netdev.c's: one read or write is one frame. */
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_TUN_EXCL;
    if (ioctl(tap, TUNSETIFF, &ifr) < 0) {
        lvm_err_set(err, errno, "create tap %s", OCI_TAP);
        goto out;
    }
    if (ioctl(s, SIOCBRADDBR, OCI_BRIDGE) < 0) {
        lvm_err_set(err, errno, "create bridge %s", OCI_BRIDGE);
        goto out;
    }
    /* The interface's address goes to the guest: removed here (0.0.0.0
     * removes it), and its MAC too, so the peer's neighbour entry stays
     * right; the interface gets a fresh local one. */
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifc->name);
    ifr.ifr_addr.sa_family = AF_INET;
    if (ioctl(s, SIOCSIFADDR, &ifr) < 0) {
        lvm_err_set(err, errno, "remove the address of %s", ifc->name);
        goto out;
    }
    uint8_t mac[6];
    if (getrandom(mac, sizeof mac, 0) != sizeof mac) {
        lvm_err_set(err, errno, "getrandom");
        goto out;
    }
    mac[0] = (uint8_t)((mac[0] & 0xfe) | 0x02); /* local, unicast */
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifc->name);
    ifr.ifr_hwaddr.sa_family = 1; /* ARPHRD_ETHER */
    memcpy(ifr.ifr_hwaddr.sa_data, mac, 6);
    if (ioctl(s, SIOCSIFHWADDR, &ifr) < 0) {
        lvm_err_set(err, errno, "give %s a new MAC", ifc->name);
        goto out;
    }
    if (bridge_add(s, ifc->name, err) < 0 || bridge_add(s, OCI_TAP, err) < 0 ||
        set_up(s, OCI_TAP, err) < 0 || set_up(s, OCI_BRIDGE, err) < 0)
        goto out;
    *tap_fd = tap;
    tap = -1;
    r = 0;
out:
    if (tap >= 0)
        close(tap);
    close(s);
    return r;
}

/* Enter the namespace at (path), plumb, come back. */
static int plumb_in(const char *path, struct ns_iface *ifc, int *tap_fd,
                    struct lvm_err *err)
{
    int ns = open(path, O_RDONLY | O_CLOEXEC);
    if (ns < 0)
        return lvm_err_set(err, errno, "network namespace %s", path);
    int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (self < 0 || setns(ns, CLONE_NEWNET) < 0) {
        int e = errno;
        close(ns);
        if (self >= 0)
            close(self);
        return lvm_err_set(err, e, "enter the network namespace %s", path);
    }
    int r = plumb(ifc, tap_fd, err);
    if (setns(self, CLONE_NEWNET) < 0) {
        /* Nothing else this process does may happen in there. */
        fprintf(stderr, "lightvm-runtime: cannot leave %s: %s\n", path,
                strerror(errno));
        _exit(1);
    }
    close(ns);
    close(self);
    if (r < 0)
        lvm_err_wrap(err, "network namespace %s", path);
    return r;
}

int dev_net_attach(struct guest *g, const struct guest_spec *spec,
                   const struct lvm_manifest_device *want, int guest_fd,
                   unsigned evtchn, struct attach *a, struct lvm_err *err)
{
    (void)spec;
    if (!netns_path)
        return lvm_err_set(err, ENODEV,
                           "the guest needs network device %s: the bundle "
                           "names no network namespace (linux.namespaces "
                           "network path)",
                           want->name);
    if (attached)
        return lvm_err_invalid(err,
                               "the guest needs a second network device (%s): "
                               "lightvm-runtime attaches one",
                               want->name);
    struct ns_iface ifc;
    int tap = -1;
    if (plumb_in(netns_path, &ifc, &tap, err) < 0)
        return lvm_err_wrap(err, "network device %s", want->name);
    /* Sent with the plan, then closed: the guest holds the only fd. */
    a->owned[a->nowned++] = tap;
    attached = 1;
    struct lvm_device d;
    memset(&d, 0, sizeof d);
    d.type = LVM_DEV_NET;
    d.handle = (uint16_t)guest_fd;
    d.evtchn = (uint16_t)evtchn;
    memcpy(d.name, want->name, sizeof d.name);
    memcpy(d.u.net.mac, ifc.mac, 6);
    d.u.net.mtu = (uint16_t)(ifc.mtu > 0 && ifc.mtu < 65536 ? ifc.mtu : 1500);
    d.u.net.ipv4_addr = ifc.addr;
    d.u.net.ipv4_netmask = ifc.netmask;
    d.u.net.ipv4_gateway = ifc.gateway;
    if (devpage_add(g->dev.dp, &d, err) < 0)
        return -1;
    if (a->pol.ndevices >= POLICY_MAX_DEVICES)
        return lvm_err_set(err, E2BIG, "too many devices for the policy");
    struct policy_device *pd = &a->pol.dev[a->pol.ndevices++];
    memset(pd, 0, sizeof *pd);
    pd->type = LVM_DEV_NET;
    pd->fd = guest_fd;
    return attach_fd(a, tap, guest_fd, err) < 0 ? -1 : 0;
}

void dev_net_release(struct guest *g)
{
    (void)g; /* the tap goes with the guest's fd, the bridge with the
                namespace */
}

int oci_net_take(const char *path, struct oci_net_lease *out,
                 struct lvm_err *err)
{
    memset(out, 0, sizeof *out);
    out->tap_fd = -1;
    if (!path)
        return 0;
    struct ns_iface ifc;
    struct lvm_err e = {0};
    if (plumb_in(path, &ifc, &out->tap_fd, &e) < 0) {
        /* A namespace with only lo (podman --network none): no NIC. The
         * interface is looked for before anything is changed. */
        if (e.code == ENODEV)
            return 0;
        *err = e;
        return -1;
    }
    struct in_addr a = {ifc.addr}, g = {ifc.gateway};
    int prefix = __builtin_popcount(ntohl(ifc.netmask));
    char ip[INET_ADDRSTRLEN], gw[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &a, ip, sizeof ip);
    inet_ntop(AF_INET, &g, gw, sizeof gw);
    snprintf(out->ip, sizeof out->ip, "%s/%d", ip, prefix);
    if (ifc.gateway)
        snprintf(out->gateway, sizeof out->gateway, "%s", gw);
    snprintf(out->mac, sizeof out->mac, "%02x:%02x:%02x:%02x:%02x:%02x",
             ifc.mac[0], ifc.mac[1], ifc.mac[2], ifc.mac[3], ifc.mac[4],
             ifc.mac[5]);
    out->mtu = ifc.mtu;
    return 1;
}
