/*
 * netaddr.c: MAC derivation and file-per-address IPv4 leases (see
 * netaddr.h).
 */
#include "toolstack/netaddr.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static uint64_t fnv1a(const char *s, uint64_t h)
{
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ull;
    }
    return h;
}

#define FNV_BASIS 0xcbf29ce484222325ull

/* Six bytes of (h), made a locally administered unicast MAC. */
static void mac_from(uint64_t h, uint8_t mac[6])
{
    for (int i = 0; i < 6; i++)
        mac[i] = (uint8_t)(h >> (8 * i));
    mac[0] = (uint8_t)((mac[0] & 0xfc) | 0x02);
}

void netaddr_guest_mac(const char *id, unsigned nic, uint8_t mac[6])
{
    char n[16];
    snprintf(n, sizeof n, "/%u", nic);
    uint64_t h = fnv1a(n, fnv1a(id, FNV_BASIS));
    /* Finish the hash so every input bit reaches the MAC's bytes. */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    mac_from(h, mac);
}

void netaddr_bridge_mac(const char *name, uint8_t mac[6])
{
    uint64_t h = fnv1a(name, fnv1a("lightvm-bridge:", FNV_BASIS));
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    mac_from(h, mac);
}

int netaddr_parse_ip4(const char *s, uint32_t *addr)
{
    struct in_addr a;
    /* inet_pton takes exactly four decimal parts, no leading junk. */
    if (inet_pton(AF_INET, s, &a) != 1)
        return -1;
    *addr = a.s_addr;
    return 0;
}

const char *netaddr_ip4_str(uint32_t addr, char buf[16])
{
    const uint8_t *b = (const uint8_t *)&addr;
    snprintf(buf, 16, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
    return buf;
}

const char *netaddr_mac_str(const uint8_t mac[6], char buf[18])
{
    snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
             mac[3], mac[4], mac[5]);
    return buf;
}

uint32_t netaddr_mask(unsigned prefix)
{
    return prefix == 0 ? 0 : htonl(~0u << (32 - prefix));
}

int netaddr_parse_cidr(const char *s, uint32_t *addr, unsigned *prefix,
                       struct lvm_err *err)
{
    char ip[32];
    const char *slash = strchr(s, '/');
    if (!slash || (size_t)(slash - s) >= sizeof ip)
        return lvm_err_invalid(err, "'%s' is not ADDRESS/PREFIX", s);
    memcpy(ip, s, (size_t)(slash - s));
    ip[slash - s] = 0;
    char *end;
    errno = 0;
    unsigned long p = strtoul(slash + 1, &end, 10);
    if (errno || end == slash + 1 || *end || p < 8 || p > 30)
        return lvm_err_invalid(
            err, "'%s': the prefix must be 8 to 30 (e.g. 10.0.0.1/16)", s);
    uint32_t a;
    if (netaddr_parse_ip4(ip, &a) < 0)
        return lvm_err_invalid(err, "'%s' is not an IPv4 address", ip);
    uint32_t mask = netaddr_mask((unsigned)p);
    if ((a & ~mask) == 0 || (a & ~mask) == ~mask)
        return lvm_err_invalid(
            err,
            "'%s' is the network or broadcast address of its "
            "subnet, not a host address",
            s);
    *addr = a;
    *prefix = (unsigned)p;
    return 0;
}

/* ---- Lease files --------------------------------------------------------- */

int lease_parse(const char *text, size_t len, struct lease_owner *o)
{
    memset(o, 0, sizeof *o);
    o->ifindex = -1;
    const char *p = text, *end = text + len;
    int have = 0;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            return -1; /* every line ends with a newline */
        const char *eq = memchr(p, '=', (size_t)(eol - p));
        if (!eq)
            return -1;
        size_t klen = (size_t)(eq - p), vlen = (size_t)(eol - eq - 1);
        const char *v = eq + 1;
        if (klen == 5 && memcmp(p, "guest", 5) == 0) {
            if (vlen == 0 || vlen > NETADDR_ID_MAX)
                return -1;
            memcpy(o->guest_id, v, vlen);
            have |= 1;
        } else if (klen == 3 && memcmp(p, "tap", 3) == 0) {
            if (vlen == 0 || vlen >= sizeof o->tap)
                return -1;
            memcpy(o->tap, v, vlen);
            have |= 2;
        } else if (klen == 7 && memcmp(p, "ifindex", 7) == 0) {
            char num[16];
            char *e;
            if (vlen == 0 || vlen >= sizeof num)
                return -1;
            memcpy(num, v, vlen);
            num[vlen] = 0;
            long n = strtol(num, &e, 10);
            if (*e || n <= 0 || n > 0x7fffffff)
                return -1;
            o->ifindex = (int)n;
            have |= 4;
        } /* other keys: from a newer toolstack, ignored */
        p = eol + 1;
    }
    return have == 7 ? 0 : -1;
}

