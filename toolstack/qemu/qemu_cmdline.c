/*
 * qemu_cmdline.c: QEMU's command line for a guest (see docs/tinyx.md for
 * why each option is there), and the port-forward syntax. Pure: no I/O,
 * unit-tested.
 */
#include "toolstack/qemu/qemu.h"

#include <lightvm/tinyx_exec.h>
#include "toolstack/guest_policy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Append one argument, formatted; -1 when argv or storage is full. */
static int arg(struct qemu_argv *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int arg(struct qemu_argv *a, const char *fmt, ...)
{
    if (a->argc >= QEMU_ARGV_MAX)
        return -1;
    size_t room = sizeof a->storage - a->used;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(a->storage + a->used, room, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= room)
        return -1;
    a->argv[a->argc++] = a->storage + a->used;
    a->argv[a->argc] = NULL;
    a->used += (size_t)n + 1;
    return 0;
}

/* QEMU splits option values at commas; we refuse them rather than
 * escape, since no sane path or interface name needs one. */
static int plain(const char *s)
{
    return s && !strchr(s, ',') && !strchr(s, '\n');
}

/* Files QEMU writes are passed as fds, never named: it could not open
 * them (it runs as a user of its own, in a root without them). Each is
 * an fd set that QEMU's file opens take by name. */
#define FDSET_CONSOLE 1
#define FDSET_CTL_LOG 2
/* MiB of translated code QEMU keeps under TCG. */
#define QEMU_TCG_TB_MB "64"
#define FDSET_DISK0 3 /* disk N is fd set FDSET_DISK0 + N */

/* The console: a socket we read, or a file QEMU appends to. */
static int console_chardev(struct qemu_argv *a, const struct qemu_fds *fds)
{
    if (fds->console_file)
        return arg(a, "file,id=con,path=/dev/fdset/%d,append=on",
                   FDSET_CONSOLE);
    return arg(a, "socket,id=con,fd=%d", fds->console);
}

/* -add-fd for each file passed, before the chardevs that use them. */
static int fd_sets(struct qemu_argv *a, const struct qemu_fds *fds)
{
    if (fds->console_file &&
        (arg(a, "-add-fd") < 0 ||
         arg(a, "fd=%d,set=%d", fds->console, FDSET_CONSOLE) < 0))
        return -1;
    if (fds->ctl_log > 0 &&
        (arg(a, "-add-fd") < 0 ||
         arg(a, "fd=%d,set=%d", fds->ctl_log, FDSET_CTL_LOG) < 0))
        return -1;
    return 0;
}

/* The control channel's log, appended to (heard or not). */
static int ctl_logfile(const struct qemu_fds *fds, char *buf, size_t len)
{
    buf[0] = 0;
    if (fds->ctl_log > 0)
        snprintf(buf, len, ",logfile=/dev/fdset/%d,logappend=on",
                 FDSET_CTL_LOG);
    return 0;
}

int qemu_disk_serial_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > QEMU_SERIAL_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
            return 0;
    return 1;
}

/* Each disk: its fd in a set of its own (QEMU opens /dev/fdset/N with the
 * access mode the fd has, so a read-only fd can only make a read-only
 * drive), a drive on it and a virtio-blk device with its serial. The
 * virtio-mmio slots are taken in command-line order: the guest sees the
 * disks in this order, but finds them by serial. */
static int disks(const struct qemu_vm_config *cfg, struct qemu_argv *a,
                 struct lvm_err *err)
{
    if (cfg->ndisks > QEMU_MAX_DISKS)
        return lvm_err_invalid(err, "at most %d disks", QEMU_MAX_DISKS);
    for (unsigned i = 0; i < cfg->ndisks; i++) {
        const struct qemu_disk *d = &cfg->disks[i];
        char serial[QEMU_SERIAL_MAX + 1];
        if (d->serial && *d->serial) {
            if (!qemu_disk_serial_ok(d->serial))
                return lvm_err_invalid(err,
                                       "disk serial '%s': use 1 to %d of "
                                       "A-Z a-z 0-9 . _ -",
                                       d->serial, QEMU_SERIAL_MAX);
            snprintf(serial, sizeof serial, "%s", d->serial);
        } else {
            snprintf(serial, sizeof serial, "disk%u", i);
        }
        for (unsigned j = 0; j < i; j++) {
            const char *o = cfg->disks[j].serial;
            char other[QEMU_SERIAL_MAX + 1];
            snprintf(other, sizeof other, "%s", o && *o ? o : "");
            if (!other[0])
                snprintf(other, sizeof other, "disk%u", j);
            if (!strcmp(serial, other))
                return lvm_err_invalid(err, "two disks have serial '%s'",
                                       serial);
        }
        if (d->fd < 0)
            return lvm_err_invalid(err, "disk %u (%s) is not open", i, serial);
        if (arg(a, "-add-fd") < 0 ||
            arg(a, "fd=%d,set=%u", d->fd, FDSET_DISK0 + i) < 0 ||
            (!d->readonly && d->ro_fd > 0 &&
             (arg(a, "-add-fd") < 0 ||
              arg(a, "fd=%d,set=%u", d->ro_fd, FDSET_DISK0 + i) < 0)) ||
            arg(a, "-drive") < 0 ||
            arg(a,
                "file=/dev/fdset/%u,if=none,id=disk%u,format=raw,"
                "readonly=%s%s",
                FDSET_DISK0 + i, i, d->readonly ? "on" : "off",
                d->blockdev ? ",file.driver=host_device" : "") < 0 ||
            arg(a, "-device") < 0 ||
            arg(a, "virtio-blk-device,drive=disk%u,serial=%s", i, serial) < 0)
            return lvm_err_set(err, E2BIG, "QEMU command line too long");
    }
    return 0;
}

