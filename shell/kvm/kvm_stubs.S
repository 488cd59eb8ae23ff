/*
 * kvm_stubs.S: the only code that runs at CPL 0 in a kvm guest's VM,
 * copied by the monitor into a supervisor-only page
 * (KVM_STUBS_ADDR): the exception handlers and the `syscall` trampoline.
 * The guest itself runs at CPL 3.
 *
 * Exception stubs, one of 12 bytes per IDT vector. Every gate uses IST1,
 * a stack of its own, so a fault on a broken stack (an overflow into the
 * guard page) is still reported. Each stub makes the frame uniform (a zero
 * where the CPU pushes no error code), pushes its vector and reports on
 * the monitor's fault port; the monitor reads the frame [vector, error,
 * rip, cs, rflags, rsp, ss] at %rsp and the other registers as they were
 * at the fault, and stops the guest. Nothing here returns to the guest.
 *
 * The `syscall` trampoline (LSTAR), in a page of its own: `syscall` from
 * the guest lands here with the guest's %rsp, %rcx (return address) and
 * %r11 (flags), and goes straight back to ring 3 at the SDK's syscall entry
 * (the ABI note's syscall_entry, patched into kvm_syscall_target) with
 * every register as `syscall` left it and the flags masked by SFMASK, as
 * if LSTAR had pointed there: the SDK serves the call and returns itself.
 * Its frame goes on the guest's own stack, below the red zone, and %rax is
 * put back before the jump. Architecturally it runs at CPL 0; a KVM that
 * keeps `syscall` at CPL 3 (PVM does) runs it there just as well, which is
 * why its page is a user page and it touches nothing but the guest's
 * stack.
 */
    .set USER_CS, 0x23
    .set USER_DS, 0x1b

    .text
    .globl kvm_stubs_start
    .globl kvm_stubs_end
    .globl kvm_tramp_start
    .globl kvm_tramp_end
    .globl kvm_syscall_target
kvm_stubs_start:
    .set vec, 0
    .rept 256
    .if vec == 8 || (vec >= 10 && vec <= 14) || vec == 17 || vec == 21 || vec == 29 || vec == 30
    .byte 0x66, 0x90            /* nop: the CPU pushed an error code */
    .else
    .byte 0x6a, 0x00            /* push $0 */
    .endif
    .byte 0x68                  /* push $vec (imm32) */
    .long vec
    .byte 0xe9                  /* jmp common (rel32) */
    .long common - (. + 4)
    .set vec, vec + 1
    .endr
common:
    outb %al, $0xfe             /* KVM_FAULT_PORT */
1:  hlt
    jmp 1b

kvm_stubs_end:

kvm_tramp_start:
    lea -128-40(%rsp), %rsp     /* iret frame below the red zone */
    mov %rax, (%rsp)            /* keep %rax in the rip slot meanwhile */
    lea 128+40(%rsp), %rax
    mov %rax, 24(%rsp)          /* rsp: the guest's, as it was */
    movq $USER_DS, 32(%rsp)     /* ss */
    movq $USER_CS, 8(%rsp)      /* cs */
    pushfq
    pop %rax
    mov %rax, 16(%rsp)          /* rflags, as `syscall` masked them */
    mov (%rsp), %rax
    pushq kvm_syscall_target(%rip)
    popq (%rsp)                 /* rip: the SDK's syscall entry */
    iretq
    .balign 8
kvm_syscall_target:
    .quad 0
kvm_tramp_end:

    .section .note.GNU-stack, "", @progbits