size_t lease_format(const struct lease_owner *o, char *buf, size_t len)
{
    int n = snprintf(buf, len, "guest=%s\ntap=%s\nifindex=%d\n", o->guest_id,
                     o->tap, o->ifindex);
    return n < 0 ? 0 : (size_t)n;
}

static int mkdir_p(const char *path, struct lvm_err *err)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1;; p++) {
        if (*p && *p != '/')
            continue;
        char c = *p;
        *p = 0;
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
            return lvm_err_set(err, errno, "create %s", buf);
        if (!c)
            return 0;
        *p = c;
    }
}

int lease_dir_open(struct lease_dir *d, const char *dir, struct lvm_err *err)
{
    // cppcheck-suppress ctuuninitvar ; (d) is written here, not read
    snprintf(d->path, sizeof d->path, "%s", dir);
    /* Usually there already: create it (and its parents) only if not. */
    d->fd = open(d->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d->fd >= 0)
        return 0;
    if (errno != ENOENT)
        return lvm_err_set(err, errno, "open the lease directory %s", d->path);
    if (mkdir_p(d->path, err) < 0)
        return -1;
    d->fd = open(d->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d->fd < 0)
        return lvm_err_set(err, errno, "open the lease directory %s", d->path);
    return 0;
}

void lease_dir_close(struct lease_dir *d)
{
    if (d->fd >= 0)
        close(d->fd);
    d->fd = -1;
}

int lease_read(struct lease_dir *d, uint32_t addr, struct lease_owner *o)
{
    char name[16], text[256];
    int fd = openat(d->fd, netaddr_ip4_str(addr, name), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, text, sizeof text);
    close(fd);
    if (n < 0)
        return -1;
    if (lease_parse(text, (size_t)n, o) < 0) {
        errno = EINVAL;
        return -1;
    }
    return 0;
}

/* A finished, unnamed lease file to link into place; or a named one
 * (*tmpname set) where the file system has no O_TMPFILE. */
