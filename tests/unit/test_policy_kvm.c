/*
 * test_policy_kvm.c: the kvm monitor's own seccomp filter decides as
 * docs/kvm.md says. The exported BPF runs on synthetic system calls in a
 * small classic-BPF interpreter (the subset seccomp filters use), so every
 * rule and every argument check is exercised without loading anything.
 */
#include "shell/plan.h"
#include "toolstack/policy.h"

#include <lightvm/abi.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

#include <cmocka.h>

#define ALLOW SECCOMP_RET_ALLOW
#define KILL SECCOMP_RET_KILL_PROCESS

static struct sock_filter *prog;
static size_t prog_len;

/* Run the filter on (d); returns the action (SECCOMP_RET_ACTION_FULL). */
static uint32_t run_bpf(const struct seccomp_data *d)
{
    uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = {0};
    const unsigned char *data = (const unsigned char *)d;
    for (size_t pc = 0; pc < prog_len; pc++) {
        const struct sock_filter *f = &prog[pc];
        uint32_t k = f->k, src = BPF_SRC(f->code) == BPF_X ? x : k;
        switch (BPF_CLASS(f->code)) {
        case BPF_LD:
            if (BPF_MODE(f->code) == BPF_ABS) {
                assert_true(k + 4 <= sizeof *d);
                memcpy(&a, data + k, 4);
            } else if (BPF_MODE(f->code) == BPF_MEM) {
                a = mem[k];
            } else if (BPF_MODE(f->code) == BPF_IMM) {
                a = k;
            } else {
                fail_msg("unexpected load %#x", f->code);
            }
            break;
        case BPF_LDX: x = BPF_MODE(f->code) == BPF_MEM ? mem[k] : k; break;
        case BPF_ST: mem[k] = a; break;
        case BPF_STX: mem[k] = x; break;
        case BPF_ALU:
            switch (BPF_OP(f->code)) {
            case BPF_AND: a &= src; break;
            case BPF_OR: a |= src; break;
            case BPF_ADD: a += src; break;
            case BPF_SUB: a -= src; break;
            case BPF_LSH: a <<= src; break;
            case BPF_RSH: a >>= src; break;
            default: fail_msg("unexpected ALU op %#x", f->code);
            }
            break;
        case BPF_JMP:
            if (BPF_OP(f->code) == BPF_JA) {
                pc += k;
                break;
            }
            int t;
            switch (BPF_OP(f->code)) {
            case BPF_JEQ: t = a == src; break;
            case BPF_JGT: t = a > src; break;
            case BPF_JGE: t = a >= src; break;
            case BPF_JSET: t = (a & src) != 0; break;
            default: fail_msg("unexpected jump %#x", f->code); t = 0;
            }
            pc += t ? f->jt : f->jf;
            break;
        case BPF_RET:
            return (BPF_RVAL(f->code) == BPF_A ? a : k) &
                   SECCOMP_RET_ACTION_FULL;
        case BPF_MISC:
            if (BPF_MISCOP(f->code) == BPF_TAX)
                x = a;
            else
                a = x;
            break;
        default: fail_msg("unexpected instruction %#x", f->code);
        }
    }
    fail_msg("the filter fell off its end");
    return 0;
}

static uint32_t call(long nr, uint64_t a0, uint64_t a1, uint64_t a2,
                     uint64_t a3)
{
    struct seccomp_data d;
    memset(&d, 0, sizeof d);
    d.nr = (int)nr;
    d.arch = AUDIT_ARCH_X86_64;
    d.args[0] = a0, d.args[1] = a1, d.args[2] = a2, d.args[3] = a3;
    return run_bpf(&d);
}

#define BLOCK_FD 4
#define RO_BLOCK_FD 5
#define NET_FD 6
#define CAP (64u << 10)

