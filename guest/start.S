/*
 * start.S: guest entry points. The monitor enters __lvm_start with %rsp at
 * a Linux-style initial stack (argc, argv, envp, auxv), as the kernel would
 * for a static program, and the boot info page at LVM_BOOTINFO_ADDR.
 */
    .text
    .globl __lvm_start
    .type __lvm_start, @function
__lvm_start:
    xor %ebp, %ebp
    mov %rsp, %rdi          /* initial stack: argc, argv... */
    andq $-16, %rsp
    call __lvm_start_c
    ud2
    .size __lvm_start, . - __lvm_start

/* Return from the SIGSYS handler (proc binding): rt_sigreturn. */
    .globl __lvm_sigreturn
    .type __lvm_sigreturn, @function
__lvm_sigreturn:
    mov $15, %eax
    syscall
    ud2
    .size __lvm_sigreturn, . - __lvm_sigreturn


/*
 * Ring-0 `syscall` entry under the kvm monitor (LSTAR). SYSCALL does not
 * switch stacks, so the frame goes below the interrupted code's red zone.
 * Like Linux, it preserves every register but %rax (result), %rcx (return
 * address) and %r11 (flags).
 */
    .text
    .globl __lvm_syscall_entry
    .type __lvm_syscall_entry, @function
__lvm_syscall_entry:
    sub $128, %rsp
    push %rcx               /* frame.rip */
    push %r11               /* frame.rflags */
    push %r9
    push %r8
    push %r10
    push %rdx
    push %rsi
    push %rdi
    push %rax               /* frame.nr */
    push %rbx
    push %rbp
    mov %rsp, %rbx
    lea 16(%rsp), %rdi      /* struct lvm_syscall_frame * */
    andq $-16, %rsp
    call lvm__kvm_syscall
    mov %rbx, %rsp
    pop %rbp
    pop %rbx
    add $8, %rsp            /* frame.nr: %rax holds the result */
    pop %rdi
    pop %rsi
    pop %rdx
    pop %r10
    pop %r8
    pop %r9
    mov (%rsp), %r11
    popfq
    pop %rcx
    add $128, %rsp
    jmp *%rcx
    .size __lvm_syscall_entry, . - __lvm_syscall_entry

    .section .note.GNU-stack, "", @progbits
