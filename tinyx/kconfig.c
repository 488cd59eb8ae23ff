/*
 * kconfig.c: kernel configuration fragments: the Tinyx platform options
 * (each with why it is there), parsing app fragments, and the hash that
 * names a kernel in the cache.
 */
#include "tinyx/kernel.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bump when the build recipe changes in a way that changes the kernel
 * (make targets, how the fragment is applied). */
#define KBUILD_RECIPE "tinyx-kbuild-1"

static const struct {
    const char *name;
    const char *value;
    const char *why;
} platform[] = {
    {"CONFIG_64BIT", "y", "x86-64 userland (Debian's binaries)"},
    {"CONFIG_PRINTK", "y", "kernel messages on the console, to see failures"},
    {"CONFIG_BUG", "y", "report kernel bugs instead of silently misbehaving"},
    {"CONFIG_MULTIUSER", "y",
     "setuid/setgid: the init drops to the app's user"},
    {"CONFIG_POSIX_TIMERS", "y",
     "timer_create, clock_nanosleep (glibc, redis)"},
    {"CONFIG_FUTEX", "y", "glibc threads and locks"},
    {"CONFIG_EPOLL", "y", "the event loop of every server (redis, nginx)"},
    {"CONFIG_SIGNALFD", "y", "the init's event loop"},
    {"CONFIG_TIMERFD", "y", "the init's health-check timer; servers' timers"},
    {"CONFIG_EVENTFD", "y", "event loops and thread wake-ups"},
    {"CONFIG_SHMEM", "y", "shared anonymous memory, memfd, tmpfs"},
    {"CONFIG_AIO", "y", "io_setup: nginx and others probe it"},
    {"CONFIG_ADVISE_SYSCALLS", "y", "madvise/fadvise: jemalloc in redis"},
    {"CONFIG_FILE_LOCKING", "y", "flock/fcntl locks (pid and lock files)"},
    {"CONFIG_MEMBARRIER", "y", "membarrier: used by some runtimes' GCs"},
    {"CONFIG_RSEQ", "y", "glibc 2.35+ registers rseq at every thread start"},
    {"CONFIG_PROC_SYSCTL", "y", "/proc/sys, read by many servers at start"},
    {"CONFIG_FHANDLE", "y", "name_to_handle_at, used by some libraries"},
    {"CONFIG_BINFMT_ELF", "y", "run ELF programs"},
    {"CONFIG_BINFMT_SCRIPT", "y", "run #! scripts"},
    {"CONFIG_BLK_DEV_INITRD", "y", "the root filesystem is the initramfs"},
    {"CONFIG_RD_GZIP", "y", "gzip-compressed initramfs"},
    {"CONFIG_RD_ZSTD", "y", "zstd-compressed initramfs (the default)"},
    {"CONFIG_PROC_FS", "y",
     "/proc: ps, /proc/self, /proc/cmdline for the init"},
    {"CONFIG_SYSFS", "y", "/sys: the init finds the network device there"},
    {"CONFIG_DEVTMPFS", "y", "/dev populated by the kernel, no udev needed"},
    {"CONFIG_TMPFS", "y", "a writable root in RAM (rootfs is tmpfs)"},
    {"CONFIG_TTY", "y", "a console at all"},
    {"CONFIG_SERIAL_8250", "y", "ttyS0 (console) and ttyS1 (control channel)"},
    {"CONFIG_SERIAL_8250_CONSOLE", "y", "kernel messages on ttyS0"},
    {"CONFIG_X86_MPPARSE", "y",
     "find the CPU and interrupt controllers without "
     "ACPI (microvm acpi=off)"},
    {"CONFIG_HYPERVISOR_GUEST", "y", "needed for PVH and KVM guest support"},
    {"CONFIG_PARAVIRT", "y", "needed for KVM_GUEST"},
    {"CONFIG_KVM_GUEST", "y", "kvmclock: a stable clock without calibration"},
    {"CONFIG_PVH", "y",
     "direct boot of the uncompressed vmlinux: no real mode, "
     "no decompression (fastest boot)"},
    {"CONFIG_KERNEL_XZ", "y", "smallest bzImage (for size comparisons)"},
    {"CONFIG_NET", "y", "networking"},
    {"CONFIG_INET", "y", "IPv4 TCP/UDP"},
    {"CONFIG_UNIX", "y", "Unix sockets (syslog, local clients)"},
    {"CONFIG_NETDEVICES", "y", "network devices at all"},
    {"CONFIG_NET_CORE", "y", "needed for VIRTIO_NET"},
    {"CONFIG_VIRTIO_MENU", "y", "virtio drivers at all"},
    {"CONFIG_VIRTIO_MMIO", "y", "microvm's virtio transport (no PCI)"},
    {"CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES", "y",
     "QEMU describes the devices as virtio_mmio.device= on the command line "
     "when there is no ACPI"},
    {"CONFIG_VIRTIO_NET", "y", "the network device"},
    {"CONFIG_VIRTIO_CONSOLE", "y",
     "the exec channel (a virtio serial port: lightvm exec)"},
    {"CONFIG_BLOCK", "y", "block devices at all (disks, volumes)"},
    {"CONFIG_VIRTIO_BLK", "y",
     "disks: a container's root image, volumes (init.conf mount lines)"},
    {"CONFIG_EROFS_FS", "y",
     "read-only root images built from a directory (lightvm-runtime)"},
    {"CONFIG_OVERLAY_FS", "y", "a writable layer over a read-only root"},
    {"CONFIG_EXT4_FS", "y", "writable volumes (lightvm run -v FILE:PATH)"},
    /* Defaults that tinyconfig plus the options above would switch on
     * (make olddefconfig) and that no Tinyx guest uses. */
    {"CONFIG_IPV6", "n", "IPv4 only, unless the app needs IPv6 (nginx)"},
    {"CONFIG_INET_DIAG", "n", "socket monitoring for ss(8): no such tool"},
    {"CONFIG_ETHTOOL_NETLINK", "n", "no ethtool in the guest"},
    {"CONFIG_VT", "n", "the console is a serial port, not a screen"},
    {"CONFIG_INPUT", "n", "no keyboard or mouse"},
    {"CONFIG_SERIO", "n", "no PS/2 port"},
    {"CONFIG_HID", "n", "no human interface devices"},
    {"CONFIG_USB_SUPPORT", "n", "no USB"},
    {"CONFIG_PTP_1588_CLOCK", "n", "no hardware clock synchronisation"},
    {"CONFIG_PPS", "n", "no pulse-per-second source"},
    {"CONFIG_RD_BZIP2", "n", "the initramfs is zstd or gzip"},
    {"CONFIG_RD_LZMA", "n", "the initramfs is zstd or gzip"},
    {"CONFIG_RD_XZ", "n", "the initramfs is zstd or gzip"},
    {"CONFIG_RD_LZO", "n", "the initramfs is zstd or gzip"},
    {"CONFIG_RD_LZ4", "n", "the initramfs is zstd or gzip"},
    {"CONFIG_LEGACY_PTYS", "n", "no BSD pseudo-terminals"},
    {"CONFIG_SCHED_DEBUG", "n", "no scheduler debugging files"},
    {"CONFIG_DEBUG_BUGVERBOSE", "n", "BUG() reports without file names"},
};