static int setup(void **state)
{
    (void)state;
    struct policy_params p;
    memset(&p, 0, sizeof p);
    p.control_fd = 3;
    p.ndevices = 3;
    p.dev[0] = (struct policy_device){LVM_DEV_BLOCK, BLOCK_FD, 0, CAP, 512};
    p.dev[1] = (struct policy_device){LVM_DEV_BLOCK, RO_BLOCK_FD, 1, CAP, 512};
    p.dev[2] = (struct policy_device){LVM_DEV_NET, NET_FD, 0, 0, 0};
    struct lvm_err err;
    if (policy_kvm_build(&p, &prog, &prog_len, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(prog);
    return 0;
}

static void vcpu_ioctls(void **state)
{
    (void)state;
    const uint64_t vcpu = LVM_KVM_VCPU_FD;
    assert_int_equal(call(SYS_ioctl, vcpu, KVM_RUN, 0, 0), ALLOW);
    assert_int_equal(call(SYS_ioctl, vcpu, KVM_GET_REGS, 0, 0), ALLOW);
    assert_int_equal(call(SYS_ioctl, vcpu, KVM_GET_SREGS, 0, 0), ALLOW);
    /* An int request sign-extended into its register still matches. */
    assert_int_equal(
        call(SYS_ioctl, vcpu, (uint64_t)(int64_t)(int32_t)KVM_GET_REGS, 0, 0),
        ALLOW);
    /* Nothing that changes the VM or the vCPU, and no other fd. */
    assert_int_equal(call(SYS_ioctl, vcpu, KVM_SET_REGS, 0, 0), KILL);
    assert_int_equal(call(SYS_ioctl, vcpu, KVM_SET_SREGS, 0, 0), KILL);
    assert_int_equal(call(SYS_ioctl, vcpu, KVM_SET_USER_MEMORY_REGION, 0, 0),
                     KILL);
    assert_int_equal(call(SYS_ioctl, vcpu, KVM_CREATE_VCPU, 0, 0), KILL);
    assert_int_equal(call(SYS_ioctl, vcpu, KVM_SET_CPUID2, 0, 0), KILL);
    assert_int_equal(call(SYS_ioctl, 3, KVM_RUN, 0, 0), KILL);
    assert_int_equal(call(SYS_ioctl, 1, 0x5413 /* TIOCGWINSZ */, 0, 0), KILL);
}

static void console_events_clocks(void **state)
{
    (void)state;
    assert_int_equal(call(SYS_write, 1, 0, LVM_CONSOLE_WRITE_MAX, 0), ALLOW);
    assert_int_equal(call(SYS_write, 1, 0, LVM_CONSOLE_WRITE_MAX + 1, 0), KILL);
    assert_int_equal(call(SYS_write, 2, 0, 10, 0), KILL);
    assert_int_equal(call(SYS_write, 3, 0, 8, 0), KILL);
    assert_int_equal(call(SYS_read, 3, 0, 8, 0), ALLOW);
    assert_int_equal(call(SYS_read, 3, 0, 9, 0), KILL);
    assert_int_equal(call(SYS_read, 0, 0, 1, 0), KILL);
    assert_int_equal(call(SYS_ppoll, 0, LVM_MAX_EVTCHN, 0, 0), ALLOW);
    assert_int_equal(call(SYS_ppoll, 0, LVM_MAX_EVTCHN + 1, 0, 0), KILL);
    assert_int_equal(call(SYS_ppoll, 0, 1, 0, 0x1000), KILL);
    assert_int_equal(call(SYS_clock_gettime, 0, 0, 0, 0), ALLOW);
    assert_int_equal(call(SYS_clock_gettime, 1, 0, 0, 0), ALLOW);
    assert_int_equal(call(SYS_clock_gettime, 2, 0, 0, 0), KILL);
    assert_int_equal(call(SYS_exit_group, 0, 0, 0, 0), ALLOW);
}

static void devices(void **state)
{
    (void)state;
    const uint64_t last = CAP - 512;
    assert_int_equal(call(SYS_pread64, BLOCK_FD, 0, 512, 0), ALLOW);
    assert_int_equal(call(SYS_pread64, BLOCK_FD, 0, 512, last), ALLOW);
    assert_int_equal(call(SYS_pread64, BLOCK_FD, 0, 512, last + 512), KILL);
    assert_int_equal(call(SYS_pread64, BLOCK_FD, 0, 1024, 0), KILL);
    assert_int_equal(call(SYS_pwrite64, BLOCK_FD, 0, 512, last), ALLOW);
    assert_int_equal(call(SYS_pread64, RO_BLOCK_FD, 0, 512, 0), ALLOW);
    assert_int_equal(call(SYS_pwrite64, RO_BLOCK_FD, 0, 512, 0), KILL);
    assert_int_equal(call(SYS_pread64, NET_FD, 0, 512, 0), KILL);
    assert_int_equal(call(SYS_read, NET_FD, 0, LVM_NET_FRAME_MAX, 0), ALLOW);
    assert_int_equal(call(SYS_write, NET_FD, 0, LVM_NET_FRAME_MAX + 1, 0),
                     KILL);
}

static void everything_else(void **state)
{
    (void)state;
    const long nrs[] = {SYS_openat,       SYS_open,         SYS_mmap,
                        SYS_mprotect,     SYS_munmap,       SYS_clone,
                        SYS_fork,         SYS_execve,       SYS_socket,
                        SYS_seccomp,      SYS_prctl,        SYS_kill,
                        SYS_ptrace,       SYS_close,        SYS_dup3,
                        SYS_rt_sigaction, SYS_rt_sigreturn, SYS_memfd_create};
    for (size_t i = 0; i < sizeof nrs / sizeof nrs[0]; i++)
        assert_int_equal(call(nrs[i], 1, 0, 8, 0), KILL);
    /* The i386 ABI (int $0x80) is another architecture: killed. */
    struct seccomp_data d;
    memset(&d, 0, sizeof d);
    d.nr = 4; /* write */
    d.arch = AUDIT_ARCH_I386;
    d.args[0] = 1;
    assert_int_equal(run_bpf(&d), KILL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(vcpu_ioctls),
        cmocka_unit_test(console_events_clocks),
        cmocka_unit_test(devices),
        cmocka_unit_test(everything_else),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