static int lease_tmp(struct lease_dir *d, const struct lease_owner *o,
                     char tmpname[64], struct lvm_err *err)
{
    char text[256];
    size_t len = lease_format(o, text, sizeof text);
    tmpname[0] = 0;
    int fd = openat(d->fd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
        snprintf(tmpname, 64, ".tmp.%d.%.40s", (int)getpid(), o->guest_id);
        fd = openat(d->fd, tmpname,
                    O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
    }
    if (fd < 0)
        return lvm_err_set(err, errno, "create a lease in %s", d->path);
    if (write(fd, text, len) != (ssize_t)len) {
        int e = errno ? errno : EIO;
        close(fd);
        if (tmpname[0])
            unlinkat(d->fd, tmpname, 0);
        return lvm_err_set(err, e, "write a lease in %s", d->path);
    }
    return fd;
}

/* Link the finished lease as (addr): 0, or -1 with errno (EEXIST: taken). */
static int lease_link(struct lease_dir *d, int tmpfd, const char *tmpname,
                      uint32_t addr)
{
    char name[16];
    netaddr_ip4_str(addr, name);
    if (tmpname[0])
        return linkat(d->fd, tmpname, d->fd, name, 0);
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", tmpfd);
    return linkat(AT_FDCWD, proc, d->fd, name, AT_SYMLINK_FOLLOW);
}

/* Whether the lease of (addr) is stale; removes it if so. Called with
 * the directory locked, so no one else removes or replaces it meanwhile. */
static int reclaim(struct lease_dir *d, uint32_t addr, lease_alive_fn alive,
                   void *ctx)
{
    struct lease_owner o;
    /* Leases are linked into place complete, so one that does not parse
     * is junk, not a lease being written: it goes too. */
    int junk = 0;
    if (lease_read(d, addr, &o) < 0) {
        if (errno != EINVAL)
            return 0; /* gone already, or unreadable for now */
        junk = 1;
    }
    if (!junk && (!alive || alive(&o, ctx) != 0))
        return 0;
    char name[16];
    return unlinkat(d->fd, netaddr_ip4_str(addr, name), 0) == 0;
}

int lease_acquire(struct lease_dir *d, const struct lease_subnet *sn,
                  uint32_t want, const struct lease_owner *o,
                  lease_alive_fn alive, void *ctx, uint32_t *out,
                  struct lvm_err *err)
{
    uint32_t mask = netaddr_mask(sn->prefix);
    uint32_t count = (1u << (32 - sn->prefix)) - 2; /* hosts */
    uint32_t net = sn->net & mask;
    if (want && ((want & mask) != net || (want & ~mask) == 0 ||
                 (want & ~mask) == ~mask || want == sn->reserved)) {
        char a[16];
        return lvm_err_invalid(err,
                               "%s is not a free host address of the subnet",
                               netaddr_ip4_str(want, a));
    }
    char tmpname[64];
    int tmpfd = lease_tmp(d, o, tmpname, err);
    if (tmpfd < 0)
        return -1;
    uint32_t start = (uint32_t)(fnv1a(o->guest_id, FNV_BASIS) % count);
    int r = -1, locked = 0, failed = 0;
    /* Pass 0 takes a free address; pass 1, with the directory locked,
     * also reclaims stale leases. */
    for (int pass = 0; pass < 2 && r < 0; pass++) {
        if (pass == 1) {
            if (flock(d->fd, LOCK_EX) < 0) {
                lvm_err_set(err, errno, "lock %s", d->path);
                failed = 1;
                break;
            }
            locked = 1;
        }
        for (uint32_t i = 0; i < (want ? 1 : count); i++) {
            uint32_t addr =
                want ? want : (net | htonl(1 + (start + i) % count));
            if (addr == sn->reserved)
                continue;
            if (lease_link(d, tmpfd, tmpname, addr) == 0) {
                *out = addr;
                r = 0;
                break;
            }
            if (errno != EEXIST) {
                lvm_err_set(err, errno, "create a lease in %s", d->path);
                failed = 1;
                goto out;
            }
            if (pass == 1 && reclaim(d, addr, alive, ctx) &&
                lease_link(d, tmpfd, tmpname, addr) == 0) {
                *out = addr;
                r = 0;
                break;
            }
        }
    }
    if (r < 0 && !failed) {
        char a[16];
        if (want)
            lvm_err_set(err, EADDRINUSE, "address %s is in use",
                        netaddr_ip4_str(want, a));
        else
            lvm_err_set(err, ENOSPC, "no free address in %s/%u",
                        netaddr_ip4_str(net, a), sn->prefix);
    }
out:
    if (locked)
        flock(d->fd, LOCK_UN);
    if (tmpname[0])
        unlinkat(d->fd, tmpname, 0);
    close(tmpfd);
    return r;
}

int lease_release(struct lease_dir *d, uint32_t addr, const char *guest_id,
                  struct lvm_err *err)
{
    if (flock(d->fd, LOCK_EX) < 0)
        return lvm_err_set(err, errno, "lock %s", d->path);
    struct lease_owner o;
    int r = 0;
    if (lease_read(d, addr, &o) == 0 && strcmp(o.guest_id, guest_id) == 0) {
        char name[16];
        if (unlinkat(d->fd, netaddr_ip4_str(addr, name), 0) < 0 &&
            errno != ENOENT)
            r = lvm_err_set(err, errno, "remove lease %s/%s", d->path, name);
    }
    flock(d->fd, LOCK_UN);
    return r;
}

int lease_sweep(struct lease_dir *d, lease_alive_fn alive, void *ctx,
                unsigned *removed, struct lvm_err *err)
{
    *removed = 0;
    int dfd = dup(d->fd);
    DIR *dir = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!dir) {
        if (dfd >= 0)
            close(dfd);
        return lvm_err_set(err, errno, "read %s", d->path);
    }
    if (flock(d->fd, LOCK_EX) < 0) {
        closedir(dir);
        return lvm_err_set(err, errno, "lock %s", d->path);
    }
    struct dirent *e;
    while ((e = readdir(dir))) {
        uint32_t addr;
        int pid;
        if (netaddr_parse_ip4(e->d_name, &addr) == 0) {
            if (reclaim(d, addr, alive, ctx))
                (*removed)++;
        } else if (sscanf(e->d_name, ".tmp.%d.", &pid) == 1 && pid > 0 &&
                   kill(pid, 0) < 0 && errno == ESRCH) {
            unlinkat(d->fd, e->d_name, 0); /* left by a crashed toolstack */
        }
    }
    flock(d->fd, LOCK_UN);
    closedir(dir);
    return 0;
}
