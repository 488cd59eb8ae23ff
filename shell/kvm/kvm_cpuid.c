/*
 * kvm_cpuid.c: what the guest's CPUID says. The host's KVM-supported set,
 * so a guest sees the same instruction set extensions it would see under
 * proc, minus what this VM lacks: there is one vCPU and no local APIC.
 */
#include "shell/kvm/kvm.h"

#include <errno.h>
#include <stdlib.h>

#define MAX_ENTRIES 1024

#define CPUID1_ECX_X2APIC (1u << 21)
#define CPUID1_ECX_TSC_DEADLINE (1u << 24)
#define CPUID1_ECX_XSAVE (1u << 26)
#define CPUID1_EDX_APIC (1u << 9)

/* XSAVE state components a guest may enable: x87, SSE, AVX and the three
 * AVX-512 ones. Not AMX, which Linux hands out only on request. */
#define XFEATURE_X87 (1ull << 0)
#define XFEATURE_SSE (1ull << 1)
#define XFEATURE_AVX (1ull << 2)
#define XFEATURE_AVX512 (7ull << 5)

static struct kvm_cpuid2 *supported(struct kvm_monitor *m)
{
    for (unsigned n = 128; n <= MAX_ENTRIES; n *= 2) {
        struct kvm_cpuid2 *c =
            calloc(1, sizeof *c + n * sizeof(struct kvm_cpuid_entry2));
        if (!c)
            kvm_fail(ENOMEM, "allocate CPUID entries");
        // cppcheck-suppress nullPointerRedundantCheck ; kvm_fail never returns
        c->nent = n;
        if (kvm_ioctl(m->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
            return c;
        int e = errno;
        free(c);
        if (e != E2BIG)
            kvm_fail(e, "KVM_GET_SUPPORTED_CPUID");
    }
    kvm_fail(E2BIG, "KVM_GET_SUPPORTED_CPUID: too many entries");
}

static uint64_t xsave_features(const struct kvm_cpuid2 *c)
{
    uint64_t xcr0 = 0;
    int xsave = 0;
    for (uint32_t i = 0; i < c->nent; i++) {
        const struct kvm_cpuid_entry2 *e = &c->entries[i];
        if (e->function == 1)
            xsave = (e->ecx & CPUID1_ECX_XSAVE) != 0;
        if (e->function == 0xd && e->index == 0)
            xcr0 = e->eax | (uint64_t)e->edx << 32;
    }
    if (!xsave)
        return 0;
    xcr0 &= XFEATURE_X87 | XFEATURE_SSE | XFEATURE_AVX | XFEATURE_AVX512;
    /* The architecture's rules: x87 always, AVX needs SSE, AVX-512 needs
     * AVX and comes as all three components or none. */
    if ((xcr0 & (XFEATURE_X87 | XFEATURE_SSE)) != (XFEATURE_X87 | XFEATURE_SSE))
        return 0;
    if (!(xcr0 & XFEATURE_AVX) || (xcr0 & XFEATURE_AVX512) != XFEATURE_AVX512)
        xcr0 &= ~XFEATURE_AVX512;
    return xcr0;
}

uint64_t kvm_cpuid_setup(struct kvm_monitor *m)
{
    struct kvm_cpuid2 *c = supported(m);
    for (uint32_t i = 0; i < c->nent; i++) {
        struct kvm_cpuid_entry2 *e = &c->entries[i];
        if (e->function == 0) /* "AuthenticAMD", "HygonGenuine": ebx */
            m->amd = e->ebx == 0x68747541u || e->ebx == 0x6f677948u;
        if (e->function == 7 && e->index == 0)
            m->fsgsbase = e->ebx & 1;
        if (e->function == 1) {
            /* APIC id 0, one logical processor; no local APIC at all. */
            e->ebx &= 0x0000ffffu;
            e->ebx |= 1u << 16;
            e->ecx &= ~(CPUID1_ECX_X2APIC | CPUID1_ECX_TSC_DEADLINE);
            e->edx &= ~CPUID1_EDX_APIC;
        }
    }
    uint64_t xcr0 = xsave_features(c);
    if (kvm_ioctl(m->vcpu_fd, KVM_SET_CPUID2, c) < 0)
        kvm_fail(errno, "KVM_SET_CPUID2");
    free(c);
    return xcr0;
}
