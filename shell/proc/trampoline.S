/*
 * trampoline.S: the last instructions the shell runs before a proc guest.
 *
 * Copied into a page at LVM_MON_PRIVATE_ADDR and entered with %rdi at its
 * argument block (struct proc_tramp_args). It unmaps everything outside
 * the guest's region (the shell's code, data, stack and the vDSO), loads
 * the seccomp filter and jumps to the guest with clean registers. It uses
 * no stack: the shell's stack is gone after the first munmap.
 */
    .text
    .globl lvm_tramp_start
    .globl lvm_tramp_end
lvm_tramp_start:
    mov %rdi, %r15
    mov $11, %eax           /* munmap(low_addr, low_len) */
    mov 0(%r15), %rdi
    mov 8(%r15), %rsi
    syscall
    test %rax, %rax
    jnz 1f
    mov $11, %eax           /* munmap(high_addr, high_len) */
    mov 16(%r15), %rdi
    mov 24(%r15), %rsi
    syscall
    test %rax, %rax
    jnz 1f
    mov $317, %eax          /* seccomp(SECCOMP_SET_MODE_FILTER, flags, prog) */
    mov $1, %edi
    mov 32(%r15), %rsi
    mov 40(%r15), %rdx
    syscall
    test %rax, %rax
    jnz 1f
    mov 48(%r15), %rsp      /* the guest's initial stack */
    mov 56(%r15), %rcx      /* its entry point */
    xor %eax, %eax
    xor %ebx, %ebx
    xor %edx, %edx
    xor %esi, %esi
    xor %edi, %edi
    xor %ebp, %ebp
    xor %r8d, %r8d
    xor %r9d, %r9d
    xor %r10d, %r10d
    xor %r11d, %r11d
    xor %r12d, %r12d
    xor %r13d, %r13d
    xor %r14d, %r14d
    xor %r15d, %r15d
    cld
    jmp *%rcx
1:  mov $231, %eax          /* exit_group(126): the sandbox is not complete */
    mov $126, %edi
    syscall
    hlt
lvm_tramp_end:

    .section .note.GNU-stack, "", @progbits