static int kernel_cmdline(const struct qemu_vm_config *cfg, int kvm,
                          unsigned long tsc_khz, char *buf, size_t len)
{
    int n =
        snprintf(buf, len, "console=ttyS0 panic=-1 reboot=t tinyx.ctl=ttyS1%s",
                 cfg->quiet ? " quiet" : "");
    /* Under TCG the kernel cannot calibrate the TSC reliably and may
     * hang; without a hardware RNG it may wait ~1 s for entropy. */
    if (!kvm && tsc_khz)
        n += snprintf(buf + n, len - (size_t)n, " tsc_early_khz=%lu", tsc_khz);
    n += snprintf(buf + n, len - (size_t)n, " random.trust_cpu=on");
    if (cfg->net != QEMU_NET_NONE) {
        const char *ip = cfg->guest_ip[0] ? cfg->guest_ip : "10.0.2.15/24";
        n += snprintf(buf + n, len - (size_t)n, " tinyx.ip=%s", ip);
        const char *gw = cfg->gateway[0]             ? cfg->gateway
                         : cfg->net == QEMU_NET_USER ? "10.0.2.2"
                                                     : "";
        if (*gw)
            n += snprintf(buf + n, len - (size_t)n, " tinyx.gw=%s", gw);
        const char *dns = cfg->dns[0]                 ? cfg->dns
                          : cfg->net == QEMU_NET_USER ? "10.0.2.3"
                                                      : "";
        if (*dns)
            n += snprintf(buf + n, len - (size_t)n, " tinyx.dns=%s", dns);
        /* Several NICs: the init tells them apart by MAC, not by the
         * order the kernel happened to probe them in. */
        if (cfg->nxnics && cfg->mac[0])
            n += snprintf(buf + n, len - (size_t)n, " tinyx.mac=%s", cfg->mac);
        for (unsigned i = 0; i < cfg->nxnics && i < QEMU_MAX_XNICS; i++)
            n += snprintf(buf + n, len - (size_t)n, " tinyx.nic=%s,%s",
                          cfg->xnic[i].mac, cfg->xnic[i].ip);
    }
    if (cfg->runtime_conf)
        n += snprintf(buf + n, len - (size_t)n, " tinyx.cfg=1");
    if (cfg->exec)
        n += snprintf(buf + n, len - (size_t)n, " tinyx.exec=1");
    if (cfg->append && *cfg->append)
        n += snprintf(buf + n, len - (size_t)n, " %s", cfg->append);
    return n > 0 && (size_t)n < len ? 0 : -1;
}

