/*
 * qemu_host.c: what the qemu monitor needs to know about the host: whether
 * KVM can run an ordinary Linux guest, and the TSC frequency a guest under
 * TCG must be told (it cannot calibrate it reliably, and hangs).
 */
#include "toolstack/qemu/qemu.h"

#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

int qemu_kvm_usable(char *why, size_t len)
{
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0) {
        snprintf(why, len, "cannot open /dev/kvm: %s", strerror(errno));
        return 0;
    }
    int ok = 0;
    struct stat st;
    if (ioctl(kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
        snprintf(why, len, "/dev/kvm speaks another API version");
    } else if (stat("/sys/module/kvm_pvm", &st) == 0) {
        /* PVM (a KVM for hosts without hardware virtualization) runs only
         * PVM-enabled guest kernels: Debian's and ours hang right after
         * the boot loader. */
        snprintf(why, len,
                 "/dev/kvm is PVM (module kvm_pvm), which runs "
                 "only PVM-enabled guest kernels");
    } else {
        int vm = ioctl(kvm, KVM_CREATE_VM, 0);
        if (vm < 0) {
            snprintf(why, len, "KVM_CREATE_VM: %s", strerror(errno));
        } else {
            close(vm);
            ok = 1;
        }
    }
    close(kvm);
    return ok;
}

/* CPUID leaf 0x15: TSC = crystal * ebx / eax, when the CPU says so. */
static unsigned long tsc_from_cpuid(void)
{
    unsigned a, b, c, d;
    if (__get_cpuid_max(0, NULL) < 0x15)
        return 0;
    __cpuid(0x15, a, b, c, d);
    if (!a || !b || !c)
        return 0;
    return (unsigned long)((unsigned long long)c * b / a / 1000);
}

/* KVM knows the host's TSC rate exactly, when it can be opened. */
static unsigned long tsc_from_kvm(void)
{
    unsigned long khz = 0;
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0)
        return 0;
    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    if (vm >= 0) {
        int cpu = ioctl(vm, KVM_CREATE_VCPU, 0);
        if (cpu >= 0) {
            int r = ioctl(cpu, KVM_GET_TSC_KHZ, 0);
            if (r > 0)
                khz = (unsigned long)r;
            close(cpu);
        }
        close(vm);
    }
    close(kvm);
    return khz;
}

/* "cpu MHz" is the TSC rate on hosts without cpufreq (most VMs); the
 * model name's "@ 2.30GHz" is the nominal rate elsewhere. */
static unsigned long tsc_from_cpuinfo(void)
{
    FILE *f = fopen("/proc/cpuinfo", "re");
    if (!f)
        return 0;
    char line[512];
    double ghz = 0, mhz = 0;
    while (fgets(line, sizeof line, f)) {
        char *at;
        if (!strncmp(line, "model name", 10) && (at = strstr(line, "@ ")))
            ghz = strtod(at + 2, NULL);
        else if (!strncmp(line, "cpu MHz", 7) && strchr(line, ':') && !mhz)
            mhz = strtod(strchr(line, ':') + 1, NULL);
        else if (line[0] == '\n' && (ghz > 0 || mhz > 0))
            break; /* the first CPU is enough */
    }
    fclose(f);
    if (ghz > 0)
        return (unsigned long)(ghz * 1e6);
    return (unsigned long)(mhz * 1e3);
}

unsigned long qemu_host_tsc_khz(void)
{
    unsigned long khz = tsc_from_cpuid();
    if (!khz)
        khz = tsc_from_kvm();
    if (!khz)
        khz = tsc_from_cpuinfo();
    return khz;
}
