/*
 * start.c: the guest's first C code. Checks the boot info, picks the
 * hypercall binding the monitor asked for, sets up memory and random
 * numbers, then starts musl as the kernel would have, so that main() runs
 * with a working C library.
 */
#include "sdk.h"

#include <elf.h>
#include <lightvm/guest.h>

const struct lvm_binding_ops *lvm__hc;

void __lvm_sigsys(int sig, void *info, void *uc);
void __lvm_sigreturn(void);
void __lvm_syscall_entry(void);
void __lvm_start(void);

/*
 * The ABI note tells the monitor which ABI this guest speaks and where its
 * entry points are; the loader refuses a guest without it.
 */
__attribute__((section(".note.lightvm.abi"), used, aligned(4))) const struct {
    uint32_t namesz, descsz, type;
    char name[8];
    struct __attribute__((packed, aligned(4))) {
        uint32_t abi_version, reserved;
        uint64_t sigsys_entry, sigreturn_entry, syscall_entry, resume_entry;
    } desc;
} __lvm_abi_note = {
    8,
    sizeof(struct lvm_abi_note),
    LVM_NOTE_ABI,
    LVM_NOTE_OWNER,
    {LVM_ABI_VERSION, 0, (uint64_t)(uintptr_t)__lvm_sigsys,
     (uint64_t)(uintptr_t)__lvm_sigreturn,
     (uint64_t)(uintptr_t)__lvm_syscall_entry,
     (uint64_t)(uintptr_t)__lvm_resume},
};

/* Pulls in the default (empty) manifest unless the application has one. */
extern const char __lvm_manifest_note[];
__attribute__((used)) static const void *const manifest_ref =
    __lvm_manifest_note;

int main(int, char **, char **);
void _init(void);
void _fini(void);
int __libc_start_main(int (*)(int, char **, char **), int, char **,
                      void (*)(void), void (*)(void), void (*)(void));

void lvm__binding_init(void)
{
    const struct lvm_bootinfo *bi = LVM_BI;
    /* Nothing can be reported before a binding exists: crash loudly. */
    if (bi->magic != LVM_BOOTINFO_MAGIC || bi->abi_version != LVM_ABI_VERSION)
        __builtin_trap();
    if (bi->binding == LVM_BINDING_PROC)
        lvm__proc_init();
    else if (bi->binding == LVM_BINDING_KVM)
        lvm__kvm_init();
    else
        __builtin_trap();
}

_Noreturn void __lvm_start_c(long *sp)
{
    const struct lvm_bootinfo *bi = LVM_BI;
    lvm__binding_init();

    /* The time first: a reader that sees the magic sees the time too. */
    LVM_ST->first_insn_ns = lvm__hc->clock_monotonic();
    LVM_ST->magic = LVM_STATUS_MAGIC;
    lvm__cputime_start();
    lvm__mem_init(bi->heap_start, bi->heap_end);
    /* The seed is on the stack, writable: read it once, then erase it so
     * no later bug can disclose the generator's key. */
    uint8_t *seed = (uint8_t *)bi->seed_addr;
    if (bi->seed_addr < bi->stack_top - bi->stack_size ||
        bi->seed_addr > bi->stack_top - 32)
        lvm__panic("boot info: seed outside the stack");
    lvm__random_init(seed);
    for (int i = 0; i < 32; i++) /* volatile: a store the compiler keeps */
        ((volatile uint8_t *)seed)[i] = 0;

    int argc = (int)sp[0];
    char **argv = (char **)(sp + 1);
    __libc_start_main(main, argc, argv, _init, _fini, 0);
    lvm_exit(127); /* not reached: __libc_start_main calls exit() */
}
