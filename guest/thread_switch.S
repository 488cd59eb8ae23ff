/*
 * thread_switch.S: switching between guest threads (thread.c), starting a
 * new one, and leaving a served call for the guest's fatal end (api.c).
 *
 * lvm__ctx_switch(save, next_sp) keeps what a function call must keep
 * (callee-saved registers, MXCSR, the x87 control word) on the running
 * thread's stack, stores its %rsp in *save and continues the thread whose
 * stack is next_sp, returning from its own lvm__ctx_switch call, or, for
 * a new thread, into one of the __lvm_thread_first_* stubs with %rbx
 * pointing at what thread_frame.c built for it.
 */
    .text
    .globl lvm__ctx_switch
    .type lvm__ctx_switch, @function
lvm__ctx_switch:
    push %rbp
    push %rbx
    push %r12
    push %r13
    push %r14
    push %r15
    sub $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    mov %rsp, (%rdi)
    mov %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    add $8, %rsp
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    pop %rbp
    ret
    .size lvm__ctx_switch, . - lvm__ctx_switch

/* proc: a new thread leaves the SIGSYS handler it was switched to from
 * through its own ucontext (%rbx): registers as its clone returned 0, the
 * signal mask its creator had, fresh FPU state. */
    .globl __lvm_thread_first_proc
    .type __lvm_thread_first_proc, @function
__lvm_thread_first_proc:
    mov %rbx, %rsp
    mov $15, %eax           /* rt_sigreturn */
    syscall
    ud2
    .size __lvm_thread_first_proc, . - __lvm_thread_first_proc

/* kvm: the same from a struct lvm_uregs (%rbx), with fresh FPU state. */
    .globl __lvm_thread_first_kvm
    .type __lvm_thread_first_kvm, @function
__lvm_thread_first_kvm:
    fninit
    pushq $0x1f80
    ldmxcsr (%rsp)
    mov %rbx, %r11
    mov 8(%r11), %rsp       /* its stack */
    pushq 0(%r11)           /* rip, below it */
    pushq 16(%r11)
    popfq
    mov 24(%r11), %rax
    mov 32(%r11), %rbx
    mov 40(%r11), %rcx
    mov 48(%r11), %rdx
    mov 56(%r11), %rsi
    mov 64(%r11), %rdi
    mov 72(%r11), %rbp
    mov 80(%r11), %r8
    mov 88(%r11), %r9
    mov 96(%r11), %r10
    mov 112(%r11), %r12
    mov 120(%r11), %r13
    mov 128(%r11), %r14
    mov 136(%r11), %r15
    mov 104(%r11), %r11
    ret
    .size __lvm_thread_first_kvm, . - __lvm_thread_first_kvm

/* The guest's fatal end, outside any served call: flush, then abort. */
    .globl __lvm_fatal_stub
    .type __lvm_fatal_stub, @function
__lvm_fatal_stub:
    andq $-16, %rsp
    call lvm__fatal_exit
    ud2
    .size __lvm_fatal_stub, . - __lvm_fatal_stub

/* proc: rt_sigreturn through the ucontext at %rdi. */
    .globl lvm__sigreturn_to
    .type lvm__sigreturn_to, @function
lvm__sigreturn_to:
    mov %rdi, %rsp
    mov $15, %eax
    syscall
    ud2
    .size lvm__sigreturn_to, . - lvm__sigreturn_to

/* kvm: continue at __lvm_fatal_stub on the stack %rdi. */
    .globl lvm__jump_fatal
    .type lvm__jump_fatal, @function
lvm__jump_fatal:
    mov %rdi, %rsp
    jmp __lvm_fatal_stub
    .size lvm__jump_fatal, . - lvm__jump_fatal

    .section .note.GNU-stack, "", @progbits
