/*
 * test_policy.c: the proc seccomp policy, decision by decision. The filter
 * libseccomp generates is run here by a classic-BPF interpreter on
 * synthetic system calls, so every rule (and its argument checks, both
 * 32-bit halves of 64-bit arguments, and the architecture checks) is
 * verified without loading it into the kernel. The integration tests load
 * the same filters for real.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "toolstack/policy.h"

#include <lightvm/syscalls.h>
#include <lightvm/abi.h>

#include <linux/audit.h>
#include <linux/seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>

static uint32_t run_bpf(const struct sock_filter *f, size_t n,
                        const struct seccomp_data *d)
{
    uint32_t A = 0, X = 0, M[BPF_MEMWORDS] = {0};
    for (size_t pc = 0; pc < n; pc++) {
        const struct sock_filter *i = &f[pc];
        uint32_t src = BPF_SRC(i->code) == BPF_X ? X : i->k;
        switch (BPF_CLASS(i->code)) {
        case BPF_LD:
            if (BPF_MODE(i->code) == BPF_ABS && BPF_SIZE(i->code) == BPF_W) {
                assert_true(i->k + 4 <= sizeof *d);
                memcpy(&A, (const char *)d + i->k, 4);
            } else if (BPF_MODE(i->code) == BPF_IMM) {
                A = i->k;
            } else if (BPF_MODE(i->code) == BPF_MEM) {
                A = M[i->k];
            } else if (BPF_MODE(i->code) == BPF_LEN) {
                A = sizeof *d;
            } else {
                fail_msg("unsupported load %#x", i->code);
            }
            break;
        case BPF_LDX:
            X = BPF_MODE(i->code) == BPF_MEM   ? M[i->k]
                : BPF_MODE(i->code) == BPF_LEN ? (uint32_t)sizeof *d
                                               : i->k;
            break;
        case BPF_ST: M[i->k] = A; break;
        case BPF_STX: M[i->k] = X; break;
        case BPF_ALU:
            switch (BPF_OP(i->code)) {
            case BPF_ADD: A += src; break;
            case BPF_SUB: A -= src; break;
            case BPF_MUL: A *= src; break;
            case BPF_DIV: A = src ? A / src : 0; break;
            case BPF_MOD: A = src ? A % src : 0; break;
            case BPF_AND: A &= src; break;
            case BPF_OR: A |= src; break;
            case BPF_XOR: A ^= src; break;
            case BPF_LSH: A <<= src; break;
            case BPF_RSH: A >>= src; break;
            case BPF_NEG: A = -A; break;
            default: fail_msg("unsupported alu %#x", i->code);
            }
            break;
        case BPF_JMP: {
            if (BPF_OP(i->code) == BPF_JA) {
                pc += i->k;
                break;
            }
            int cond = 0;
            switch (BPF_OP(i->code)) {
            case BPF_JEQ: cond = A == src; break;
            case BPF_JGT: cond = A > src; break;
            case BPF_JGE: cond = A >= src; break;
            case BPF_JSET: cond = (A & src) != 0; break;
            default: fail_msg("unsupported jump %#x", i->code);
            }
            pc += cond ? i->jt : i->jf;
            break;
        }
        case BPF_RET: return BPF_RVAL(i->code) == BPF_A ? A : i->k;
        case BPF_MISC:
            if (BPF_MISCOP(i->code) == BPF_TAX)
                X = A;
            else
                A = X;
            break;
        }
    }
    fail_msg("filter fell off its end");
    return 0;
}

enum verdict { ALLOW, TRAP, KILL };

static struct sock_filter *prog;
static size_t prog_len;

static enum verdict decide(uint32_t arch, long nr, uint64_t a0, uint64_t a1,
                           uint64_t a2, uint64_t a3)
{
    struct seccomp_data d;
    memset(&d, 0, sizeof d);
    d.nr = (int)nr;
    d.arch = arch;
    d.args[0] = a0;
    d.args[1] = a1;
    d.args[2] = a2;
    d.args[3] = a3;
    uint32_t r = run_bpf(prog, prog_len, &d) & SECCOMP_RET_ACTION_FULL;
    if (r == SECCOMP_RET_ALLOW)
        return ALLOW;
    if (r == SECCOMP_RET_TRAP)
        return TRAP;
    assert_int_equal(r, SECCOMP_RET_KILL_PROCESS);
    return KILL;
}

#define X86 AUDIT_ARCH_X86_64
#define D(nr, ...) D_(nr, __VA_ARGS__, 0, 0, 0, 0)
#define D_(nr, a, b, c, e, ...)                                                \
    decide(X86, nr, (uint64_t)(a), (uint64_t)(b), (uint64_t)(c), (uint64_t)(e))
#define D4(nr, a, b, c, e) decide(X86, nr, a, b, c, e)

static void build(int fsgsbase)
{
    struct policy_params p;
    memset(&p, 0, sizeof p);
    p.control_fd = 3;
    p.fsgsbase = fsgsbase;
    p.dev[0] = (struct policy_device){4 /* LVM_DEV_BLOCK */, 4, 0, 65536, 512};
    p.dev[1] = (struct policy_device){4, 5, 1, 4096, 512};
    p.dev[2] = (struct policy_device){3 /* LVM_DEV_NET */, 6, 0, 0, 0};
    p.ndevices = 3;
    struct lvm_err err;
    free(prog);
    assert_int_equal(policy_proc_build(&p, &prog, &prog_len, &err), 0);
    /* The shell copies the filter into its trampoline's page
     * (shell/proc/proc_exec.c: code, 1 KiB, its arguments, then the
     * filter): past one page the next monitor-private page becomes
     * readable to the guest. */
    assert_true(prog_len > 10 && prog_len <= 360);
}

