/*
 * init_net.c: configure the guest's network from the kernel command line
 * with plain ioctls (no netlink library in a static init, and the tiny
 * kernel has no in-kernel IP autoconfiguration).
 */
#include "init.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static void set_sin(struct sockaddr *sa, in_addr_t addr)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)sa;
    memset(sin, 0, sizeof *sin);
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = addr;
}

static int if_up(int s, const char *name)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
        return -1;
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    return ioctl(s, SIOCSIFFLAGS, &ifr);
}

/* The first interface that is not loopback: the virtio-net device. */
static int first_ether(char *name, size_t len)
{
    DIR *d = opendir("/sys/class/net");
    if (!d)
        return -1;
    struct dirent *e;
    int found = -1;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !strcmp(e->d_name, "lo"))
            continue;
        /* "eth0" sorts before "sit0" and friends; take the smallest name */
        if (found < 0 || strcmp(e->d_name, name) < 0) {
            snprintf(name, len, "%s", e->d_name);
            found = 0;
        }
    }
    closedir(d);
    return found;
}

/* The interface whose MAC is (mac) ("aa:bb:..", as lightvm writes it). */
static int by_mac(const char *mac, char *name, size_t len)
{
    return init_sysfs_find("net", "address", mac, 1, name, len);
}

static int parse_cidr(const char *s, in_addr_t *addr, in_addr_t *mask)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%s", s);
    int prefix = 24;
    char *slash = strchr(buf, '/');
    if (slash) {
        *slash = 0;
        prefix = atoi(slash + 1);
    }
    if (prefix < 0 || prefix > 32 || inet_pton(AF_INET, buf, addr) != 1)
        return -1;
    *mask = prefix ? htonl(~0u << (32 - prefix)) : 0;
    return 0;
}

unsigned init_net_self(const struct init_conf *c)
{
    in_addr_t addr, mask;
    if (c->ip[0] && parse_cidr(c->ip, &addr, &mask) == 0)
        return ntohl(addr);
    return INADDR_LOOPBACK;
}

static int write_resolv(const char *dns)
{
    int fd = open("/etc/resolv.conf", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return -1;
    char line[64];
    int n = snprintf(line, sizeof line, "nameserver %s\n", dns);
    int r = write(fd, line, (size_t)n) == n ? 0 : -1;
    close(fd);
    return r;
}

/* Give (ifname) (addr)/(mask) and bring it up. */
static int if_addr(int s, const char *ifname, in_addr_t addr, in_addr_t mask)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
    set_sin(&ifr.ifr_addr, addr);
    if (ioctl(s, SIOCSIFADDR, &ifr) < 0)
        return -1;
    set_sin(&ifr.ifr_netmask, mask);
    if (ioctl(s, SIOCSIFNETMASK, &ifr) < 0)
        return -1;
    return if_up(s, ifname);
}

/* The NICs after the first ("MAC,ADDR/PREFIX"): each on its own subnet,
 * reached through its own device (the kernel's route for an address's
 * subnet); the default route stays the first NIC's. */
static int extra_nics(int s, const struct init_conf *c)
{
    int r = 0;
    for (int i = 0; i < c->nnics; i++) {
        char mac[48];
        snprintf(mac, sizeof mac, "%s", c->nics[i]);
        char *cidr = strchr(mac, ',');
        in_addr_t addr, mask;
        char ifname[IFNAMSIZ];
        if (cidr)
            *cidr++ = 0;
        if (!cidr || parse_cidr(cidr, &addr, &mask) < 0) {
            init_log("tinyx.nic=%s is not MAC,ADDRESS/PREFIX", c->nics[i]);
            r = -1;
            continue;
        }
        if (by_mac(mac, ifname, sizeof ifname) < 0) {
            init_log("tinyx.nic=%s: no network device has MAC %s", c->nics[i],
                     mac);
            r = -1;
            continue;
        }
        if (if_addr(s, ifname, addr, mask) < 0) {
            init_log("configure %s as %s: %s", ifname, cidr, strerror(errno));
            r = -1;
        }
    }
    return r;
}

int init_net_setup(const struct init_conf *c)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
        init_log("no IPv4 sockets: %s", strerror(errno));
        return -1;
    }
    if (if_up(s, "lo") < 0)
        init_log("bring up lo: %s", strerror(errno));
    int r = 0;
    if (!c->ip[0])
        goto out;
    in_addr_t addr, mask, gw;
    char ifname[IFNAMSIZ];
    if (parse_cidr(c->ip, &addr, &mask) < 0) {
        init_log("tinyx.ip=%s is not ADDRESS/PREFIX", c->ip);
        r = -1;
        goto out;
    }
    /* With several NICs the first is named by its MAC: the kernel's
     * probe order says nothing about which is which. */
    if ((c->mac[0] ? by_mac(c->mac, ifname, sizeof ifname)
                   : first_ether(ifname, sizeof ifname)) < 0) {
        init_log("tinyx.ip given but the guest has no network device%s%s",
                 c->mac[0] ? " with MAC " : "", c->mac);
        r = -1;
        goto out;
    }
    if (if_addr(s, ifname, addr, mask) < 0)
        goto fail;
    if (c->gw[0]) {
        if (inet_pton(AF_INET, c->gw, &gw) != 1) {
            init_log("tinyx.gw=%s is not an address", c->gw);
            r = -1;
            goto out;
        }
        struct rtentry rt;
        memset(&rt, 0, sizeof rt);
        set_sin(&rt.rt_dst, INADDR_ANY);
        set_sin(&rt.rt_genmask, INADDR_ANY);
        set_sin(&rt.rt_gateway, gw);
        rt.rt_flags = RTF_UP | RTF_GATEWAY;
        rt.rt_dev = ifname;
        if (ioctl(s, SIOCADDRT, &rt) < 0)
            goto fail;
    }
    if (c->dns[0] && write_resolv(c->dns) < 0)
        init_log("write /etc/resolv.conf: %s", strerror(errno));
    if (extra_nics(s, c) < 0)
        r = -1;
    goto out;
fail:
    init_log("configure %s as %s: %s", ifname, c->ip, strerror(errno));
    r = -1;
out:
    close(s);
    return r;
}
