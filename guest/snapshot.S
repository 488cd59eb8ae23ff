/*
 * snapshot.S: the guest's side of a snapshot (control.c has the logic).
 *
 * lvm__snap_save(ctx) saves what a function call must preserve (the
 * callee-saved registers, the stack pointer, the return address, MXCSR and
 * the x87 control word) and returns 0; __lvm_resume, the entry a monitor
 * uses for a restored guest (named in the ABI note), puts them back and
 * returns 1 from that same call, in whatever monitor now runs the guest.
 * The context is the one static lvm__snap_ctx: guests have one thread.
 *
 * __lvm_snapshot_stub is where a served system call that was interrupted
 * by a snapshot request returns to (sigsys.c, binding_kvm.c): every
 * register as the caller left it (%rax the call's number again), the
 * address of its `syscall` instruction in lvm__restart_rip. It parks with
 * all of that on the stack, then re-executes the system call, so a guest
 * is never saved inside one and can resume under another binding.
 */
    .text
    .globl lvm__snap_save
    .type lvm__snap_save, @function
lvm__snap_save:
    mov %rbx, 0(%rdi)
    mov %rbp, 8(%rdi)
    mov %r12, 16(%rdi)
    mov %r13, 24(%rdi)
    mov %r14, 32(%rdi)
    mov %r15, 40(%rdi)
    lea 8(%rsp), %rax       /* the caller's %rsp after the return */
    mov %rax, 48(%rdi)
    mov (%rsp), %rax        /* the return address */
    mov %rax, 56(%rdi)
    stmxcsr 64(%rdi)
    fnstcw 68(%rdi)
    xor %eax, %eax
    ret
    .size lvm__snap_save, . - lvm__snap_save

    .globl __lvm_resume
    .type __lvm_resume, @function
__lvm_resume:
    lea lvm__snap_ctx(%rip), %rdi
    mov 0(%rdi), %rbx
    mov 8(%rdi), %rbp
    mov 16(%rdi), %r12
    mov 24(%rdi), %r13
    mov 32(%rdi), %r14
    mov 40(%rdi), %r15
    ldmxcsr 64(%rdi)
    fldcw 68(%rdi)
    mov 48(%rdi), %rsp
    mov $1, %eax
    jmp *56(%rdi)
    .size __lvm_resume, . - __lvm_resume

    .globl __lvm_snapshot_stub
    .type __lvm_snapshot_stub, @function
__lvm_snapshot_stub:
    sub $128, %rsp          /* the interrupted code's red zone */
    push lvm__restart_rip(%rip)
    pushfq
    push %rax
    push %rbx
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %rbp
    push %r8
    push %r9
    push %r10
    push %r11
    push %r12
    push %r13
    push %r14
    push %r15
    mov %rsp, %rbx
    sub $512, %rsp
    andq $-64, %rsp
    fxsave64 (%rsp)         /* the SDK's C code uses SSE, never AVX */
    call lvm__snapshot_stub_park
    fxrstor64 (%rsp)
    mov %rbx, %rsp
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rbp
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rbx
    pop %rax
    popfq
    ret $128                /* to the `syscall`, %rsp as it was */
    .size __lvm_snapshot_stub, . - __lvm_snapshot_stub

    .section .note.GNU-stack, "", @progbits