static int setup(void **state)
{
    (void)state;
    build(1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(prog);
    prog = NULL;
    return 0;
}

/* The guest's file tree (guest/fs_*.c): path calls always trap, and so
 * do calls on its descriptors (LVM_FS_FD_BASE and up); on the host's fds
 * no call ever runs: the SDK answers it (EBADF), or for the hypercalls'
 * own (read, write, pread64, pwrite64 on 0-63) the kernel kills. */
static void test_file_tree(void **state)
{
    (void)state;
    static const long paths[] = {
        SYS_open,   SYS_openat, SYS_stat,     SYS_newfstatat, SYS_statx,
        SYS_access, SYS_mkdir,  SYS_unlink,   SYS_rename,     SYS_renameat2,
        SYS_getcwd, SYS_chdir,  SYS_readlink, SYS_truncate,   SYS_utimensat};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        if (D(paths[i], 0, 0, 0) != TRAP)
            fail_msg("path call %ld is not trapped", paths[i]);
    static const long onfd[] = {
        SYS_read,      SYS_write, SYS_pread64, SYS_pwrite64, SYS_getdents64,
        SYS_fstat,     SYS_lseek, SYS_close,   SYS_dup,      SYS_dup2,
        SYS_ftruncate, SYS_fcntl, SYS_ioctl,   SYS_readv,    SYS_writev};
    for (size_t i = 0; i < sizeof onfd / sizeof onfd[0]; i++) {
        if (D(onfd[i], LVM_FS_FD_BASE, 0, 1) != TRAP)
            fail_msg("call %ld on a tree fd is not trapped", onfd[i]);
        if (D(onfd[i], LVM_FS_FD_BASE - 1, 0, 1) == ALLOW ||
            D(onfd[i], 5, 0, 1) == ALLOW)
            fail_msg("call %ld on a host fd is allowed", onfd[i]);
    }
    /* Nothing about files is allowed through to the host. */
    assert_int_equal(D(SYS_read, 3 /* control */, 0, 4096), KILL);
    assert_int_equal(D(SYS_openat, -100, 0, 0), TRAP);
}

static void test_console(void **state)
{
    (void)state;
    assert_int_equal(D(SYS_write, 1, 0, 100), ALLOW);
    assert_int_equal(D(SYS_write, 2, 0, 4096), ALLOW);
    assert_int_equal(D(SYS_write, 1, 0, 4097), TRAP); /* the SDK splits it */
    assert_int_equal(D(SYS_writev, 1, 0, 3), TRAP);
    assert_int_equal(D(SYS_write, 0, 0, 1), KILL);
    assert_int_equal(D(SYS_write, 7, 0, 1), KILL);
    /* The high half of a 64-bit argument counts too: not fd 1, and above
     * LVM_FS_FD_BASE, so the SDK's file tree answers it (EBADF). */
    assert_int_equal(D(SYS_write, 1 | (1ull << 32), 0, 1), TRAP);
    assert_int_equal(D(SYS_write, 1, 0, 1ull << 32), TRAP);
    /* writev is never a hypercall: any fd goes to the SDK (EBADF). */
    assert_int_equal(D(SYS_writev, 5, 0, 1), TRAP);
    /* The SDK's own fds (its file tree) are trapped; the host's are not. */
    assert_int_equal(D(SYS_write, 64, 0, 1), TRAP);
    assert_int_equal(D(SYS_write, 63, 0, 1), KILL);
    assert_int_equal(D(SYS_read, 64, 0, 100000), TRAP);
    assert_int_equal(D(SYS_read, 63, 0, 8), KILL);
    assert_int_equal(D4(SYS_pread64, 64, 0, 1, 0), TRAP);
    assert_int_equal(D4(SYS_pwrite64, 4, 0, 1, 0), KILL);
}

static void test_stdin_and_control(void **state)
{
    (void)state;
    assert_int_equal(D(SYS_read, 0, 0, 100), TRAP);
    assert_int_equal(D(SYS_read, 3, 0, 8), ALLOW);
    assert_int_equal(D(SYS_read, 3, 0, 16), KILL);
    assert_int_equal(D(SYS_read, 9, 0, 8), KILL);
}

static void test_block(void **state)
{
    (void)state;
    assert_int_equal(D4(SYS_pread64, 4, 0, 512, 0), ALLOW);
    assert_int_equal(D4(SYS_pread64, 4, 0, 512, 65536 - 512), ALLOW);
    assert_int_equal(D4(SYS_pread64, 4, 0, 512, 65536), KILL);
    assert_int_equal(D4(SYS_pread64, 4, 0, 512, 1ull << 33), KILL);
    assert_int_equal(D4(SYS_pread64, 4, 0, 1024, 0), KILL);
    assert_int_equal(D4(SYS_pwrite64, 4, 0, 512, 512), ALLOW);
    /* Device 5 is read-only. */
    assert_int_equal(D4(SYS_pread64, 5, 0, 512, 0), ALLOW);
    assert_int_equal(D4(SYS_pwrite64, 5, 0, 512, 0), KILL);
    assert_int_equal(D4(SYS_pread64, 5, 0, 512, 4096), KILL);
    assert_int_equal(D4(SYS_pread64, 6, 0, 512, 0), KILL);
}

static void test_net(void **state)
{
    (void)state;
    assert_int_equal(D(SYS_read, 6, 0, 1518), ALLOW);
    assert_int_equal(D(SYS_write, 6, 0, 60), ALLOW);
    assert_int_equal(D(SYS_write, 6, 0, 1519), KILL);
    assert_int_equal(D(SYS_read, 6, 0, 65536), KILL);
}

static void test_clocks_yield_exit(void **state)
{
    (void)state;
    assert_int_equal(D(SYS_clock_gettime, 0, 0), ALLOW);
    assert_int_equal(D(SYS_clock_gettime, 1, 0), ALLOW);
    assert_int_equal(D(SYS_clock_gettime, 7, 0), TRAP);
    assert_int_equal(D(SYS_clock_settime, 0, 0), KILL);
    assert_int_equal(D4(SYS_ppoll, 0, 2, 0, 0), ALLOW);
    assert_int_equal(D4(SYS_ppoll, 0, 64, 0, 0), ALLOW);
    assert_int_equal(D4(SYS_ppoll, 0, 65, 0, 0), KILL);
    assert_int_equal(D4(SYS_ppoll, 0, 1, 0, 0x1000), KILL);
    assert_int_equal(D(SYS_exit_group, 3), ALLOW);
    assert_int_equal(D(SYS_rt_sigreturn, 0), ALLOW);
    assert_int_equal(D(SYS_exit, 0), TRAP);
}

static void test_memory(void **state)
{
    (void)state;
    assert_int_equal(D(SYS_brk, 0), TRAP);
    assert_int_equal(D(SYS_mmap, 0, 4096, PROT_READ | PROT_WRITE), TRAP);
    assert_int_equal(D(SYS_mmap, 0, 4096, PROT_READ | PROT_EXEC), KILL);
    assert_int_equal(D(SYS_mmap, 0, 4096, PROT_EXEC), KILL);
    assert_int_equal(D(SYS_munmap, 0, 4096), TRAP);
    /* A stack guard's mprotect is the SDK's; executable memory is not. */
    assert_int_equal(D(SYS_mprotect, 0, 4096, PROT_NONE), TRAP);
    assert_int_equal(D(SYS_mprotect, 0, 4096, PROT_READ | PROT_WRITE), TRAP);
    assert_int_equal(D(SYS_mprotect, 0, 4096, PROT_READ | PROT_EXEC), KILL);
    assert_int_equal(D(SYS_pkey_mprotect, 0, 4096, PROT_EXEC, 0), KILL);
}

static void test_tls(void **state)
{
    (void)state;
    /* With user-mode wrfsbase the SDK serves it; without, it is allowed. */
    assert_int_equal(D(SYS_arch_prctl, 0x1002, 0), TRAP);
    assert_int_equal(D(SYS_arch_prctl, 0x1001, 0), KILL);
    build(0);
    assert_int_equal(D(SYS_arch_prctl, 0x1002, 0), ALLOW);
    assert_int_equal(D(SYS_arch_prctl, 0x1001, 0), KILL);
    build(1);
}

static void test_signals(void **state)
{
    (void)state;
    assert_int_equal(D(SYS_kill, 1, 6), TRAP);
    assert_int_equal(D(SYS_kill, 0, 6), TRAP);
    assert_int_equal(D(SYS_kill, 2, 9), KILL);
    assert_int_equal(D(SYS_kill, (uint64_t)-1, 9), KILL);
    assert_int_equal(D(SYS_tkill, 1, 6), TRAP);
    /* Guest thread ids are below LVM_TID_LIMIT; anything else is not. */
    assert_int_equal(D(SYS_tkill, 2, 6), TRAP);
    assert_int_equal(D(SYS_tkill, LVM_TID_LIMIT, 6), KILL);
    assert_int_equal(D(SYS_tkill, (uint64_t)-1, 6), KILL);
    assert_int_equal(D(SYS_tgkill, 1, 1, 6), TRAP);
    assert_int_equal(D(SYS_tgkill, 1, 2, 6), TRAP);
    assert_int_equal(D(SYS_tgkill, 2, 2, 6), KILL);
    assert_int_equal(D(SYS_tgkill, 1, LVM_TID_LIMIT, 6), KILL);
    assert_int_equal(D(SYS_rt_sigaction, 10, 0), TRAP);
}

static void test_escapes_killed(void **state)
{
    (void)state;
    static const long calls[] = {SYS_execve,
                                 SYS_execveat,
                                 SYS_ptrace,
                                 SYS_mount,
                                 SYS_unshare,
                                 SYS_setns,
                                 SYS_chroot,
                                 SYS_bpf,
                                 SYS_io_uring_setup,
                                 SYS_userfaultfd,
                                 SYS_process_vm_readv,
                                 SYS_process_vm_writev,
                                 SYS_init_module,
                                 SYS_keyctl,
                                 SYS_perf_event_open,
                                 SYS_pidfd_open,
                                 SYS_open_by_handle_at,
                                 SYS_kexec_load,
                                 SYS_iopl,
                                 SYS_modify_ldt,
                                 SYS_settimeofday,
                                 SYS_clock_settime,
                                 SYS_reboot,
                                 SYS_swapon};
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        enum verdict v = D(calls[i], 7, 0, 0);
        if (v != KILL)
            fail_msg("system call %ld is not killed", calls[i]);
    }
    /* Raw and packet sockets; the other kinds are the SDK's to refuse. */
    assert_int_equal(D(SYS_socket, AF_INET, SOCK_RAW, 1), KILL);
    assert_int_equal(D(SYS_socket, AF_PACKET, SOCK_DGRAM, 0), KILL);
    assert_int_equal(D(SYS_socket, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0),
                     TRAP);
    assert_int_equal(D(SYS_socketpair, AF_UNIX, SOCK_DGRAM, 0, 0), TRAP);
    /* Numbers outside the table (a gap, beyond it) do nothing in the
     * kernel: trapped, and the SDK ends the guest for them. */
    assert_int_equal(D(400, 0), TRAP);
    assert_int_equal(D(LVM_SYSCALL_MAX + 1, 0), TRAP);
}