#define NPLATFORM (sizeof platform / sizeof platform[0])

int kconfig_set(struct kconfig *k, const char *name, const char *value)
{
    if (strlen(name) >= sizeof k->opt[0].name ||
        strlen(value) >= sizeof k->opt[0].value)
        return -1;
    for (unsigned i = 0; i < k->n; i++)
        if (!strcmp(k->opt[i].name, name)) {
            snprintf(k->opt[i].value, sizeof k->opt[i].value, "%s", value);
            return 0;
        }
    if (k->n == KCONFIG_MAX)
        return -1;
    snprintf(k->opt[k->n].name, sizeof k->opt[0].name, "%s", name);
    snprintf(k->opt[k->n].value, sizeof k->opt[0].value, "%s", value);
    k->n++;
    return 0;
}

void kconfig_platform(struct kconfig *k)
{
    memset(k, 0, sizeof *k);
    for (size_t i = 0; i < NPLATFORM; i++)
        kconfig_set(k, platform[i].name, platform[i].value);
}

const char *kconfig_platform_why(const char *name)
{
    for (size_t i = 0; i < NPLATFORM; i++)
        if (!strcmp(platform[i].name, name))
            return platform[i].why;
    return NULL;
}

static int valid_name(const char *s, size_t n)
{
    if (n <= 7 || n >= 64 || strncmp(s, "CONFIG_", 7))
        return 0;
    for (size_t i = 7; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '_'))
            return 0;
    return 1;
}

