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
 * `syscall` entry under the kvm monitor: the monitor's ring-0 trampoline
 * (its LSTAR) returns here, in the guest's ring 3, with the registers as
 * `syscall` left them: %rcx the return address, %r11 the flags. The stack
 * is the caller's, so the frame goes below its red zone. Like Linux, it
 * preserves every register but %rax (result), %rcx and %r11, the FPU and
 * vector registers included (the C code below may use SSE, and musl keeps
 * values in them across its inline system calls): XSAVE when the monitor
 * enabled it (lvm__xsave_size, from CPUID), FXSAVE otherwise.
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
    mov lvm__xsave_size(%rip), %rcx
    test %rcx, %rcx
    jz 1f
    sub %rcx, %rsp
    andq $-64, %rsp
    xor %eax, %eax          /* XRSTOR wants the header's reserved bytes 0 */
    mov %rax, 512(%rsp)
    mov %rax, 520(%rsp)
    mov %rax, 528(%rsp)
    mov %rax, 536(%rsp)
    mov %rax, 544(%rsp)
    mov %rax, 552(%rsp)
    mov %rax, 560(%rsp)
    mov %rax, 568(%rsp)
    mov $-1, %eax
    mov $-1, %edx
    xsave64 (%rsp)
    lea 16(%rbx), %rdi      /* struct lvm_syscall_frame * */
    call lvm__kvm_syscall
    mov %rax, %rbp          /* the result, while edx:eax name the state */
    mov $-1, %eax
    mov $-1, %edx
    xrstor64 (%rsp)
    mov %rbp, %rax
    jmp 2f
1:  sub $512, %rsp
    andq $-64, %rsp
    fxsave64 (%rsp)
    lea 16(%rbx), %rdi
    call lvm__kvm_syscall
    fxrstor64 (%rsp)
2:  mov %rbx, %rsp
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