/* Harmless calls are trapped to the SDK, which refuses them inside the
 * guest with an errno: they never run in the host kernel either. */
static void test_harmless_trapped(void **state)
{
    (void)state;
    static const long calls[] = {
        SYS_open,   SYS_openat,  SYS_fork,    SYS_vfork,  SYS_clone,
        SYS_clone3, SYS_wait4,   SYS_setuid,  SYS_getcwd, SYS_dup,
        SYS_ioctl,  SYS_pwritev, SYS_sendmsg, SYS_stat,   SYS_getdents64};
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        enum verdict v = D(calls[i], 7, 0, 0);
        if (v != TRAP)
            fail_msg("system call %ld is not trapped", calls[i]);
    }
}

/* The filter is the table: every fatal call killed, every trapped one
 * trapped, whatever its arguments. */
static void test_table(void **state)
{
    (void)state;
    static const struct {
        int nr, cls;
    } rows[] = {
#define ROW(nr, name, cls, err) {nr, cls},
        LVM_SYSCALL_TABLE(ROW)
#undef ROW
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        enum verdict v = D(rows[i].nr, 3, 5, 7);
        if (rows[i].cls == LVM_SC_FATAL && v != KILL)
            fail_msg("fatal system call %d is not killed", rows[i].nr);
        if (rows[i].cls == LVM_SC_TRAP && v != TRAP)
            fail_msg("system call %d is not trapped", rows[i].nr);
    }
}