int kconfig_parse(struct kconfig *k, const char *text, size_t len,
                  struct lvm_err *err)
{
    unsigned lineno = 0;
    for (size_t pos = 0; pos < len;) {
        const char *l = text + pos;
        const char *nl = memchr(l, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - l) : len - pos;
        pos += n + (nl ? 1 : 0);
        lineno++;
        while (n && (l[n - 1] == ' ' || l[n - 1] == '\t' || l[n - 1] == '\r'))
            n--;
        while (n && (*l == ' ' || *l == '\t'))
            l++, n--;
        if (!n)
            continue;
        char name[64], value[64];
        if (l[0] == '#') {
            static const char tail[] = " is not set";
            size_t tl = sizeof tail - 1;
            if (n > 2 + tl && l[1] == ' ' && !memcmp(l + n - tl, tail, tl) &&
                valid_name(l + 2, n - 2 - tl)) {
                memcpy(name, l + 2, n - 2 - tl);
                name[n - 2 - tl] = 0;
                if (kconfig_set(k, name, "n") < 0)
                    return lvm_err_set(err, E2BIG, "too many options");
            }
            continue; /* any other comment */
        }
        const char *eq = memchr(l, '=', n);
        size_t vl = eq ? n - (size_t)(eq + 1 - l) : 0;
        if (!eq || !valid_name(l, (size_t)(eq - l)) || vl == 0 ||
            vl >= sizeof value)
            return lvm_err_invalid(err,
                                   "line %u: expected CONFIG_NAME=VALUE or "
                                   "'# CONFIG_NAME is not set'",
                                   lineno);
        memcpy(name, l, (size_t)(eq - l));
        name[eq - l] = 0;
        memcpy(value, eq + 1, vl);
        value[vl] = 0;
        if (memchr(value, '\n', vl) || memchr(value, 0, vl))
            return lvm_err_invalid(err, "line %u: bad value", lineno);
        if (kconfig_set(k, name, value) < 0)
            return lvm_err_set(err, E2BIG, "too many options");
    }
    return 0;
}

static int opt_cmp(const void *a, const void *b)
{
    return strcmp(((const struct kconfig_opt *)a)->name,
                  ((const struct kconfig_opt *)b)->name);
}

char *kconfig_text(const struct kconfig *k)
{
    struct kconfig_opt *s = malloc(sizeof *s * (k->n ? k->n : 1));
    if (!s)
        return NULL;
    memcpy(s, k->opt, sizeof *s * k->n);
    qsort(s, k->n, sizeof *s, opt_cmp);
    size_t cap = (size_t)k->n * 160 + 1, used = 0;
    char *t = malloc(cap);
    if (t) {
        t[0] = 0;
        for (unsigned i = 0; i < k->n; i++) {
            if (!strcmp(s[i].value, "n"))
                used += (size_t)snprintf(t + used, cap - used,
                                         "# %s is not set\n", s[i].name);
            else
                used += (size_t)snprintf(t + used, cap - used, "%s=%s\n",
                                         s[i].name, s[i].value);
        }
    }
    free(s);
    return t;
}

void kconfig_key(const struct kconfig *k, char key[KERNEL_KEY_LEN + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    char *text = kconfig_text(k);
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    key[0] = 0;
    if (c && text && EVP_DigestInit_ex(c, EVP_sha256(), NULL) &&
        EVP_DigestUpdate(c, KBUILD_RECIPE "\n", strlen(KBUILD_RECIPE) + 1) &&
        EVP_DigestUpdate(c, text, strlen(text)) &&
        EVP_DigestFinal_ex(c, md, &mdlen)) {
        for (unsigned i = 0; i < mdlen && i < KERNEL_KEY_LEN / 2; i++)
            snprintf(key + 2 * i, 3, "%02x", md[i]);
    }
    EVP_MD_CTX_free(c);
    free(text);
}