static int netdev(const struct qemu_vm_config *cfg, const struct qemu_fds *fds,
                  struct qemu_argv *a, struct lvm_err *err)
{
    char nd[1024];
    size_t n = 0;
    if (cfg->net == QEMU_NET_USER) {
        n = (size_t)snprintf(nd, sizeof nd, "user,id=n0");
        for (unsigned i = 0; i < cfg->nfwd; i++) {
            const struct qemu_fwd *f = &cfg->fwd[i];
            if (!f->host_port || !f->guest_port || !plain(f->host_addr))
                return lvm_err_invalid(err, "bad port forward %u", i);
            n += (size_t)snprintf(nd + n, sizeof nd - n,
                                  ",hostfwd=tcp:%s:%u-:%u",
                                  f->host_addr[0] ? f->host_addr : "127.0.0.1",
                                  f->host_port, f->guest_port);
            if (n >= sizeof nd)
                return lvm_err_set(err, E2BIG, "too many port forwards");
        }
    } else if (fds->tap >= 0) {
        snprintf(nd, sizeof nd, "tap,id=n0,fd=%d", fds->tap);
    } else {
        if (!plain(cfg->tap_ifname) || !*cfg->tap_ifname)
            return lvm_err_invalid(err, "tap networking needs a tap "
                                        "device name or fd");
        snprintf(nd, sizeof nd, "tap,id=n0,ifname=%s,script=no,downscript=no",
                 cfg->tap_ifname);
    }
    if (cfg->mac[0] && !plain(cfg->mac))
        return lvm_err_invalid(err, "bad MAC address '%s'", cfg->mac);
    if (arg(a, "-netdev") < 0 || arg(a, "%s", nd) < 0 ||
        arg(a, "-device") < 0 ||
        arg(a, "virtio-net-device,netdev=n0%s%s", cfg->mac[0] ? ",mac=" : "",
            cfg->mac) < 0)
        return lvm_err_set(err, E2BIG, "QEMU command line too long");
    if (!cfg->nxnics)
        return 0;
    /* More NICs: taps by fd only (lightvm's bridges), each with its MAC
     * (the filter's) and address (the init's), both checked plain. */
    if (cfg->net != QEMU_NET_TAP || fds->tap < 0 || fds->xtap <= 0 ||
        cfg->nxnics > QEMU_MAX_XNICS || !cfg->mac[0])
        return lvm_err_invalid(err,
                               "more NICs need the first one and theirs as tap "
                               "fds with MACs (at most %d more)",
                               QEMU_MAX_XNICS);
    for (unsigned i = 0; i < cfg->nxnics; i++) {
        const struct qemu_xnic *x = &cfg->xnic[i];
        if (!x->mac[0] || !plain(x->mac) || !x->ip[0] || !plain(x->ip) ||
            strchr(x->ip, ','))
            return lvm_err_invalid(err, "bad MAC or address of NIC %u", i + 1);
        if (arg(a, "-netdev") < 0 ||
            arg(a, "tap,id=n%u,fd=%d", i + 1, fds->xtap + (int)i) < 0 ||
            arg(a, "-device") < 0 ||
            arg(a, "virtio-net-device,netdev=n%u,mac=%s", i + 1, x->mac) < 0)
            return lvm_err_set(err, E2BIG, "QEMU command line too long");
    }
    return 0;
}