static void test_other_abis_killed(void **state)
{
    (void)state;
    /* i386 through int 0x80: even its exit is a different ABI. */
    assert_int_equal(decide(AUDIT_ARCH_I386, 1, 0, 0, 0, 0), KILL);
    assert_int_equal(decide(AUDIT_ARCH_I386, 5, 0, 0, 0, 0), KILL);
    /* x32 numbers have bit 30 set. */
    assert_int_equal(D(0x40000000 | SYS_write, 1, 0, 1), KILL);
    assert_int_equal(D(0x40000000 | SYS_exit_group, 0), KILL);
    /* Unknown numbers never run: trapped, and the SDK ends the guest. */
    assert_int_equal(D(1000, 0), TRAP);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_console),
        cmocka_unit_test(test_file_tree),
        cmocka_unit_test(test_stdin_and_control),
        cmocka_unit_test(test_block),
        cmocka_unit_test(test_net),
        cmocka_unit_test(test_clocks_yield_exit),
        cmocka_unit_test(test_memory),
        cmocka_unit_test(test_tls),
        cmocka_unit_test(test_signals),
        cmocka_unit_test(test_escapes_killed),
        cmocka_unit_test(test_harmless_trapped),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_other_abis_killed),
    };
    return cmocka_run_group_tests_name("policy", tests, setup, teardown);
}