int qemu_build_argv(const struct qemu_vm_config *cfg,
                    const struct qemu_fds *fds, int kvm, unsigned long tsc_khz,
                    struct qemu_argv *a, struct lvm_err *err)
{
    memset(a, 0, sizeof *a);
    if (!cfg->kernel || !*cfg->kernel)
        return lvm_err_invalid(err, "no kernel given");
    if (!cfg->initrd || !*cfg->initrd)
        return lvm_err_invalid(err, "no initramfs given");
    /* Callers pick RAM by the guest policy; a config without it gets the
     * default of its kernel (Debian's has ACPI, a tiny one has not). The
     * bounds are the widest any qemu guest has. */
    struct guest_ram_range r = guest_ram_range(
        GUEST_MON_QEMU, cfg->acpi ? GUEST_KERNEL_STOCK : GUEST_KERNEL_TINY);
    uint64_t mem = cfg->mem ? cfg->mem : r.def;
    r = guest_ram_range(GUEST_MON_QEMU, GUEST_KERNEL_TINY);
    if (mem < r.min || mem > r.max)
        return lvm_err_invalid(err, "guest memory must be %lluM to %lluG",
                               (unsigned long long)(r.min >> 20),
                               (unsigned long long)(r.max >> 30));
    unsigned cpus = cfg->cpus ? cfg->cpus : 1;
    if (cpus > GUEST_QEMU_VCPUS_MAX)
        return lvm_err_invalid(err, "at most %d vCPUs", GUEST_QEMU_VCPUS_MAX);
    if (cfg->nfwd > QEMU_MAX_FWDS)
        return lvm_err_invalid(err, "at most %d port forwards", QEMU_MAX_FWDS);
    char append[2048];
    if (kernel_cmdline(cfg, kvm, tsc_khz, append, sizeof append) < 0)
        return lvm_err_set(err, E2BIG, "kernel command line too long");
    const char *qemu =
        cfg->qemu && *cfg->qemu ? cfg->qemu : "qemu-system-x86_64";
    char ctl_log[64];
    ctl_logfile(fds, ctl_log, sizeof ctl_log);
    /* Listening sockets: QEMU accepts a client whenever one connects and
     * goes on without one (output to a channel nobody reads is dropped,
     * but still logged). */
    const char *server = fds->listen ? ",server=on,wait=off" : "";
    /* microvm: no PCI, no firmware tables to walk, no option ROMs. The PIT,
     * PIC and RTC stay on: under TCG the kernel's timer set-up needs them.
     * A kernel without ACPI (ours) needs acpi=off, and only then does
     * QEMU describe the virtio-mmio devices on the kernel command line. */
    int bad = arg(a, "%s", qemu) || arg(a, "-M") ||
              arg(a,
                  "microvm,x-option-roms=off,isa-serial=on,pit=on,pic=on,"
                  "rtc=on,acpi=%s",
                  cfg->acpi ? "on" : "off") ||
              arg(a, "-accel") ||
              /* TCG's translation cache is 1 GiB by default, charged to
               * the guest's cgroup as it fills: a guest that runs many
               * programs (exec) would be killed for it. */
              arg(a, "%s", kvm ? "kvm" : "tcg,tb-size=" QEMU_TCG_TB_MB) ||
              arg(a, "-cpu") || arg(a, "%s", kvm ? "host" : "max") ||
              arg(a, "-nodefaults") || arg(a, "-no-user-config") ||
              arg(a, "-display") || arg(a, "none") || arg(a, "-no-reboot") ||
              /* QEMU's own seccomp filter: no obsolete calls, no set*id, no
         * fork or exec, no scheduling or resource changes. */
              arg(a, "-sandbox") ||
              arg(a, "on,obsolete=deny,elevateprivileges=deny,spawn=deny,"
                     "resourcecontrol=deny") ||
              fd_sets(a, fds) || arg(a, "-m") ||
              arg(a, "%lluM", (unsigned long long)(mem >> 20)) ||
              arg(a, "-smp") || arg(a, "%u", cpus) ||
              /* console: the first ISA serial port, ttyS0 */
              arg(a, "-chardev") || console_chardev(a, fds) ||
              arg(a, "-serial") || arg(a, "chardev:con") ||
              /* control channel: a second one at the legacy COM2 address */
              arg(a, "-chardev") ||
              arg(a, "socket,id=ctl,fd=%d%s%s", fds->ctl, server, ctl_log) ||
              arg(a, "-device") ||
              arg(a, "isa-serial,chardev=ctl,iobase=0x2f8,irq=3") ||
              arg(a, "-chardev") ||
              arg(a, "socket,id=qmp,fd=%d%s", fds->qmp, server) ||
              arg(a, "-mon") || arg(a, "chardev=qmp,mode=control") ||
              arg(a, "-kernel") || arg(a, "%s", cfg->kernel) ||
              arg(a, "-initrd") || arg(a, "%s", cfg->initrd) ||
              arg(a, "-append") || arg(a, "%s", append);
    if (bad)
        return lvm_err_set(err, E2BIG, "QEMU command line too long");
    if (cfg->net != QEMU_NET_NONE && netdev(cfg, fds, a, err) < 0)
        return -1;
    if (disks(cfg, a, err) < 0)
        return -1;
    /* The exec channel: a virtio serial port the init finds by name. */
    if (cfg->exec && fds->exec > 0 &&
        (arg(a, "-device") < 0 ||
         arg(a, "virtio-serial-device,max_ports=2") < 0 ||
         arg(a, "-chardev") < 0 ||
         /* always a listening socket: one client at a time */
         arg(a, "socket,id=exec,fd=%d,server=on,wait=off", fds->exec) < 0 ||
         arg(a, "-device") < 0 ||
         arg(a, "virtserialport,chardev=exec,name=" LVM_XF_PORT) < 0))
        return lvm_err_set(err, E2BIG, "QEMU command line too long");
    if (cfg->incoming && (arg(a, "-incoming") < 0 || arg(a, "defer") < 0))
        return lvm_err_set(err, E2BIG, "QEMU command line too long");
    return 0;
}

int qemu_fwd_parse(const char *s, struct qemu_fwd *f)
{
    char buf[64];
    if (strlen(s) >= sizeof buf)
        return -1;
    snprintf(buf, sizeof buf, "%s", s);
    memset(f, 0, sizeof *f);
    char *last = strrchr(buf, ':');
    if (!last)
        return -1;
    *last = 0;
    char *host = strrchr(buf, ':');
    if (host) {
        *host++ = 0;
        struct in_addr ia;
        if (strlen(buf) >= sizeof f->host_addr ||
            inet_pton(AF_INET, buf, &ia) != 1)
            return -1;
        snprintf(f->host_addr, sizeof f->host_addr, "%s", buf);
    } else {
        host = buf;
    }
    char *e1, *e2;
    long h = strtol(host, &e1, 10), g = strtol(last + 1, &e2, 10);
    /* host port 0: a free one, picked at start */
    if (*e1 || *e2 || !*host || !last[1] || h < 0 || h > 65535 || g < 1 ||
        g > 65535)
        return -1;
    f->host_port = (uint16_t)h;
    f->guest_port = (uint16_t)g;
    return 0;
}
